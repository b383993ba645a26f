//! The SQL of answers: the lead unit's feedback, a co-unit's part, and the
//! parts still missing. The database holds a ticket to one lead answer
//! per handling round (unique index `assignments_one_lead_answer`).

use chrono::{DateTime, Utc};
use hotline_common::clock;
use hotline_common::error::violated_constraint;
use hotline_common::ids::{AssignmentId, TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::Feedback;
use hotline_sla::Stage;
use prost::Message;
use sqlx::AssertSqlSafe;

use crate::assignments::rules::{Assignment, Role, State};
use crate::assignments::store::{COLUMNS, from_row};

/// What an assignment is answered with.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// The lead unit's feedback to the requester.
    Feedback(&'a Feedback),
    /// A co-unit's part, to the lead unit.
    Part(&'a str),
}

/// Answered: the feedback clock stops. A second lead answer in the
/// ticket's round is refused by the database, whichever hop gives it.
pub async fn mark_answered(
    tx: &mut Tx,
    id: AssignmentId,
    at: DateTime<Utc>,
    answer: Answer<'_>,
) -> Result<Assignment, ApiError> {
    let (feedback, part) = match answer {
        Answer::Feedback(f) => (Some(f.encode_to_vec()), None),
        Answer::Part(p) => (None, Some(p)),
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE assignments SET state = $2, fed_back_at = $3, feedback = $4, part = $5 \
         WHERE assignment_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(State::FedBack.as_sql())
    .bind(at)
    .bind(feedback)
    .bind(part)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("assignments_one_lead_answer") => ApiError::precondition(
            Reason::RoundAlreadyAnswered,
            "the ticket was already answered by a lead unit in this handling round",
        )
        .with("assignment_id", id),
        _ => e.into(),
    })?;
    let a = from_row(&row)?;
    clock::stop(tx, &a.clock_id(Stage::Feedback), at).await?;
    Ok(a)
}

/// Co-units of a ticket's hop whose part is not in yet.
pub async fn parts_missing(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
) -> Result<Vec<UnitId>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT unit_id FROM assignments WHERE ticket_no = $1 AND hop = $2 AND role = $3 \
         AND state <> $4 ORDER BY unit_id",
    )
    .bind(ticket_no)
    .bind(hop)
    .bind(Role::Co.as_sql())
    .bind(State::FedBack.as_sql())
    .fetch_all(&mut **tx)
    .await?)
}
