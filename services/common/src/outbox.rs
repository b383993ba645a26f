//! The transactional outbox: a row written in the same transaction as the
//! state it announces, handed to a peer service by a relay, deleted once the
//! peer accepted it. Replicas share the rows by `FOR UPDATE SKIP LOCKED`;
//! the peer call must be idempotent, since a crash between the call and the
//! commit repeats it.
//!
//! Each service's migrations create its outbox table with this shape:
//!
//! ```sql
//! CREATE TABLE <name> (
//!     ticket_no       TEXT PRIMARY KEY,
//!     enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     attempts        INTEGER NOT NULL DEFAULT 0,
//!     next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     last_error      TEXT
//! );
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// Polling interval when nothing wakes a relay (rows of other replicas,
/// retries coming due).
const IDLE_POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy)]
pub struct Outbox {
    table: &'static str,
}

pub type Tx = Transaction<'static, Postgres>;

impl Outbox {
    /// `table` is a fixed identifier of the service's own migrations.
    pub const fn new(table: &'static str) -> Outbox {
        Outbox { table }
    }

    /// Adds a row inside the caller's transaction.
    pub async fn push(&self, tx: &mut Tx, ticket_no: &str) -> Result<(), ApiError> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (ticket_no) VALUES ($1) ON CONFLICT DO NOTHING",
            self.table
        )))
        .bind(ticket_no)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` due rows, locked until the transaction ends.
    /// Each with the attempts it has failed so far.
    async fn claim(&self, pool: &PgPool, limit: i64) -> Result<(Tx, Vec<(String, i32)>), ApiError> {
        let mut tx = pool.begin().await?;
        let keys = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT ticket_no, attempts FROM {} WHERE next_attempt_at <= now() \
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED",
            self.table
        )))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        Ok((tx, keys))
    }

    async fn done(&self, tx: &mut Tx, ticket_no: &str) -> Result<(), ApiError> {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE ticket_no = $1",
            self.table
        )))
        .bind(ticket_no)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Backs off on the durable schedule ([`crate::retry::durable_delay`]),
    /// after `attempts` failures before this one.
    async fn retry_later(
        &self,
        tx: &mut Tx,
        ticket_no: &str,
        attempts: i32,
        error: &str,
    ) -> Result<(), ApiError> {
        let delay = crate::retry::durable_delay(attempts.max(0) as u32);
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET attempts = attempts + 1, last_error = $2, \
             next_attempt_at = now() + make_interval(secs => $3) \
             WHERE ticket_no = $1",
            self.table
        )))
        .bind(ticket_no)
        .bind(error)
        .bind(delay.as_secs_f64())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Claims due rows and hands each to `send`, concurrently. Rows sent
    /// are deleted, the others retried later. Returns the open transaction
    /// and the rows sent, so that the caller can record more in the same
    /// transaction before it commits.
    pub async fn deliver<F, Fut>(
        &self,
        pool: &PgPool,
        limit: i64,
        send: F,
    ) -> Result<(Tx, Vec<String>), ApiError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<(), ApiError>>,
    {
        let (mut tx, keys) = self.claim(pool, limit).await?;
        let results = join_all(keys.iter().map(|(key, _)| send(key.clone()))).await;
        let mut sent = Vec::with_capacity(keys.len());
        for ((key, attempts), r) in keys.into_iter().zip(results) {
            match r {
                Ok(()) => {
                    self.done(&mut tx, &key).await?;
                    sent.push(key);
                }
                Err(e) => {
                    tracing::warn!(outbox = self.table, ticket_no = %key, error = %e.message, "not delivered, will retry");
                    self.retry_later(&mut tx, &key, attempts, &e.message)
                        .await?;
                }
            }
        }
        Ok((tx, sent))
    }
}

/// Runs a relay: `step` handles one batch and says how many rows it
/// finished; the loop sleeps when there was nothing to do, until woken,
/// polled, or shut down.
pub async fn run_relay<F, Fut>(
    name: &'static str,
    wake: Arc<Notify>,
    token: CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, ApiError>>,
{
    loop {
        let handled = match step().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(relay = name, error = %e.message, "relay step failed");
                0
            }
        };
        if handled > 0 && !token.is_cancelled() {
            continue;
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}
