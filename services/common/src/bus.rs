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
use futures_util::future::{BoxFuture, try_join_all};
use hotline_proto::common::v1::DeadlineEvent;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
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
/// The header of a dead-lettered message saying why it was refused.
pub const REASON_HEADER: &str = "x-hotline-reason";
/// The header of a dead-lettered message naming the queue it came from.
pub const QUEUE_HEADER: &str = "x-hotline-queue";
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

/// Declares a topology on a channel (idempotent); each publisher declares
/// its own before its first publish.
pub type Declare = for<'a> fn(&'a Channel) -> BoxFuture<'a, anyhow::Result<()>>;

fn declare_deadlines(ch: &Channel) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(declare_topology(ch))
}

/// One message to publish: persistent, `mandatory`, protobuf.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    /// The AMQP `message_id`: the event's id, for consumers to deduplicate.
    pub message_id: &'a str,
    /// The AMQP `type`: the protobuf message name of the body.
    pub kind: &'a str,
}

/// Publishes with confirms, reconnecting as needed: deadline events
/// ([`Publisher::new`]) or any topology ([`Publisher::with_topology`]).
pub struct Publisher {
    url: String,
    name: String,
    declare: Declare,
    state: Mutex<Option<(Connection, Channel)>>,
}

impl Publisher {
    /// A publisher of deadline events.
    pub fn new(url: &str, name: &str) -> Publisher {
        Publisher::with_topology(url, name, declare_deadlines)
    }

    /// A publisher that declares `declare`'s topology on each connection.
    pub fn with_topology(url: &str, name: &str, declare: Declare) -> Publisher {
        Publisher {
            url: url.to_string(),
            name: name.to_string(),
            declare,
            state: Mutex::new(None),
        }
    }

    async fn open(&self) -> anyhow::Result<(Connection, Channel)> {
        let conn = connect(&self.url, &self.name).await?;
        let ch = conn.create_channel().await?;
        (self.declare)(&ch).await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        tracing::info!(publisher = %self.name, "connected to RabbitMQ for publishing");
        Ok((conn, ch))
    }

    /// Publishes every event and returns once the broker confirmed them
    /// all; any nack, return, timeout or connection error fails the whole
    /// batch (it will be published again, and consumers deduplicate).
    pub async fn publish(&self, events: &[DeadlineEvent]) -> anyhow::Result<()> {
        let bodies: Vec<Vec<u8>> = events.iter().map(|e| e.encode_to_vec()).collect();
        let messages: Vec<Outgoing<'_>> = events
            .iter()
            .zip(&bodies)
            .map(|(e, body)| Outgoing {
                exchange: DEADLINE_EXCHANGE,
                routing_key: DEADLINE_ROUTING_KEY,
                body,
                message_id: &e.event_id,
                kind: EVENT_TYPE,
            })
            .collect();
        for outcome in self.publish_each(&messages).await? {
            outcome.map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    /// Publishes the messages in order on one channel and waits for the
    /// broker's confirms: the outcome of each (a nack or a return is that
    /// message's error), or an error for all when the connection, the
    /// channel or the confirms' timeout failed. After any failure the
    /// connection is closed and the next call opens a new one.
    pub async fn publish_each(
        &self,
        messages: &[Outgoing<'_>],
    ) -> anyhow::Result<Vec<Result<(), String>>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut state = self.state.lock().await;
        if state
            .as_ref()
            .is_none_or(|(c, ch)| !c.status().connected() || !ch.status().connected())
        {
            *state = Some(self.open().await?);
        }
        let (_, ch) = state.as_ref().expect("just opened");
        let result = publish_on(ch, messages).await;
        let failed = match &result {
            Ok(outcomes) => outcomes.iter().any(|o| o.is_err()),
            Err(_) => true,
        };
        if failed && let Some((conn, _)) = state.take() {
            let _ = conn.close(0, "publish failed".into()).await;
        }
        result
    }
}

async fn publish_on(
    ch: &Channel,
    messages: &[Outgoing<'_>],
) -> anyhow::Result<Vec<Result<(), String>>> {
    let mut confirms = Vec::with_capacity(messages.len());
    for m in messages {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/x-protobuf".into())
            .with_type(m.kind.into())
            .with_message_id(m.message_id.into());
        let confirm = ch
            .basic_publish(
                m.exchange.into(),
                m.routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                m.body,
                props,
            )
            .await?;
        confirms.push(confirm);
    }
    let outcomes = tokio::time::timeout(CONFIRM_TIMEOUT, try_join_all(confirms))
        .await
        .map_err(|_| anyhow!("publisher confirms timed out"))??;
    Ok(outcomes
        .into_iter()
        .map(|c| match c {
            lapin::Confirmation::Ack(None) => Ok(()),
            lapin::Confirmation::Ack(Some(_)) => Err("message returned as unroutable".to_string()),
            lapin::Confirmation::Nack(_) => Err("broker refused a message".to_string()),
            lapin::Confirmation::NotRequested => Err("confirms not enabled".to_string()),
        })
        .collect())
}

/// Dead-letters a delivery: publishes a copy to `exchange` with `reason`
/// in the header `x-hotline-reason` and the queue it came from in
/// `x-hotline-queue`, waits for the broker's confirm (the channel must be
/// in confirm mode), then acknowledges the original.
pub async fn dead_letter(
    ch: &Channel,
    d: &Delivery,
    exchange: &str,
    queue: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let mut headers = d.properties.headers().clone().unwrap_or_default();
    headers.insert(REASON_HEADER.into(), AMQPValue::LongString(reason.into()));
    headers.insert(QUEUE_HEADER.into(), AMQPValue::LongString(queue.into()));
    let props = d
        .properties
        .clone()
        .with_headers(headers)
        .with_delivery_mode(2);
    let confirm = ch
        .basic_publish(
            exchange.into(),
            "".into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &d.data,
            props,
        )
        .await?
        .await?;
    match confirm {
        lapin::Confirmation::Ack(None) => {}
        lapin::Confirmation::Ack(Some(_)) => {
            anyhow::bail!("dead-lettered message returned as unroutable")
        }
        lapin::Confirmation::Nack(_) => anyhow::bail!("broker refused a dead-lettered message"),
        lapin::Confirmation::NotRequested => anyhow::bail!("confirms not enabled"),
    }
    d.ack(BasicAckOptions::default()).await?;
    Ok(())
}

/// The message id of a delivery (empty when it has none).
pub fn message_id(d: &Delivery) -> String {
    d.properties
        .message_id()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default()
}
