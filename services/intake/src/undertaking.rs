//! What intake reads from undertaking, as its own service identity: a
//! ticket's assignments (who holds it) and what the units did with it.

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::ids::TicketNo;
use hotline_common::startup::Peer;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentReturn, HandlingRecord, ListHandlingRecordsRequest, ListReturnsRequest,
    ListTicketAssignmentsRequest, ListWhistlesRequest, Whistle,
};

/// Rows asked for per page: the most undertaking serves.
const PAGE: i32 = hotline_common::paging::MAX_PAGE as i32;

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
        let req = ListTicketAssignmentsRequest {
            ticket_no: no.to_string(),
        };
        let r = self.client.clone().list_ticket_assignments(req).await;
        Ok(r.map_err(peer)?.into_inner().assignments)
    }

    /// The units' handling records, oldest first, every page.
    pub async fn records(&self, no: &TicketNo) -> Result<Vec<HandlingRecord>, ApiError> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let req = ListHandlingRecordsRequest {
                ticket_no: no.to_string(),
                page_size: PAGE,
                page_token,
            };
            let r = self.client.clone().list_handling_records(req).await;
            let page = r.map_err(peer)?.into_inner();
            all.extend(page.records);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// The returns (退单) of the ticket, oldest first, every page.
    pub async fn returns(&self, no: &TicketNo) -> Result<Vec<AssignmentReturn>, ApiError> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let req = ListReturnsRequest {
                ticket_no: no.to_string(),
                page_size: PAGE,
                page_token,
            };
            let r = self.client.clone().list_returns(req).await;
            let page = r.map_err(peer)?.into_inner();
            all.extend(page.returns);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// The whistles (吹哨) blown on the ticket, oldest first.
    pub async fn whistles(&self, no: &TicketNo) -> Result<Vec<Whistle>, ApiError> {
        let req = ListWhistlesRequest {
            ticket_no: no.to_string(),
        };
        let r = self.client.clone().list_whistles(req).await;
        Ok(r.map_err(peer)?.into_inner().whistles)
    }
}
