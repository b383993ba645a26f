//! Consuming lifecycle events, each acted on once per consumer.
//!
//! A consumer has a durable quorum queue of its own, bound to the
//! exchanges and routing keys it wants ([`super::declare_queue`]). For each
//! delivery, in one transaction of the consumer's schema, it first inserts
//! the event id into `consumed_events` (`ON CONFLICT DO NOTHING`): a row
//! already there means the event was acted on (a redelivery, or the same
//! event published twice), and nothing else is done; otherwise the
//! handler runs in that transaction. The delivery is acknowledged only
//! after the commit. Deliveries already waiting when one arrives (up to the
//! prefetch) are acted on together, in order, in one transaction, and
//! acknowledged together after its commit: under load a commit serves many
//! events. If any of them fails, that transaction rolls back and each is
//! retried on its own, so only the failing one is handed back.
//!
//! A message that does not decode as a well-formed event is dead-lettered
//! at once (a copy to `hotline.events.dlx` with the header
//! `x-hotline-reason`), never retried. A handler that fails rolls back and
//! the message is handed back after a backoff; after the queue's delivery
//! limit the broker dead-letters it.
//!
//! `consumed_events` rows are kept for [`CONSUMED_RETENTION`] and then
//! deleted by the running consumer ([`sweep`]): a second copy of an event
//! comes from a redelivery (at once, on reconnect) or from its publisher's
//! outbox sending it again after a crash (right behind the first copy in
//! the queue), so only a queue held up for longer than the retention
//! could bring one later.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use hotline_proto::events::v1::LifecycleEvent;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{DEAD_LETTER_EXCHANGE, declare_queue, rules};
use crate::bus::{connect, dead_letter, message_id};
use crate::error::ApiError;
use crate::outbox::Tx;
use crate::retry::Backoff;

/// How long a consumer remembers the events it acted on.
pub const CONSUMED_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the running consumer deletes what it no longer remembers.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per statement.
const SWEEP_BATCH: i64 = 5000;

/// What a consumer does with an event, in the transaction that marks it
/// consumed.
pub type Handler = Arc<
    dyn for<'t> Fn(&'t mut Tx, &'t LifecycleEvent) -> BoxFuture<'t, Result<(), ApiError>>
        + Send
        + Sync,
>;

/// What a consumer does after a batch's events, in the same transaction:
/// given those acted on, in order (e.g. refold each ticket once).
pub type AfterBatch = Arc<
    dyn for<'t> Fn(&'t mut Tx, &'t [LifecycleEvent]) -> BoxFuture<'t, Result<(), ApiError>>
        + Send
        + Sync,
>;

/// A consumer's handling: what it does with each event, and what once for
/// all the events of a transaction.
#[derive(Clone)]
pub struct Handling {
    pub each: Handler,
    pub after: Option<AfterBatch>,
}

impl From<Handler> for Handling {
    fn from(each: Handler) -> Handling {
        Handling { each, after: None }
    }
}

/// A consumer: its name (the key of its rows in `consumed_events`), its
/// queue, what the queue is bound to, and how many deliveries it holds.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub consumer: String,
    pub queue: String,
    /// `(exchange, routing key pattern)` pairs, e.g.
    /// `("hotline.undertaking.events", "undertaking.*")`.
    pub bindings: Vec<(String, String)>,
    pub prefetch: u16,
}

/// Acts on one event once: marks it consumed and runs the handler in one
/// transaction. Returns false (and does nothing) when it was consumed
/// already.
pub async fn once(
    pool: &PgPool,
    consumer: &str,
    event: &LifecycleEvent,
    handler: &Handler,
) -> Result<bool, ApiError> {
    let handling = Handling::from(handler.clone());
    Ok(once_all(pool, consumer, std::slice::from_ref(event), &handling).await? == 1)
}

/// Acts on each of `events` once, in order, in one transaction: marks them
/// consumed (one statement) and runs the handler for each not consumed
/// before (an event twice in the batch is acted on once), then the
/// handling's `after` with those. Returns how many were acted on. On an
/// error nothing is committed.
pub async fn once_all(
    pool: &PgPool,
    consumer: &str,
    events: &[LifecycleEvent],
    handling: &Handling,
) -> Result<usize, ApiError> {
    let ids = events
        .iter()
        .map(|e| uuid::Uuid::parse_str(&e.event_id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::invalid("event_id", "not a UUID"))?;
    let mut tx = pool.begin().await?;
    let fresh: Vec<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO consumed_events (consumer, event_id) SELECT $1, u FROM UNNEST($2::uuid[]) AS u \
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(consumer)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut fresh: std::collections::HashSet<uuid::Uuid> = fresh.into_iter().collect();
    let mut acted = Vec::new();
    for (event, id) in events.iter().zip(&ids) {
        // Removed once acted on: a second copy in the batch is not.
        if fresh.remove(id) {
            (handling.each)(&mut tx, event).await?;
            acted.push(event.clone());
        }
    }
    if acted.is_empty() {
        return Ok(0);
    }
    if let Some(after) = &handling.after {
        after(&mut tx, &acted).await?;
    }
    tx.commit().await?;
    Ok(acted.len())
}

/// Deletes the consumer's `consumed_events` rows older than `retention`,
/// in batches; returns how many.
pub async fn sweep(pool: &PgPool, consumer: &str, retention: Duration) -> Result<u64, ApiError> {
    let mut deleted = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM consumed_events WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM consumed_events \
             WHERE consumer = $1 AND consumed_at < now() - make_interval(secs => $2) LIMIT $3))",
        )
        .bind(consumer)
        .bind(retention.as_secs_f64())
        .bind(SWEEP_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        deleted += n;
        if n < SWEEP_BATCH as u64 {
            return Ok(deleted);
        }
    }
}

