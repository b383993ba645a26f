//! Hands stored tickets to dispatch through the outbox: a ticket accepted
//! is dispatched even if intake or dispatch stops in between, and
//! dispatch's RouteTicket is idempotent, so a repeat is harmless. No
//! transaction is open during the call.

use hotline_common::startup::Peer;
use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::clock;
use hotline_common::outbox::{Along, Tx, run_relay};
use hotline_sla::Stage;

use hotline_common::time::now;
use hotline_proto::dispatch::v1::RouteTicketRequest;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use hotline_common::ids::{Id, TicketNo};

use crate::tickets::store::{DISPATCH_OUTBOX, Tickets};

const BATCH: i64 = 64;

pub async fn run(
    store: Tickets,
    dispatch: DispatchServiceClient<Peer>,
    wake: Arc<Notify>,
    token: CancellationToken,
) {
    let stop = token.clone();
    run_relay("intake-to-dispatch", wake, token, || {
        step(&store, &dispatch, &stop)
    })
    .await
}

async fn step(
    store: &Tickets,
    dispatch: &DispatchServiceClient<Peer>,
    token: &CancellationToken,
) -> Result<usize, ApiError> {
    let send = |no: String| async move {
        let no = TicketNo::parse(&no)
            .map_err(|p| ApiError::internal(format!("outbox key {no:?}: {p}")))?;
        let ticket = store
            .get(&no)
            .await?
            .ok_or_else(|| ApiError::internal(format!("outbox names unknown ticket {no}")))?;
        // Names and phones stay in intake: units read them from intake,
        // as the privacy rules allow.
        let mut summary = ticket.summary;
        if let Some(r) = summary.requester.as_mut() {
            r.name.clear();
            r.phone.clear();
        }
        dispatch
            .clone()
            .route_ticket(RouteTicketRequest {
                ticket: Some(summary),
                dispatch_deadline: Some(hotline_common::time::to_proto(ticket.dispatch_deadline)),
            })
            .await
            .map(drop)
            .map_err(|s| hotline_common::error::from_peer("dispatch", s))
    };
    DISPATCH_OUTBOX
        .deliver(store.pool(), BATCH, token, send, stop_dispatch_clock)
        .await
}

/// Dispatched: the dispatch clock stops, in the transaction that deletes
/// the outbox row.
fn stop_dispatch_clock<'t>(tx: &'t mut Tx, no: &'t str) -> Along<'t> {
    Box::pin(async move {
        clock::stop(
            tx,
            &clock::clock_id(no, Stage::Dispatch, clock::CENTRE_UNIT),
            now(),
        )
        .await
        .map(drop)
    })
}
