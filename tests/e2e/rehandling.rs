//! Re-handling (重办) through gRPC, on a policy of two handling rounds: a
//! return visit that finds the requester unsatisfied through the unit's
//! fault sends the ticket back to its lead unit in round 2 (a new
//! assignment on its list and its stream, fresh deadlines, the status
//! REOPENED, the first answer kept); the lead signs and answers round 2,
//! which enters the return-visit queue again; the visit of round 2 finds
//! it unsatisfied again and the ticket is not reopened (recorded, on the
//! timeline) but closed (办结), CLOSED in intake and undertaking alike. A
//! satisfied visit and one unsatisfied but not the unit's fault reopen
//! nothing and close their tickets; a visited event redelivered under a new id, and
//! one about a ticket undertaking does not hold, change nothing. What did
//! not happen is shown by a later sentinel, never by waiting.

use std::time::Duration;

use hotline_common::auth::Role;
use hotline_common::events::rules::encode;
use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome, TicketStatus};
use hotline_proto::events::v1::{LifecycleEvent, Source, Visited, lifecycle_event::Fact};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_proto::undertaking::v1::watch_unit_events_response::Event;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentState, ListAssignmentsRequest, ListRehandlingsRequest, Rehandling,
    RehandlingDecision, SignAssignmentRequest, SubmitFeedbackRequest, WatchUnitEventsRequest,
    WatchUnitEventsResponse,
};
use hotline_tests::{
    Authed, Options, System, answer_as_lead, assignments_of, eventually, heating_request,
    lead_answers, listed_status,
};
use tonic::Streaming;

const PATIENCE: Duration = Duration::from_secs(60);
const LEAD: &str = "bj-heating-group";

/// Beijing's limits but emergency ones of an hour or two (nothing expires
/// during a test), every answered ticket visited, two handling rounds.
const POLICY: &str = r#"
name = "test-rehandling"
[return_visits]
visit = "all"
limit = "120s"
retry_after = "1s"
max_attempts = 2
take_lease = "60s"
[rehandling]
max_rounds = 2
"#;

