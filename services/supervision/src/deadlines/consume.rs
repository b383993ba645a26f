//! The deadline-event consumer. Takes what RabbitMQ holds in batches (up to
//! the prefetch), checks every event as it is decoded, records the batch's
//! actions in one transaction, and only then settles its messages: the
//! valid ones are acknowledged, each invalid one is dead-lettered with its
//! reason. A crash before that redelivers the batch, and the unique event
//! ids absorb the repeat.
//!
//! An invalid event (undecodable, or decodable but missing a field or
//! carrying an unknown stage, kind…) holds up no one: it goes to
//! `hotline.deadlines.dlx` → `hotline.deadlines.dead`, a copy of the
//! message with the header `x-hotline-reason` saying what is wrong, and the
//! rest of the batch goes on.

use futures_util::{FutureExt, StreamExt};
use hotline_common::bus::{
    DEAD_LETTER_EXCHANGE, DEADLINE_QUEUE, connect, declare_topology, message_id,
};
use hotline_common::retry::{self, Backoff};
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use super::batch;
use super::model::Event;
use super::owners::Owners;
use super::store::Store;

pub use hotline_common::bus::{QUEUE_HEADER, REASON_HEADER};

/// Consumes until shutdown, reconnecting on the project's retry schedule
/// whenever the broker or the connection goes away.
pub async fn run(
    url: String,
    prefetch: u16,
    store: Store,
    owners: Owners,
    token: CancellationToken,
) {
    let mut backoff = Backoff::new();
    while !token.is_cancelled() {
        match consume(&url, prefetch, &store, &owners, &token, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "deadline consumer stopped, reconnecting"
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
    prefetch: u16,
    store: &Store,
    owners: &Owners,
    token: &CancellationToken,
    backoff: &mut Backoff,
) -> anyhow::Result<()> {
    let conn = connect(url, "supervision-deadlines").await?;
    let ch = conn.create_channel().await?;
    declare_topology(&ch).await?;
    // Dead-lettered copies are confirmed before their original is acked.
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            DEADLINE_QUEUE.into(),
            "supervision".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    backoff.reset();
    tracing::info!(
        queue = DEADLINE_QUEUE,
        prefetch,
        "consuming deadline events"
    );
    loop {
        let first = tokio::select! {
            _ = token.cancelled() => {
                let _ = conn.close(200, "shutdown".into()).await;
                return Ok(());
            }
            d = consumer.next() => d,
        };
        let Some(first) = first else {
            anyhow::bail!("consumer cancelled by the broker");
        };
        // Take whatever else is already here, up to the prefetch.
        let mut deliveries = vec![first?];
        while deliveries.len() < prefetch as usize {
            match consumer.next().now_or_never() {
                Some(Some(d)) => deliveries.push(d?),
                Some(None) => anyhow::bail!("consumer cancelled by the broker"),
                None => break,
            }
        }
        let mut events = Vec::with_capacity(deliveries.len());
        let mut good = Vec::with_capacity(deliveries.len());
        let mut bad = Vec::new();
        for d in deliveries {
            match Event::decode(&d.data) {
                Ok(e) => {
                    events.push(e);
                    good.push(d);
                }
                Err(e) => {
                    tracing::warn!(
                        delivery_tag = d.delivery_tag,
                        message_id = message_id(&d),
                        reason = %e.message,
                        "invalid deadline event, dead-lettering it"
                    );
                    bad.push((d, e.message));
                }
            }
        }
        if !events.is_empty() {
            // The messages stay unacknowledged while the batch is retried,
            // and are redelivered if we die meanwhile.
            let handled = retry::until_ok("recording deadline events", token, || {
                batch::handle(store, owners, &events, false)
            })
            .await;
            let Some(h) = handled else {
                return Ok(());
            };
            if h.urges + h.cases > 0 || h.parked > 0 {
                tracing::info!(
                    events = events.len(),
                    urges = h.urges,
                    cases = h.cases,
                    parked = h.parked,
                    "deadline events handled"
                );
            }
        }
        for (d, reason) in bad {
            dead_letter(&ch, &d, &reason).await?;
        }
        for d in good {
            d.ack(BasicAckOptions::default()).await?;
        }
    }
}

/// Publishes a copy of the message to the dead-letter exchange with the
/// reason, waits for the broker's confirm, then acknowledges the original.
async fn dead_letter(ch: &Channel, d: &Delivery, reason: &str) -> anyhow::Result<()> {
    hotline_common::bus::dead_letter(ch, d, DEAD_LETTER_EXCHANGE, DEADLINE_QUEUE, reason).await
}
