//! The watch (WatchUnitEvents): a unit's stream of what happens to its
//! work, resumable by cursor, so that unit systems need not poll.
//!
//! Each change writes its event to undertaking's feed in its own
//! transaction (`store`); urges and cases are copied in from supervision's
//! feed (`follow`). A watcher reads the unit's rows after its cursor in
//! commit-safe order (`hotline_common::feed`), sends them, and waits: for
//! a notification about its unit (one listener per process, fanned out),
//! for the poll fallback, or, when idle, to send a heartbeat with the
//! cursor so far. It ends when the client goes or the server shuts down.

pub mod follow;
pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::feed::{self, Position};
use hotline_common::ids::UnitId;
use hotline_common::validate::Fields;
use hotline_proto::undertaking::v1::{WatchUnitEventsRequest, WatchUnitEventsResponse};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::context::Ctx;
use crate::scope;
use rules::CURSOR_FIELD;

/// Events read at once.
const BATCH: i64 = 200;

type Out = mpsc::Sender<Result<WatchUnitEventsResponse, ApiError>>;

/// Opens a unit's stream: checks the caller, the unit and the cursor, takes
/// a watcher's place, and streams from after the cursor (from now when it
/// is empty, starting with a heartbeat that carries the current cursor).
pub async fn watch(
    ctx: &Ctx,
    who: Identity,
    r: WatchUnitEventsRequest,
) -> Result<ReceiverStream<Result<WatchUnitEventsResponse, ApiError>>, ApiError> {
    scope::scoped(&who, &r.unit_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    f.finish()?;
    let unit = unit.expect("checked").into_string();
    let after = match r.after_cursor.trim() {
        "" => None,
        raw => Some(Position::parse(CURSOR_FIELD, raw, &unit)?),
    };
    let permit = ctx.hub.admit()?;
    let start = match after {
        Some(p) => {
            feed::check_resume(&ctx.pool, CURSOR_FIELD, &unit, p).await?;
            p
        }
        None => feed::now(&ctx.pool).await?,
    };
    let (out, rx) = mpsc::channel(64);
    if after.is_none() {
        // Fits: the channel is empty.
        let _ = out.try_send(Ok(rules::heartbeat(&unit, start)));
    }
    let wake = ctx.hub.subscribe();
    let ctx = ctx.clone();
    tracing::debug!(unit_id = %unit, subject = %who.subject, "watch opened");
    tokio::spawn(async move {
        let _permit = permit;
        run(&ctx, &unit, start, wake, out).await;
        tracing::debug!(unit_id = %unit, "watch closed");
    });
    Ok(ReceiverStream::new(rx))
}

/// Sends the unit's events after `at` until the client goes or the server
/// stops. A database failure ends the stream with its status (the client
/// resumes from its last cursor).
async fn run(
    ctx: &Ctx,
    unit: &str,
    mut at: Position,
    mut wake: broadcast::Receiver<std::sync::Arc<str>>,
    out: Out,
) {
    let cfg = ctx.hub.config;
    let mut tries = 0u32;
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        let batch = match feed::read(&ctx.pool, unit, at, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(unit_id = %unit, error = %e, "watch read failed; ending the stream");
                let _ = out.send(Err(e)).await;
                return;
            }
        };
        let full = batch.events.len() as i64 >= BATCH;
        for e in &batch.events {
            let msg = rules::response(unit, e);
            let failed = msg.is_err();
            if out.send(msg).await.is_err() || failed {
                return;
            }
            quiet_since = tokio::time::Instant::now();
        }
        at = batch.position;
        if full {
            continue;
        }
        tries = if batch.pending { tries + 1 } else { 0 };
        let look = tokio::time::Instant::now() + rules::next_look(batch.pending, tries, cfg.poll);
        // Wait for news of this unit, the next look, or the heartbeat.
        loop {
            let beat = quiet_since + cfg.heartbeat;
            tokio::select! {
                _ = ctx.shutdown.cancelled() => return,
                _ = out.closed() => return,
                news = wake.recv() => match news {
                    Ok(u) if &*u == unit || &*u == feed::ALL => break,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(look) => break,
                _ = tokio::time::sleep_until(beat) => {
                    if out.send(Ok(rules::heartbeat(unit, at))).await.is_err() {
                        return;
                    }
                    quiet_since = tokio::time::Instant::now();
                }
            }
        }
    }
}
