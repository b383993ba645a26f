//! Clocks over RabbitMQ, with a policy of seconds: urges (催办) and
//! supervision cases (督办) that are never lost and never doubled.

use std::time::Duration;

use hotline_proto::common::v1::{Location, Requester, Stage, UrgencyTier};
use hotline_proto::intake::v1::SubmitRequest;
use hotline_proto::supervision::v1::{
    CaseState, ListCasesRequest, ListUrgesRequest, SupervisionCase, Urge,
};
use hotline_proto::undertaking::v1::{Assignment, SignAssignmentRequest};
use hotline_tests::{DeadQueue, FAST_POLICY, Options, System, eventually};

pub fn emergency(key: &str) -> SubmitRequest {
    SubmitRequest {
        idempotency_key: key.to_string(),
        channel: hotline_proto::common::v1::Channel::App as i32,
        requester: Some(Requester {
            anonymous: true,
            ..Default::default()
        }),
        content: "路口井盖缺失，有行人跌落危险。".into(),
        location: Some(Location {
            district_code: "110108".into(),
            street_code: String::new(),
            address: "中关村大街某路口".into(),
        }),
        // No rule for this category: the district government alone holds it.
        category_code: "other".into(),
        tier: UrgencyTier::Emergency as i32,
        complex: false,
        attachments: vec![],
    }
}

