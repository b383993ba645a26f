//! The one retry schedule of the project, built on `backon`: the first
//! retry after 100 ms, each next one twice as late, never more than 2 s
//! apart, with jitter (each delay is stretched by up to as much again, so
//! replicas that failed together do not retry together), and no limit on
//! the number of attempts: a background loop gives up only at shutdown.
//!
//! Two ways to use it:
//!
//! - [`until_ok`] retries one operation until it succeeds or the service
//!   shuts down, logging each failure;
//! - [`Backoff`] is the schedule as a value, for loops written by hand (a
//!   consumer that reconnects, and resets the schedule once connected).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

/// The first delay.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay before jitter.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// The first delay of a durable retry (a row that waits in the database,
/// such as an undelivered outbox row): it survives restarts, so it is
/// counted by attempts stored with the row, not held in memory.
pub const DURABLE_FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest delay of a durable retry.
pub const DURABLE_MAX_DELAY: Duration = Duration::from_secs(300);

/// The delay before the next try of a durable retry that has failed
/// `attempts` times: 1 s, 2 s, 4 s … at most 5 minutes.
pub fn durable_delay(attempts: u32) -> Duration {
    DURABLE_FIRST_DELAY
        .saturating_mul(1u32 << attempts.min(16))
        .min(DURABLE_MAX_DELAY)
}

/// The schedule, for `backon` users: `op.retry(retry::schedule())`.
pub fn schedule() -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(FIRST_DELAY)
        .with_factor(2.0)
        .with_max_delay(MAX_DELAY)
        .with_jitter()
        .without_max_times()
}

/// The schedule as a value: [`Backoff::next_delay`] gives the delays one by
/// one, [`Backoff::reset`] starts again from the first.
pub struct Backoff {
    delays: <ExponentialBuilder as BackoffBuilder>::Backoff,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff {
            delays: schedule().build(),
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        // The schedule has no limit of attempts, so it never ends.
        self.delays.next().unwrap_or(MAX_DELAY)
    }

    /// Back to the first delay, after a success.
    pub fn reset(&mut self) {
        *self = Backoff::new();
    }

    /// Sleeps the next delay; false when `token` was cancelled first.
    pub async fn wait(&mut self, token: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = token.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

/// Runs `op` until it succeeds, waiting on the schedule between attempts
/// and logging each failure as `what`; `None` when `token` is cancelled
/// first.
pub async fn until_ok<T, E, F, Fut>(
    what: &'static str,
    token: &CancellationToken,
    op: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let attempts =
        op.retry(schedule())
            .sleep(tokio::time::sleep)
            .notify(|e: &E, delay: Duration| {
                tracing::warn!(
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "{what} failed, retrying"
                );
            });
    tokio::select! {
        _ = token.cancelled() => None,
        r = attempts => r.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn delays_grow_to_the_cap_and_start_again_after_a_reset() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!((FIRST_DELAY..FIRST_DELAY * 2).contains(&first), "{first:?}");
        let later: Vec<Duration> = (0..20).map(|_| b.next_delay()).collect();
        assert!(later.iter().all(|d| *d < MAX_DELAY * 2), "{later:?}");
        assert!(later[19] >= MAX_DELAY, "{later:?}");
        b.reset();
        assert!(b.next_delay() < FIRST_DELAY * 2);
    }

    #[test]
    fn durable_delays_double_to_five_minutes() {
        assert_eq!(durable_delay(0), Duration::from_secs(1));
        assert_eq!(durable_delay(3), Duration::from_secs(8));
        assert_eq!(durable_delay(9), DURABLE_MAX_DELAY);
        assert_eq!(durable_delay(u32::MAX), DURABLE_MAX_DELAY);
    }

    #[tokio::test]
    async fn until_ok_retries_until_success() {
        let calls = AtomicU32::new(0);
        let token = CancellationToken::new();
        let got = until_ok("test op", &token, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err("not yet")
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(got, Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn until_ok_stops_at_shutdown() {
        let token = CancellationToken::new();
        let stop = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.cancel();
        });
        let got: Option<()> = until_ok("test op", &token, || async { Err("never") }).await;
        assert_eq!(got, None);
    }
}
