//! The SQL of extensions: record, lock, decide, move the deadline.

use chrono::{DateTime, Utc};
use hotline_common::clock;
use hotline_common::error::violated_constraint;
use hotline_common::ids::{ExtensionId, TicketNo};
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::{ApiError, Reason};
use hotline_sla::{Policy, Stage};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use super::rules::{Extension, ExtensionState};
use crate::assignments::rules::Assignment;

fn from_row(row: &PgRow) -> Result<Extension, ApiError> {
    let stage: &str = row.get("stage");
    Ok(Extension {
        id: row.get("extension_id"),
        assignment_id: row.get("assignment_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        stage: stage
            .parse()
            .map_err(|e: String| ApiError::internal(format!("stored stage: {e}")))?,
        reason: row.get("reason"),
        previous_deadline: row.get("previous_deadline"),
        requested_deadline: row.get("requested_deadline"),
        state: ExtensionState::from_sql(row.get("state"))?,
        requested_at: row.get("requested_at"),
        decided_at: row.get("decided_at"),
        decision_note: row.get("decision_note"),
    })
}

/// Records an extension request against a locked assignment. A second
/// pending request for the same stage is a wrong state.
pub async fn insert(
    tx: &mut Tx,
    a: &Assignment,
    stage: Stage,
    reason: &str,
    previous: DateTime<Utc>,
    requested: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<Extension, ApiError> {
    let row = sqlx::query(
        "INSERT INTO extensions (extension_id, assignment_id, ticket_no, unit_id, stage, reason, \
         previous_deadline, requested_deadline, state, requested_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
    )
    .bind(ExtensionId::new())
    .bind(a.id)
    .bind(&a.ticket_no)
    .bind(&a.unit_id)
    .bind(stage.as_str())
    .bind(reason)
    .bind(previous)
    .bind(requested)
    .bind(ExtensionState::Pending.as_sql())
    .bind(at)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("extensions_one_pending") => ApiError::precondition(
            Reason::ExtensionPending,
            format!(
                "an extension of the {} stage is already waiting for a decision",
                stage.as_str()
            ),
        )
        .with("assignment_id", a.id)
        .with("stage", stage.as_str()),
        _ => e.into(),
    })?;
    from_row(&row)
}

pub async fn get(conn: &mut PgConnection, id: ExtensionId) -> Result<Option<Extension>, ApiError> {
    let row = sqlx::query("SELECT * FROM extensions WHERE extension_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Locks one extension in the caller's transaction.
pub async fn lock(tx: &mut Tx, id: ExtensionId) -> Result<Option<Extension>, ApiError> {
    let row = sqlx::query("SELECT * FROM extensions WHERE extension_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn decide(
    tx: &mut Tx,
    id: ExtensionId,
    state: ExtensionState,
    note: &str,
    at: DateTime<Utc>,
) -> Result<Extension, ApiError> {
    let row = sqlx::query(
        "UPDATE extensions SET state = $2, decision_note = $3, decided_at = $4 \
         WHERE extension_id = $1 RETURNING *",
    )
    .bind(id)
    .bind(state.as_sql())
    .bind(note)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    from_row(&row)
}

/// Moves a locked assignment's deadline for a stage (an approved
/// extension), with its clock.
pub async fn move_deadline(
    tx: &mut Tx,
    policy: &Policy,
    a: &Assignment,
    stage: Stage,
    new_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let column = match stage {
        Stage::SignOff => "sign_deadline",
        Stage::Feedback => "feedback_deadline",
        Stage::Dispatch
        | Stage::ReportIn
        | Stage::ManualDispatch
        | Stage::ReturnVisit
        | Stage::WrittenFeedback
        | Stage::OnSiteArrival
        | Stage::Rectification
        | Stage::MeetingArrival
        | Stage::MeetingAction
        | Stage::Acceptance => {
            return Err(ApiError::internal("only assignment stages are extended"));
        }
    };
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE assignments SET {column} = $2 WHERE assignment_id = $1"
    )))
    .bind(a.id)
    .bind(new_deadline)
    .execute(&mut **tx)
    .await?;
    clock::extend(tx, policy, &a.clock_id(stage), new_deadline, now).await?;
    Ok(())
}

/// One ticket's extension requests (`$1`), only unit `$2`'s when not
/// NULL, newest first, after (`$3`, `$4`) (NULL: from the newest), served
/// by `extensions_page`.
pub const PAGE: &str = "SELECT * FROM extensions WHERE ticket_no = $1 \
     AND ($2::text IS NULL OR unit_id = $2) \
     AND (requested_at, extension_id) < (COALESCE($3::timestamptz, 'infinity'), \
          COALESCE($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
     ORDER BY requested_at DESC, extension_id DESC LIMIT $5";

/// One ticket's extensions, newest first, after `cursor`; only `unit_id`'s
/// when given.
pub async fn page(
    pool: &PgPool,
    ticket_no: &TicketNo,
    unit_id: Option<&str>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Extension>, ApiError> {
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = sqlx::query(PAGE)
        .bind(ticket_no)
        .bind(unit_id)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}
