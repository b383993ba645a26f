//! Ticket lifecycle events (`hotline.events.v1.LifecycleEvent`) for read
//! models: recorded by the service that makes a fact, in the transaction
//! that makes it ([`record`]), published from that service's outbox of
//! events to its own exchange ([`publish`]), and consumed at least once,
//! acted on once per consumer ([`consume`]). docs/EVENTS.md describes the
//! stream for integrators.
//!
//! RabbitMQ topology (declared by publishers and consumers alike,
//! [`declare_topology`]):
//!
//! - a durable topic exchange per service, `hotline.<service>.events`,
//!   routing key `<service>.<fact>`, with the alternate exchange
//!   `hotline.events.unrouted`: an event no queue is bound for is kept
//!   there, in the quorum queue `hotline.events.unrouted`, capped at
//!   [`UNROUTED_MAX`] messages; when it is full the broker refuses the
//!   publish (`reject-publish`), the event stays in its outbox and the
//!   backlog shows on the metrics: nothing is dropped silently;
//! - each consumer's own quorum queue, bound to the keys it wants, with a
//!   delivery limit and dead-lettering to `hotline.events.dlx` → quorum
//!   queue `hotline.events.dead`.

pub mod consume;
pub mod publish;
pub mod rules;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hotline_proto::events::v1::{LifecycleEvent, Source, lifecycle_event::Fact};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use sqlx::migrate::Migrator;

use crate::error::ApiError;
use crate::outbox::Tx;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/events");

/// The table of events waiting to be published, in every service's schema.
pub const OUTBOX_TABLE: &str = "lifecycle_outbox";
/// The alternate exchange of every event exchange.
pub const UNROUTED_EXCHANGE: &str = "hotline.events.unrouted";
/// The queue keeping unroutable events.
pub const UNROUTED_QUEUE: &str = "hotline.events.unrouted";
/// How many unroutable events the unrouted queue keeps before the broker
/// refuses more (they then wait in their outbox).
pub const UNROUTED_MAX: i64 = 100_000;
/// Where consumers' queues dead-letter what cannot be handled.
pub const DEAD_LETTER_EXCHANGE: &str = "hotline.events.dlx";
/// The queue of dead-lettered events.
pub const DEAD_LETTER_QUEUE: &str = "hotline.events.dead";
/// Deliveries of one event to a consumer before it is dead-lettered.
pub const DELIVERY_LIMIT: i64 = 20;

/// The notification channel a schema's [`record`] wakes its publisher on.
pub fn channel(schema: &str) -> String {
    format!("{schema}_lifecycle_events")
}

/// A new event of `source` about `ticket_no`, with a fresh id.
pub fn event(
    source: Source,
    ticket_no: &str,
    occurred_at: DateTime<Utc>,
    fact: Fact,
) -> LifecycleEvent {
    LifecycleEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        ticket_no: ticket_no.to_string(),
        occurred_at: Some(crate::time::to_proto(occurred_at)),
        source: source as i32,
        fact: Some(fact),
    }
}

/// Records an event in the caller's transaction (published once it
/// commits), and wakes the schema's publisher at commit.
pub async fn record(tx: &mut Tx, e: &LifecycleEvent) -> Result<(), ApiError> {
    rules::check(e).map_err(ApiError::internal)?;
    let route = rules::route(e).map_err(ApiError::internal)?;
    let id = uuid::Uuid::parse_str(&e.event_id).map_err(|e| ApiError::internal(e.to_string()))?;
    // One statement: the row and the wake-up. The pool's search_path is
    // the service's schema: [`channel`].
    sqlx::query(
        "WITH added AS ( \
             INSERT INTO lifecycle_outbox (event_id, ticket_no, routing_key, body) \
             VALUES ($1, $2, $3, $4) RETURNING seq) \
         SELECT pg_notify(current_schema() || '_lifecycle_events', '') FROM added",
    )
    .bind(id)
    .bind(&e.ticket_no)
    .bind(&route.routing_key)
    .bind(rules::encode(e))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a fact of `source` about `ticket_no` that happened at `at`.
pub async fn record_fact(
    tx: &mut Tx,
    source: Source,
    ticket_no: &str,
    at: DateTime<Utc>,
    fact: Fact,
) -> Result<(), ApiError> {
    record(tx, &event(source, ticket_no, at, fact)).await
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

/// Declares the event topology (idempotent): every service's exchange
/// with its alternate exchange, the unrouted queue, the dead-letter
/// exchange and queue.
pub async fn declare_topology(ch: &Channel) -> anyhow::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let queue_opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (exchange, queue, capped) in [
        (UNROUTED_EXCHANGE, UNROUTED_QUEUE, true),
        (DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, false),
    ] {
        ch.exchange_declare(
            exchange.into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), long_string("quorum"));
        if capped {
            args.insert("x-max-length".into(), AMQPValue::LongLongInt(UNROUTED_MAX));
            args.insert("x-overflow".into(), long_string("reject-publish"));
        }
        ch.queue_declare(queue.into(), queue_opts, args).await?;
        ch.queue_bind(
            queue.into(),
            exchange.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    for source in rules::SOURCES {
        let name = rules::exchange(source).expect("a known source");
        let mut args = FieldTable::default();
        args.insert("alternate-exchange".into(), long_string(UNROUTED_EXCHANGE));
        ch.exchange_declare(name.as_str().into(), ExchangeKind::Topic, durable, args)
            .await?;
    }
    Ok(())
}

/// [`declare_topology`] as a [`crate::bus::Declare`].
pub fn declare(ch: &Channel) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(declare_topology(ch))
}

/// Declares a consumer's own queue (quorum, delivery limit, dead-lettering)
/// and binds it to each `(exchange, routing key pattern)`.
pub async fn declare_queue(
    ch: &Channel,
    queue: &str,
    bindings: &[(String, String)],
) -> anyhow::Result<()> {
    declare_topology(ch).await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        long_string(DEAD_LETTER_EXCHANGE),
    );
    args.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    args.insert("x-overflow".into(), long_string("reject-publish"));
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await?;
    for (exchange, key) in bindings {
        ch.queue_bind(
            queue.into(),
            exchange.as_str().into(),
            key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(())
}

/// Bindings to every fact of every service.
pub fn all_facts() -> Vec<(String, String)> {
    rules::SOURCES
        .into_iter()
        .map(|s| (rules::exchange(s).expect("a known source"), "#".to_string()))
        .collect()
}
