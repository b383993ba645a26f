//! What intake reads from undertaking, as its own service identity: a
//! ticket's assignments (who holds it) and what the units did with it.

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::ids::TicketNo;
use hotline_common::paging::{WHOLE, every_page};
use hotline_common::startup::Peer;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentReturn, HandlingRecord, ListHandlingRecordsRequest,
    ListRehandlingsRequest, ListReturnsRequest, ListTicketAssignmentsRequest, ListWhistlesRequest,
    Rehandling, Whistle,
};

#[derive(Clone)]
pub struct Undertaking {
    pub client: UndertakingServiceClient<Peer>,
}

fn peer(s: tonic::Status) -> ApiError {
    from_peer("undertaking", s)
}

impl Undertaking {
    /// Every assignment of the ticket, of every hop, lead first.
    pub async fn assignments(&self, no: &TicketNo) -> Result<Vec<Assignment>, ApiError> {
        every_page(|page_token| async move {
            let req = ListTicketAssignmentsRequest {
                ticket_no: no.to_string(),
                page_size: WHOLE,
                page_token,
            };
            let r = self.client.clone().list_ticket_assignments(req).await;
            let r = r.map_err(peer)?.into_inner();
            Ok((r.assignments, r.next_page_token))
        })
        .await
    }

    /// The units' handling records, oldest first.
    pub async fn records(&self, no: &TicketNo) -> Result<Vec<HandlingRecord>, ApiError> {
        every_page(|page_token| async move {
            let req = ListHandlingRecordsRequest {
                ticket_no: no.to_string(),
                page_size: WHOLE,
                page_token,
            };
            let r = self.client.clone().list_handling_records(req).await;
            let r = r.map_err(peer)?.into_inner();
            Ok((r.records, r.next_page_token))
        })
        .await
    }

    /// The returns (退单) of the ticket, oldest first.
    pub async fn returns(&self, no: &TicketNo) -> Result<Vec<AssignmentReturn>, ApiError> {
        every_page(|page_token| async move {
            let req = ListReturnsRequest {
                ticket_no: no.to_string(),
                page_size: WHOLE,
                page_token,
            };
            let r = self.client.clone().list_returns(req).await;
            let r = r.map_err(peer)?.into_inner();
            Ok((r.returns, r.next_page_token))
        })
        .await
    }

    /// The whistles (吹哨) blown on the ticket, oldest first.
    pub async fn whistles(&self, no: &TicketNo) -> Result<Vec<Whistle>, ApiError> {
        every_page(|page_token| async move {
            let req = ListWhistlesRequest {
                ticket_no: no.to_string(),
                page_size: WHOLE,
                page_token,
            };
            let r = self.client.clone().list_whistles(req).await;
            let r = r.map_err(peer)?.into_inner();
            Ok((r.whistles, r.next_page_token))
        })
        .await
    }

    /// The decisions on return visits that called for handling again
    /// (重办), oldest first.
    pub async fn rehandlings(&self, no: &TicketNo) -> Result<Vec<Rehandling>, ApiError> {
        every_page(|page_token| async move {
            let req = ListRehandlingsRequest {
                ticket_no: no.to_string(),
                page_size: WHOLE,
                page_token,
            };
            let r = self.client.clone().list_rehandlings(req).await;
            let r = r.map_err(peer)?.into_inner();
            Ok((r.rehandlings, r.next_page_token))
        })
        .await
    }
}
