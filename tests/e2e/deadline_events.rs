//! How supervision takes deadline events off RabbitMQ, with a policy of
//! seconds: it catches up after an outage (cases, but no urge for a stage
//! already expired), dead-letters an invalid event without holding up the
//! others, parks the events of an owner that does not answer, acts once on
//! a repeated event, and never doubles with replicas.

use std::time::Duration;

use hotline_proto::common::v1::{DeadlineEvent, DeadlineEventKind, Stage};
use hotline_tests::supervision::{
    assignments, basic_livelihood, cases, event_for, fast_system, of_stage, submit, submit_request,
    time, until_past, urged_and_supervised, urges,
};
use hotline_tests::{DeadQueue, eventually};
use prost::Message;

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
    // Basic livelihood: sign-off in 10 s (urged at 5 s), feedback in 20 s
    // (urged at 10 s).
    let no = submit_request(&sys, basic_livelihood("outage-basic")).await;
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
    let sys = fast_system().await;
    let mut dead = DeadQueue::open(&sys).await.expect("dead-letter queue");
    // Basic livelihood: feedback in 20 s, urged at 10 s.
    let no = submit_request(&sys, basic_livelihood("bad-events")).await;
    let a = assignments(&sys, &no).await.remove(0);
    let good = event_for(&a, Stage::Feedback, DeadlineEventKind::DueSoon, "due_soon");
    let bad = |name: &str, change: &dyn Fn(&mut DeadlineEvent)| {
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
        let no = submit_request(&sys, basic_livelihood(&format!("replicas-{i}"))).await;
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
