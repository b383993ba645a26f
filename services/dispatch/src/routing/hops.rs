//! Withdrawing the earlier hops (撤回原承办单位): when a re-dispatch makes
//! hop N+1, the units of hop N must stop being able to act on the ticket.
//!
//! The order, in `routing::redispatch_ticket`: check → plan hop N+1 →
//! **withdraw_earlier_hops(ticket, N+1)** → store hop N+1 → reply. The call
//! comes before anything is stored and no transaction is open across it
//! (`Keys::once_after`: a key answered already is replayed before the
//! call; the key is claimed after it, in the transaction that stores hop
//! N+1, so a concurrent duplicate makes the same idempotent call and then
//! replays the first's answer). The call also tells undertaking whether hop
//! N+1 goes to the manual queue, so the ticket's status says so as soon as
//! the re-dispatch replies:
//!
//! - undertaking refuses (the lead answered this round): nothing was
//!   stored, the re-dispatch is refused with undertaking's reason;
//! - undertaking accepts and storing then fails (another dispatcher stored
//!   hop N+1 first, or the database is gone): undertaking has hop N+1 in
//!   force with hop N withdrawn, dispatch still says N. No unit of hop N
//!   can act, and a retry (or the winner's hop N+1) is consistent with
//!   undertaking, which takes the same hop again without change.
//!
//! So it never happens that dispatch says hop N+1 while a unit of hop N
//! may still answer; storing first and compensating would open exactly
//! that window.

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::ids::TicketNo;
use hotline_common::startup::Peer;
use hotline_proto::undertaking::v1::BeginHopRequest;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;

use crate::ids::Hop;

/// Puts a new hop in force in undertaking, withdrawing the open
/// assignments of the earlier hops; refused (FAILED_PRECONDITION) when the
/// lead unit already answered the hop in force. `manual_queue`: the new
/// hop sends the ticket to the manual queue (the ticket's status shows it
/// at once).
#[tonic::async_trait]
pub trait EarlierHops: Send + Sync {
    async fn withdraw_earlier_hops(
        &self,
        ticket_no: &TicketNo,
        hop: Hop,
        manual_queue: bool,
    ) -> Result<(), ApiError>;
}

/// Asks undertaking's `BeginHop` synchronously (service identity, as every
/// peer call). Undertaking takes the same hop again without change, so a
/// retry after a lost reply is safe.
pub struct BeginHop {
    pub client: UndertakingServiceClient<Peer>,
}

#[tonic::async_trait]
impl EarlierHops for BeginHop {
    async fn withdraw_earlier_hops(
        &self,
        ticket_no: &TicketNo,
        hop: Hop,
        manual_queue: bool,
    ) -> Result<(), ApiError> {
        let request = BeginHopRequest {
            ticket_no: ticket_no.to_string(),
            hop: u32::try_from(hop.get()).unwrap_or_default(),
            manual_queue,
        };
        let reply = self
            .client
            .clone()
            .begin_hop(request)
            .await
            .map_err(|s| from_peer("undertaking", s))?
            .into_inner();
        tracing::info!(
            ticket_no = %ticket_no,
            hop = %hop,
            withdrawn = reply.withdrawn_assignment_ids.len(),
            "earlier hops withdrawn by undertaking"
        );
        Ok(())
    }
}
