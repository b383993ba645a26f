//! RabbitMQ from the tests' side: publishing deadline events (well-formed
//! or not) to a system's virtual host, reading its dead-letter queue,
//! restarting the broker.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::System;

pub(crate) fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running rabbitmqctl (is RabbitMQ installed here?)")?;
    if !out.status.success() {
        bail!(
            "rabbitmqctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Publishes raw deadline events to the system's virtual host, as a clock
/// owner would (used to redeliver and duplicate events on purpose).
pub async fn publish_events(
    sys: &System,
    events: &[hotline_proto::common::v1::DeadlineEvent],
) -> anyhow::Result<()> {
    hotline_common::bus::Publisher::new(&sys.amqp_url(), "test-publisher")
        .publish(events)
        .await
}

/// Publishes raw message bodies to the deadline exchange, in order, each
/// with its message id, as a clock owner (or a broken one) would; returns
/// once the broker confirmed them all.
pub async fn publish_raw(sys: &System, messages: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    use hotline_common::bus::{DEADLINE_EXCHANGE, DEADLINE_ROUTING_KEY, EVENT_TYPE};
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    let conn = hotline_common::bus::connect(&sys.amqp_url(), "test-raw-publisher").await?;
    let ch = conn.create_channel().await?;
    hotline_common::bus::declare_topology(&ch).await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    for (id, body) in messages {
        let props = lapin::BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/x-protobuf".into())
            .with_type(EVENT_TYPE.into())
            .with_message_id(id.as_str().into());
        let confirm = ch
            .basic_publish(
                DEADLINE_EXCHANGE.into(),
                DEADLINE_ROUTING_KEY.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                props,
            )
            .await?
            .await?;
        if !matches!(confirm, lapin::Confirmation::Ack(None)) {
            bail!("message {id} not confirmed: {confirm:?}");
        }
    }
    let _ = conn.close(200, "done".into()).await;
    Ok(())
}

/// Stops and starts the RabbitMQ application (connections drop, queues are
/// recovered from disk).
pub fn restart_rabbitmq(down_for: Duration) -> anyhow::Result<()> {
    rabbitmqctl(&["stop_app"])?;
    std::thread::sleep(down_for);
    rabbitmqctl(&["start_app"])?;
    rabbitmqctl(&["await_startup"])
}

/// A message taken off the dead-letter queue (`hotline.deadlines.dead`).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: Vec<u8>,
    /// The `x-hotline-reason` header: why supervision refused it.
    pub reason: Option<String>,
}

/// The system's dead-letter queue. Messages are taken off it (the test owns
/// the virtual host) and kept here.
pub struct DeadQueue {
    conn: lapin::Connection,
    ch: lapin::Channel,
    taken: Vec<DeadLetter>,
}

impl DeadQueue {
    pub async fn open(sys: &System) -> anyhow::Result<DeadQueue> {
        let conn = hotline_common::bus::connect(&sys.amqp_url(), "test-dead-letters").await?;
        let ch = conn.create_channel().await?;
        hotline_common::bus::declare_topology(&ch).await?;
        Ok(DeadQueue {
            conn,
            ch,
            taken: Vec::new(),
        })
    }

    async fn drain(&mut self) -> anyhow::Result<()> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        while let Some(m) = self
            .ch
            .basic_get(
                hotline_common::bus::DEAD_LETTER_QUEUE.into(),
                BasicGetOptions { no_ack: false },
            )
            .await?
        {
            let header = |name: &str| {
                m.properties
                    .headers()
                    .as_ref()
                    .and_then(|h| h.inner().get(name).cloned())
            };
            let reason = match header("x-hotline-reason") {
                Some(lapin::types::AMQPValue::LongString(s)) => Some(s.to_string()),
                _ => None,
            };
            self.taken.push(DeadLetter {
                message_id: m
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                body: m.data.clone(),
                reason,
            });
            m.ack(BasicAckOptions::default()).await?;
        }
        Ok(())
    }

    /// Waits until a message with this id is dead-lettered.
    pub async fn wait_for(&mut self, message_id: &str, patience: Duration) -> DeadLetter {
        let started = Instant::now();
        loop {
            self.drain().await.expect("dead-letter queue readable");
            if let Some(d) = self.taken.iter().find(|d| d.message_id == message_id) {
                return d.clone();
            }
            if started.elapsed() > patience {
                panic!(
                    "timed out after {patience:?} waiting for {message_id} in the dead-letter queue; \
                     there: {:?}",
                    self.taken
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message taken off the queue so far.
    pub fn taken(&self) -> &[DeadLetter] {
        &self.taken
    }

    /// Waits until supervision has handled every deadline event published
    /// before the call: publishes a sentinel supervision must refuse and
    /// waits for it in the dead-letter queue. Supervision settles a batch's
    /// messages (dead-lettering the invalid ones) only once the batch is
    /// recorded, one batch at a time in queue order; so, with a single
    /// supervision consumer, once the sentinel is dead the events before it
    /// have all been acted on.
    pub async fn settled(&mut self, sys: &System) {
        let id = format!("sentinel-{}", uuid::Uuid::new_v4());
        publish_raw(sys, &[(id.clone(), b"\xffsentinel".to_vec())])
            .await
            .expect("sentinel published");
        self.wait_for(&id, Duration::from_secs(30)).await;
    }

    pub async fn close(self) {
        let _ = self.conn.close(200, "done".into()).await;
    }
}

/// How many deadline events wait in supervision's queue, not delivered to
/// any consumer (those delivered but not yet acknowledged are not counted
/// while their consumer lives).
pub async fn deadline_queue_depth(sys: &System) -> anyhow::Result<u32> {
    use lapin::options::QueueDeclareOptions;
    let conn = hotline_common::bus::connect(&sys.amqp_url(), "test-queue-depth").await?;
    let ch = conn.create_channel().await?;
    let q = ch
        .queue_declare(
            hotline_common::bus::DEADLINE_QUEUE.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await?;
    let _ = conn.close(200, "done".into()).await;
    Ok(q.message_count())
}

/// Takes the system's RabbitMQ away from it without stopping the broker:
/// the virtual host's permissions are cleared (nobody can connect to it)
/// and its open connections are closed.
pub fn cut_broker_access(sys: &System) -> anyhow::Result<()> {
    rabbitmqctl(&["clear_permissions", "-p", &sys.vhost, "guest"])?;
    rabbitmqctl(&[
        "close_all_connections",
        "--vhost",
        &sys.vhost,
        "access cut by a test",
    ])
}

/// Gives the system its RabbitMQ back after [`cut_broker_access`].
pub fn restore_broker_access(sys: &System) -> anyhow::Result<()> {
    rabbitmqctl(&[
        "set_permissions",
        "-p",
        &sys.vhost,
        "guest",
        ".*",
        ".*",
        ".*",
    ])
}
