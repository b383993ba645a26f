//! Clocks over RabbitMQ, with a policy of seconds: urges (催办) and
//! supervision cases (督办) as deadlines come and go, are extended, or are
//! met late. How supervision copes with outages, bad and repeated events
//! and replicas is in `deadline_events.rs`.

use std::time::Duration;

use hotline_proto::common::v1::{Stage, UrgencyTier};
use hotline_proto::supervision::v1::{CaseState, SupervisionCase};
use hotline_proto::undertaking::v1::SignAssignmentRequest;
use hotline_tests::eventually;
use hotline_tests::supervision::{
    assignments, basic_livelihood, cases, emergency, fast_system, later_sentinel, of_stage, submit,
    submit_request, time, ts, urges,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_emergency_gets_one_urge_then_one_case() {
    let sys = fast_system().await;
    let no = submit(&sys, "unsigned").await;
    let a = assignments(&sys, &no).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].unit_id, "district-gov-110108");

    // Sign-off limit 3 s, urged at 1.5 s; feedback 6 s, urged at 3 s.
    let found = eventually(Duration::from_secs(20), "feedback case", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            let c = cases(sys, &no).await;
            (of_stage(&c, Stage::Feedback, |c| c.stage) > 0).then_some(c)
        }
    })
    .await;
    assert!(found.iter().all(|c| c.unit_id == "district-gov-110108"));
    assert!(found.iter().all(|c| c.state == CaseState::Open as i32));

    // Signing late closes the sign-off case.
    let mut und = sys.undertaking_as(&a[0].unit_id).await;
    und.sign_assignment(SignAssignmentRequest {
        assignment_id: a[0].assignment_id.clone(),
        unit_id: a[0].unit_id.clone(),
        ..Default::default()
    })
    .await
    .expect("late sign");
    eventually(Duration::from_secs(10), "sign-off case closed", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            cases(sys, &no)
                .await
                .iter()
                .any(|c| c.stage == Stage::SignOff as i32 && c.state == CaseState::Closed as i32)
                .then_some(())
        }
    })
    .await;
    // The closing event fell due after every other event of the ticket, so
    // any duplicate would be here by now: none is.
    let u = urges(&sys, &no).await;
    let c = cases(&sys, &no).await;
    assert_eq!(of_stage(&u, Stage::SignOff, |x| x.stage), 1, "{u:?}");
    assert_eq!(of_stage(&u, Stage::Feedback, |x| x.stage), 1, "{u:?}");
    assert_eq!(of_stage(&c, Stage::SignOff, |x| x.stage), 1, "{c:?}");
    assert_eq!(of_stage(&c, Stage::Feedback, |x| x.stage), 1, "{c:?}");
    assert_eq!(
        of_stage(&u, Stage::Dispatch, |x| x.stage),
        0,
        "dispatched in time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_in_time_gets_nothing_for_sign_off() {
    let sys = fast_system().await;
    let no = submit_request(&sys, basic_livelihood("in-time")).await;
    let a = assignments(&sys, &no).await;
    sys.undertaking_as(&a[0].unit_id)
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: a[0].assignment_id.clone(),
            unit_id: a[0].unit_id.clone(),
            ..Default::default()
        })
        .await
        .expect("sign");
    // Past the sign-off deadline (10 s) and the feedback expiry (20 s).
    eventually(Duration::from_secs(40), "feedback case", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            let c = cases(sys, &no).await;
            (of_stage(&c, Stage::Feedback, |c| c.stage) > 0).then_some(())
        }
    })
    .await;
    let u = urges(&sys, &no).await;
    let c = cases(&sys, &no).await;
    assert_eq!(of_stage(&u, Stage::SignOff, |x| x.stage), 0, "{u:?}");
    assert_eq!(of_stage(&c, Stage::SignOff, |x| x.stage), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_approved_after_the_deadline_closes_its_case() {
    use hotline_proto::supervision::v1::CaseState;
    use hotline_proto::undertaking::v1::{DecideExtensionRequest, RequestExtensionRequest};
    let sys = fast_system().await;
    // Emergency: sign-off in 3 s. The unit asks in time; the centre decides late.
    let no = submit(&sys, "late-approval").await;
    let a = assignments(&sys, &no).await.remove(0);
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    let ext = unit
        .request_extension(RequestExtensionRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            stage: Stage::SignOff as i32,
            reason: "暴雪封路，人员无法到岗".into(),
            requested_deadline: Some(ts(time(&a.dispatched_at) + chrono::Duration::seconds(60))),
            ..Default::default()
        })
        .await
        .expect("asked in time")
        .into_inner()
        .extension
        .unwrap();
    let sign_off_cases = |state: CaseState| {
        let sys = &sys;
        let no = no.clone();
        async move {
            cases(sys, &no)
                .await
                .into_iter()
                .filter(|c| c.stage == Stage::SignOff as i32 && c.state == state as i32)
                .count()
        }
    };
    eventually(Duration::from_secs(20), "the sign-off case", || async {
        (sign_off_cases(CaseState::Open).await == 1).then_some(())
    })
    .await;
    sys.undertaking()
        .await
        .decide_extension(DecideExtensionRequest {
            extension_id: ext.extension_id,
            approve: true,
            note: "情况属实".into(),
            ..Default::default()
        })
        .await
        .expect("approved");
    eventually(Duration::from_secs(20), "the case closed", || async {
        (sign_off_cases(CaseState::Closed).await == 1).then_some(())
    })
    .await;
    // Signed within the new limit: no new case.
    unit.sign_assignment(SignAssignmentRequest {
        assignment_id: a.assignment_id.clone(),
        unit_id: a.unit_id.clone(),
        ..Default::default()
    })
    .await
    .expect("signed");
    later_sentinel(&sys).await;
    assert_eq!(sign_off_cases(CaseState::Open).await, 0);
    assert_eq!(sign_off_cases(CaseState::Closed).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_extension_moves_the_events() {
    use hotline_proto::undertaking::v1::{
        DecideExtensionRequest, ExtensionState, ListExtensionsRequest, ListUnitSupervisionRequest,
        RequestExtensionRequest,
    };
    let sys = fast_system().await;
    // Basic livelihood: sign-off 10 s (urged at 5 s), feedback 20 s.
    let no = submit_request(&sys, basic_livelihood("extend")).await;
    let a = assignments(&sys, &no).await.remove(0);
    let dispatched = time(&a.dispatched_at);
    let old_deadline = time(&a.sign_deadline);
    let new_deadline = dispatched + chrono::Duration::seconds(24);
    let mut u = sys.undertaking().await;
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    let ask = |reason: &str| RequestExtensionRequest {
        assignment_id: a.assignment_id.clone(),
        unit_id: a.unit_id.clone(),
        stage: Stage::SignOff as i32,
        reason: reason.into(),
        requested_deadline: Some(ts(new_deadline)),
        ..Default::default()
    };

    // Rejected first: the clock runs on.
    let first = unit
        .request_extension(ask("现场勘查需要时间"))
        .await
        .unwrap()
        .into_inner()
        .extension
        .unwrap();
    let twice = unit.request_extension(ask("again")).await.unwrap_err();
    assert_eq!(
        twice.code(),
        tonic::Code::FailedPrecondition,
        "{}",
        twice.message()
    );
    let no_note = u
        .decide_extension(DecideExtensionRequest {
            extension_id: first.extension_id.clone(),
            approve: false,
            note: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(no_note.message().contains("note"), "{}", no_note.message());
    u.decide_extension(DecideExtensionRequest {
        extension_id: first.extension_id.clone(),
        approve: false,
        note: "理由不充分".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Then asked again and approved: the deadline moves to 24 s.
    let second = unit
        .request_extension(ask("需协调产权单位"))
        .await
        .unwrap()
        .into_inner()
        .extension
        .unwrap();
    let approved = u
        .decide_extension(DecideExtensionRequest {
            extension_id: second.extension_id.clone(),
            approve: true,
            note: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .extension
        .unwrap();
    assert_eq!(approved.state, ExtensionState::Approved as i32);
    assert_eq!(time(&approved.previous_deadline), old_deadline);
    let again = u
        .decide_extension(DecideExtensionRequest {
            extension_id: second.extension_id.clone(),
            approve: false,
            note: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    let listed = u
        .list_extensions(ListExtensionsRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .extensions;
    assert_eq!(listed.len(), 2);
    assert_eq!(
        time(&assignments(&sys, &no).await[0].sign_deadline),
        new_deadline
    );

    // The new deadline's urge falls due at 12 s, after the old deadline
    // (10 s): once it is here, an expiry at the old one would be too.
    let new_urge = eventually(Duration::from_secs(30), "the new urge", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            urges(sys, &no)
                .await
                .into_iter()
                .find(|u| u.stage == Stage::SignOff as i32)
        }
    })
    .await;
    assert!(time(&new_urge.issued_at) > old_deadline);
    assert_eq!(
        of_stage(&cases(&sys, &no).await, Stage::SignOff, |c| c.stage),
        0,
        "no case at the old deadline"
    );
    // At the new one: exactly one case, with the new deadline, and one urge.
    let c = eventually(
        Duration::from_secs(40),
        "sign-off case at the new deadline",
        || {
            let sys = &sys;
            let no = no.clone();
            async move {
                let c: Vec<SupervisionCase> = cases(sys, &no)
                    .await
                    .into_iter()
                    .filter(|c| c.stage == Stage::SignOff as i32)
                    .collect();
                (!c.is_empty()).then_some(c)
            }
        },
    )
    .await;
    assert_eq!(c.len(), 1);
    assert_eq!(time(&c[0].deadline), new_deadline);
    assert!(time(&c[0].opened_at) >= new_deadline);
    let u_list = urges(&sys, &no).await;
    assert_eq!(
        of_stage(&u_list, Stage::SignOff, |x| x.stage),
        1,
        "{u_list:?}"
    );
    assert_eq!(
        time(
            &u_list
                .iter()
                .find(|x| x.stage == Stage::SignOff as i32)
                .unwrap()
                .deadline
        ),
        new_deadline
    );

    // The unit sees them through undertaking.
    let seen = u
        .list_unit_supervision(ListUnitSupervisionRequest {
            unit_id: a.unit_id.clone(),
            page_size: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(seen.cases.iter().any(|x| x.ticket_no == no));
    assert!(seen.urges.iter().any(|x| x.ticket_no == no));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surge_mode_gives_general_requests_longer_to_dispatch() {
    use hotline_proto::intake::v1::{GetSurgeModeRequest, SetSurgeModeRequest};
    let sys = fast_system().await;
    let mut intake = sys.intake().await;
    let general = |key: &str| {
        let mut r = emergency(key);
        r.tier = UrgencyTier::General as i32;
        r
    };
    let limit = |r: &hotline_proto::intake::v1::SubmitResponse| {
        time(&r.dispatch_deadline) - time(&r.accepted_at)
    };
    let normal = intake
        .submit(general("g-normal"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(limit(&normal), chrono::Duration::seconds(30));
    let err = intake
        .set_surge_mode(SetSurgeModeRequest {
            on: true,
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("reason"));
    intake
        .set_surge_mode(SetSurgeModeRequest {
            on: true,
            reason: "寒潮供暖集中来电".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        intake
            .get_surge_mode(GetSurgeModeRequest {})
            .await
            .unwrap()
            .into_inner()
            .surge_mode
            .unwrap()
            .on
    );
    let surged = intake
        .submit(general("g-surge"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(limit(&surged), chrono::Duration::seconds(60));
    // Emergencies are not affected.
    let e = intake
        .submit(emergency("e-surge"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(limit(&e), chrono::Duration::seconds(4));
    intake
        .set_surge_mode(SetSurgeModeRequest {
            on: false,
            reason: "来电回落".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let after = intake
        .submit(general("g-after"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(limit(&after), chrono::Duration::seconds(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_dispatch_cannot_reach_is_urged_and_supervised_at_the_centre() {
    let mut sys = fast_system().await;
    sys.kill("dispatch");
    // Emergency: dispatch within 4 s (urged at 2 s); dispatch is down.
    let no = submit(&sys, "undispatched").await;
    let c = eventually(Duration::from_secs(20), "the dispatch case", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            let c = cases(sys, &no).await;
            (of_stage(&c, Stage::Dispatch, |c| c.stage) == 1).then_some(c)
        }
    })
    .await;
    let case = c
        .iter()
        .find(|c| c.stage == Stage::Dispatch as i32)
        .unwrap();
    assert_eq!(case.unit_id, "hotline-centre");
    assert_eq!(case.state, CaseState::Open as i32);
    let u = urges(&sys, &no).await;
    assert_eq!(of_stage(&u, Stage::Dispatch, |x| x.stage), 1, "{u:?}");

    // Dispatch comes back: the ticket is dispatched late and the case closes.
    sys.restart("dispatch").await.unwrap();
    assignments(&sys, &no).await;
    eventually(Duration::from_secs(20), "the dispatch case closed", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            cases(sys, &no)
                .await
                .iter()
                .any(|c| {
                    c.stage == Stage::Dispatch as i32
                        && c.state == CaseState::Closed as i32
                        && c.closed_at.is_some()
                })
                .then_some(())
        }
    })
    .await;
}
