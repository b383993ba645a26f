//! The SQL of the hop in force: one row per ticket, locked by every call
//! that changes the ticket's assignments (shared by the units' moves,
//! exclusive for a new hop), so that unrelated tickets never wait.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::outbox::Tx;

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

/// Locks the ticket's row for a new hop, creating it (with `hop` in force)
/// when the ticket has none yet. Returns the row as it was, `None` when
/// just created.
pub async fn lock_or_begin(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    at: DateTime<Utc>,
) -> Result<Option<InForce>, ApiError> {
    let created = sqlx::query(
        "INSERT INTO ticket_hops (ticket_no, hop, begun_at) VALUES ($1, $2, $3) \
         ON CONFLICT (ticket_no) DO NOTHING",
    )
    .bind(ticket_no)
    .bind(hop)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if created == 1 {
        return Ok(None);
    }
    lock(tx, ticket_no, Hold::Exclusive).await
}

/// Puts `hop` in force on a locked row.
pub async fn advance(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE ticket_hops SET hop = $2, begun_at = $3 WHERE ticket_no = $1")
        .bind(ticket_no)
        .bind(hop)
        .bind(at)
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
