//! The handling units' side through gRPC: every illegal move of the
//! assignment state machine is refused with the current state, and every
//! feedback outcome with a part missing is refused naming the part.

#[path = "moves.rs"]
mod moves;

use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::dispatch::v1::RedispatchTicketRequest;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
use hotline_proto::undertaking::v1::{AssignmentState, ReturnAssignmentRequest, ReturnReason};
use hotline_tests::{Options, System, submit_co_parts};
use moves::{Move, attempt, lead_of, refused_in, resolved, submit};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_illegal_move_is_refused_with_the_current_state() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");

    let t1 = submit(&sys, "moves-1").await;
    let a = lead_of(&sys, &t1, 1).await;
    assert_eq!(a.state, AssignmentState::PendingSign as i32);
    refused_in(&sys, &a, "pending sign-off", &[Move::Sign, Move::Return]).await;
    attempt(&sys, &a, Move::Sign, resolved())
        .await
        .expect("sign");
    refused_in(&sys, &a, "signed", &[Move::Feedback]).await;
    submit_co_parts(&sys, &t1).await;
    attempt(&sys, &a, Move::Feedback, resolved())
        .await
        .expect("feedback");
    refused_in(&sys, &a, "fed back", &[]).await;
    // An answered ticket is not re-dispatched.
    let e = sys
        .dispatch()
        .await
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: t1.clone(),
            hop: 1,
            reason: "改派".into(),
            target: Some(Target::ManualQueue(true)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("answered"), "{}", e.message());

    let t2 = submit(&sys, "moves-2").await;
    let b = lead_of(&sys, &t2, 1).await;
    attempt(&sys, &b, Move::Return, resolved())
        .await
        .expect("return");
    refused_in(&sys, &b, "returned, waiting for the centre", &[]).await;

    let t3 = submit(&sys, "moves-3").await;
    let c = lead_of(&sys, &t3, 1).await;
    sys.dispatch()
        .await
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: t3.clone(),
            hop: 1,
            reason: "调度员改派".into(),
            target: Some(Target::ManualQueue(true)),
            ..Default::default()
        })
        .await
        .expect("to the manual queue");
    let withdrawn = hotline_tests::eventually(
        std::time::Duration::from_secs(30),
        "the assignment withdrawn",
        || async {
            let a = lead_of(&sys, &t3, 1).await;
            (a.state == AssignmentState::Withdrawn as i32).then_some(a)
        },
    )
    .await;
    assert_eq!(withdrawn.assignment_id, c.assignment_id);
    refused_in(&sys, &withdrawn, "withdrawn", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feedback_outcome_names_its_missing_parts() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, "outcomes").await;
    let a = lead_of(&sys, &no, 1).await;
    attempt(&sys, &a, Move::Sign, resolved())
        .await
        .expect("sign");
    submit_co_parts(&sys, &no).await;

    let with = |outcome: FeedbackOutcome, f: &dyn Fn(&mut Feedback)| {
        let mut fb = Feedback {
            outcome: outcome as i32,
            summary: "已联系诉求人".into(),
            responsible_unit: "北京热力集团".into(),
            reason: "主管线老化".into(),
            next_measures: "更换主管线".into(),
            measures_due: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() + 86_400 * 30,
                nanos: 0,
            }),
            measures_under_study: Some(true),
            referral_channel: "向法院起诉".into(),
        };
        f(&mut fb);
        fb
    };
    let cases: Vec<(Feedback, &str)> = vec![
        (
            with(FeedbackOutcome::Resolved, &|f| f.summary.clear()),
            "feedback.summary",
        ),
        (
            with(FeedbackOutcome::Unresolved, &|f| f.responsible_unit.clear()),
            "feedback.responsible_unit",
        ),
        (
            with(FeedbackOutcome::Unresolved, &|f| f.reason.clear()),
            "feedback.reason",
        ),
        (
            with(FeedbackOutcome::Unresolved, &|f| f.next_measures.clear()),
            "feedback.next_measures",
        ),
        (
            with(FeedbackOutcome::Unresolved, &|f| f.measures_due = None),
            "feedback.measures_due",
        ),
        (
            with(FeedbackOutcome::CannotResolve, &|f| f.reason.clear()),
            "feedback.reason",
        ),
        (
            // 有无研究工作措施 not stated: neither yes nor no.
            with(FeedbackOutcome::CannotResolve, &|f| {
                f.measures_under_study = None
            }),
            "feedback.measures_under_study",
        ),
        (
            with(FeedbackOutcome::Explained, &|f| f.referral_channel.clear()),
            "feedback.referral_channel",
        ),
        (
            with(FeedbackOutcome::Unspecified, &|_| {}),
            "feedback.outcome",
        ),
    ];
    for (fb, field) in cases {
        let outcome = fb.outcome;
        let e = attempt(&sys, &a, Move::Feedback, fb)
            .await
            .expect_err(field);
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {}", e.message());
        assert!(
            e.message().contains(field),
            "outcome {outcome}, {field}: {}",
            e.message()
        );
    }
    // Everything an unresolved answer needs at once is named at once.
    let e = attempt(
        &sys,
        &a,
        Move::Feedback,
        Feedback {
            outcome: FeedbackOutcome::Unresolved as i32,
            summary: "未解决".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    for field in [
        "responsible_unit",
        "reason",
        "next_measures",
        "measures_due",
    ] {
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    // Complete, it is accepted.
    attempt(
        &sys,
        &a,
        Move::Feedback,
        with(FeedbackOutcome::Unresolved, &|_| {}),
    )
    .await
    .expect("a complete unresolved answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redispatch_racing_a_rejection_leaves_the_return_accepted() {
    use hotline_common::auth::Role;
    use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
    use hotline_proto::undertaking::v1::{
        CreateAssignmentsRequest, GetReturnRequest, NewAssignment, RejectReturnRequest, ReturnState,
    };
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, "race").await;
    let a = lead_of(&sys, &no, 1).await;
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    let rid = unit
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            reason: ReturnReason::WrongCategory as i32,
            duty_rule: "燃气属燃气集团".into(),
            note: String::new(),
            ..Default::default()
        })
        .await
        .expect("returned")
        .into_inner()
        .assignment_return
        .unwrap()
        .return_id;
    // The centre rejects it just as a dispatcher's acceptance is on its way
    // from dispatch (the hop dispatch committed, as its relay sends it).
    sys.undertaking()
        .await
        .reject_return(RejectReturnRequest {
            return_id: rid.clone(),
            note: "请签收".into(),
            ..Default::default()
        })
        .await
        .expect("rejected");
    let mut service = UndertakingServiceClient::new(
        sys.channel_with("undertaking", sys.token(&[Role::Service], None))
            .await,
    );
    let ticket = a.ticket.clone();
    service
        .create_assignments(CreateAssignmentsRequest {
            ticket,
            dispatched_at: a.dispatched_at,
            assignments: vec![NewAssignment {
                unit_id: "bj-gas-group".into(),
                role: AssignmentRole::Lead as i32,
                sign_deadline: a.sign_deadline,
                feedback_deadline: a.feedback_deadline,
            }],
            hop: 2,
            accepted_return_id: rid.clone(),
        })
        .await
        .expect("the new hop recorded");
    let ret = sys
        .undertaking()
        .await
        .get_return(GetReturnRequest { return_id: rid })
        .await
        .unwrap()
        .into_inner()
        .assignment_return
        .unwrap();
    assert_eq!(
        ret.state,
        ReturnState::Accepted as i32,
        "the re-dispatch won"
    );
    assert!(ret.decision_note.contains("hop 2"), "{}", ret.decision_note);
    assert_eq!(
        lead_of(&sys, &no, 1).await.state,
        AssignmentState::Withdrawn as i32
    );
    assert_eq!(lead_of(&sys, &no, 2).await.unit_id, "bj-gas-group");
    let (ok, report) = sys.verify_audit("undertaking");
    assert!(ok, "{report}");
}
