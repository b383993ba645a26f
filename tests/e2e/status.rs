//! A ticket's status wherever a ticket is shown, through gRPC: intake's
//! Submit and GetTicket (with the routing once known), and undertaking's
//! assignment summaries, ACCEPTED → ROUTED → SIGNED → ANSWERED; the manual
//! queue (AWAITING_MANUAL_DISPATCH) and a lead unit's return (RETURNED).

mod support;

use std::time::Duration;

use hotline_proto::common::v1::{Feedback, FeedbackOutcome, TicketStatus};
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
use hotline_proto::dispatch::v1::{ListManualQueueRequest, RedispatchTicketRequest, UnitChoice};
use hotline_proto::intake::v1::{
    GetTicketRequest, GetTicketResponse, SubmitRequest, SubmitResponse,
};
use hotline_proto::undertaking::v1::{Assignment, SignAssignmentRequest, SubmitFeedbackRequest};
use hotline_tests::{
    Options, System, assignments_of, eventually, heating_request, listed_status, submit_co_parts,
};
use support::{hop_assignments, lead, request, return_lead, submit};

fn status_of(t: &GetTicketResponse) -> TicketStatus {
    t.ticket.as_ref().expect("ticket").status()
}

async fn get(sys: &System, no: &str) -> GetTicketResponse {
    sys.intake()
        .await
        .get_ticket(GetTicketRequest {
            ticket_no: no.to_string(),
        })
        .await
        .expect("get ticket")
        .into_inner()
}

async fn resubmit(sys: &System, req: &SubmitRequest) -> SubmitResponse {
    let r = sys
        .intake()
        .await
        .submit(req.clone())
        .await
        .expect("retried submit")
        .into_inner();
    assert!(r.replayed);
    r
}

fn summary_status(a: &Option<Assignment>) -> TicketStatus {
    a.as_ref()
        .and_then(|a| a.ticket.as_ref())
        .expect("summary")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_progresses_from_accepted_to_answered() {
    let mut sys = System::start(Options::default())
        .await
        .expect("system starts");
    // Dispatch down: the ticket stays in intake's outbox.
    sys.kill("dispatch");
    let req = heating_request("status-path");
    let accepted = sys
        .intake()
        .await
        .submit(req.clone())
        .await
        .expect("submit")
        .into_inner();
    let no = accepted.ticket_no.clone();
    assert_eq!(accepted.status(), TicketStatus::Accepted);
    assert!(accepted.routing.is_none());
    let t = get(&sys, &no).await;
    assert_eq!(status_of(&t), TicketStatus::Accepted);
    assert!(t.routing.is_none());
    let again = resubmit(&sys, &req).await;
    assert_eq!(again.status(), TicketStatus::Accepted);
    assert!(again.routing.is_none());

    // Dispatch back: the relay hands the ticket over and it is routed.
    sys.restart("dispatch").await.expect("dispatch restarts");
    let t = eventually(Duration::from_secs(30), "the ticket routed", || async {
        let t = get(&sys, &no).await;
        (status_of(&t) != TicketStatus::Accepted).then_some(t)
    })
    .await;
    assert_eq!(status_of(&t), TicketStatus::Routed);
    let routing = t.routing.expect("routing once routed");
    assert_eq!(routing.lead_unit_id, "bj-heating-group");
    assert_eq!(routing.co_unit_ids, ["bj-cmc"]);
    assert_eq!(routing.hop, 1);
    assert!(routing.dispatched_at.is_some());
    // A retried Submit now shows the routing.
    let again = resubmit(&sys, &req).await;
    assert_eq!(again.ticket_no, no);
    assert_eq!(again.status(), TicketStatus::Routed);
    assert_eq!(again.routing, Some(routing.clone()));

    let all = assignments_of(&sys, &no).await;
    assert!(
        all.iter()
            .all(|a| a.ticket.as_ref().unwrap().status() == TicketStatus::Routed)
    );
    assert_eq!(
        listed_status(&sys, "bj-heating-group", &no).await,
        [TicketStatus::Routed]
    );
    assert_eq!(
        listed_status(&sys, "bj-cmc", &no).await,
        [TicketStatus::Routed]
    );

    // A co-unit signing is not the ticket's sign-off; the lead's is.
    submit_co_parts(&sys, &no).await;
    assert_eq!(status_of(&get(&sys, &no).await), TicketStatus::Routed);
    let head = lead(&all).clone();
    let mut unit = sys.undertaking_as(&head.unit_id).await;
    let signed = unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: head.assignment_id.clone(),
            unit_id: head.unit_id.clone(),
            ..Default::default()
        })
        .await
        .expect("the lead signs")
        .into_inner();
    assert_eq!(summary_status(&signed.assignment), TicketStatus::Signed);
    assert_eq!(status_of(&get(&sys, &no).await), TicketStatus::Signed);
    assert_eq!(
        listed_status(&sys, "bj-heating-group", &no).await,
        [TicketStatus::Signed]
    );
    assert_eq!(
        listed_status(&sys, "bj-cmc", &no).await,
        [TicketStatus::Signed]
    );

    let answered = unit
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: head.assignment_id.clone(),
            unit_id: head.unit_id.clone(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Resolved as i32,
                summary: "已协调热力站，室温恢复。".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("the lead answers")
        .into_inner();
    assert_eq!(summary_status(&answered.assignment), TicketStatus::Answered);
    let t = get(&sys, &no).await;
    assert_eq!(status_of(&t), TicketStatus::Answered);
    assert_eq!(t.routing, Some(routing.clone()));
    assert_eq!(
        listed_status(&sys, "bj-heating-group", &no).await,
        [TicketStatus::Answered]
    );
    assert_eq!(
        listed_status(&sys, "bj-cmc", &no).await,
        [TicketStatus::Answered]
    );
    assert_eq!(resubmit(&sys, &req).await.status(), TicketStatus::Answered);
}

