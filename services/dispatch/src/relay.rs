//! Hands routings to undertaking through the outbox, with no transaction
//! open during the call. Undertaking's CreateAssignments is idempotent and
//! ignores a hop older than the one in force, so a repeat after a crash, or
//! an earlier hop's call arriving after a re-dispatch's, is harmless.

use hotline_common::startup::Peer;
use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::outbox::{nothing_along, run_relay};
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{CreateAssignmentsRequest, NewAssignment};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use hotline_common::ids::{Id, TicketNo};

use crate::routing::store::{Routings, UNDERTAKING_OUTBOX};

const BATCH: i64 = 64;

pub async fn run(
    store: Routings,
    undertaking: UndertakingServiceClient<Peer>,
    wake: Arc<Notify>,
    token: CancellationToken,
) {
    let stop = token.clone();
    run_relay("dispatch-to-undertaking", wake, token, || {
        step(&store, &undertaking, &stop)
    })
    .await
}

async fn step(
    store: &Routings,
    undertaking: &UndertakingServiceClient<Peer>,
    token: &CancellationToken,
) -> Result<usize, ApiError> {
    let send = |no: String| async move {
        let no = TicketNo::parse(&no)
            .map_err(|p| ApiError::internal(format!("outbox key {no:?}: {p}")))?;
        let (ticket, routing) = store
            .get(&no)
            .await?
            .ok_or_else(|| ApiError::internal(format!("outbox names unknown routing {no}")))?;
        let assignments = routing
            .units
            .iter()
            .map(|u| NewAssignment {
                unit_id: u.unit_id.clone(),
                role: u.role,
                sign_deadline: u.sign_deadline,
                feedback_deadline: u.feedback_deadline,
            })
            .collect();
        undertaking
            .clone()
            .create_assignments(CreateAssignmentsRequest {
                ticket: Some(ticket),
                dispatched_at: routing.dispatched_at,
                assignments,
                hop: routing.hop,
                accepted_return_id: routing.return_id.clone(),
            })
            .await
            .map(drop)
            .map_err(|s| from_peer("undertaking", s))
    };
    UNDERTAKING_OUTBOX
        .deliver(store.pool(), BATCH, token, send, nothing_along)
        .await
}
