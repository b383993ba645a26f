//! What dispatch's handlers work with: its stores, the catalogue in force,
//! the policy and its peers.

use std::sync::Arc;

use hotline_common::idempotency::Keys;
use hotline_sla::Policy;
use tokio::sync::Notify;

use crate::catalogue::versions::InForce;
use crate::queue::store::Lists;
use crate::routing::hops::EarlierHops;
use crate::routing::peers::{Intake, Undertaking};
use crate::routing::store::Routings;

pub struct App {
    pub catalogue: InForce,
    pub routings: Routings,
    pub lists: Lists,
    pub policy: Arc<Policy>,
    /// Wakes the relay to undertaking when a routing is stored.
    pub relay_wake: Arc<Notify>,
    pub intake: Intake,
    pub undertaking: Undertaking,
    /// How a re-dispatch ends the earlier hops in undertaking.
    pub hops: Arc<dyn EarlierHops>,
    /// The idempotency keys of dispatchers' and ops' changes.
    pub keys: Keys,
}
