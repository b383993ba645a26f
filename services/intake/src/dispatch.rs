//! What intake reads from dispatch, as its own service identity: the
//! routing in force of a ticket it handed over.

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::ids::TicketNo;
use hotline_common::startup::Peer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::{GetRoutingRequest, Routing};

#[derive(Clone)]
pub struct Dispatch {
    pub client: DispatchServiceClient<Peer>,
}

impl Dispatch {
    /// The routing in force; `None` when dispatch has not routed the ticket.
    pub async fn routing(&self, no: &TicketNo) -> Result<Option<Routing>, ApiError> {
        let req = GetRoutingRequest {
            ticket_no: no.to_string(),
        };
        match self.client.clone().get_routing(req).await {
            Ok(r) => Ok(r.into_inner().routing),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(from_peer("dispatch", s)),
        }
    }
}
