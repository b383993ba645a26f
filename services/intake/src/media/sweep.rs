//! Abandoned uploads: one started and never finished, untouched for
//! `HOTLINE_UPLOAD_ABANDONED_AFTER_SECONDS` (a day by default), is dropped
//! with the parts it stored, so neither the table nor the object store
//! keeps what nobody will resume. Replicas sweep side by side: each takes
//! rows the others have not locked.

use std::sync::Arc;
use std::time::Duration;

use hotline_common::ApiError;
use hotline_common::time::{minus, now};
use object_store::ObjectStore;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{objects, rules, store};

/// At most this many uploads are dropped in one statement.
pub const BATCH: i64 = 500;

/// How often to look: a tenth of the time an upload is kept, between a
/// second and ten minutes.
pub fn interval(abandoned_after: Duration) -> Duration {
    (abandoned_after / 10).clamp(Duration::from_secs(1), Duration::from_secs(600))
}

/// Sweeps until cancelled.
pub async fn run(
    pool: PgPool,
    media: Arc<dyn ObjectStore>,
    abandoned_after: Duration,
    token: CancellationToken,
) {
    let every = interval(abandoned_after);
    loop {
        match sweep(&pool, media.as_ref(), abandoned_after).await {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "abandoned uploads dropped"),
            Err(e) => tracing::warn!(error = %e.message, "abandoned upload sweep failed, retried"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// One batch: the rows go first (a resume after that finds no upload), then
/// their parts, the one a chunk in flight may be writing included. A crash
/// in between leaves those parts behind.
pub async fn sweep(
    pool: &PgPool,
    media: &dyn ObjectStore,
    abandoned_after: Duration,
) -> Result<usize, ApiError> {
    let dropped = store::drop_abandoned(pool, minus(now(), abandoned_after), BATCH).await?;
    for (id, parts) in &dropped {
        let paths: Vec<String> = (0..=*parts).map(|p| rules::part_path(*id, p)).collect();
        objects::delete(media, &paths).await;
    }
    Ok(dropped.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_looks_a_tenth_as_often_as_uploads_are_kept() {
        assert_eq!(
            interval(Duration::from_secs(86_400)),
            Duration::from_secs(600)
        );
        assert_eq!(interval(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(interval(Duration::from_secs(2)), Duration::from_secs(1));
    }
}
