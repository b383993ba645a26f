//! The SQL of the requester's own view: wrong tries, counted and swept.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use sqlx::PgPool;

/// Wrong tries within the window since `since`: of the ticket number, and
/// with the phone.
pub async fn wrong_tries(
    pool: &PgPool,
    ticket_no: &str,
    phone: &str,
    since: DateTime<Utc>,
) -> Result<(i64, i64, Option<DateTime<Utc>>), ApiError> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM own_view_failures WHERE ticket_no = $1 AND failed_at >= $3), \
         (SELECT count(*) FROM own_view_failures WHERE phone_digits = $2 AND failed_at >= $3), \
         (SELECT min(failed_at) FROM own_view_failures \
          WHERE (ticket_no = $1 OR phone_digits = $2) AND failed_at >= $3)",
    )
    .bind(ticket_no)
    .bind(phone)
    .bind(since)
    .fetch_one(pool)
    .await?)
}

/// Records a wrong try, and sweeps a few tries older than the window.
pub async fn record_wrong_try(
    pool: &PgPool,
    ticket_no: &str,
    phone: &str,
    at: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "WITH old AS (DELETE FROM own_view_failures WHERE id IN \
           (SELECT id FROM own_view_failures WHERE failed_at < $4 ORDER BY failed_at LIMIT 100)) \
         INSERT INTO own_view_failures (ticket_no, phone_digits, failed_at) VALUES ($1, $2, $3)",
    )
    .bind(ticket_no)
    .bind(phone)
    .bind(at)
    .bind(since)
    .execute(pool)
    .await?;
    Ok(())
}

/// Who submitted the ticket and the requester's account they gave, when
/// they gave one.
pub async fn account_of(
    pool: &PgPool,
    ticket_no: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT submitted_by, requester_account FROM tickets WHERE ticket_no = $1")
            .bind(ticket_no)
            .fetch_optional(pool)
            .await?;
    Ok(match row {
        Some((Some(by), Some(account))) => Some((by, account)),
        _ => None,
    })
}
