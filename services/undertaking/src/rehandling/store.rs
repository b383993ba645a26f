//! The SQL of re-handling: the visited round's lead answer, the decision
//! recorded once per visit, a ticket's decisions listed.

use hotline_common::ApiError;
use hotline_common::ids::TicketNo;
use hotline_common::outbox::Tx;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use uuid::Uuid;

use super::rules::{Decision, Rehandling};
use crate::assignments::rules::{Assignment, Role, State};
use crate::assignments::store::{COLUMNS, from_row};

/// The lead unit's answered assignment of (`hop`, `round`), if any.
pub async fn lead_answer(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    round: i32,
) -> Result<Option<Assignment>, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assignments WHERE ticket_no = $1 AND hop = $2 AND round = $3 \
         AND role = $4 AND state = $5"
    )))
    .bind(ticket_no)
    .bind(hop)
    .bind(round)
    .bind(Role::Lead.as_sql())
    .bind(State::FedBack.as_sql())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Whether a decision on this visit is recorded already.
pub async fn decided(tx: &mut Tx, visit_id: Uuid) -> Result<bool, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rehandlings WHERE visit_id = $1)")
            .bind(visit_id)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Records a decision.
pub async fn insert(tx: &mut Tx, r: &Rehandling) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO rehandlings (visit_id, ticket_no, unit_id, hop, visited_round, decision, \
         new_round, assignment_id, max_rounds, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(r.visit_id)
    .bind(&r.ticket_no)
    .bind(&r.unit_id)
    .bind(r.hop)
    .bind(r.visited_round)
    .bind(r.decision.as_sql())
    .bind(r.new_round)
    .bind(r.assignment_id)
    .bind(r.max_rounds)
    .bind(r.decided_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn rehandling_from(row: &PgRow) -> Result<Rehandling, ApiError> {
    Ok(Rehandling {
        visit_id: row.get("visit_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        hop: row.get("hop"),
        visited_round: row.get("visited_round"),
        decision: Decision::from_sql(row.get("decision"))?,
        new_round: row.get("new_round"),
        assignment_id: row.get("assignment_id"),
        max_rounds: row.get("max_rounds"),
        decided_at: row.get("decided_at"),
    })
}

/// A ticket's decisions, oldest first, read by `rehandlings_page` (a
/// ticket has a few at most: paged in memory).
pub const BY_TICKET: &str =
    "SELECT * FROM rehandlings WHERE ticket_no = $1 ORDER BY decided_at, visit_id";

pub async fn by_ticket(
    conn: &mut PgConnection,
    ticket_no: &TicketNo,
) -> Result<Vec<Rehandling>, ApiError> {
    let rows = sqlx::query(BY_TICKET)
        .bind(ticket_no)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(rehandling_from).collect()
}
