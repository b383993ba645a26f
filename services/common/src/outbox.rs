//! The transactional outbox: a row written in the same transaction as the
//! state it announces, handed to a peer service by a relay, deleted once the
//! peer accepted it.
//!
//! No transaction is open while the peer is called. A relay
//!
//! 1. claims due rows in one statement that leases them
//!    (`leased_until = now() + lease`) and commits at once; replicas share
//!    the rows, `FOR UPDATE SKIP LOCKED` keeping two claims from taking the
//!    same row, the lease keeping later claims away from it;
//! 2. calls the peer for each row with no transaction open;
//! 3. finishes the batch in one short transaction: each delivered row is
//!    deleted if it is still the claim it took (the same `pushes`), with
//!    whatever the relay records along (intake stops the dispatch clock);
//!    a row whose call failed is backed off.
//!
//! A row pushed again while its claim was in flight (a re-dispatch) has a
//! new `pushes` and no lease: it is not deleted by the earlier claim and is
//! sent again with what it announces now. A relay that dies mid-flight
//! leaves its lease to run out, and the row is claimed again: the peer call
//! must be idempotent.
//!
//! Dead tuples: a row goes through an insert, a claim (an update of
//! `leased_until` only, a column no index holds, so a HOT update on a page
//! with room: the tables keep `fillfactor = 50`) and a delete, so its index
//! entries are those of the insert alone, as with claiming by `DELETE`.
//! See docs/ARCHITECTURE.md for the measurements and how often to vacuum.
//!
//! Each service's migrations create its outbox table with this shape:
//!
//! ```sql
//! CREATE TABLE <name> (
//!     ticket_no       TEXT PRIMARY KEY,
//!     enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     attempts        INTEGER NOT NULL DEFAULT 0,
//!     next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     last_error      TEXT,
//!     pushes          BIGINT NOT NULL DEFAULT 1,
//!     leased_until    TIMESTAMPTZ
//! ) WITH (fillfactor = 50);
//! CREATE INDEX <name>_due ON <name> (next_attempt_at);
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// Polling interval when nothing wakes a relay (rows of other replicas,
/// retries coming due).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// How long a claim keeps other relays away from its rows. A relay that
/// dies mid-call (killed, its host lost) leaves its rows to wait this long,
/// so it is short: every call of a batch is cut at half of it
/// ([`Outbox::deliver`]), so that only a relay that died loses its rows to
/// another, and even then a call made twice is harmless (the receivers are
/// idempotent). A relay shut down mid-call hands its rows back at once.
pub const LEASE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct Outbox {
    table: &'static str,
    lease: Duration,
}

pub type Tx = Transaction<'static, Postgres>;

/// A row claimed: its key, the attempts it failed so far, which push of
/// it was claimed, and the lease taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub ticket_no: String,
    pub attempts: i32,
    pub pushes: i64,
    pub leased_until: DateTime<Utc>,
}

/// What a relay records in the transaction that deletes a delivered row.
pub type Along<'t> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 't>>;

/// For a relay that records nothing along with a delivered row.
pub fn nothing_along<'t>(_: &'t mut Tx, _: &'t str) -> Along<'t> {
    Box::pin(async { Ok(()) })
}

impl Outbox {
    /// `table` is a fixed identifier of the service's own migrations.
    pub const fn new(table: &'static str) -> Outbox {
        Outbox {
            table,
            lease: LEASE,
        }
    }

    /// The same outbox with another lease (tests of a relay that died).
    pub const fn with_lease(self, lease: Duration) -> Outbox {
        Outbox { lease, ..self }
    }

