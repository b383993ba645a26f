//! The hop in force, end to end: once undertaking's BeginHop has answered
//! (dispatch calls it before it answers a re-dispatch), no assignment of
//! an earlier hop signs, answers, submits a part or returns; a ticket
//! whose lead unit answered takes no new hop.
//!
//! The gate lets BeginHop through only once the rule table has its row
//! (`/hotline.undertaking.v1.UndertakingService/BeginHop`, service only).

use std::time::Duration;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentState, BeginHopRequest, ReturnAssignmentRequest, ReturnReason,
    SignAssignmentRequest, SubmitFeedbackRequest, SubmitPartRequest,
};
use hotline_tests::{Authed, Options, System, assignments_of, eventually, heating_request};
use tonic::Code;

async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

async fn as_service(sys: &System) -> UndertakingServiceClient<Authed> {
    UndertakingServiceClient::new(
        sys.channel_with("undertaking", sys.token(&[Role::Service], None))
            .await,
    )
}

async fn sign(sys: &System, a: &Assignment) -> Result<(), tonic::Status> {
    sys.undertaking_as(&a.unit_id)
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            ..Default::default()
        })
        .await
        .map(drop)
}

async fn answer(sys: &System, a: &Assignment) -> Result<(), tonic::Status> {
    sys.undertaking_as(&a.unit_id)
        .await
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Resolved as i32,
                summary: "已协调热力公司排查管线，室温恢复".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(drop)
}

fn refused(r: Result<(), tonic::Status>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(
        e.code(),
        Code::FailedPrecondition,
        "{what}: {}",
        e.message()
    );
    assert!(e.message().contains("withdrawn"), "{what}: {}", e.message());
}

fn of(all: &[Assignment], hop: i32, role: AssignmentRole) -> Assignment {
    all.iter()
        .find(|a| a.hop == hop && a.role == role as i32)
        .cloned()
        .expect("an assignment of that hop and role")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_begin_hop_answers_the_earlier_hop_can_do_nothing() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let t1 = submit(&sys, "hop-signed").await;
    let first = assignments_of(&sys, &t1).await;
    let (lead, co) = (
        of(&first, 1, AssignmentRole::Lead),
        of(&first, 1, AssignmentRole::Co),
    );
    sign(&sys, &lead).await.expect("the lead signs");
    sign(&sys, &co).await.expect("the co-unit signs");
    let t2 = submit(&sys, "hop-pending").await;
    let pending = of(&assignments_of(&sys, &t2).await, 1, AssignmentRole::Lead);

    // Only another hotline service begins a hop.
    let e = sys
        .undertaking()
        .await
        .begin_hop(BeginHopRequest {
            ticket_no: t1.clone(),
            hop: 2,
            manual_queue: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());

    let mut service = as_service(&sys).await;
    let begun = service
        .begin_hop(BeginHopRequest {
            ticket_no: t1.clone(),
            hop: 2,
            manual_queue: false,
        })
        .await
        .expect("hop 2 begun")
        .into_inner();
    assert_eq!(begun.hop, 2);
    let mut withdrawn = begun.withdrawn_assignment_ids;
    withdrawn.sort();
    let mut expected: Vec<String> = first.iter().map(|a| a.assignment_id.clone()).collect();
    expected.sort();
    assert_eq!(withdrawn, expected);
    service
        .begin_hop(BeginHopRequest {
            ticket_no: t2.clone(),
            hop: 2,
            manual_queue: false,
        })
        .await
        .expect("hop 2 begun");

    // At once, nothing of hop 1 moves.
    refused(answer(&sys, &lead).await, "the old lead's feedback");
    let part = sys
        .undertaking_as(&co.unit_id)
        .await
        .submit_part(SubmitPartRequest {
            assignment_id: co.assignment_id.clone(),
            unit_id: co.unit_id.clone(),
            part: "已配合核查".into(),
            ..Default::default()
        })
        .await
        .map(drop);
    refused(part, "the old co-unit's part");
    refused(sign(&sys, &pending).await, "the old lead's sign-off");
    let ret = sys
        .undertaking_as(&pending.unit_id)
        .await
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: pending.assignment_id.clone(),
            unit_id: pending.unit_id.clone(),
            reason: ReturnReason::NotOurDuty as i32,
            duty_rule: "职责清单未列".into(),
            note: String::new(),
            ..Default::default()
        })
        .await
        .map(drop);
    refused(ret, "the old lead's return");
    assert!(
        assignments_of(&sys, &t1)
            .await
            .iter()
            .all(|a| a.state == AssignmentState::Withdrawn as i32)
    );

    // The dispatcher's re-dispatch records hop 2's units; they work, and
    // once their lead answered the ticket takes no new hop.
    sys.dispatch()
        .await
        .redispatch_ticket(hotline_tests::to_water(&t1, 1))
        .await
        .expect("re-dispatched");
    let new_lead = eventually(Duration::from_secs(30), "hop 2's lead", || async {
        assignments_of(&sys, &t1)
            .await
            .into_iter()
            .find(|a| a.hop == 2 && a.role == AssignmentRole::Lead as i32)
    })
    .await;
    assert_eq!(new_lead.unit_id, "bj-water-group");
    sign(&sys, &new_lead).await.expect("the new lead signs");
    answer(&sys, &new_lead).await.expect("the new lead answers");
    let e = service
        .begin_hop(BeginHopRequest {
            ticket_no: t1.clone(),
            hop: 3,
            manual_queue: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("answered") && e.message().contains("bj-water-group"),
        "{}",
        e.message()
    );
    let (ok, report) = sys.verify_audit("undertaking");
    assert!(ok, "{report}");
}
