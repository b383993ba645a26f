//! Dispatch's lists through gRPC: the manual queue and the tickets
//! transferred many times come a page at a time, with tokens bound to the
//! list that issued them; nothing is cut off silently.

mod support;

use hotline_common::auth::Role;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
use hotline_proto::dispatch::v1::{
    ListManualQueueRequest, ListTransferredTicketsRequest, RedispatchTicketRequest, UnitChoice,
};
use hotline_tests::{Options, System, heating_request};
use support::{request, routing_of, submit};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_queue_comes_page_by_page() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut queued = Vec::new();
    for i in 0..3 {
        let no = submit(&sys, request(&format!("queued-{i}"), "heating", "", "")).await;
        routing_of(&sys, &no).await;
        queued.push(no);
    }
    let mut dispatch = sys.dispatch().await;
    let first = dispatch
        .list_manual_queue(ListManualQueueRequest {
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.tickets.len(), 2);
    assert!(!first.next_page_token.is_empty(), "a third ticket waits");
    let second = dispatch
        .list_manual_queue(ListManualQueueRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.tickets.len(), 1);
    assert!(second.next_page_token.is_empty(), "the last page");
    let seen: Vec<String> = first
        .tickets
        .iter()
        .chain(&second.tickets)
        .map(|t| t.ticket.as_ref().unwrap().ticket_no.clone())
        .collect();
    assert_eq!(seen, queued, "earliest dispatch deadline first, each once");

    // A queue token is not a token of the transferred list; junk is named.
    let e = dispatch
        .list_transferred_tickets(ListTransferredTicketsRequest {
            page_size: 2,
            page_token: first.next_page_token,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("page_token"), "{}", e.message());
    let e = dispatch
        .list_manual_queue(ListManualQueueRequest {
            page_size: 2,
            page_token: "junk".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("page_token"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transferred_tickets_come_page_by_page() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    let mut flagged = Vec::new();
    for i in 0..2 {
        let no = submit(&sys, heating_request(&format!("moved-{i}"))).await;
        routing_of(&sys, &no).await;
        for (hop, unit) in [(1, "bj-water-group"), (2, "bj-cmc"), (3, "bj-housing")] {
            dispatch
                .redispatch_ticket(RedispatchTicketRequest {
                    ticket_no: no.clone(),
                    hop,
                    reason: format!("改派 {hop}"),
                    return_id: String::new(),
                    target: Some(Target::Units(UnitChoice {
                        lead_unit_id: unit.into(),
                        co_unit_ids: vec![],
                    })),
                    ..Default::default()
                })
                .await
                .expect("re-dispatched");
        }
        flagged.push(no);
    }
    let mut supervisor = DispatchServiceClient::new(
        sys.channel_with("dispatch", sys.token(&[Role::Supervisor], None))
            .await,
    );
    let mut seen = Vec::new();
    let mut token = String::new();
    for page in 0.. {
        let r = supervisor
            .list_transferred_tickets(ListTransferredTicketsRequest {
                page_size: 1,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.routings.len(), 1, "page {page}");
        assert_eq!(r.routings[0].transfers, 3);
        seen.push(r.routings[0].ticket_no.clone());
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
        assert!(page < 2, "more pages than tickets");
    }
    seen.sort();
    flagged.sort();
    assert_eq!(seen, flagged, "each flagged ticket once");
}

/// A ticket's assignments come a page at a time too, with a token bound to
/// the ticket: heating goes to a lead and a co-unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_assignments_come_page_by_page() {
    use hotline_proto::undertaking::v1::ListTicketAssignmentsRequest;
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("paged-assignments")).await;
    let other = submit(&sys, heating_request("paged-other")).await;
    let all = hotline_tests::assignments_of(&sys, &no).await;
    assert!(all.len() >= 2, "a lead and a co-unit: {all:?}");
    let mut undertaking = sys.undertaking().await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = undertaking
            .list_ticket_assignments(ListTicketAssignmentsRequest {
                ticket_no: no.clone(),
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .expect("a page")
            .into_inner();
        assert_eq!(page.assignments.len(), 1);
        seen.extend(page.assignments.into_iter().map(|a| a.assignment_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // The token is the ticket's: another ticket refuses it.
        let e = undertaking
            .list_ticket_assignments(ListTicketAssignmentsRequest {
                ticket_no: other.clone(),
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .expect_err("a token of another ticket");
        assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
        assert!(e.message().contains("page_token"), "{}", e.message());
    }
    let want: Vec<String> = all.into_iter().map(|a| a.assignment_id).collect();
    assert_eq!(seen, want, "every assignment once, in order");
}
