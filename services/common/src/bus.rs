//! RabbitMQ: the connection and the deadline-event topology, declared in
//! code by publishers and consumers alike so that neither depends on the
//! other having started first.
//!
//! - exchange `hotline.deadlines` (direct, durable), routing key `deadline`
//! - queue `hotline.supervision.deadlines`: quorum, delivery limit, and
//!   at-least-once dead-lettering to `hotline.deadlines.dead` (a quorum
//!   queue behind the `hotline.deadlines.dlx` exchange) for messages that
//!   cannot be handled
//!
//! Publishing waits for publisher confirms, and is `mandatory`: a message
//! the broker cannot route or store is an error, never a silent drop.

use std::time::Duration;

use anyhow::{Context, anyhow};
use futures_util::future::try_join_all;
use hotline_proto::common::v1::DeadlineEvent;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use prost::Message;
use tokio::sync::Mutex;

pub const DEADLINE_EXCHANGE: &str = "hotline.deadlines";
pub const DEADLINE_ROUTING_KEY: &str = "deadline";
pub const DEADLINE_QUEUE: &str = "hotline.supervision.deadlines";
pub const DEAD_LETTER_EXCHANGE: &str = "hotline.deadlines.dlx";
pub const DEAD_LETTER_QUEUE: &str = "hotline.deadlines.dead";
/// Deliveries of one message before it is dead-lettered.
pub const DELIVERY_LIMIT: i64 = 20;
pub const EVENT_TYPE: &str = "hotline.common.v1.DeadlineEvent";
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn connect(url: &str, name: &str) -> anyhow::Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    tokio::time::timeout(Duration::from_secs(10), Connection::connect(url, props))
        .await
        .map_err(|_| anyhow!("connecting to RabbitMQ timed out"))?
        .context("connecting to RabbitMQ")
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

/// Declares the deadline topology (idempotent).
pub async fn declare_topology(ch: &Channel) -> anyhow::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        DEADLINE_EXCHANGE.into(),
        ExchangeKind::Direct,
        durable,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        DEAD_LETTER_EXCHANGE.into(),
        ExchangeKind::Fanout,
        durable,
        FieldTable::default(),
    )
    .await?;
    let queue_opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let mut dead_args = FieldTable::default();
    dead_args.insert("x-queue-type".into(), long_string("quorum"));
    ch.queue_declare(DEAD_LETTER_QUEUE.into(), queue_opts, dead_args)
        .await?;
    ch.queue_bind(
        DEAD_LETTER_QUEUE.into(),
        DEAD_LETTER_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
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
    ch.queue_declare(DEADLINE_QUEUE.into(), queue_opts, args)
        .await?;
    ch.queue_bind(
        DEADLINE_QUEUE.into(),
        DEADLINE_EXCHANGE.into(),
        DEADLINE_ROUTING_KEY.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok(())
}

/// Publishes deadline events with confirms, reconnecting as needed.
pub struct Publisher {
    url: String,
    name: String,
    state: Mutex<Option<(Connection, Channel)>>,
}

impl Publisher {
    pub fn new(url: &str, name: &str) -> Publisher {
        Publisher {
            url: url.to_string(),
            name: name.to_string(),
            state: Mutex::new(None),
        }
    }

    async fn open(&self) -> anyhow::Result<(Connection, Channel)> {
        let conn = connect(&self.url, &self.name).await?;
        let ch = conn.create_channel().await?;
        declare_topology(&ch).await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        tracing::info!("connected to RabbitMQ for publishing");
        Ok((conn, ch))
    }

    /// Publishes every event and returns once the broker confirmed them
    /// all; any nack, return, timeout or connection error fails the whole
    /// batch (it will be published again, and consumers deduplicate).
    pub async fn publish(&self, events: &[DeadlineEvent]) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut state = self.state.lock().await;
        if state
            .as_ref()
            .is_none_or(|(c, ch)| !c.status().connected() || !ch.status().connected())
        {
            *state = Some(self.open().await?);
        }
        let (_, ch) = state.as_ref().expect("just opened");
        let result = publish_on(ch, events).await;
        if result.is_err()
            && let Some((conn, _)) = state.take()
        {
            let _ = conn.close(0, "publish failed".into()).await;
        }
        result
    }
}

async fn publish_on(ch: &Channel, events: &[DeadlineEvent]) -> anyhow::Result<()> {
    let mut confirms = Vec::with_capacity(events.len());
    for e in events {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/x-protobuf".into())
            .with_type(EVENT_TYPE.into())
            .with_message_id(e.event_id.as_str().into());
        let confirm = ch
            .basic_publish(
                DEADLINE_EXCHANGE.into(),
                DEADLINE_ROUTING_KEY.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &e.encode_to_vec(),
                props,
            )
            .await?;
        confirms.push(confirm);
    }
    let outcomes = tokio::time::timeout(CONFIRM_TIMEOUT, try_join_all(confirms))
        .await
        .map_err(|_| anyhow!("publisher confirms timed out"))??;
    for c in outcomes {
        match c {
            lapin::Confirmation::Ack(None) => {}
            lapin::Confirmation::Ack(Some(_)) => {
                return Err(anyhow!("message returned as unroutable"));
            }
            lapin::Confirmation::Nack(_) => return Err(anyhow!("broker refused a message")),
            lapin::Confirmation::NotRequested => return Err(anyhow!("confirms not enabled")),
        }
    }
    Ok(())
}
