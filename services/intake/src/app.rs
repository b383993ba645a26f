//! What intake's handlers work with: its stores, the catalogue codes, the
//! policy, dispatch and undertaking.

use hotline_common::idempotency::Keys;
use std::sync::Arc;

use hotline_sla::Policy;
use tokio::sync::Notify;

use crate::dispatch::Dispatch;
use crate::surge::store::SurgeStore;
use crate::tickets::codes::Codes;
use crate::tickets::store::Tickets;
use crate::undertaking::Undertaking;

pub struct App {
    pub tickets: Tickets,
    pub surge: SurgeStore,
    pub policy: Arc<Policy>,
    pub codes: Codes,
    pub undertaking: Undertaking,
    /// To read where a ticket was routed.
    pub dispatch: Dispatch,
    /// Wakes the relay to dispatch when a ticket is stored.
    pub relay_wake: Arc<Notify>,
    /// The idempotency keys of ops' changes.
    pub keys: Keys,
    /// Where media bytes are kept.
    pub media: Arc<dyn object_store::ObjectStore>,
    /// The knowledge search's synonym table (`HOTLINE_SYNONYMS_FILE`).
    pub synonyms: Arc<crate::knowledge::segment::Synonyms>,
}
