//! What the handlers of supervision's own workflows (special reports,
//! shirking cases, on-site divisions) share.

use std::sync::Arc;

use hotline_common::idempotency::Keys;
use hotline_common::startup::Peer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_sla::Policy;
use sqlx::PgPool;

#[derive(Clone)]
pub struct Workflows {
    pub pool: PgPool,
    pub keys: Keys,
    pub policy: Arc<Policy>,
    /// Dispatch, which re-dispatches a ticket as a division decided.
    pub dispatch: DispatchServiceClient<Peer>,
}