async fn run_sweeper(pool: PgPool, consumer: String, token: CancellationToken) {
    loop {
        match sweep(&pool, &consumer, CONSUMED_RETENTION).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(%consumer, deleted = n, "consumed event ids past retention deleted")
            }
            Err(e) => {
                tracing::warn!(%consumer, error = %e.message, "sweeping consumed event ids failed")
            }
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// Consumes until shutdown, reconnecting on the project's retry schedule;
/// forgets consumed event ids past [`CONSUMED_RETENTION`] meanwhile.
pub async fn run(
    url: String,
    pool: PgPool,
    sub: Subscription,
    handler: impl Into<Handling>,
    token: CancellationToken,
) {
    let handler = handler.into();
    let sweeper = tokio::spawn(run_sweeper(
        pool.clone(),
        sub.consumer.clone(),
        token.child_token(),
    ));
    consume_until_shutdown(url, pool, sub, handler, token).await;
    sweeper.abort();
}

async fn consume_until_shutdown(
    url: String,
    pool: PgPool,
    sub: Subscription,
    handler: Handling,
    token: CancellationToken,
) {
    let mut backoff = Backoff::new();
    while !token.is_cancelled() {
        match consume(&url, &pool, &sub, &handler, &token, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    consumer = %sub.consumer,
                    error = format!("{e:#}"),
                    "lifecycle event consumer stopped, reconnecting"
                );
                if !backoff.wait(&token).await {
                    return;
                }
            }
        }
    }
}

async fn consume(
    url: &str,
    pool: &PgPool,
    sub: &Subscription,
    handler: &Handling,
    token: &CancellationToken,
    backoff: &mut Backoff,
) -> anyhow::Result<()> {
    let conn = connect(url, &format!("{}-consumer", sub.consumer)).await?;
    let ch = conn.create_channel().await?;
    declare_queue(&ch, &sub.queue, &sub.bindings).await?;
    // Dead-lettered copies are confirmed before their original is acked.
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    ch.basic_qos(sub.prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = ch
        .basic_consume(
            sub.queue.as_str().into(),
            sub.consumer.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    backoff.reset();
    tracing::info!(consumer = %sub.consumer, queue = %sub.queue, "consuming lifecycle events");
    let mut failing = Backoff::new();
    let most = usize::from(sub.prefetch.max(1));
    loop {
        let next = tokio::select! {
            _ = token.cancelled() => {
                let _ = conn.close(200, "shutdown".into()).await;
                return Ok(());
            }
            d = consumer.next() => d,
        };
        let Some(d) = next else {
            anyhow::bail!("consumer cancelled by the broker");
        };
        // What else is waiting already, without waiting for more.
        let mut waiting = vec![d?];
        let mut ended = false;
        while waiting.len() < most {
            match consumer.next().now_or_never() {
                Some(Some(d)) => waiting.push(d?),
                Some(None) => {
                    ended = true;
                    break;
                }
                None => break,
            }
        }
        let mut batch = Vec::with_capacity(waiting.len());
        for d in waiting {
            match rules::decode(&d.data) {
                Ok(e) => batch.push((d, e)),
                Err(reason) => {
                    tracing::warn!(
                        consumer = %sub.consumer,
                        message_id = message_id(&d),
                        %reason,
                        "invalid lifecycle event, dead-lettering it"
                    );
                    dead_letter(&ch, &d, DEAD_LETTER_EXCHANGE, &sub.queue, &reason).await?;
                }
            }
        }
        if batch.len() > 1 {
            let events: Vec<LifecycleEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
            match once_all(pool, &sub.consumer, &events, handler).await {
                Ok(acted) => {
                    failing.reset();
                    tracing::debug!(consumer = %sub.consumer, events = events.len(), acted, "lifecycle events consumed together");
                    if let Some((last, _)) = batch.last() {
                        last.ack(BasicAckOptions { multiple: true }).await?;
                    }
                    batch.clear();
                }
                Err(e) => {
                    tracing::info!(consumer = %sub.consumer, events = events.len(), error = %e.message, "lifecycle events not handled together, each on its own");
                }
            }
        }
        for (d, event) in &batch {
            one(pool, sub, handler, token, &mut failing, d, event).await?;
        }
        if ended {
            anyhow::bail!("consumer cancelled by the broker");
        }
    }
}

/// Acts on one delivery on its own: acknowledged once committed, handed
/// back after a backoff when the handler fails.
async fn one(
    pool: &PgPool,
    sub: &Subscription,
    handler: &Handling,
    token: &CancellationToken,
    failing: &mut Backoff,
    d: &lapin::message::Delivery,
    event: &LifecycleEvent,
) -> anyhow::Result<()> {
    match once_all(pool, &sub.consumer, std::slice::from_ref(event), handler).await {
        Ok(acted) => {
            let acted = acted == 1;
            failing.reset();
            tracing::debug!(consumer = %sub.consumer, event_id = %event.event_id, acted, "lifecycle event consumed");
            d.ack(BasicAckOptions::default()).await?;
        }
        Err(e) => {
            let delay = failing.next_delay();
            tracing::warn!(
                consumer = %sub.consumer,
                event_id = %event.event_id,
                error = %e.message,
                retry_in_ms = delay.as_millis() as u64,
                "lifecycle event not handled, handing it back"
            );
            tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep(delay) => {}
            }
            d.nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await?;
        }
    }
    Ok(())
}
