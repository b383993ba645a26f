//! Acceptance's SQL: accepting a waiting request under its row lock, and
//! the queue of those waiting.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use sqlx::{PgPool, Row};

use super::rules::{Refusing, Waiting};
use crate::tickets::store::{StoredTicket, TICKET_COLUMNS, ticket_from_row};
use crate::visits::closure::ClosureCause;

/// Where the ticket stands towards acceptance, read under its row lock
/// (`None`: no such ticket).
pub async fn lock(tx: &mut Tx, ticket_no: &str) -> Result<Option<Waiting>, ApiError> {
    let row: Option<(bool, Option<String>)> = sqlx::query_as(
        "SELECT awaiting_acceptance, closure_cause FROM tickets WHERE ticket_no = $1 FOR UPDATE",
    )
    .bind(ticket_no)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|(awaiting, cause)| {
        let cause = cause.as_deref().map(ClosureCause::from_sql).transpose()?;
        Ok(Waiting::of(awaiting, cause))
    })
    .transpose()
}

/// Marks it refused (不予受理) and closed now, never dispatched.
pub async fn mark_refused(tx: &mut Tx, r: &Refusing, at: DateTime<Utc>) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE tickets SET awaiting_acceptance = false, refusal_ground = $2, \
         refusal_explanation = $3, refused_at = $4, closed_at = $4, closure_cause = 'refused', \
         closed_hop = 0, closed_round = 0 WHERE ticket_no = $1",
    )
    .bind(r.ticket_no.as_str())
    .bind(r.ground.as_sql())
    .bind(&r.explanation)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks it accepted now, with its dispatch deadline.
pub async fn mark_accepted(
    tx: &mut Tx,
    ticket_no: &str,
    at: DateTime<Utc>,
    dispatch_deadline: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE tickets SET awaiting_acceptance = false, accepted_at = $2, dispatch_deadline = $3 \
         WHERE ticket_no = $1",
    )
    .bind(ticket_no)
    .bind(at)
    .bind(dispatch_deadline)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of the requests waiting, oldest first, after the cursor ($1,
/// $2; NULL for the first page), at most $3.
pub fn awaiting_sql() -> String {
    format!(
        "SELECT {TICKET_COLUMNS}, received_at FROM tickets WHERE awaiting_acceptance \
         AND ($1::TIMESTAMPTZ IS NULL OR (received_at, ticket_no) > ($1, $2)) \
         ORDER BY received_at, ticket_no LIMIT $3"
    )
}

pub async fn awaiting(
    pool: &PgPool,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<(StoredTicket, DateTime<Utc>)>, ApiError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(awaiting_sql()))
        .bind(after.map(|c| c.at))
        .bind(after.map(|c| c.key.clone()))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((ticket_from_row(r)?, r.get("received_at"))))
        .collect()
}
