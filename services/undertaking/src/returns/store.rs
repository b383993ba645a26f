//! The SQL of returns: record, lock, decide, accept on re-dispatch, list.

use chrono::{DateTime, Utc};
use hotline_common::error::violated_constraint;
use hotline_common::ids::{AssignmentId, ReturnId, TicketNo};
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::{ApiError, Reason};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::rules::{NewReturn, Return, ReturnReason, ReturnState};
use crate::assignments::rules::Assignment;

fn from_row(row: &PgRow) -> Result<Return, ApiError> {
    Ok(Return {
        id: row.get("return_id"),
        assignment_id: row.get("assignment_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        hop: row.get("hop"),
        reason: ReturnReason::from_sql(row.get("reason"))?,
        duty_rule: row.get("duty_rule"),
        note: row.get("note"),
        state: ReturnState::from_sql(row.get("state"))?,
        requested_at: row.get("requested_at"),
        decided_at: row.get("decided_at"),
        decision_note: row.get("decision_note"),
    })
}

/// Records a unit's return of a locked assignment. A second pending one
/// of the same assignment is a wrong state.
pub async fn insert(
    tx: &mut Tx,
    a: &Assignment,
    r: &NewReturn,
    at: DateTime<Utc>,
) -> Result<Return, ApiError> {
    let row = sqlx::query(
        "INSERT INTO returns (return_id, assignment_id, ticket_no, unit_id, hop, reason, \
         duty_rule, note, state, requested_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
    )
    .bind(ReturnId::new())
    .bind(a.id)
    .bind(&a.ticket_no)
    .bind(&a.unit_id)
    .bind(a.hop)
    .bind(r.reason.as_sql())
    .bind(&r.duty_rule)
    .bind(&r.note)
    .bind(ReturnState::Pending.as_sql())
    .bind(at)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("returns_one_pending") => ApiError::precondition(
            Reason::ReturnPending,
            "a return of this assignment is already waiting",
        )
        .with("assignment_id", a.id),
        _ => e.into(),
    })?;
    from_row(&row)
}

pub async fn get(conn: &mut PgConnection, id: ReturnId) -> Result<Option<Return>, ApiError> {
    let row = sqlx::query("SELECT * FROM returns WHERE return_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Locks one return inside the caller's transaction.
pub async fn lock(tx: &mut Tx, id: ReturnId) -> Result<Option<Return>, ApiError> {
    let row = sqlx::query("SELECT * FROM returns WHERE return_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn reject(
    tx: &mut Tx,
    id: ReturnId,
    note: &str,
    at: DateTime<Utc>,
) -> Result<Return, ApiError> {
    let row = sqlx::query(
        "UPDATE returns SET state = $2, decision_note = $3, decided_at = $4 \
         WHERE return_id = $1 RETURNING *",
    )
    .bind(id)
    .bind(ReturnState::Rejected.as_sql())
    .bind(note)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    from_row(&row)
}

/// The pending returns of withdrawn assignments are accepted: the
/// re-dispatch moved the ticket. Returns those accepted.
pub async fn accept_pending_of(
    tx: &mut Tx,
    assignments: &[AssignmentId],
    at: DateTime<Utc>,
) -> Result<Vec<Return>, ApiError> {
    sqlx::query(
        "UPDATE returns SET state = $2, decided_at = $3, \
         decision_note = 'the ticket was re-dispatched' \
         WHERE assignment_id = ANY($1) AND state = $4 RETURNING *",
    )
    .bind(assignments)
    .bind(ReturnState::Accepted.as_sql())
    .bind(at)
    .bind(ReturnState::Pending.as_sql())
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// The return a re-dispatch was made for ends accepted, whatever was
/// decided on it meanwhile. `None` when it was accepted already.
pub async fn accept_for_hop(
    tx: &mut Tx,
    id: ReturnId,
    hop: i32,
    at: DateTime<Utc>,
) -> Result<Option<Return>, ApiError> {
    let row = sqlx::query(
        "UPDATE returns SET state = $2, decided_at = $3, decision_note = $4 \
         WHERE return_id = $1 AND state <> $2 RETURNING *",
    )
    .bind(id)
    .bind(ReturnState::Accepted.as_sql())
    .bind(at)
    .bind(format!("accepted by the re-dispatch to hop {hop}"))
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Which returns a list shows.
pub struct Filter<'a> {
    /// One ticket's, any state; `None`: every pending one.
    pub ticket_no: Option<&'a TicketNo>,
    /// Only this unit's (unit staff).
    pub unit_id: Option<&'a str>,
}

/// Every pending return, oldest first, after (`$1`, `$2`) (NULL: from the
/// oldest), served by the partial index `returns_pending_page`.
pub const PENDING: &str = "SELECT * FROM returns WHERE state = 'pending' \
     AND (requested_at, return_id) > (COALESCE($1::timestamptz, '-infinity'), \
          COALESCE($2::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY requested_at, return_id LIMIT $3";

/// One unit's (`$1`) pending returns, as [`PENDING`], served by
/// `returns_pending_by_unit`.
pub const PENDING_OF_UNIT: &str = "SELECT * FROM returns WHERE state = 'pending' AND unit_id = $1 \
     AND (requested_at, return_id) > (COALESCE($2::timestamptz, '-infinity'), \
          COALESCE($3::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY requested_at, return_id LIMIT $4";

/// One ticket's (`$1`) returns in any state, only unit `$2`'s when not
/// NULL, oldest first, after (`$3`, `$4`), served by `returns_page`.
pub const BY_TICKET: &str = "SELECT * FROM returns WHERE ticket_no = $1 \
     AND ($2::text IS NULL OR unit_id = $2) \
     AND (requested_at, return_id) > (COALESCE($3::timestamptz, '-infinity'), \
          COALESCE($4::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY requested_at, return_id LIMIT $5";

/// Returns oldest first, after `cursor`.
pub async fn page(
    pool: &PgPool,
    filter: &Filter<'_>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Return>, ApiError> {
    // The pending state is written out in the SQL, as the partial indexes
    // say it.
    debug_assert_eq!(ReturnState::Pending.as_sql(), "pending");
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = match (filter.ticket_no, filter.unit_id) {
        (Some(no), unit) => {
            sqlx::query(BY_TICKET)
                .bind(no)
                .bind(unit)
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        (None, Some(unit)) => {
            sqlx::query(PENDING_OF_UNIT)
                .bind(unit)
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        (None, None) => {
            sqlx::query(PENDING)
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(from_row).collect()
}