    pub fn table(&self) -> &'static str {
        self.table
    }

    /// Adds a row inside the caller's transaction; a row already waiting
    /// is pushed again: due at once, with no lease, so that what it
    /// announces now is sent even if an earlier claim of it is in flight.
    pub async fn push(&self, tx: &mut Tx, ticket_no: &str) -> Result<(), ApiError> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} AS o (ticket_no) VALUES ($1) \
             ON CONFLICT (ticket_no) DO UPDATE SET pushes = o.pushes + 1, \
             next_attempt_at = now(), leased_until = NULL, attempts = 0, last_error = NULL",
            t = self.table
        )))
        .bind(ticket_no)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` due rows that no live lease holds, leasing
    /// them, in one statement that commits on its own.
    pub async fn claim(&self, pool: &PgPool, limit: i64) -> Result<Vec<Claim>, ApiError> {
        let rows: Vec<(String, i32, i64, DateTime<Utc>)> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE {t} SET leased_until = now() + make_interval(secs => $2) \
             WHERE ticket_no = ANY(ARRAY( \
               SELECT ticket_no FROM {t} \
               WHERE next_attempt_at <= now() \
               AND (leased_until IS NULL OR leased_until <= now()) \
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)) \
             RETURNING ticket_no, attempts, pushes, leased_until",
            t = self.table
        )))
        .bind(limit)
        .bind(self.lease.as_secs_f64())
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(ticket_no, attempts, pushes, leased_until)| Claim {
                ticket_no,
                attempts,
                pushes,
                leased_until,
            })
            .collect())
    }

    /// Delivered rows: deleted, in a new transaction, those that are still
    /// the push that was claimed. Returns that transaction, for the caller
    /// to record more and commit, and the keys deleted; a row pushed again
    /// meanwhile (it will be sent again), or finished by another relay
    /// whose claim followed an expired lease, is not among them.
    pub async fn finish(
        &self,
        pool: &PgPool,
        claims: &[Claim],
    ) -> Result<(Tx, Vec<String>), ApiError> {
        let keys: Vec<&str> = claims.iter().map(|c| c.ticket_no.as_str()).collect();
        let pushes: Vec<i64> = claims.iter().map(|c| c.pushes).collect();
        let mut tx = pool.begin().await?;
        let deleted: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "DELETE FROM {t} o USING UNNEST($1::text[], $2::bigint[]) AS c(ticket_no, pushes) \
             WHERE o.ticket_no = c.ticket_no AND o.pushes = c.pushes RETURNING o.ticket_no",
            t = self.table
        )))
        .bind(&keys)
        .bind(&pushes)
        .fetch_all(&mut *tx)
        .await?;
        Ok((tx, deleted))
    }

    /// A row not delivered: backs off on the durable schedule
    /// ([`crate::retry::durable_delay`]) and drops the lease, unless it was
    /// pushed again meanwhile (then it is due at once as it is).
    pub async fn retry_later(
        &self,
        pool: &PgPool,
        claim: &Claim,
        error: &str,
    ) -> Result<(), ApiError> {
        let delay = crate::retry::durable_delay(claim.attempts.max(0) as u32);
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET attempts = attempts + 1, last_error = $3, \
             next_attempt_at = now() + make_interval(secs => $4), leased_until = NULL \
             WHERE ticket_no = $1 AND pushes = $2",
            self.table
        )))
        .bind(&claim.ticket_no)
        .bind(claim.pushes)
        .bind(error)
        .bind(delay.as_secs_f64())
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Hands back claims still held as they were taken (not finished, not
    /// pushed again): due at once for any relay.
    pub async fn release(&self, pool: &PgPool, claims: &[Claim]) -> Result<u64, ApiError> {
        let keys: Vec<&str> = claims.iter().map(|c| c.ticket_no.as_str()).collect();
        let pushes: Vec<i64> = claims.iter().map(|c| c.pushes).collect();
        let leases: Vec<DateTime<Utc>> = claims.iter().map(|c| c.leased_until).collect();
        Ok(sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} o SET leased_until = NULL \
             FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[]) AS c(ticket_no, pushes, leased_until) \
             WHERE o.ticket_no = c.ticket_no AND o.pushes = c.pushes \
             AND o.leased_until = c.leased_until",
            t = self.table
        )))
        .bind(&keys)
        .bind(&pushes)
        .bind(&leases)
        .execute(pool)
        .await?
        .rows_affected())
    }

    /// Claims due rows and hands each to `send`, concurrently, with no
    /// transaction open. Once every call has returned (each is cut at half
    /// the lease, and then retried later), the delivered rows are deleted in one short
    /// transaction, with what `along` records for each in it, and the
    /// others are retried later. One transaction per batch rather than per
    /// row: a commit costs more than the rest of a row's finishing
    /// (docs/BENCHMARKS.md). On shutdown the calls still in flight are
    /// dropped and their rows handed back. Returns how many rows were
    /// claimed.
    pub async fn deliver<S, Fut, A>(
        &self,
        pool: &PgPool,
        limit: i64,
        token: &CancellationToken,
        send: S,
        along: A,
    ) -> Result<usize, ApiError>
    where
        S: Fn(String) -> Fut,
        Fut: Future<Output = Result<(), ApiError>>,
        A: for<'t> Fn(&'t mut Tx, &'t str) -> Along<'t>,
    {
        let claims = self.claim(pool, limit).await?;
        if claims.is_empty() {
            return Ok(0);
        }
        let limit = self.lease / 2;
        let calls = join_all(claims.iter().map(|c| {
            let call = send(c.ticket_no.clone());
            async move {
                tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
                    Err(ApiError::unavailable(format!(
                        "not answered within {} ms",
                        limit.as_millis()
                    )))
                })
            }
        }));
        let results = tokio::select! {
            r = calls => r,
            _ = token.cancelled() => {
                let released = self.release(pool, &claims).await?;
                tracing::info!(outbox = self.table, released, "shutting down, rows in flight handed back");
                return Ok(claims.len());
            }
        };
        let mut sent = Vec::with_capacity(claims.len());
        for (claim, r) in claims.iter().zip(results) {
            match r {
                Ok(()) => sent.push(claim.clone()),
                Err(e) => {
                    tracing::warn!(outbox = self.table, ticket_no = %claim.ticket_no, error = %e.message, "not delivered, will retry");
                    self.retry_later(pool, claim, &e.message).await?;
                }
            }
        }
        if !sent.is_empty() {
            // If this fails, the rows keep their lease and are sent again
            // when it runs out.
            let (mut tx, deleted) = self.finish(pool, &sent).await?;
            for key in &deleted {
                along(&mut tx, key).await?;
            }
            tx.commit().await?;
        }
        Ok(claims.len())
    }
}

/// Runs a relay: `step` handles one batch and says how many rows it
/// claimed (a row that failed is backed off, so a full batch means more may
/// be due); the loop sleeps when there was nothing to do, until woken,
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