async fn start() -> System {
    System::start(Options {
        policy: Some(hotline_tests::quiet_policy(POLICY)),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

async fn visitor(sys: &System) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(
        sys.channel_with("intake", sys.token(&[Role::ReturnVisit], None))
            .await,
    )
}

/// Submits a request and has its lead unit answer round 1.
async fn answered(sys: &System, key: &str) -> String {
    let no = sys
        .intake()
        .await
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    answer_as_lead(sys, &no, "已协调热力站调整供热参数，室温恢复至20度。").await;
    no
}

/// Waits until the visit of `round` of the ticket is queued.
async fn queued(sys: &System, ticket_no: &str, round: i32) -> ReturnVisit {
    let mut c = visitor(sys).await;
    eventually(PATIENCE, "the round's return visit queued", || {
        let mut c = c.clone();
        async move {
            c.list_return_visits(ListReturnVisitsRequest {
                state: ReturnVisitState::Queued as i32,
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .ok()?
            .into_inner()
            .visits
            .into_iter()
            .find(|v| v.ticket_no == ticket_no && v.round == round)
        }
    })
    .await;
    let taken = c
        .take_return_visit(TakeReturnVisitRequest::default())
        .await
        .expect("take")
        .into_inner()
        .visit
        .expect("a visit due");
    assert_eq!((taken.ticket_no.as_str(), taken.round), (ticket_no, round));
    taken
}

/// Takes the ticket's visit of `round` and records the requester reached
/// with these answers.
async fn visit(
    sys: &System,
    ticket_no: &str,
    round: i32,
    resolution: Resolution,
    satisfaction: SatisfactionLevel,
    unit_at_fault: bool,
) -> ReturnVisit {
    let v = queued(sys, ticket_no, round).await;
    visitor(sys)
        .await
        .record_visit_attempt(RecordVisitAttemptRequest {
            visit_id: v.visit_id.clone(),
            result: VisitAttemptResult::Reached as i32,
            unit_contacted: true,
            resolution: resolution as i32,
            satisfaction: satisfaction as i32,
            unit_at_fault,
            comment: "暖气还是不热".into(),
            idempotency_key: String::new(),
        })
        .await
        .expect("attempt recorded")
        .into_inner()
        .visit
        .expect("the visit")
}

async fn rehandlings(sys: &System, ticket_no: &str) -> Vec<Rehandling> {
    sys.undertaking()
        .await
        .list_rehandlings(ListRehandlingsRequest {
            ticket_no: ticket_no.into(),
            ..Default::default()
        })
        .await
        .expect("list rehandlings")
        .into_inner()
        .rehandlings
}

/// Waits until undertaking decided on `n` visits of the ticket.
async fn decided(sys: &System, ticket_no: &str, n: usize) -> Vec<Rehandling> {
    eventually(PATIENCE, "undertaking's decision on the visit", || async {
        let all = rehandlings(sys, ticket_no).await;
        (all.len() >= n).then_some(all)
    })
    .await
}

async fn status(sys: &System, ticket_no: &str) -> i32 {
    hotline_tests::ticket_status(sys, ticket_no).await as i32
}

/// Waits until intake closed the ticket (办结).
async fn closed(sys: &System, ticket_no: &str) {
    eventually(PATIENCE, "the ticket closed", || async {
        (status(sys, ticket_no).await == TicketStatus::Closed as i32).then_some(())
    })
    .await;
}

fn leads(all: &[Assignment]) -> Vec<&Assignment> {
    all.iter()
        .filter(|a| a.role == AssignmentRole::Lead as i32)
        .collect()
}

/// The next event on a unit's stream that is not a heartbeat.
async fn next_event(s: &mut Streaming<WatchUnitEventsResponse>) -> Event {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(30), s.message())
            .await
            .expect("a message in time")
            .expect("the stream is healthy")
            .expect("the stream goes on");
        match m.event {
            Some(Event::Heartbeat(_)) | None => continue,
            Some(e) => return e,
        }
    }
}

/// How many events undertaking's re-handling consumer has acted on (each
/// in the transaction of its decision).
async fn consumed(sys: &System) -> i64 {
    let mut db = sys.db("undertaking").await.expect("undertaking's schema");
    sqlx::query_scalar("SELECT count(*) FROM consumed_events WHERE consumer = $1")
        .bind(hotline_undertaking::rehandling::CONSUMER)
        .fetch_one(&mut db)
        .await
        .expect("count")
}

/// Publishes a `visited` event as intake would, with a fresh event id.
async fn publish_visited(sys: &System, ticket_no: &str, v: Visited) {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    let e: LifecycleEvent = hotline_common::events::event(
        Source::Intake,
        ticket_no,
        chrono::Utc::now(),
        Fact::Visited(v),
    );
    let conn = hotline_common::bus::connect(&sys.amqp_url(), "test-visited")
        .await
        .expect("broker");
    let ch = conn.create_channel().await.expect("channel");
    hotline_common::events::declare_topology(&ch)
        .await
        .expect("topology");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let props = lapin::BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/x-protobuf".into())
        .with_type("hotline.events.v1.LifecycleEvent".into())
        .with_message_id(e.event_id.as_str().into());
    let confirm = ch
        .basic_publish(
            "hotline.intake.events".into(),
            "intake.visited".into(),
            BasicPublishOptions::default(),
            &encode(&e),
            props,
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(
        matches!(confirm, lapin::Confirmation::Ack(None)),
        "{confirm:?}"
    );
    let _ = conn.close(200, "done".into()).await;
}

fn secs(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().expect("a time").seconds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsatisfied_visit_through_the_units_fault_reopens_until_the_rounds_run_out() {
    let sys = start().await;
    let no = answered(&sys, "rehandle-a").await;
    let first = leads(&assignments_of(&sys, &no).await)[0].clone();
    assert_eq!(
        (first.round, first.state),
        (1, AssignmentState::FedBack as i32)
    );
    assert_eq!(status(&sys, &no).await, TicketStatus::Answered as i32);

    // The lead unit watches its stream from now on.
    let mut stream = sys
        .undertaking_as(LEAD)
        .await
        .watch_unit_events(WatchUnitEventsRequest {
            unit_id: LEAD.into(),
            after_cursor: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();

    // Round 1 visited: resolved, but the requester is unsatisfied, through
    // the unit's fault.
    let v1 = visit(
        &sys,
        &no,
        1,
        Resolution::Resolved,
        SatisfactionLevel::Dissatisfied,
        true,
    )
    .await;
    let reopened = decided(&sys, &no, 1).await;
    assert_eq!(reopened[0].decision, RehandlingDecision::Reopened as i32);
    assert_eq!(reopened[0].visit_id, v1.visit_id);
    assert_eq!((reopened[0].visited_round, reopened[0].new_round), (1, 2));

    // The lead unit has a new assignment of round 2 in the same hop, with
    // deadlines of its tier counted from the reopening; the first answer
    // stays on record.
    let all = assignments_of(&sys, &no).await;
    let l = leads(&all);
    assert_eq!(l.len(), 2, "one lead assignment per round: {all:?}");
    let again = l
        .iter()
        .find(|a| a.round == 2)
        .expect("round 2")
        .to_owned()
        .clone();
    assert_eq!(again.assignment_id, reopened[0].assignment_id);
    assert_eq!((again.unit_id.as_str(), again.hop), (LEAD, first.hop));
    assert_eq!(again.state, AssignmentState::PendingSign as i32);
    let from = secs(&again.dispatched_at);
    assert!(
        from >= secs(&first.fed_back_at),
        "counted from the reopening"
    );
    assert_eq!(
        secs(&again.sign_deadline) - from,
        3600,
        "the tier's sign-off limit"
    );
    assert_eq!(
        secs(&again.feedback_deadline) - from,
        7200,
        "the tier's feedback limit"
    );
    let kept = all
        .iter()
        .find(|a| a.assignment_id == first.assignment_id)
        .expect("kept");
    assert_eq!(kept.state, AssignmentState::FedBack as i32);
    assert!(kept.feedback.is_some(), "the first answer stays");
    assert_eq!(
        all.iter()
            .filter(|a| a.role == AssignmentRole::Co as i32)
            .count(),
        all.len() - 2,
        "co-units are not assigned again"
    );

    // On the unit's list and its stream, as any new assignment.
    let pending = sys
        .undertaking_as(LEAD)
        .await
        .list_assignments(ListAssignmentsRequest {
            unit_id: LEAD.into(),
            state: AssignmentState::PendingSign as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .assignments;
    let listed = pending
        .iter()
        .find(|a| a.assignment_id == again.assignment_id)
        .expect("on the unit's list");
    assert_eq!(
        listed.ticket.as_ref().expect("ticket").status,
        TicketStatus::Reopened as i32
    );
    match next_event(&mut stream).await {
        Event::AssignmentCreated(a) => {
            assert_eq!(
                (a.assignment_id.as_str(), a.round),
                (again.assignment_id.as_str(), 2)
            )
        }
        other => panic!("expected the new assignment, got {other:?}"),
    }
    assert_eq!(status(&sys, &no).await, TicketStatus::Reopened as i32);

    // The old round's assignment acts no more.
    let mut unit = sys.undertaking_as(LEAD).await;
    let e = unit
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: first.assignment_id.clone(),
            unit_id: LEAD.into(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Resolved as i32,
                summary: "再答一次".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{}", e.message());
    assert_eq!(
        tonic_types::StatusExt::get_details_error_info(&e).map(|i| i.reason),
        Some("ROUND_SUPERSEDED".to_string()),
        "{}",
        e.message()
    );

    // The lead signs and answers round 2.
    unit.sign_assignment(SignAssignmentRequest {
        assignment_id: again.assignment_id.clone(),
        unit_id: LEAD.into(),
        ..Default::default()
    })
    .await
    .expect("signs round 2");
    assert_eq!(status(&sys, &no).await, TicketStatus::Reopened as i32);
    lead_answers(&sys, &again, "更换了楼栋换热器阀门，室温22度。").await;
    assert_eq!(status(&sys, &no).await, TicketStatus::Answered as i32);

    // A redelivery of round 1's visit (a new event id, the same visit)
    // changes nothing.
    publish_visited(
        &sys,
        &no,
        Visited {
            visit_id: v1.visit_id.clone(),
            outcome: VisitOutcome::Reached as i32,
            resolved: Resolution::Resolved as i32,
            satisfaction: SatisfactionLevel::Dissatisfied as i32,
            unit_at_fault: true,
            unit_id: LEAD.into(),
            hop: first.hop,
            round: 1,
            ..Default::default()
        },
    )
    .await;

    // Round 2 enters the return-visit queue; its visit finds the
    // requester unsatisfied again: the policy's two rounds are used up.
    let v2 = visit(
        &sys,
        &no,
        2,
        Resolution::Unresolved,
        SatisfactionLevel::VeryDissatisfied,
        true,
    )
    .await;
    let all = decided(&sys, &no, 2).await;
    assert_eq!(all.len(), 2, "the redelivery decided nothing: {all:?}");
    let last = &all[1];
    assert_eq!(last.visit_id, v2.visit_id);
    assert_eq!(last.decision, RehandlingDecision::LimitReached as i32);
    assert_eq!(
        (last.visited_round, last.max_rounds, last.new_round),
        (2, 2, 0)
    );
    assert!(last.assignment_id.is_empty());
    let after = assignments_of(&sys, &no).await;
    assert_eq!(leads(&after).len(), 2, "no round 3");
    // Nobody handles it again: intake closes it (办结) on round 2's answer,
    // and undertaking's views show it closed too.
    closed(&sys, &no).await;
    eventually(PATIENCE, "undertaking shows it closed", || async {
        (listed_status(&sys, LEAD, &no).await == [TicketStatus::Closed, TicketStatus::Closed])
            .then_some(())
    })
    .await;

    // The timeline shows both decisions and the latest answer.
    let tl = sys
        .intake()
        .await
        .get_timeline(GetTimelineRequest {
            ticket_no: no.clone(),
        })
        .await
        .expect("timeline")
        .into_inner();
    let kinds: Vec<i32> = tl.entries.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&(TimelineEventKind::Reopened as i32)),
        "{kinds:?}"
    );
    let not = tl
        .entries
        .iter()
        .find(|e| e.kind == TimelineEventKind::NotReopened as i32)
        .expect("the refusal on the timeline");
    assert!(not.detail.contains("limit_reached"), "{}", not.detail);
    let last = tl.entries.last().expect("entries");
    assert_eq!(
        (last.kind, last.detail.clone()),
        (
            TimelineEventKind::Closed as i32,
            format!("not_reopened: hop {} round 2", first.hop)
        )
    );
    assert_eq!(
        tl.feedback.expect("answered").summary,
        "更换了楼栋换热器阀门，室温22度。"
    );
    // Four events consumed (one at a time, in queue order): round 1's
    // visit, its redelivery, round 2's visit, the closing.
    eventually(PATIENCE, "the four events consumed", || async {
        (consumed(&sys).await == 4).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_that_do_not_call_for_handling_again_reopen_nothing() {
    let sys = start().await;
    // One ticket at a time: each visit is then the only one due.
    let satisfied = answered(&sys, "rehandle-satisfied").await;
    visit(
        &sys,
        &satisfied,
        1,
        Resolution::Resolved,
        SatisfactionLevel::Satisfied,
        false,
    )
    .await;
    let not_at_fault = answered(&sys, "rehandle-not-at-fault").await;
    visit(
        &sys,
        &not_at_fault,
        1,
        Resolution::Unresolved,
        SatisfactionLevel::Dissatisfied,
        false,
    )
    .await;
    // A visited event about a ticket undertaking does not hold.
    publish_visited(
        &sys,
        "BJ999999999999",
        Visited {
            visit_id: uuid::Uuid::now_v7().to_string(),
            outcome: VisitOutcome::Reached as i32,
            resolved: Resolution::Unresolved as i32,
            satisfaction: SatisfactionLevel::VeryDissatisfied as i32,
            unit_at_fault: true,
            unit_id: LEAD.into(),
            hop: 1,
            round: 1,
            ..Default::default()
        },
    )
    .await;
    // The sentinel: unsatisfied through the unit's fault, reopened.
    let sentinel = answered(&sys, "rehandle-sentinel").await;
    visit(
        &sys,
        &sentinel,
        1,
        Resolution::Partly,
        SatisfactionLevel::Dissatisfied,
        true,
    )
    .await;
    let d = decided(&sys, &sentinel, 1).await;
    assert_eq!(d[0].decision, RehandlingDecision::Reopened as i32);
    // Every event before the sentinel's was consumed too (four visited,
    // two closings)...
    eventually(PATIENCE, "the six events consumed", || async {
        (consumed(&sys).await == 6).then_some(())
    })
    .await;
    // ...and none of them reopened anything or recorded a decision: both
    // tickets are closed on their visits.
    for no in [&satisfied, &not_at_fault] {
        assert!(rehandlings(&sys, no).await.is_empty(), "{no}");
        let all = assignments_of(&sys, no).await;
        assert_eq!(leads(&all).len(), 1, "{no}: no second round");
        assert_eq!(status(&sys, no).await, TicketStatus::Closed as i32);
        assert_eq!(listed_status(&sys, LEAD, no).await, [TicketStatus::Closed]);
    }
    assert!(rehandlings(&sys, "BJ999999999999").await.is_empty());
    assert_eq!(status(&sys, &sentinel).await, TicketStatus::Reopened as i32);
    // Undertaking is alive and well after the stranger.
    assert!(
        sys.log("undertaking").contains("does not hold"),
        "the unknown ticket is logged"
    );
}
