//! The tickets that may call for a consultation meeting, kept from the
//! lifecycle events (own queue, each event once): intake's `accepted`
//! (the tier), `raised_again` (the count), `clustered` and `closed`, dispatch's
//! `routed` (the transfers).

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::convert::{tier_from_proto, tier_to_proto};
use hotline_common::events::consume;
use hotline_common::outbox::Tx;
use hotline_common::time::from_proto;
use hotline_proto::common::v1::UrgencyTier;
use hotline_proto::events::v1::{LifecycleEvent, lifecycle_event::Fact};
use hotline_sla::Tier;

use super::rules::Thresholds;
use super::store::{self, Seen};

pub const CONSUMER: &str = "supervision-meeting-candidates";
pub const QUEUE: &str = "hotline.supervision.meeting-candidates";

pub fn subscription() -> consume::Subscription {
    let b = |x: &str, k: &str| (x.to_string(), k.to_string());
    consume::Subscription {
        consumer: CONSUMER.into(),
        queue: QUEUE.into(),
        bindings: vec![
            b("hotline.intake.events", "intake.accepted"),
            b("hotline.intake.events", "intake.closed"),
            b("hotline.intake.events", "intake.raised_again"),
            b("hotline.intake.events", "intake.clustered"),
            b("hotline.dispatch.events", "dispatch.routed"),
        ],
        prefetch: 64,
    }
}

/// The tier as the store names it back, as protobuf.
pub fn tier_from_name(name: &str) -> UrgencyTier {
    [Tier::Emergency, Tier::BasicLivelihood, Tier::General]
        .into_iter()
        .find(|t| t.as_str() == name)
        .map(tier_to_proto)
        .unwrap_or(UrgencyTier::Unspecified)
}

/// `t`: the policy's counts that make a ticket a candidate.
pub fn handler(t: Thresholds) -> consume::Handler {
    Arc::new(move |tx, e| Box::pin(on_event(tx, e, t)))
}

async fn on_event(tx: &mut Tx, e: &LifecycleEvent, t: Thresholds) -> Result<(), ApiError> {
    let seen = match &e.fact {
        Some(Fact::Accepted(a)) => Seen::Accepted {
            tier: tier_from_proto(a.tier, "tier")?.as_str(),
            at: match a.accepted_at.as_ref() {
                Some(t) => from_proto(t, "accepted_at")?,
                None => return Err(ApiError::invalid("accepted_at", "missing")),
            },
        },
        Some(Fact::Routed(r)) => Seen::Routed {
            transfers: r.transfers,
        },
        Some(Fact::Closed(c)) => Seen::Closed {
            at: match c.closed_at.as_ref() {
                Some(t) => from_proto(t, "closed_at")?,
                None => return Err(ApiError::invalid("closed_at", "missing")),
            },
        },
        Some(Fact::RaisedAgain(r)) => Seen::RaisedAgain {
            times: r.times_raised,
        },
        Some(Fact::Clustered(c)) => Seen::Clustered {
            cluster_id: &c.cluster_id,
        },
        _ => return Ok(()),
    };
    store::note_seen(tx, &e.ticket_no, seen, t).await
}
