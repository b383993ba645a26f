//! The park: events whose clock owner could not be asked wait in
//! `parked_events` and are retried every 2 s until their owner answers.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::batch;
use super::model::Event;
use super::owners::Owners;
use super::store::Store;

/// How often parked events are retried.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// Parked events retried at once.
const BATCH: i64 = 1000;

/// Retries parked events until shutdown: those whose owner answers now are
/// acted on and leave the park.
pub async fn run(store: Store, owners: Owners, token: CancellationToken) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(RETRY_EVERY) => {}
        }
        let rows = match store.parked(BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e.message, "parked events not readable");
                continue;
            }
        };
        if rows.is_empty() {
            continue;
        }
        let mut events = Vec::with_capacity(rows.len());
        let mut broken = Vec::new();
        for (event_id, body) in rows {
            match Event::decode(&body) {
                Ok(e) => events.push(e),
                Err(e) => {
                    tracing::error!(%event_id, reason = %e.message, "parked event can never be acted on, dropping it");
                    broken.push(event_id);
                }
            }
        }
        if !broken.is_empty()
            && let Err(e) = store.drop_parked(&broken).await
        {
            tracing::warn!(error = %e.message, "broken parked events not dropped yet");
        }
        if events.is_empty() {
            continue;
        }
        match batch::handle(&store, &owners, &events, true).await {
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
