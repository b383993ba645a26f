//! A re-dispatch and the hop it ends, through gRPC: refused once the lead
//! answered, with nothing stored; and once it has replied, the old hop's
//! units can no longer act.

mod support;

use hotline_proto::common::v1::{Feedback, FeedbackOutcome};
use hotline_proto::dispatch::v1::GetRoutingRequest;
use hotline_proto::undertaking::v1::{SignAssignmentRequest, SubmitFeedbackRequest};
use hotline_tests::{Options, System, heating_request, to_water};
use support::{hop_assignments, lead, request, submit};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_ticket_is_not_re_dispatched_and_no_hop_is_kept() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // No rule: the district government alone.
    let no = submit(
        &sys,
        request("answered", "policy-consultation", "110101", ""),
    )
    .await;
    let gov = lead(&hop_assignments(&sys, &no, 1).await).clone();
    let mut unit = sys.undertaking_as(&gov.unit_id).await;
    unit.sign_assignment(SignAssignmentRequest {
        assignment_id: gov.assignment_id.clone(),
        unit_id: gov.unit_id.clone(),
        ..Default::default()
    })
    .await
    .expect("signed");
    unit.submit_feedback(SubmitFeedbackRequest {
        assignment_id: gov.assignment_id.clone(),
        unit_id: gov.unit_id.clone(),
        feedback: Some(Feedback {
            outcome: FeedbackOutcome::Resolved as i32,
            summary: "已答复诉求人相关政策。".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("answered");
    let mut dispatch = sys.dispatch().await;
    let e = dispatch
        .redispatch_ticket(to_water(&no, 1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(e.message().contains("answered"), "{}", e.message());
    let r = dispatch
        .get_routing(GetRoutingRequest {
            ticket_no: no.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.routing.unwrap().hop, 1, "no hop kept");
    assert_eq!(r.history.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_a_re_dispatch_replied_the_old_units_cannot_act() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("sync-withdraw")).await;
    let old = hop_assignments(&sys, &no, 1).await;
    sys.dispatch()
        .await
        .redispatch_ticket(to_water(&no, 1))
        .await
        .expect("re-dispatched");
    // No waiting for the relay: the reply itself means the old hop ended.
    for a in &old {
        let e = sys
            .undertaking_as(&a.unit_id)
            .await
            .sign_assignment(SignAssignmentRequest {
                assignment_id: a.assignment_id.clone(),
                unit_id: a.unit_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            Code::FailedPrecondition,
            "{}: {}",
            a.unit_id,
            e.message()
        );
    }
}

/// The race found from outside: a dispatcher re-dispatches a signed ticket
/// and the old lead unit answers right after the reply. Every try, the old
/// answer is refused and the new unit's answer is the ticket's one answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_re_dispatch_replied_the_old_lead_never_answers() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let answer = || {
        Some(Feedback {
            outcome: FeedbackOutcome::Resolved as i32,
            summary: "已处理。".into(),
            ..Default::default()
        })
    };
    for i in 0..5 {
        // No rule: the district government alone, so no co-unit parts.
        let no = submit(
            &sys,
            request(&format!("race-{i}"), "policy-consultation", "110101", ""),
        )
        .await;
        let gov = lead(&hop_assignments(&sys, &no, 1).await).clone();
        let mut old = sys.undertaking_as(&gov.unit_id).await;
        old.sign_assignment(SignAssignmentRequest {
            assignment_id: gov.assignment_id.clone(),
            unit_id: gov.unit_id.clone(),
            ..Default::default()
        })
        .await
        .expect("signed");
        sys.dispatch()
            .await
            .redispatch_ticket(to_water(&no, 1))
            .await
            .expect("re-dispatched");
        let e = old
            .submit_feedback(SubmitFeedbackRequest {
                assignment_id: gov.assignment_id.clone(),
                unit_id: gov.unit_id.clone(),
                feedback: answer(),
                ..Default::default()
            })
            .await
            .expect_err("the old lead answered after the re-dispatch replied");
        assert_eq!(
            e.code(),
            Code::FailedPrecondition,
            "try {i}: {}",
            e.message()
        );
        assert!(
            e.message().contains("withdrawn"),
            "try {i}: {}",
            e.message()
        );
        let new = lead(&hop_assignments(&sys, &no, 2).await).clone();
        let mut unit = sys.undertaking_as(&new.unit_id).await;
        unit.sign_assignment(SignAssignmentRequest {
            assignment_id: new.assignment_id.clone(),
            unit_id: new.unit_id.clone(),
            ..Default::default()
        })
        .await
        .expect("the new unit signs");
        unit.submit_feedback(SubmitFeedbackRequest {
            assignment_id: new.assignment_id.clone(),
            unit_id: new.unit_id.clone(),
            feedback: answer(),
            ..Default::default()
        })
        .await
        .expect("the new unit answers");
    }
}
