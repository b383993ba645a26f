//! Acceptance's SQL: accepting a waiting request under its row lock, and
//! the queue of those waiting.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use sqlx::{PgPool, Row};

use crate::tickets::store::{StoredTicket, TICKET_COLUMNS, ticket_from_row};

/// Whether the ticket waits for acceptance, read under its row lock
/// (`None`: no such ticket).
pub async fn lock(tx: &mut Tx, ticket_no: &str) -> Result<Option<bool>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT awaiting_acceptance FROM tickets WHERE ticket_no = $1 FOR UPDATE",
    )
    .bind(ticket_no)
    .fetch_optional(&mut **tx)
    .await?)
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
