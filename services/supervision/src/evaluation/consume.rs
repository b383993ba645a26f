//! The evaluation's consumer of lifecycle events: its own durable queue
//! (`hotline.supervision.evaluation`), each event acted on once
//! (`hotline_common::events::consume`: its id in `consumed_events` in the
//! transaction of the action). An event is kept (`eval_events`) and its
//! ticket refolded in that transaction; a redelivery changes nothing.

use std::sync::Arc;

use hotline_common::events::consume::{Handler, Subscription};
use hotline_sla::Evaluation;

use super::store;

/// The consumer's name (its rows in `consumed_events`) and queue.
pub const CONSUMER: &str = "supervision-evaluation";
pub const QUEUE: &str = "hotline.supervision.evaluation";

/// The facts the evaluation reads, by exchange. `reopened` is bound on
/// intake and undertaking alike: whichever records it.
pub fn subscription() -> Subscription {
    let b = |x: &str, k: &str| (x.to_string(), k.to_string());
    Subscription {
        consumer: CONSUMER.into(),
        queue: QUEUE.into(),
        bindings: vec![
            b("hotline.dispatch.events", "dispatch.routed"),
            b("hotline.undertaking.events", "undertaking.assigned"),
            b("hotline.undertaking.events", "undertaking.signed"),
            b("hotline.undertaking.events", "undertaking.return_decided"),
            b("hotline.undertaking.events", "undertaking.answered"),
            b("hotline.undertaking.events", "undertaking.reopened"),
            b("hotline.intake.events", "intake.visited"),
            b("hotline.intake.events", "intake.rated"),
            b("hotline.intake.events", "intake.rating_appeal_decided"),
            b("hotline.intake.events", "intake.reopened"),
        ],
        prefetch: 64,
    }
}

/// Keeps the event and refolds its ticket.
pub fn handler(policy: Arc<Evaluation>) -> Handler {
    Arc::new(move |tx, e| {
        let policy = policy.clone();
        Box::pin(async move {
            store::insert_event(tx, e).await?;
            store::refresh(tx, &policy, &e.ticket_no).await
        })
    })
}
