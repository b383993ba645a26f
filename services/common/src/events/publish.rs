//! The publisher of a service's lifecycle events: claims due rows of its
//! `lifecycle_outbox`, publishes them to RabbitMQ with confirms with no
//! transaction open, and deletes those the broker confirmed.
//!
//! A claim is one short transaction that takes a schema-wide advisory lock
//! and leases up to a batch of due rows (`FOR UPDATE SKIP LOCKED` inside),
//! committed at once. A row is due when no earlier row of its ticket is
//! still leased or backing off: a ticket's events leave in the order they
//! were recorded, whatever fails. The lock serialises claims between
//! replicas (it is held for one statement), so two replicas never publish
//! rows of one ticket at once.
//!
//! A row the broker did not confirm backs off on the durable schedule
//! ([`crate::retry::durable_delay`], by the row's attempts) and keeps the
//! rows of its ticket behind it; a publisher that dies mid-publish leaves
//! its lease to run out, and the rows are published again (consumers
//! deduplicate by event id). On shutdown the rows in flight are handed
//! back at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::rules;
use crate::bus::{Outgoing, Publisher};
use crate::error::ApiError;

/// Rows claimed and published per batch.
pub const BATCH: i64 = 500;
/// How long a claim keeps other publishers away from its rows: beyond a
/// publish's connect and confirm timeouts.
pub const LEASE: Duration = Duration::from_secs(30);

/// A claimed row.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub seq: i64,
    pub event_id: uuid::Uuid,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub attempts: i32,
    pub leased_until: DateTime<Utc>,
}

type ClaimRow = (i64, uuid::Uuid, String, Vec<u8>, i32, DateTime<Utc>);

/// Claims up to `limit` due rows in recording order (see the module).
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<Claimed>, ApiError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.lifecycle_outbox'))")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<ClaimRow> = sqlx::query_as(
        "WITH due AS ( \
           SELECT o.seq FROM lifecycle_outbox o \
           WHERE o.next_attempt_at <= now() \
           AND (o.leased_until IS NULL OR o.leased_until <= now()) \
           AND NOT EXISTS ( \
             SELECT 1 FROM lifecycle_outbox e \
             WHERE e.ticket_no = o.ticket_no AND e.seq < o.seq \
             AND (e.next_attempt_at > now() OR e.leased_until > now())) \
           ORDER BY o.seq LIMIT $1 FOR UPDATE SKIP LOCKED) \
         UPDATE lifecycle_outbox o SET leased_until = now() + make_interval(secs => $2) \
         WHERE o.seq = ANY(ARRAY(SELECT seq FROM due)) \
         RETURNING o.seq, o.event_id, o.routing_key, o.body, o.attempts, o.leased_until",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(
            |(seq, event_id, routing_key, body, attempts, leased_until)| Claimed {
                seq,
                event_id,
                routing_key,
                body,
                attempts,
                leased_until,
            },
        )
        .collect();
    claimed.sort_by_key(|c| c.seq);
    Ok(claimed)
}

/// Deletes published rows.
pub async fn finish(pool: &PgPool, seqs: &[i64]) -> Result<(), ApiError> {
    if seqs.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM lifecycle_outbox WHERE seq = ANY($1)")
        .bind(seqs)
        .execute(pool)
        .await?;
    Ok(())
}

/// Backs off rows not published, each by its attempts, dropping the lease.
pub async fn retry_later(pool: &PgPool, failed: &[(&Claimed, String)]) -> Result<(), ApiError> {
    if failed.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i64> = failed.iter().map(|(c, _)| c.seq).collect();
    let delays: Vec<f64> = failed
        .iter()
        .map(|(c, _)| crate::retry::durable_delay(c.attempts.max(0) as u32).as_secs_f64())
        .collect();
    let errors: Vec<&str> = failed.iter().map(|(_, e)| e.as_str()).collect();
    sqlx::query(
        "UPDATE lifecycle_outbox o SET attempts = o.attempts + 1, last_error = f.error, \
         next_attempt_at = now() + make_interval(secs => f.delay), leased_until = NULL \
         FROM UNNEST($1::bigint[], $2::float8[], $3::text[]) AS f(seq, delay, error) \
         WHERE o.seq = f.seq",
    )
    .bind(&seqs)
    .bind(&delays)
    .bind(&errors)
    .execute(pool)
    .await?;
    Ok(())
}

