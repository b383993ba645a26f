//! What routing asks its peers: intake, whether it accepted a ticket; and
//! undertaking, a return and a ticket's assignments.

use hotline_common::ApiError;
use hotline_common::clock;
use hotline_common::error::from_peer;
use hotline_common::ids::{ReturnId, TicketNo};
use hotline_common::startup::Peer;
use hotline_proto::common::v1::CheckClocksRequest;
use hotline_proto::common::v1::clock_service_client::ClockServiceClient;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentReturn, GetReturnRequest, ListTicketAssignmentsRequest,
};
use hotline_sla::Stage;

/// Intake, as dispatch asks it whether a ticket exists.
///
/// Intake starts a ticket's dispatch clock (stage `dispatch`, the centre's)
/// in the transaction that stores the ticket, and never deletes it; so a
/// ticket was accepted exactly when intake's `ClockService` knows that
/// clock. This asks no more than that: dispatch reads nothing of the
/// ticket, and intake's `GetTicket` stays closed to services.
#[derive(Clone)]
pub struct Intake {
    pub clocks: ClockServiceClient<Peer>,
}

impl Intake {
    /// Whether intake accepted `no`.
    pub async fn accepted(&self, no: &TicketNo) -> Result<bool, ApiError> {
        let id = clock::clock_id(no, Stage::Dispatch, clock::CENTRE_UNIT);
        let known = self
            .clocks
            .clone()
            .check_clocks(CheckClocksRequest {
                clock_ids: vec![id.clone()],
            })
            .await
            .map_err(|s| from_peer("intake", s))?
            .into_inner()
            .clocks;
        Ok(known
            .iter()
            .any(|c| c.clock_id == id && c.ticket_no == no.as_str()))
    }
}

/// Undertaking, as a re-dispatch reads it.
#[derive(Clone)]
pub struct Undertaking {
    pub client: UndertakingServiceClient<Peer>,
}

impl Undertaking {
    /// A return, or NOT_FOUND.
    pub async fn get_return(&self, id: &ReturnId) -> Result<AssignmentReturn, ApiError> {
        self.client
            .clone()
            .get_return(GetReturnRequest {
                return_id: id.to_string(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::NotFound => ApiError::not_found(format!("no return {id}")),
                _ => from_peer("undertaking", s),
            })?
            .into_inner()
            .assignment_return
            .ok_or_else(|| ApiError::unavailable("undertaking sent no return"))
    }

    /// Every assignment of a ticket, of every hop.
    pub async fn assignments(&self, no: &TicketNo) -> Result<Vec<Assignment>, ApiError> {
        hotline_common::paging::every_page(|page_token| async move {
            let r = self
                .client
                .clone()
                .list_ticket_assignments(ListTicketAssignmentsRequest {
                    ticket_no: no.to_string(),
                    page_size: hotline_common::paging::WHOLE,
                    page_token,
                })
                .await
                .map_err(|s| from_peer("undertaking", s))?
                .into_inner();
            Ok((r.assignments, r.next_page_token))
        })
        .await
    }
}
