//! The SQL of the hop in force: one row per ticket, locked by every call
//! that changes the ticket's assignments (shared by the units' moves,
//! exclusive for a new hop), so that unrelated tickets never wait.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{AssignmentId, TicketNo, UnitId};
use hotline_common::outbox::Tx;
use sqlx::PgConnection;

use super::rules::InForce;
use crate::assignments::rules::{Role, State};

/// How a call holds the ticket's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// A unit's move on one assignment: others may move beside it.
    Share,
    /// A new hop: waits for every move in flight, and they for it.
    Exclusive,
}

/// Locks the ticket's row in the caller's transaction.
pub async fn lock(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hold: Hold,
) -> Result<Option<InForce>, ApiError> {
    let sql = match hold {
        Hold::Share => "SELECT hop, round FROM ticket_hops WHERE ticket_no = $1 FOR SHARE",
        Hold::Exclusive => "SELECT hop, round FROM ticket_hops WHERE ticket_no = $1 FOR UPDATE",
    };
    let row: Option<(i32, i32)> = sqlx::query_as(sql)
        .bind(ticket_no)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(hop, round)| InForce { hop, round }))
}

/// Locks, shared, the row of the ticket an assignment belongs to, in one
/// statement: the assignment's ticket and its hop in force. `None` when
/// the assignment does not exist (or, never in practice, its ticket has
/// no hop row).
pub async fn lock_of_assignment(
    tx: &mut Tx,
    assignment_id: AssignmentId,
) -> Result<Option<(TicketNo, InForce)>, ApiError> {
    let row: Option<(TicketNo, i32, i32)> = sqlx::query_as(
        "SELECT h.ticket_no, h.hop, h.round FROM ticket_hops h \
         WHERE h.ticket_no = (SELECT a.ticket_no FROM assignments a WHERE a.assignment_id = $1) \
         FOR SHARE",
    )
    .bind(assignment_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(no, hop, round)| (no, InForce { hop, round })))
}

/// Locks the ticket's row for a new hop, creating it (with `hop` in force,
/// to the manual queue or not) when the ticket has none yet. Returns the
/// row as it was, `None` when just created.
pub async fn lock_or_begin(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    manual_queue: bool,
    at: DateTime<Utc>,
) -> Result<Option<InForce>, ApiError> {
    let created = sqlx::query(
        "INSERT INTO ticket_hops (ticket_no, hop, begun_at, manual_queue) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (ticket_no) DO NOTHING",
    )
    .bind(ticket_no)
    .bind(hop)
    .bind(at)
    .bind(manual_queue)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if created == 1 {
        return Ok(None);
    }
    lock(tx, ticket_no, Hold::Exclusive).await
}

/// Puts `hop` in force on a locked row, to the manual queue or not.
pub async fn advance(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    manual_queue: bool,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE ticket_hops SET hop = $2, begun_at = $3, manual_queue = $4 WHERE ticket_no = $1",
    )
    .bind(ticket_no)
    .bind(hop)
    .bind(at)
    .bind(manual_queue)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Says again whether the hop in force (row locked by the caller) goes to
/// the manual queue, while none of its units is recorded: a repeated
/// BeginHop whose first reply was lost may name the other target.
pub async fn set_manual_queue(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    manual_queue: bool,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE ticket_hops h SET manual_queue = $3 WHERE h.ticket_no = $1 AND h.hop = $2 \
         AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.ticket_no = $1 AND a.hop = $2)",
    )
    .bind(ticket_no)
    .bind(hop)
    .bind(manual_queue)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a ticket's status is derived from, per ticket undertaking holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFacts {
    pub ticket_no: TicketNo,
    /// The hop in force goes to the manual queue.
    pub manual_queue: bool,
    /// The handling round in force.
    pub round: i32,
    /// The state of the lead unit's assignment of the hop and round in
    /// force, if recorded.
    pub lead: Option<State>,
    /// Intake closed the ticket (办结).
    pub closed: bool,
}

/// The [`StatusFacts`] of `tickets`, in one query.
pub async fn status_facts(
    conn: &mut PgConnection,
    tickets: &[&str],
) -> Result<Vec<StatusFacts>, ApiError> {
    let rows: Vec<(TicketNo, bool, i32, Option<String>, bool)> = sqlx::query_as(
        "SELECT h.ticket_no, h.manual_queue, h.round, \
         (SELECT a.state FROM assignments a WHERE a.ticket_no = h.ticket_no AND a.hop = h.hop \
          AND a.round = h.round AND a.role = $2 LIMIT 1), h.closed_at IS NOT NULL \
         FROM ticket_hops h WHERE h.ticket_no = ANY($1)",
    )
    .bind(tickets)
    .bind(Role::Lead.as_sql())
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(ticket_no, manual_queue, round, state, closed)| {
            Ok(StatusFacts {
                ticket_no,
                manual_queue,
                round,
                lead: state.as_deref().map(State::from_sql).transpose()?,
                closed,
            })
        })
        .collect()
}

/// Notes that intake closed the ticket (办结), once: false when undertaking
/// holds no such ticket or knew it closed already.
pub async fn note_closed(
    tx: &mut Tx,
    ticket_no: &str,
    at: DateTime<Utc>,
) -> Result<bool, ApiError> {
    Ok(sqlx::query(
        "UPDATE ticket_hops SET closed_at = $2 WHERE ticket_no = $1 AND closed_at IS NULL",
    )
    .bind(ticket_no)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Moves the ticket (row locked exclusively by the caller) to handling
/// round `round` of the hop in force: re-handling (重办).
pub async fn begin_round(tx: &mut Tx, ticket_no: &TicketNo, round: i32) -> Result<(), ApiError> {
    sqlx::query("UPDATE ticket_hops SET round = $2 WHERE ticket_no = $1")
        .bind(ticket_no)
        .bind(round)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The lead unit that answered the ticket in this round, if one did.
pub async fn lead_answer(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    round: i32,
) -> Result<Option<UnitId>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT unit_id FROM assignments WHERE ticket_no = $1 AND round = $2 \
         AND role = $3 AND state = $4 LIMIT 1",
    )
    .bind(ticket_no)
    .bind(round)
    .bind(Role::Lead.as_sql())
    .bind(State::FedBack.as_sql())
    .fetch_optional(&mut **tx)
    .await?)
}
