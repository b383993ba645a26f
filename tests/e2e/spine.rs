//! One request end to end through the four services, over gRPC, with the
//! Beijing policy: accepted, routed, signed, answered, and read back.

use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::dispatch::v1::{GetRoutingRequest, RoutingBasis};
use hotline_proto::intake::v1::{GetTicketRequest, GetTimelineRequest, TimelineEventKind};
use hotline_proto::undertaking::v1::{
    AssignmentState, ListAssignmentsRequest, SignAssignmentRequest, SubmitFeedbackRequest,
};
use hotline_tests::{Options, System, assignments_of, heating_request};
use prost_types::Timestamp;
use tonic::Code;

fn secs(t: &Option<Timestamp>) -> i64 {
    t.as_ref().expect("timestamp set").seconds
}

fn micros(t: &Option<Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp set");
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_travels_the_whole_path() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut intake = sys.intake().await;
    let mut undertaking = sys.undertaking().await;

    // Accepted, durably, with a ticket number and a dispatch deadline.
    let req = heating_request("call-0001");
    let accepted = intake
        .submit(req.clone())
        .await
        .expect("submit")
        .into_inner();
    assert!(
        accepted.ticket_no.starts_with("BJ"),
        "{}",
        accepted.ticket_no
    );
    assert!(!accepted.replayed);
    // Emergency: dispatch within 1 hour of acceptance.
    assert_eq!(
        micros(&accepted.dispatch_deadline) - micros(&accepted.accepted_at),
        3_600_000_000
    );

    // A retried submit returns the same ticket, never a second one.
    let again = intake
        .submit(req.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again.ticket_no, accepted.ticket_no);
    assert!(again.replayed);
    // The same key for a different request is refused, naming the field.
    let mut other = req.clone();
    other.content = "另一件事".into();
    let err = intake.submit(other).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("idempotency_key"),
        "{}",
        err.message()
    );

    let ticket = intake
        .get_ticket(GetTicketRequest {
            ticket_no: accepted.ticket_no.clone(),
        })
        .await
        .expect("get ticket")
        .into_inner()
        .ticket
        .expect("ticket");
    assert_eq!(ticket.content, req.content);
    assert_eq!(ticket.requester.as_ref().unwrap().phone, "13800138000");

    // Routed by the catalogue (heating: the heating group leads, the city
    // management commission co-operates) and handed to undertaking.
    let assignments = assignments_of(&sys, &accepted.ticket_no).await;
    let routing = sys
        .dispatch()
        .await
        .get_routing(GetRoutingRequest {
            ticket_no: accepted.ticket_no.clone(),
        })
        .await
        .expect("routing")
        .into_inner()
        .routing
        .expect("routing");
    assert_eq!(routing.basis, RoutingBasis::CatalogueRule as i32);
    assert_eq!(routing.catalogue_version, "beijing-2026.12.2");
    let units: Vec<(&str, i32)> = assignments
        .iter()
        .map(|a| (a.unit_id.as_str(), a.role))
        .collect();
    assert_eq!(
        units,
        [
            ("bj-heating-group", AssignmentRole::Lead as i32),
            ("bj-cmc", AssignmentRole::Co as i32)
        ]
    );
    let lead = assignments[0].clone();
    let co = assignments[1].clone();
    // Emergency: sign-off within 15 minutes and feedback within 2 hours of
    // dispatch; dispatch happened before its deadline.
    assert_eq!(
        micros(&lead.sign_deadline) - micros(&lead.dispatched_at),
        900_000_000
    );
    assert_eq!(
        micros(&lead.feedback_deadline) - micros(&lead.dispatched_at),
        7_200_000_000
    );
    assert!(secs(&lead.dispatched_at) >= secs(&accepted.accepted_at));
    assert!(micros(&lead.dispatched_at) <= micros(&accepted.dispatch_deadline));
    assert_eq!(lead.state, AssignmentState::PendingSign as i32);
    assert_eq!(lead.ticket.as_ref().unwrap().content, req.content);

    // The unit sees it in its list.
    let listed = undertaking
        .list_assignments(ListAssignmentsRequest {
            unit_id: "bj-heating-group".into(),
            state: AssignmentState::PendingSign as i32,
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed
            .assignments
            .iter()
            .any(|a| a.assignment_id == lead.assignment_id)
    );

    let mut unit = sys.undertaking_as("bj-heating-group").await;
    // Feedback before sign-off is a wrong state.
    let fb = Feedback {
        outcome: FeedbackOutcome::Resolved as i32,
        summary: "已协调热力站调整供热参数，室温恢复至20度，诉求人认可。".into(),
        ..Default::default()
    };
    let err = unit
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            feedback: Some(fb.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());

    // Signed, then signing again is refused.
    let signed = unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            ..Default::default()
        })
        .await
        .expect("sign")
        .into_inner()
        .assignment
        .unwrap();
    assert_eq!(signed.state, AssignmentState::Signed as i32);
    let err = unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("already signed"),
        "{}",
        err.message()
    );

    // Another unit cannot act on it, and learns nothing about it.
    let err = unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: co.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // The lead answers only once the co-unit's part is in.
    let err = unit
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            feedback: Some(fb.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("bj-cmc"), "{}", err.message());
    hotline_tests::submit_co_parts(&sys, &accepted.ticket_no).await;

    let fed = unit
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            feedback: Some(fb.clone()),
            ..Default::default()
        })
        .await
        .expect("feedback")
        .into_inner()
        .assignment
        .unwrap();
    assert_eq!(fed.state, AssignmentState::FedBack as i32);

    // The timeline, read back through intake: each stage with its time and
    // its deadline.
    let tl = intake
        .get_timeline(GetTimelineRequest {
            ticket_no: accepted.ticket_no.clone(),
        })
        .await
        .expect("timeline")
        .into_inner();
    let kinds: Vec<(i32, &str)> = tl
        .entries
        .iter()
        .map(|e| (e.kind, e.unit_id.as_str()))
        .collect();
    use TimelineEventKind::*;
    assert_eq!(
        kinds,
        [
            (Accepted as i32, ""),
            (Dispatched as i32, "bj-heating-group"),
            (Signed as i32, "bj-heating-group"),
            (FedBack as i32, "bj-heating-group"),
            (Dispatched as i32, "bj-cmc"),
            (Signed as i32, "bj-cmc"),
            (FedBack as i32, "bj-cmc"),
        ]
    );
    let e = &tl.entries;
    assert_eq!(micros(&e[0].occurred_at), micros(&accepted.accepted_at));
    assert_eq!(micros(&e[1].deadline), micros(&accepted.dispatch_deadline));
    assert_eq!(micros(&e[1].occurred_at), micros(&lead.dispatched_at));
    assert_eq!(micros(&e[2].occurred_at), micros(&signed.signed_at));
    assert_eq!(micros(&e[2].deadline), micros(&lead.sign_deadline));
    assert_eq!(micros(&e[3].occurred_at), micros(&fed.fed_back_at));
    assert_eq!(micros(&e[3].deadline), micros(&lead.feedback_deadline));
    assert!(e[1..4].iter().all(|x| !x.overdue));
    // The co-unit signed and submitted its part; the requester's one
    // answer is the lead's.
    assert!(e[5].occurred_at.is_some() && e[6].occurred_at.is_some());
    assert_eq!(micros(&e[5].deadline), micros(&co.sign_deadline));
    assert_eq!(tl.feedback.as_ref().unwrap().summary, fb.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut intake = sys.intake().await;
    let mut undertaking = sys.undertaking().await;

    let check = |r: Result<_, tonic::Status>, code: Code, needle: &str| {
        let e = r.expect_err("an error");
        assert_eq!(e.code(), code, "{needle}: {}", e.message());
        assert!(
            e.message().contains(needle),
            "{needle} not in {:?}",
            e.message()
        );
    };

    let mut r = heating_request("");
    r.content = String::new();
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "content: required",
    );

    let mut r = heating_request("");
    r.requester = None;
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "requester: required",
    );

    let mut r = heating_request("");
    r.category_code = "flying-saucers".into();
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "category_code: unknown category",
    );

    let mut r = heating_request("");
    r.tier = 99;
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "tier: unknown tier",
    );

    let mut r = heating_request("");
    r.tier = 0;
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "tier: required",
    );

    let mut r = heating_request("");
    r.content = "长".repeat(4001);
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "content: too long",
    );

    let mut r = heating_request("");
    r.location.as_mut().unwrap().district_code = "999999".into();
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "location.district_code",
    );

    let mut r = heating_request("");
    r.requester.as_mut().unwrap().name = "\u{7}bell".into();
    check(
        intake.submit(r).await.map(|_| ()),
        Code::InvalidArgument,
        "requester.name: contains control characters",
    );

    check(
        intake
            .get_timeline(GetTimelineRequest {
                ticket_no: "BJ999999999999".into(),
            })
            .await
            .map(|_| ()),
        Code::NotFound,
        "BJ999999999999",
    );
    check(
        intake
            .get_ticket(GetTicketRequest {
                ticket_no: String::new(),
            })
            .await
            .map(|_| ()),
        Code::InvalidArgument,
        "ticket_no: required",
    );
    let mut cmc = sys.undertaking_as("bj-cmc").await;
    check(
        cmc.sign_assignment(SignAssignmentRequest {
            assignment_id: "not-an-id".into(),
            unit_id: "bj-cmc".into(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        Code::InvalidArgument,
        "assignment_id",
    );
    check(
        cmc.sign_assignment(SignAssignmentRequest {
            assignment_id: uuid::Uuid::new_v4().to_string(),
            unit_id: "bj-cmc".into(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        Code::NotFound,
        "no assignment",
    );
    check(
        undertaking
            .list_assignments(ListAssignmentsRequest {
                unit_id: String::new(),
                state: 0,
                page_size: 9999,
                page_token: "junk".into(),
            })
            .await
            .map(|_| ()),
        Code::InvalidArgument,
        "unit_id: required",
    );

    // A feedback missing the parts the standard requires names each one.
    let accepted = intake
        .submit(heating_request("k-bad"))
        .await
        .unwrap()
        .into_inner();
    let lead = assignments_of(&sys, &accepted.ticket_no).await.remove(0);
    let mut undertaking = sys.undertaking_as(&lead.unit_id).await;
    undertaking
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = undertaking
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Unresolved as i32,
                summary: "正在处理".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    for part in [
        "responsible_unit",
        "reason",
        "next_measures",
        "measures_due",
    ] {
        assert!(e.message().contains(part), "{part}: {}", e.message());
    }

    // None of this left an INTERNAL behind in any log.
    for name in hotline_tests::SERVICES {
        assert!(
            !sys.log(name).contains("internal error"),
            "{name} logged an internal error"
        );
    }
}