pub async fn fast_system() -> System {
    System::start(Options {
        policy: Some(FAST_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

pub async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(emergency(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

pub async fn assignments(sys: &System, ticket_no: &str) -> Vec<Assignment> {
    hotline_tests::assignments_of(sys, ticket_no).await
}

pub async fn urges(sys: &System, ticket_no: &str) -> Vec<Urge> {
    sys.supervision()
        .await
        .list_urges(ListUrgesRequest {
            ticket_no: ticket_no.into(),
            ..Default::default()
        })
        .await
        .expect("list urges")
        .into_inner()
        .urges
}

pub async fn cases(sys: &System, ticket_no: &str) -> Vec<SupervisionCase> {
    sys.supervision()
        .await
        .list_cases(ListCasesRequest {
            ticket_no: ticket_no.into(),
            ..Default::default()
        })
        .await
        .expect("list cases")
        .into_inner()
        .cases
}

/// Waits for the sign-off and feedback urges and cases of a one-unit ticket.
async fn urged_and_supervised(sys: &System, no: &str, what: &str) {
    eventually(Duration::from_secs(20), what, || async {
        (urges(sys, no).await.len() == 2 && cases(sys, no).await.len() == 2).then_some(())
    })
    .await;
}

fn of_stage<T>(items: &[T], stage: Stage, get: impl Fn(&T) -> i32) -> usize {
    items.iter().filter(|x| get(x) == stage as i32).count()
}

/// Waits for a later event of undertaking's scheduler to be acted on: a
/// fresh emergency ticket's sign-off case. The scheduler fires timers in
/// the order they fall due and supervision consumes them in that order, so
/// once the case is there every event that fell due before this call (an
/// event caused by the last step of a test, say) has been acted on.
async fn later_sentinel(sys: &System) {
    let no = submit(sys, &format!("sentinel-{}", uuid::Uuid::new_v4())).await;
    eventually(Duration::from_secs(30), "the sentinel's case", || async {
        (of_stage(&cases(sys, &no).await, Stage::SignOff, |c| c.stage) == 1).then_some(())
    })
    .await;
}

/// A deadline event for a clock of `a`, as its owner would publish it.
fn event_for(
    a: &Assignment,
    stage: Stage,
    kind: hotline_proto::common::v1::DeadlineEventKind,
    kind_name: &str,
) -> hotline_proto::common::v1::DeadlineEvent {
    let clock_id = match stage {
        Stage::SignOff => format!("{}/sign_off/{}", a.ticket_no, a.unit_id),
        Stage::Feedback => format!("{}/feedback/{}", a.ticket_no, a.unit_id),
        other => panic!("no clock of an assignment for {other:?}"),
    };
    let deadline = match stage {
        Stage::SignOff => a.sign_deadline,
        _ => a.feedback_deadline,
    };
    hotline_proto::common::v1::DeadlineEvent {
        event_id: format!("{clock_id}#1#{kind_name}"),
        kind: kind as i32,
        clock_id,
        clock_version: 1,
        ticket_no: a.ticket_no.clone(),
        stage: stage as i32,
        unit_id: a.unit_id.clone(),
        deadline,
        fire_at: Some(ts(chrono::Utc::now())),
    }
}

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
    let mut req = emergency("in-time");
    req.tier = UrgencyTier::BasicLivelihood as i32;
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let a = assignments(&sys, &no).await;
    sys.undertaking_as(&a[0].unit_id)
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: a[0].assignment_id.clone(),
            unit_id: a[0].unit_id.clone(),
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

fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn time(t: &Option<prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    let t = t.as_ref().expect("timestamp");
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap()
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
    let mut req = emergency("extend");
    // Basic livelihood: sign-off 10 s (urged at 5 s), feedback 20 s.
    req.tier = UrgencyTier::BasicLivelihood as i32;
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
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
        })
        .await
        .unwrap_err();
    assert!(no_note.message().contains("note"), "{}", no_note.message());
    u.decide_extension(DecideExtensionRequest {
        extension_id: first.extension_id.clone(),
        approve: false,
        note: "理由不充分".into(),
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
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    let listed = u
        .list_extensions(ListExtensionsRequest {
            ticket_no: no.clone(),
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
        })
        .await
        .unwrap()
        .into_inner();
    assert!(seen.cases.iter().any(|x| x.ticket_no == no));
    assert!(seen.urges.iter().any(|x| x.ticket_no == no));
}

/// Sleeps until `t` has passed by half a second.
async fn until_past(t: &Option<prost_types::Timestamp>) {
    let wait = (time(t) - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervision_down_catches_up_on_what_expired_meanwhile() {
    let mut sys = fast_system().await;
    sys.kill("supervision");
    let no = submit(&sys, "while-supervision-down").await;
    let a = assignments(&sys, &no).await.remove(0);
    // Both clocks (3 s, 6 s) expire while supervision is down.
    until_past(&a.feedback_deadline).await;
    sys.restart("supervision").await.unwrap();
    eventually(Duration::from_secs(20), "the missed cases", || async {
        (cases(&sys, &no).await.len() == 2).then_some(())
    })
    .await;
    // The "due soon" events fell due before the expiries, so they have been
    // handled by now: too late to urge, the cases speak for both stages.
    let u = urges(&sys, &no).await;
    assert!(u.is_empty(), "no urge after the deadline: {u:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_an_expired_stage_gets_its_case_and_no_urge() {
    let mut sys = fast_system().await;
    sys.kill("supervision");
    let mut req = emergency("outage-basic");
    // Basic livelihood: sign-off in 10 s (urged at 5 s), feedback in 20 s
    // (urged at 10 s).
    req.tier = UrgencyTier::BasicLivelihood as i32;
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let a = assignments(&sys, &no).await.remove(0);
    // Down past the sign-off deadline, back before the feedback one.
    until_past(&a.sign_deadline).await;
    sys.restart("supervision").await.unwrap();
    let (u, c) = eventually(
        Duration::from_secs(20),
        "the sign-off case and the feedback urge",
        || async {
            let u = urges(&sys, &no).await;
            let c = cases(&sys, &no).await;
            (of_stage(&c, Stage::SignOff, |x| x.stage) == 1
                && of_stage(&u, Stage::Feedback, |x| x.stage) == 1)
                .then_some((u, c))
        },
    )
    .await;
    // The sign-off urge fell due before its expiry: handled by now, and
    // too late to urge.
    assert_eq!(of_stage(&u, Stage::SignOff, |x| x.stage), 0, "{u:?}");
    let urge = u
        .iter()
        .find(|x| x.stage == Stage::Feedback as i32)
        .unwrap();
    assert!(time(&urge.issued_at) < time(&a.feedback_deadline));
    assert_eq!(of_stage(&c, Stage::Feedback, |x| x.stage), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_event_is_dead_lettered_and_holds_up_no_one() {
    use hotline_proto::common::v1::DeadlineEventKind;
    use prost::Message;
    let sys = fast_system().await;
    let mut dead = DeadQueue::open(&sys).await.expect("dead-letter queue");
    let mut req = emergency("bad-events");
    // Basic livelihood: feedback in 20 s, urged at 10 s.
    req.tier = UrgencyTier::BasicLivelihood as i32;
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let a = assignments(&sys, &no).await.remove(0);
    let good = event_for(&a, Stage::Feedback, DeadlineEventKind::DueSoon, "due_soon");
    let bad = |name: &str, change: &dyn Fn(&mut hotline_proto::common::v1::DeadlineEvent)| {
        let mut e = good.clone();
        e.event_id = format!("{}-{name}", good.event_id);
        change(&mut e);
        (e.event_id.clone(), e.encode_to_vec())
    };
    let mut messages = vec![
        bad("no-fire-at", &|e| e.fire_at = None),
        bad("stage-99", &|e| e.stage = 99),
        bad("no-ticket", &|e| e.ticket_no.clear()),
        bad("kind-9", &|e| e.kind = 9),
        ("garbage".to_string(), b"\xff\xffnot protobuf".to_vec()),
    ];
    let expected = [
        "fire_at: required",
        "stage: unknown stage 99",
        "ticket_no: required",
        "kind: unknown kind 9",
        "message: not a hotline.common.v1.DeadlineEvent",
    ];
    let bad_ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();
    // The bad ones first, then the good one, in one batch or several.
    messages.push((good.event_id.clone(), good.encode_to_vec()));
    hotline_tests::publish_raw(&sys, &messages)
        .await
        .expect("published");
    let urged = eventually(Duration::from_secs(20), "the good event's urge", || async {
        let u = urges(&sys, &no).await;
        (of_stage(&u, Stage::Feedback, |x| x.stage) > 0).then_some(u)
    })
    .await;
    let urge = urged
        .iter()
        .find(|u| u.stage == Stage::Feedback as i32)
        .unwrap();
    assert_eq!(urge.unit_id, a.unit_id);
    // Acted on at once, not when the clock's own timer fell due (10 s).
    assert!(
        time(&urge.issued_at) < time(&a.dispatched_at) + chrono::Duration::seconds(10),
        "{urge:?}"
    );
    // Each bad one is in the dead-letter queue, saying what is wrong.
    for (id, reason) in bad_ids.iter().zip(expected) {
        let d = dead.wait_for(id, Duration::from_secs(20)).await;
        let got = d.reason.unwrap_or_default();
        assert!(got.starts_with(reason), "{id}: {got:?}");
    }
    let feedback_urges = of_stage(&urges(&sys, &no).await, Stage::Feedback, |x| x.stage);
    assert_eq!(feedback_urges, 1, "the bad ones did nothing");
    dead.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_down_holds_up_no_one_elses_events() {
    use hotline_proto::common::v1::{DeadlineEvent, DeadlineEventKind};
    let mut sys = fast_system().await;
    let no = submit(&sys, "owner-down").await;
    assignments(&sys, &no).await;
    sys.kill("dispatch");
    // An event only dispatch can speak for, while dispatch is down.
    let clock_id = format!("{no}/manual_dispatch/hotline-centre");
    let past = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 1,
        nanos: 0,
    };
    let event = DeadlineEvent {
        event_id: format!("{clock_id}#1#expired"),
        kind: DeadlineEventKind::Expired as i32,
        clock_id,
        clock_version: 1,
        ticket_no: no.clone(),
        stage: Stage::ManualDispatch as i32,
        unit_id: "hotline-centre".into(),
        deadline: Some(past),
        fire_at: Some(past),
    };
    hotline_tests::publish_events(&sys, &[event]).await.unwrap();
    // The unit's sign-off and feedback urges and cases still come.
    urged_and_supervised(&sys, &no, "the unit's urges and cases").await;
    let mut db = sys.db("supervision").await.unwrap();
    let parked: Vec<String> = sqlx::query_scalar("SELECT owner FROM parked_events")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(parked, ["dispatch"], "the event waits in the park");
    // Once dispatch answers again the event is handled and leaves the park.
    sys.restart("dispatch").await.unwrap();
    eventually(Duration::from_secs(20), "the park emptied", || {
        let db = sys.db("supervision");
        async move {
            let mut db = db.await.ok()?;
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM parked_events")
                .fetch_one(&mut db)
                .await
                .ok()?;
            (n == 0).then_some(())
        }
    })
    .await;
    assert_eq!(
        cases(&sys, &no).await.len(),
        2,
        "an unknown clock opens nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_twice_acts_once() {
    use hotline_proto::common::v1::{DeadlineEvent, DeadlineEventKind};
    let sys = fast_system().await;
    let no = submit(&sys, "duplicated").await;
    let a = assignments(&sys, &no).await.remove(0);
    eventually(Duration::from_secs(20), "the sign-off case", || {
        let sys = &sys;
        let no = no.clone();
        async move { (of_stage(&cases(sys, &no).await, Stage::SignOff, |c| c.stage) == 1).then_some(()) }
    })
    .await;
    // The same events again, three times each, as a redelivery would.
    let clock_id = format!("{no}/sign_off/{}", a.unit_id);
    let event = |kind: DeadlineEventKind, name: &str, fire_at| DeadlineEvent {
        event_id: format!("{clock_id}#1#{name}"),
        kind: kind as i32,
        clock_id: clock_id.clone(),
        clock_version: 1,
        ticket_no: no.clone(),
        stage: Stage::SignOff as i32,
        unit_id: a.unit_id.clone(),
        deadline: a.sign_deadline,
        fire_at,
    };
    let due = event(DeadlineEventKind::DueSoon, "due_soon", a.dispatched_at);
    let expired = event(DeadlineEventKind::Expired, "expired", a.sign_deadline);
    let copies: Vec<DeadlineEvent> = (0..3)
        .flat_map(|_| [due.clone(), expired.clone()])
        .collect();
    hotline_tests::publish_events(&sys, &copies)
        .await
        .expect("published");
    let mut dead = DeadQueue::open(&sys).await.expect("dead-letter queue");
    dead.settled(&sys).await;
    assert_eq!(
        of_stage(&urges(&sys, &no).await, Stage::SignOff, |x| x.stage),
        1
    );
    assert_eq!(
        of_stage(&cases(&sys, &no).await, Stage::SignOff, |x| x.stage),
        1
    );
    // A forged early expiry of a running clock does nothing either.
    let fb_clock = format!("{no}/feedback/{}", a.unit_id);
    let mut early = expired.clone();
    early.clock_id = fb_clock.clone();
    early.event_id = format!("{fb_clock}#1#expired");
    early.stage = Stage::Feedback as i32;
    hotline_tests::publish_events(&sys, &[early]).await.unwrap();
    dead.settled(&sys).await;
    dead.close().await;
    let c = cases(&sys, &no).await;
    let fb_cases: Vec<_> = c
        .iter()
        .filter(|c| c.stage == Stage::Feedback as i32)
        .collect();
    assert!(
        fb_cases
            .iter()
            .all(|c| time(&c.opened_at) >= time(&a.feedback_deadline)),
        "{fb_cases:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_of_each_service_never_double() {
    let mut sys = fast_system().await;
    for name in ["intake", "dispatch", "undertaking", "supervision"] {
        sys.add_replica(name).await.expect("replica starts");
    }
    let mut tickets = Vec::new();
    for i in 0..10 {
        // Basic livelihood (urged at 5 s and 10 s, expiring at 10 s and
        // 20 s): time enough for eight processes on a loaded machine to
        // urge before the deadlines.
        let mut req = emergency(&format!("replicas-{i}"));
        req.tier = UrgencyTier::BasicLivelihood as i32;
        let no = sys
            .intake()
            .await
            .submit(req)
            .await
            .expect("submit")
            .into_inner()
            .ticket_no;
        tickets.push(no);
    }
    for no in &tickets {
        assignments(&sys, no).await;
    }
    eventually(Duration::from_secs(60), "every urge and case", || {
        let sys = &sys;
        let tickets = tickets.clone();
        async move {
            for no in &tickets {
                if urges(sys, no).await.len() < 2 || cases(sys, no).await.len() < 2 {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    // Every timer fired and is gone…
    let mut db = sys.db("undertaking").await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM clock_timers")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // …and, with both supervision consumers stopped, no event waits to be
    // handled: what is recorded now is all there will be.
    sys.terminate("supervision");
    assert_eq!(sys.terminate_replicas("supervision"), 1);
    let waiting = hotline_tests::deadline_queue_depth(&sys).await.unwrap();
    assert_eq!(waiting, 0, "events left in the queue");
    let mut db = sys.db("supervision").await.unwrap();
    for no in &tickets {
        for table in ["urges", "cases"] {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} WHERE ticket_no = $1"
            )))
            .bind(no)
            .fetch_one(&mut db)
            .await
            .unwrap();
            assert_eq!(n, 2, "{table} of {no}");
        }
    }
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
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("reason"));
    intake
        .set_surge_mode(SetSurgeModeRequest {
            on: true,
            reason: "寒潮供暖集中来电".into(),
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
