//! The evaluation's consumer of lifecycle events: its own durable queue
//! (`hotline.supervision.evaluation`), each event acted on once
//! (`hotline_common::events::consume`: its id in `consumed_events` in the
//! transaction of the action). An event is kept (`eval_events`) and its
//! ticket refolded in that transaction (once per ticket for a batch of
//! events); a redelivery changes nothing.

use std::sync::Arc;

use hotline_common::events::consume::{AfterBatch, Handler, Handling, Subscription};
use hotline_proto::events::v1::LifecycleEvent;
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

/// Keeps each event; once for all the events of a transaction (one, or a
/// batch under load), refolds each of their tickets once, in ticket order
/// (each refold takes its ticket's lock).
pub fn handler(policy: Arc<Evaluation>) -> Handling {
    let each: Handler = Arc::new(|tx, e| Box::pin(store::insert_event(tx, e)));
    let after: AfterBatch = Arc::new(move |tx, events| {
        let policy = policy.clone();
        Box::pin(async move {
            for ticket_no in tickets_of(events) {
                store::refresh(tx, &policy, ticket_no).await?;
            }
            Ok(())
        })
    });
    Handling {
        each,
        after: Some(after),
    }
}

/// The distinct tickets of some events, sorted.
fn tickets_of(events: &[LifecycleEvent]) -> Vec<&str> {
    let mut tickets: Vec<&str> = events.iter().map(|e| e.ticket_no.as_str()).collect();
    tickets.sort_unstable();
    tickets.dedup();
    tickets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ticket_is_refolded_once_in_order() {
        let e = |no: &str| LifecycleEvent {
            ticket_no: no.into(),
            ..Default::default()
        };
        let events = [e("BJ2"), e("BJ1"), e("BJ2"), e("BJ3"), e("BJ1")];
        assert_eq!(tickets_of(&events), ["BJ1", "BJ2", "BJ3"]);
    }
}
