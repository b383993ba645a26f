//! Default ratings (默认满意): when the policy has a `[ratings]
//! default_after`, a contact the requester has not rated that long after it
//! took place is given the policy's default level, once, kept apart from
//! the requester's ratings (`default_ratings`) and published as the
//! `rating_defaulted` fact, never as `rated`. The requester may still rate
//! the contact afterwards; the evaluation counts only ratings.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::events;
use hotline_common::time::{now, to_proto};
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use hotline_sla::{DefaultRating, Policy};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::rules::Level;
use super::store;

/// The most contacts one sweep transaction defaults.
pub const BATCH: i64 = 500;

/// Contacts made at or before this instant are due their default at `now`.
pub fn due_by(now: DateTime<Utc>, after: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(after)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// How often the sweep looks: a quarter of the time, between 100 ms and a
/// minute (so a default is recorded at most a quarter late).
pub fn interval(after: Duration) -> Duration {
    (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// One sweep transaction at `at`: defaults every due contact, up to
/// [`BATCH`], with its fact and audit entry. Returns how many.
pub async fn sweep(
    pool: &PgPool,
    policy: &Policy,
    d: &DefaultRating,
    at: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let level = Level::from_sql(d.level)?;
    let mut tx = pool.begin().await?;
    let done = store::record_defaults(&mut tx, due_by(at, d.after), level, &policy.name, at, BATCH)
        .await?;
    let mut entries = Vec::with_capacity(done.len());
    for c in &done {
        let fact = Fact::RatingDefaulted(ev::RatingDefaulted {
            contact_id: c.contact_id.to_string(),
            contact_kind: c.kind.to_proto() as i32,
            level: level.to_proto() as i32,
            defaulted_at: Some(to_proto(at)),
            policy: policy.name.clone(),
        });
        events::record_fact(&mut tx, Source::Intake, &c.ticket_no, at, fact).await?;
        entries.push(Entry::system(
            "intake",
            "rating.defaulted",
            &c.ticket_no,
            format!(
                "contact={} level={} policy={}",
                c.contact_id,
                level.as_sql(),
                policy.name
            ),
        ));
    }
    audit::append(&mut tx, &entries).await?;
    tx.commit().await?;
    Ok(done.len())
}

/// Runs the sweep until `token` is cancelled; returns at once when the
/// policy records no default.
pub async fn run(pool: PgPool, policy: Arc<Policy>, token: CancellationToken) {
    let Some(d) = policy.ratings.default.clone() else {
        tracing::info!("default ratings off: the policy has no [ratings] default_after");
        return;
    };
    let every = interval(d.after);
    tracing::info!(
        after_ms = d.after.as_millis() as u64,
        level = d.level,
        "default ratings on"
    );
    loop {
        match sweep(&pool, &policy, &d, now()).await {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(0) => {}
            Ok(n) => tracing::info!(contacts = n, level = d.level, "default ratings recorded"),
            Err(e) => tracing::warn!(error = %e.message, "default rating sweep failed, retried"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_due_once_the_time_has_passed_since_it() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        assert_eq!(
            due_by(now, Duration::from_secs(7 * 86_400)),
            DateTime::from_timestamp(1_764_000_000 - 7 * 86_400, 0).unwrap()
        );
        assert_eq!(due_by(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn the_sweep_looks_four_times_per_period_within_bounds() {
        assert_eq!(interval(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(
            interval(Duration::from_millis(10)),
            Duration::from_millis(100)
        );
        assert_eq!(
            interval(Duration::from_secs(7 * 86_400)),
            Duration::from_secs(60)
        );
    }
}
