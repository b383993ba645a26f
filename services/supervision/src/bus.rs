//! Supervision's side of RabbitMQ: consumes deadline events in batches,
//! decides, records, and only then acknowledges. A crash before the ack
//! redelivers the batch; the unique event ids absorb the repeat. A message
//! that cannot be decoded is rejected to the dead-letter queue. Events
//! whose clock owner is down are parked in the database and retried, so
//! that one owner's outage holds up no one else's events.

use hotline_common::startup::Peer;
use std::collections::HashMap;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use hotline_common::bus::{DEADLINE_QUEUE, connect, declare_topology};
use hotline_common::error::from_peer;
use hotline_common::time::now;
use hotline_common::{ApiError, clock};
use hotline_proto::common::v1::clock_service_client::ClockServiceClient;
use hotline_proto::common::v1::{CheckClocksRequest, ClockState, DeadlineEvent};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::domain::{Decision, Owner, decide, owner};
use crate::store::{Actions, Store};

/// Clock owners, by the stages they own.
#[derive(Clone)]
pub struct Owners {
    pub intake: ClockServiceClient<Peer>,
    pub dispatch: ClockServiceClient<Peer>,
    pub undertaking: ClockServiceClient<Peer>,
}

impl Owners {
    async fn check(&self, who: Owner, ids: Vec<String>) -> Result<Vec<ClockState>, ApiError> {
        let mut client = match who {
            Owner::Intake => self.intake.clone(),
            Owner::Dispatch => self.dispatch.clone(),
            Owner::Undertaking => self.undertaking.clone(),
        };
        let name = who.name();
        let mut states = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let reply = client
                .check_clocks(CheckClocksRequest {
                    clock_ids: chunk.to_vec(),
                })
                .await
                .map_err(|s| from_peer(name, s))?;
            states.extend(reply.into_inner().clocks);
        }
        Ok(states)
    }
}

/// What a batch came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Handled {
    pub urges: u64,
    pub cases: u64,
    /// Events parked because their clock owner could not be asked.
    pub parked: usize,
}

/// Decides and records a batch of events. Events whose clock owner cannot
/// be asked are parked in the database, in the same transaction, so that
/// one owner's outage holds up no one else's events; `from_parked` batches
/// come from there and leave it once handled. A database failure is
/// returned so the caller can retry the same batch.
pub async fn handle(
    store: &Store,
    owners: &Owners,
    events: &[DeadlineEvent],
    from_parked: bool,
) -> Result<Handled, ApiError> {
    let started = std::time::Instant::now();
    // Repeats need no check here: the unique event ids absorb them when
    // the actions are recorded.
    let mut by_owner: HashMap<Owner, Vec<String>> = HashMap::new();
    for e in events {
        if let Some(stage) = clock::event_stage(e) {
            by_owner
                .entry(owner(stage))
                .or_default()
                .push(e.clock_id.clone());
        }
    }
    let mut clocks: HashMap<String, ClockState> = HashMap::new();
    let mut down: HashMap<Owner, String> = HashMap::new();
    for (who, mut ids) in by_owner {
        ids.sort();
        ids.dedup();
        match owners.check(who, ids).await {
            Ok(states) => {
                for c in states {
                    clocks.insert(c.clock_id.clone(), c);
                }
            }
            Err(e) => {
                tracing::warn!(owner = who.name(), error = %e.message, "clock owner not answering, parking its events");
                down.insert(who, e.message);
            }
        }
    }

    let checked = started.elapsed();
    let mut actions = Actions::default();
    let at = now();
    let stamp = hotline_common::time::to_proto(at);
    for e in events {
        let clock = clocks.get(&e.clock_id);
        let decision = decide(e, clock, &stamp);
        // Only closing cases needs no word from the owner.
        let owner_down = clock::event_stage(e)
            .map(owner)
            .and_then(|o| down.get(&o).map(|m| (o, m)));
        if let Some((o, message)) = owner_down
            && decision != Decision::CloseCases
        {
            actions.park.push((e, o.name(), message.clone()));
            continue;
        }
        if from_parked {
            actions.unpark.push(e.event_id.clone());
        }
        match decision {
            Decision::Urge => actions.urges.push(e),
            Decision::OpenCase { closed } => {
                let closed_at = if closed {
                    clock
                        .and_then(|c| c.stopped_at.as_ref())
                        .and_then(|t| hotline_common::time::from_proto(t, "stopped_at").ok())
                } else {
                    None
                };
                actions.cases.push((e, closed_at));
            }
            Decision::CloseCases => actions.close.push(e.clock_id.clone()),
            Decision::Ignore(why) => {
                tracing::debug!(event_id = %e.event_id, reason = why, "deadline event ignored")
            }
        }
    }
    let parked = actions.park.len();
    let (urges, cases) = store.record(&actions, at).await?;
    tracing::debug!(
        events = events.len(),
        parked,
        check_ms = checked.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "deadline batch handled"
    );
    Ok(Handled {
        urges,
        cases,
        parked,
    })
}

/// How often parked events are retried.
const PARKED_RETRY: Duration = Duration::from_secs(2);

/// Retries parked events until shutdown: those whose owner answers now
/// are acted on and leave the park.
pub async fn run_parked(store: Store, owners: Owners, token: CancellationToken) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(PARKED_RETRY) => {}
        }
        let events = match store.parked(1000).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e.message, "parked events not readable");
                continue;
            }
        };
        if events.is_empty() {
            continue;
        }
        match handle(&store, &owners, &events, true).await {
            Ok(h) => tracing::info!(
                retried = events.len(),
                still_parked = h.parked,
                urges = h.urges,
                cases = h.cases,
                "parked deadline events retried"
            ),
            Err(e) => tracing::warn!(error = %e.message, "parked deadline events not handled yet"),
        }
    }
}

/// Consumes until shutdown, reconnecting with back-off whenever the broker
/// or the connection goes away.
pub async fn run(
    url: String,
    prefetch: u16,
    store: Store,
    owners: Owners,
    token: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !token.is_cancelled() {
        match consume(&url, prefetch, &store, &owners, &token).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "deadline consumer stopped, reconnecting"
                );
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
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
) -> anyhow::Result<()> {
    let conn = connect(url, "supervision-deadlines").await?;
    let ch = conn.create_channel().await?;
    declare_topology(&ch).await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            DEADLINE_QUEUE.into(),
            "supervision".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
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
        for d in deliveries {
            match DeadlineEvent::decode(d.data.as_slice()) {
                Ok(e) if !e.event_id.is_empty() => {
                    events.push(e);
                    good.push(d);
                }
                _ => {
                    tracing::error!(
                        delivery_tag = d.delivery_tag,
                        "undecodable deadline event, dead-lettering"
                    );
                    d.reject(BasicRejectOptions { requeue: false }).await?;
                }
            }
        }
        // Retry the same batch until it is recorded: the messages stay
        // unacknowledged meanwhile, and are redelivered if we die.
        let mut wait = Duration::from_millis(100);
        loop {
            match handle(store, owners, &events, false).await {
                Ok(h) => {
                    if h.urges + h.cases > 0 || h.parked > 0 {
                        tracing::info!(
                            events = events.len(),
                            urges = h.urges,
                            cases = h.cases,
                            parked = h.parked,
                            "deadline events handled"
                        );
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, events = events.len(), "deadline events not handled yet, retrying");
                    tokio::select! {
                        _ = token.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        for d in good {
            d.ack(BasicAckOptions::default()).await?;
        }
    }
}
