//! A unit's stream of events (WatchUnitEvents): assignments, co-units'
//! parts, decided returns, urges and cases arrive as they happen; a client
//! that reconnects with its last cursor gets exactly what it missed, in
//! order; other units, garbled, foreign and expired cursors and watchers
//! beyond the limit are refused; the stream ends cleanly at shutdown.

use std::time::Duration;

use hotline_proto::common::v1::{AssignmentRole, Stage};
use hotline_proto::undertaking::v1::watch_unit_events_response::Event;
use hotline_proto::undertaking::v1::{
    RejectReturnRequest, ReturnAssignmentRequest, ReturnReason, WatchUnitEventsRequest,
    WatchUnitEventsResponse,
};
use hotline_tests::supervision::{emergency, fast_system};
use hotline_tests::{Options, System, assignments_of, heating_request, submit_co_parts};
use tonic::{Code, Streaming};

const LEAD: &str = "bj-heating-group";
const CO: &str = "bj-cmc";

async fn open(
    sys: &System,
    unit: &str,
    after_cursor: &str,
) -> Result<Streaming<WatchUnitEventsResponse>, tonic::Status> {
    sys.undertaking_as(unit)
        .await
        .watch_unit_events(WatchUnitEventsRequest {
            unit_id: unit.into(),
            after_cursor: after_cursor.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The next message, whatever it is, within `patience`.
async fn next(
    s: &mut Streaming<WatchUnitEventsResponse>,
    patience: Duration,
) -> WatchUnitEventsResponse {
    tokio::time::timeout(patience, s.message())
        .await
        .expect("a message in time")
        .expect("the stream is healthy")
        .expect("the stream goes on")
}

/// The next event that is not a heartbeat.
async fn next_event(s: &mut Streaming<WatchUnitEventsResponse>) -> WatchUnitEventsResponse {
    loop {
        let m = next(s, Duration::from_secs(30)).await;
        if !matches!(m.event, Some(Event::Heartbeat(_))) {
            return m;
        }
    }
}

/// Opens a unit's stream from now: the first message is a heartbeat
/// carrying the current cursor.
async fn open_now(sys: &System, unit: &str) -> (Streaming<WatchUnitEventsResponse>, String) {
    let mut s = open(sys, unit, "").await.expect("watch opens");
    let first = next(&mut s, Duration::from_secs(10)).await;
    assert!(
        matches!(first.event, Some(Event::Heartbeat(_))),
        "{first:?}"
    );
    assert!(!first.cursor.is_empty());
    (s, first.cursor)
}

fn created(m: &WatchUnitEventsResponse) -> Option<&hotline_proto::undertaking::v1::Assignment> {
    match &m.event {
        Some(Event::AssignmentCreated(a)) => Some(a),
        _ => None,
    }
}

async fn submit_heating(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_sees_its_work_arrive_and_resumes_exactly_where_it_left() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let (mut lead, _) = open_now(&sys, LEAD).await;
    let (mut co, _) = open_now(&sys, CO).await;

    // A ticket submitted through intake and routed: each unit hears of its
    // own assignment.
    let t1 = submit_heating(&sys, "watch-1").await;
    let m = next_event(&mut lead).await;
    let a = created(&m).expect("an assignment event");
    assert_eq!(
        (a.ticket_no.as_str(), a.unit_id.as_str()),
        (t1.as_str(), LEAD)
    );
    assert_eq!(a.role, AssignmentRole::Lead as i32);
    assert_eq!(m.ticket_no, t1);
    assert!(m.occurred_at.is_some());
    let lead_assignment = a.assignment_id.clone();
    let m = next_event(&mut co).await;
    let c = created(&m).expect("the co-unit's assignment event");
    assert_eq!(
        (c.unit_id.as_str(), c.role),
        (CO, AssignmentRole::Co as i32)
    );

    // The co-unit submits its part: the lead hears of it.
    submit_co_parts(&sys, &t1).await;
    let answered = std::time::Instant::now();
    let m = next_event(&mut lead).await;
    eprintln!(
        "part event {} ms after SubmitPart answered",
        answered.elapsed().as_secs_f64() * 1e3
    );
    let Some(Event::PartSubmitted(p)) = &m.event else {
        panic!("expected the part, got {m:?}");
    };
    assert_eq!(p.lead_assignment_id, lead_assignment);
    let part = p.part.as_ref().expect("the part");
    assert_eq!(part.unit_id, CO);
    assert!(part.part.contains("已配合核查"), "{}", part.part);
    let last = m.cursor.clone();

    // The lead's system goes away; meanwhile two more tickets come, and
    // the centre rejects the return the lead asked for on one of them.
    drop(lead);
    let t2 = submit_heating(&sys, "watch-2").await;
    let t3 = submit_heating(&sys, "watch-3").await;
    let a2 = assignments_of(&sys, &t2).await;
    assignments_of(&sys, &t3).await;
    let a2_lead = a2.iter().find(|a| a.unit_id == LEAD).expect("lead of t2");
    let ret = sys
        .undertaking_as(LEAD)
        .await
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: a2_lead.assignment_id.clone(),
            unit_id: LEAD.into(),
            reason: ReturnReason::NotOurDuty as i32,
            duty_rule: "职责清单未列".into(),
            note: String::new(),
            ..Default::default()
        })
        .await
        .expect("return")
        .into_inner()
        .assignment_return
        .expect("the return");
    sys.undertaking()
        .await
        .reject_return(RejectReturnRequest {
            return_id: ret.return_id.clone(),
            note: "属于本单位职责，请签收".into(),
            ..Default::default()
        })
        .await
        .expect("the centre rejects the return");

    // Back with the last cursor: exactly what was missed, in order.
    let mut lead = open(&sys, LEAD, &last).await.expect("resume");
    let first = next_event(&mut lead).await;
    let second = next_event(&mut lead).await;
    let mut tickets: Vec<String> = [&first, &second]
        .iter()
        .map(|m| created(m).expect("assignments first").ticket_no.clone())
        .collect();
    tickets.sort();
    let mut want = vec![t2.clone(), t3.clone()];
    want.sort();
    assert_eq!(tickets, want);
    let third = next_event(&mut lead).await;
    let Some(Event::ReturnDecided(r)) = &third.event else {
        panic!("expected the decided return, got {third:?}");
    };
    assert_eq!(r.return_id, ret.return_id);
    assert_eq!(
        r.state,
        hotline_proto::undertaking::v1::ReturnState::Rejected as i32
    );
    // Nothing repeats: the next event is a later ticket's.
    let t4 = submit_heating(&sys, "watch-4").await;
    let fourth = next_event(&mut lead).await;
    assert_eq!(
        created(&fourth).map(|a| a.ticket_no.as_str()),
        Some(t4.as_str())
    );

    // The same cursor again: the same events, in the same order.
    let mut again = open(&sys, LEAD, &last).await.expect("resume again");
    for m in [&first, &second, &third, &fourth] {
        let n = next_event(&mut again).await;
        assert_eq!(n.cursor, m.cursor);
        assert_eq!(n.event, m.event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_units_bad_cursors_expired_cursors_and_too_many_watchers_are_refused() {
    let mut sys = System::start(Options {
        env: vec![
            ("HOTLINE_WATCH_MAX_STREAMS".into(), "2".into()),
            ("HOTLINE_FEED_RETENTION_SECONDS".into(), "3".into()),
            ("HOTLINE_WATCH_HEARTBEAT_SECONDS".into(), "1".into()),
        ],
        ..Default::default()
    })
    .await
    .expect("system starts");

    // Another unit's identity cannot watch this unit.
    let e = sys
        .undertaking_as(CO)
        .await
        .watch_unit_events(WatchUnitEventsRequest {
            unit_id: LEAD.into(),
            after_cursor: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");

    // A garbled cursor, and another unit's, name after_cursor.
    for bad in ["garbled!", "AAAA"] {
        let e = open(&sys, LEAD, bad).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains("after_cursor"), "{}", e.message());
    }
    let (mut s, cursor) = open_now(&sys, CO).await;
    let e = open(&sys, LEAD, &cursor).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("after_cursor"), "{}", e.message());

    // An idle stream hears heartbeats, each with a cursor that resumes.
    let beat = next(&mut s, Duration::from_secs(5)).await;
    assert!(matches!(beat.event, Some(Event::Heartbeat(_))));

    // Two watchers at most: the third is refused until one goes.
    let (second, _) = open_now(&sys, LEAD).await;
    let e = open(&sys, LEAD, "").await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    drop(second);
    drop(s);
    let started = std::time::Instant::now();
    let mut lead = loop {
        match open(&sys, LEAD, "").await {
            Ok(s) => break s,
            Err(e) if e.code() == Code::ResourceExhausted => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "places not freed"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    let start = next(&mut lead, Duration::from_secs(5)).await.cursor;

    // An event, then retention (3 s) deletes it: the cursor before it is
    // refused, naming the oldest cursor, which resumes.
    // (Should another transaction of the server hold the horizon back for
    // longer than the retention, the stream, fallen behind, ends with the
    // same refusal instead: also right.)
    let t = submit_heating(&sys, "expiring").await;
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match lead.message().await {
                Ok(Some(m)) if matches!(m.event, Some(Event::Heartbeat(_))) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the event, or the refusal, in time");
    match outcome {
        Ok(Some(m)) => {
            assert_eq!(created(&m).map(|a| a.ticket_no.as_str()), Some(t.as_str()))
        }
        Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}"),
        Ok(None) => panic!("the stream ended"),
    }
    drop(lead);
    let started = std::time::Instant::now();
    let refusal = loop {
        match open(&sys, LEAD, &start).await {
            Err(e) if e.code() == Code::FailedPrecondition => break e,
            Err(e) if e.code() == Code::ResourceExhausted => {}
            Err(e) => panic!("{e:?}"),
            Ok(s) => drop(s),
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never pruned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let oldest = refusal
        .message()
        .split("the oldest cursor is ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no oldest cursor in {:?}", refusal.message()))
        .to_string();
    let mut resumed = loop {
        match open(&sys, LEAD, &oldest).await {
            Ok(s) => break s,
            Err(e) if e.code() == Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("{e:?}"),
        }
    };

    // Shutdown ends the stream cleanly (OK, no error), and the service
    // stops within its grace.
    let status = sys.terminate("undertaking").expect("undertaking stopped");
    assert!(status.success(), "{status:?}");
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match resumed.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends");
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urges_and_cases_against_the_unit_reach_its_stream() {
    let sys = fast_system().await;
    // Which unit the emergency tickets go to: a first one shows.
    let probe = sys
        .intake()
        .await
        .submit(emergency("watch-probe"))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    let unit = assignments_of(&sys, &probe).await[0].unit_id.clone();
    let (mut s, _) = open_now(&sys, &unit).await;
    let no = sys
        .intake()
        .await
        .submit(emergency("watch-urged"))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    // Its assignment, the sign-off urge (at 1.5 s) and the case (at 3 s),
    // whatever else of the probe ticket comes between.
    let (mut assigned, mut urged, mut opened) = (false, false, false);
    while !(assigned && urged && opened) {
        let m = next_event(&mut s).await;
        if m.ticket_no != no {
            continue;
        }
        match &m.event {
            Some(Event::AssignmentCreated(a)) => {
                assert!(!urged && !opened, "the assignment comes first");
                assigned = a.unit_id == unit;
            }
            Some(Event::UrgeIssued(u)) if u.stage == Stage::SignOff as i32 => {
                assert_eq!(u.unit_id, unit);
                urged = true;
            }
            Some(Event::CaseOpened(c)) if c.stage == Stage::SignOff as i32 => {
                assert_eq!(c.unit_id, unit);
                assert!(urged, "the urge comes before the case");
                opened = true;
            }
            _ => {}
        }
    }
}
