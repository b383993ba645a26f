//! Urges (催办) and supervision cases (督办) in the units' streams:
//! supervision writes each to its own feed in the transaction that records
//! it; undertaking copies them into its feed, in order, each once (by its
//! supervision cursor), and stores how far it has copied in the copy's
//! transaction. A crash between reading and committing repeats the copy,
//! which the unique source absorbs; every replica may follow at once.

use std::time::Duration;

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_proto::supervision::v1::feed_event::Event as SupEvent;
use hotline_proto::supervision::v1::{FeedEvent, ListFeedEventsRequest};
use hotline_proto::undertaking::v1::watch_unit_events_response::Event;
use tokio_util::sync::CancellationToken;

use super::store;
use crate::context::Ctx;

/// The source name of supervision's feed.
pub const SUPERVISION: &str = "supervision";
const PAGE: i32 = 500;

/// Copies supervision's new events every `every` (at once while pages come
/// full) until `token` is cancelled.
pub async fn run(ctx: Ctx, every: Duration, token: CancellationToken) {
    let mut backoff = hotline_common::retry::Backoff::new();
    loop {
        let wait = match step(&ctx).await {
            Ok(n) if n >= PAGE as usize => Duration::ZERO,
            Ok(_) => {
                backoff = hotline_common::retry::Backoff::new();
                every
            }
            Err(e) => {
                let delay = backoff.next_delay().max(every);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "copying supervision's events failed; retrying");
                delay
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Copies one page; returns the events read.
pub async fn step(ctx: &Ctx) -> Result<usize, ApiError> {
    let cursor = store::follow_cursor(&ctx.pool, SUPERVISION).await?;
    let mut client = ctx.supervision.clone();
    let page = match client
        .list_feed_events(ListFeedEventsRequest {
            after_cursor: cursor.clone(),
            page_size: PAGE,
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == tonic::Code::FailedPrecondition && !cursor.is_empty() => {
            // Undertaking was away longer than supervision keeps events:
            // what was deleted is gone (units still list their urges and
            // cases); go on from the oldest kept, copies absorbed.
            tracing::error!(error = %s.message(), "supervision's feed moved past undertaking's cursor; urges and cases in between are not in the units' streams");
            client
                .list_feed_events(ListFeedEventsRequest {
                    after_cursor: String::new(),
                    page_size: PAGE,
                })
                .await
                .map_err(|s| from_peer("supervision", s))?
                .into_inner()
        }
        Err(s) => return Err(from_peer("supervision", s)),
    };
    let n = page.events.len();
    if n == 0 {
        // Nothing to copy: the cursor need not be stored.
        return Ok(0);
    }
    let mut tx = ctx.pool.begin().await?;
    let mut copied = 0;
    for e in page.events {
        if let Some((unit, ticket, event)) = translate(&e)
            && store::copied(
                &mut tx,
                &unit,
                &ticket,
                event,
                &format!("{SUPERVISION}:{}", e.cursor),
            )
            .await?
        {
            copied += 1;
        }
    }
    store::set_follow_cursor(&mut tx, SUPERVISION, &page.next_cursor).await?;
    tx.commit().await?;
    if copied > 0 {
        tracing::debug!(copied, "supervision events copied into the units' feed");
    }
    Ok(n)
}

/// The unit, ticket and unit event of one of supervision's events.
fn translate(e: &FeedEvent) -> Option<(String, String, Event)> {
    match e.event.clone()? {
        SupEvent::UrgeIssued(u) => {
            Some((u.unit_id.clone(), u.ticket_no.clone(), Event::UrgeIssued(u)))
        }
        SupEvent::CaseOpened(c) => {
            Some((c.unit_id.clone(), c.ticket_no.clone(), Event::CaseOpened(c)))
        }
        SupEvent::WorkflowCall(w) => Some((
            w.unit_id.clone(),
            w.ticket_no.clone(),
            Event::WorkflowCall(w),
        )),
    }
}
