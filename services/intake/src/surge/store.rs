//! The SQL of surge mode: one row, read on every submit so that every
//! intake replica applies it at once.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::outbox::Tx;
use sqlx::PgPool;

/// Surge mode as last set; never set is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surge {
    pub on: bool,
    pub reason: String,
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct SurgeStore {
    pool: PgPool,
}

impl SurgeStore {
    pub fn new(pool: PgPool) -> SurgeStore {
        SurgeStore { pool }
    }

    pub async fn get(&self) -> Result<Surge, ApiError> {
        let row: Option<(bool, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT is_on, reason, changed_at FROM surge_mode")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map_or_else(Surge::default, |(on, reason, at)| Surge {
            on,
            reason,
            changed_at: Some(at),
        }))
    }
}

/// Switches it, with its audit entry, in the caller's transaction; returns
/// surge mode as set.
pub async fn set(
    tx: &mut Tx,
    on: bool,
    reason: &str,
    at: DateTime<Utc>,
    who: &Identity,
) -> Result<Surge, ApiError> {
    sqlx::query(
        "INSERT INTO surge_mode (is_on, reason, changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (only_row) DO UPDATE SET is_on = $1, reason = $2, changed_at = $3",
    )
    .bind(on)
    .bind(reason)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let detail = format!("on={on} reason={reason}");
    audit::append(tx, &[Entry::by(who, "surge_mode.set", "", detail)]).await?;
    Ok(Surge {
        on,
        reason: reason.to_string(),
        changed_at: Some(at),
    })
}