fn redispatch(no: &str, hop: i32, target: Target, return_id: &str) -> RedispatchTicketRequest {
    RedispatchTicketRequest {
        ticket_no: no.to_string(),
        hop,
        reason: "调整派单".into(),
        return_id: return_id.to_string(),
        target: Some(target),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_queue_and_a_return_show_in_the_status() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // No district: the ticket waits for a dispatcher.
    let no = submit(&sys, request("status-queue", "heating", "", "")).await;
    let t = eventually(Duration::from_secs(30), "the ticket queued", || async {
        let t = get(&sys, &no).await;
        (status_of(&t) != TicketStatus::Accepted).then_some(t)
    })
    .await;
    assert_eq!(status_of(&t), TicketStatus::AwaitingManualDispatch);
    assert!(t.routing.is_none(), "no unit holds it");
    let mut dispatch = sys.dispatch().await;
    let queue = dispatch
        .list_manual_queue(ListManualQueueRequest::default())
        .await
        .expect("queue")
        .into_inner()
        .tickets;
    let queued = queue
        .iter()
        .find_map(|q| q.ticket.as_ref().filter(|t| t.ticket_no == no))
        .expect("the ticket in the queue");
    assert_eq!(queued.status(), TicketStatus::AwaitingManualDispatch);

    // A dispatcher places it: routed as soon as the re-dispatch replied.
    let water = Target::Units(UnitChoice {
        lead_unit_id: "bj-water-group".into(),
        co_unit_ids: vec![],
    });
    dispatch
        .redispatch_ticket(redispatch(&no, 1, water, ""))
        .await
        .expect("placed");
    let t = get(&sys, &no).await;
    assert_eq!(status_of(&t), TicketStatus::Routed);
    let routing = t.routing.expect("routing");
    assert_eq!(routing.lead_unit_id, "bj-water-group");
    assert!(routing.co_unit_ids.is_empty());
    assert_eq!(routing.hop, 2);

    // The lead unit returns it: the centre has to decide.
    let held = lead(&hop_assignments(&sys, &no, 2).await).clone();
    let return_id = return_lead(&sys, &held).await;
    assert_eq!(status_of(&get(&sys, &no).await), TicketStatus::Returned);
    assert_eq!(
        listed_status(&sys, "bj-water-group", &no).await,
        [TicketStatus::Returned]
    );

    // Accepted by sending it back to the queue: the withdrawn unit's list
    // says so at once, with no wait for the relay.
    dispatch
        .redispatch_ticket(redispatch(&no, 2, Target::ManualQueue(true), &return_id))
        .await
        .expect("back to the queue");
    assert_eq!(
        listed_status(&sys, "bj-water-group", &no).await,
        [TicketStatus::AwaitingManualDispatch]
    );
    let t = get(&sys, &no).await;
    assert_eq!(status_of(&t), TicketStatus::AwaitingManualDispatch);
    assert!(t.routing.is_none());
}