/// Hands back rows still leased as claimed: due at once.
pub async fn release(pool: &PgPool, claims: &[Claimed]) -> Result<u64, ApiError> {
    let seqs: Vec<i64> = claims.iter().map(|c| c.seq).collect();
    let leases: Vec<DateTime<Utc>> = claims.iter().map(|c| c.leased_until).collect();
    Ok(sqlx::query(
        "UPDATE lifecycle_outbox o SET leased_until = NULL \
         FROM UNNEST($1::bigint[], $2::timestamptz[]) AS c(seq, leased_until) \
         WHERE o.seq = c.seq AND o.leased_until = c.leased_until",
    )
    .bind(&seqs)
    .bind(&leases)
    .execute(pool)
    .await?
    .rows_affected())
}

/// One batch: claim, publish with no transaction open, delete what was
/// confirmed, back off the rest. Returns how many rows were claimed.
pub async fn step(
    pool: &PgPool,
    publisher: &Publisher,
    exchange: &str,
    limit: i64,
    token: &CancellationToken,
) -> Result<usize, ApiError> {
    let claims = claim(pool, limit, LEASE).await?;
    if claims.is_empty() {
        return Ok(0);
    }
    let event_ids: Vec<String> = claims.iter().map(|c| c.event_id.to_string()).collect();
    let messages: Vec<Outgoing<'_>> = claims
        .iter()
        .zip(&event_ids)
        .map(|(c, id)| Outgoing {
            exchange,
            routing_key: &c.routing_key,
            body: &c.body,
            message_id: id,
            kind: rules::EVENT_TYPE,
        })
        .collect();
    let outcomes = tokio::select! {
        r = publisher.publish_each(&messages) => r,
        _ = token.cancelled() => {
            let released = release(pool, &claims).await?;
            tracing::info!(released, "shutting down, lifecycle events in flight handed back");
            return Ok(claims.len());
        }
    };
    let outcomes: Vec<Result<(), String>> = match outcomes {
        Ok(o) => o,
        Err(e) => {
            let why = format!("{e:#}");
            claims.iter().map(|_| Err(why.clone())).collect()
        }
    };
    let mut published = Vec::with_capacity(claims.len());
    let mut failed = Vec::new();
    for (c, o) in claims.iter().zip(outcomes) {
        match o {
            Ok(()) => published.push(c.seq),
            Err(e) => failed.push((c, e)),
        }
    }
    // If this fails, the rows keep their lease and are published again
    // when it runs out.
    finish(pool, &published).await?;
    if let Some((first, why)) = failed.first() {
        tracing::warn!(
            failed = failed.len(),
            published = published.len(),
            first_event_id = %first.event_id,
            error = %why,
            "lifecycle events not published, will retry"
        );
    }
    retry_later(pool, &failed).await?;
    for c in &claims[..] {
        if published.contains(&c.seq) {
            tracing::debug!(event_id = %c.event_id, routing_key = %c.routing_key, "lifecycle event published");
        }
    }
    Ok(claims.len())
}

/// Wakes `wake` on every notification of `channel` (each commit that
/// recorded an event), and once after each (re)connection; reconnects on
/// the retry schedule, the publisher polling meanwhile.
async fn listen(pool: PgPool, channel: String, wake: Arc<Notify>, token: CancellationToken) {
    let mut backoff = crate::retry::Backoff::new();
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(&channel).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = token.cancelled() => return,
            l = listener => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(error = %e, "event publisher cannot LISTEN; polling");
                    if !backoff.wait(&token).await {
                        return;
                    }
                    continue;
                }
            },
        };
        backoff.reset();
        wake.notify_one();
        loop {
            let got = tokio::select! {
                _ = token.cancelled() => return,
                got = listener.recv() => got,
            };
            match got {
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    tracing::debug!(error = %e, "event publisher listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Publishes the service's lifecycle events until shutdown: woken by each
/// commit that recorded one (LISTEN on the schema's channel), polling as a
/// fallback (retries coming due, a listener that is down).
pub async fn run(
    pool: PgPool,
    schema: String,
    source: hotline_proto::events::v1::Source,
    amqp_url: String,
    token: CancellationToken,
) {
    let Some(exchange) = rules::exchange(source) else {
        tracing::error!("lifecycle event publisher without a source");
        return;
    };
    let name = format!("{}-events", rules::source_name(source).unwrap_or_default());
    let publisher = Publisher::with_topology(&amqp_url, &name, super::declare);
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen(
        pool.clone(),
        super::channel(&schema),
        wake.clone(),
        token.clone(),
    ));
    crate::outbox::run_relay("lifecycle_events", wake, token.clone(), || {
        step(&pool, &publisher, &exchange, BATCH, &token)
    })
    .await;
    let _ = listener.await;
}
