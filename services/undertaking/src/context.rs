//! What every handler works with: the database, the time-limit policy and
//! the peers undertaking asks.

use std::sync::Arc;

use hotline_common::feed::Hub;
use hotline_common::idempotency::Keys;
use hotline_common::startup::Peer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::intake::v1::media_service_client::MediaServiceClient;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_sla::Policy;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Ctx {
    pub pool: PgPool,
    /// The idempotency keys of the units' and the centre's changes.
    pub keys: Keys,
    pub policy: Arc<Policy>,
    /// To show a unit its urges and cases.
    pub supervision: SupervisionServiceClient<Peer>,
    /// To read the catalogue in force (the units a whistle summons).
    pub dispatch: DispatchServiceClient<Peer>,
    /// To attach a record's media to its ticket.
    pub media: MediaServiceClient<Peer>,
    /// The process's watchers: notifications fanned out, places bounded.
    pub hub: Hub,
    /// Cancelled at shutdown: streams end.
    pub shutdown: CancellationToken,
}
