//! Return visits (回访) through gRPC, on a policy of seconds: answered
//! tickets enter the queue, a requester who refused return visits never
//! does (the decision is recorded); a sampling policy's decisions are the
//! pure function of the seed and the ticket number, stored with both; two
//! visitors taking at once never get the same visit; an unreachable
//! requester is tried again after the retry interval and then reached; the
//! attempts run out; the raw answers are stored; the visit's contact is
//! rated once; only the holder records an attempt; bad input is named; a
//! round left unanswered past its feedback limit is visited back too.

use std::collections::HashSet;
use std::time::Duration;

use hotline_common::auth::Role;
use hotline_intake::visits::rules::in_sample;
use hotline_proto::common::v1::TicketStatus;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_tests::{
    Authed, Options, System, answer_as_lead, eventually, heating_request, reason_of, ticket_status,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

const PATIENCE: Duration = Duration::from_secs(60);

/// Beijing's limits (nothing expires during a test), return visits of
/// seconds: `{visit}` is replaced by the sampling lines (last in
/// `[return_visits]`, so that a rates table may follow).
const POLICY: &str = r#"
name = "test-visits"
[return_visits]
limit = "120s"
retry_after = "1s"
max_attempts = 2
take_lease = "60s"
questions = ["您反映的问题现在解决情况如何？", "您对办理结果的评价是？"]
{visit}
"#;

async fn start(visit: &str) -> System {
    System::start(Options {
        policy: Some(hotline_tests::quiet_policy(POLICY).replace("{visit}", visit)),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

async fn intake_as(
    sys: &System,
    roles: &[Role],
    subject_unit: Option<&str>,
) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(
        sys.channel_with("intake", sys.token(roles, subject_unit))
            .await,
    )
}

async fn visitor(sys: &System) -> IntakeServiceClient<Authed> {
    intake_as(sys, &[Role::ReturnVisit], None).await
}

/// Submits a request (consent as given) and has its lead unit answer.
async fn answered(sys: &System, key: &str, consent: bool) -> String {
    let mut req = heating_request(key);
    req.requester
        .as_mut()
        .expect("requester")
        .return_visit_consent = consent;
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    answer_as_lead(sys, &no, "已协调热力站调整供热参数，室温恢复至20度。").await;
    no
}

async fn visits(sys: &System, state: ReturnVisitState) -> Vec<ReturnVisit> {
    intake_as(sys, &[Role::Auditor], None)
        .await
        .list_return_visits(ListReturnVisitsRequest {
            state: state as i32,
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .expect("list visits")
        .into_inner()
        .visits
}

/// Waits until intake decided on every one of `tickets`.
async fn decided(sys: &System, tickets: &[&str]) -> Vec<ReturnVisit> {
    eventually(PATIENCE, "a decision for every answered ticket", || async {
        let all = visits(sys, ReturnVisitState::Unspecified).await;
        let seen: HashSet<&str> = all.iter().map(|v| v.ticket_no.as_str()).collect();
        tickets
            .iter()
            .all(|t| seen.contains(t))
            .then_some(all.clone())
    })
    .await
}

async fn take(c: &mut IntakeServiceClient<Authed>) -> TakeReturnVisitResponse {
    c.take_return_visit(TakeReturnVisitRequest::default())
        .await
        .expect("take")
        .into_inner()
}

fn attempt(visit_id: &str, result: VisitAttemptResult) -> RecordVisitAttemptRequest {
    RecordVisitAttemptRequest {
        visit_id: visit_id.into(),
        result: result as i32,
        ..Default::default()
    }
}

fn names(e: &Status, fields: &[&str]) {
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    let bad = e.get_details_bad_request().expect("BadRequest");
    let named: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(named, fields, "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_tickets_are_visited_back_once_each_with_their_raw_answers() {
    let sys = start("visit = \"all\"").await;
    let a = answered(&sys, "visits-a", true).await;
    let b = answered(&sys, "visits-b", false).await;
    let c = answered(&sys, "visits-c", true).await;
    let all = decided(&sys, &[&a, &b, &c]).await;
    assert_eq!(all.len(), 3, "one decision per answered round");

    // The one who refused is never queued; the decision is on record.
    let refused = all.iter().find(|v| v.ticket_no == b).expect("b decided");
    assert_eq!(refused.state, ReturnVisitState::NotQueued as i32);
    assert_eq!(
        refused.not_queued_reason,
        NotQueuedReason::ConsentRefused as i32
    );
    assert!(refused.deadline.is_none());
    for v in all.iter().filter(|v| v.ticket_no != b) {
        assert_eq!(v.state, ReturnVisitState::Queued as i32);
        assert!(!v.sampled, "the policy visits all");
        assert!(v.deadline.is_some(), "a visit runs against its own limit");
        assert_eq!(v.round, 1);
        assert!(!v.unit_id.is_empty());
    }

    // Others may not take visits.
    let e = intake_as(&sys, &[Role::Operator], None)
        .await
        .take_return_visit(TakeReturnVisitRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // Two visitors at once get two different visits; a third call none.
    let mut one = visitor(&sys).await;
    let mut two = IntakeServiceClient::new(
        sys.channel_with(
            "intake",
            sys.auth.mint(
                "visitor-2",
                None,
                &[Role::ReturnVisit],
                Duration::from_secs(3600),
            ),
        )
        .await,
    );
    let (t1, t2) = tokio::join!(take(&mut one), take(&mut two));
    let (v1, v2) = (t1.visit.expect("a visit"), t2.visit.expect("a visit"));
    assert_ne!(v1.visit_id, v2.visit_id, "never the same visit twice");
    assert_eq!(
        HashSet::from([v1.ticket_no.as_str(), v2.ticket_no.as_str()]),
        HashSet::from([a.as_str(), c.as_str()])
    );
    assert_eq!(t1.requester_phone, "13800138000", "the contact in full");
    assert_eq!(t1.requester_name, "王女士");
    assert_eq!(t1.questions.len(), 2, "the policy's questions");
    assert_eq!(v1.state, ReturnVisitState::Taken as i32);
    assert!(take(&mut one).await.visit.is_none(), "nothing else is due");

    // Only the holder records; bad input is named.
    let e = two
        .record_visit_attempt(attempt(&v1.visit_id, VisitAttemptResult::Unreachable))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "VISIT_NOT_TAKEN");
    let e = one
        .record_visit_attempt(attempt(&v1.visit_id, VisitAttemptResult::Reached))
        .await
        .unwrap_err();
    names(&e, &["resolution", "satisfaction"]);
    let mut bad = attempt("not-a-visit", VisitAttemptResult::Unspecified);
    bad.comment = "x".repeat(501);
    let e = one.record_visit_attempt(bad).await.unwrap_err();
    names(&e, &["visit_id", "result", "comment"]);

    // Unreachable: back in the queue after the retry interval, then
    // reached, with the raw answers and a RETURN_VISIT contact.
    let r = one
        .record_visit_attempt(attempt(&v1.visit_id, VisitAttemptResult::Unreachable))
        .await
        .expect("unreachable")
        .into_inner();
    let back = r.visit.expect("visit");
    assert_eq!(back.state, ReturnVisitState::Queued as i32);
    assert_eq!(back.attempts, 1);
    assert!(r.contact.is_none());
    let again = eventually(PATIENCE, "the visit due again", || async {
        take(&mut one.clone()).await.visit
    })
    .await;
    assert_eq!(again.visit_id, v1.visit_id);
    let mut reached = attempt(&v1.visit_id, VisitAttemptResult::Reached);
    reached.unit_contacted = true;
    reached.resolution = Resolution::Partly as i32;
    reached.satisfaction = SatisfactionLevel::BasicallySatisfied as i32;
    reached.unit_at_fault = true;
    reached.comment = "暖气好一些了，但晚上还是凉".into();
    let r = one
        .record_visit_attempt(reached.clone())
        .await
        .expect("reached")
        .into_inner();
    let closed = r.visit.expect("visit");
    let contact = r.contact.expect("a contact");
    assert_eq!(closed.state, ReturnVisitState::Closed as i32);
    assert_eq!(closed.outcome, VisitOutcome::Reached as i32);
    assert_eq!(closed.attempts, 2);
    assert_eq!(contact.kind, ContactKind::ReturnVisit as i32);
    assert_eq!(closed.contact_id, contact.contact_id);

    // The raw answers as stored.
    let listed = visits(&sys, ReturnVisitState::Closed).await;
    let stored = listed
        .iter()
        .find(|v| v.visit_id == v1.visit_id)
        .expect("listed closed");
    assert!(stored.unit_contacted && stored.unit_at_fault);
    assert_eq!(stored.resolution, Resolution::Partly as i32);
    assert_eq!(
        stored.satisfaction,
        SatisfactionLevel::BasicallySatisfied as i32
    );
    assert_eq!(stored.comment, "暖气好一些了，但晚上还是凉");
    // That read of the requester's words is on the record (pending until
    // the sealer chains it: either table holds it).
    let mut db = sys.db("intake").await.expect("intake's schema");
    let reads: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM audit_log WHERE action = 'visit_comment.read' \
           AND detail = $1) \
         + (SELECT count(*) FROM audit_pending WHERE action = 'visit_comment.read' AND detail = $1)",
    )
    .bind(format!("visit={}", v1.visit_id))
    .fetch_one(&mut db)
    .await
    .expect("count");
    assert!(reads >= 1, "the comment read is audited");

    // A closed visit takes no more attempts.
    let e = one.record_visit_attempt(reached).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "VISIT_CLOSED");

    // The visit's contact is listed and rated once.
    let contacts = one
        .list_contacts(ListContactsRequest {
            ticket_no: v1.ticket_no.clone(),
        })
        .await
        .expect("contacts")
        .into_inner()
        .contacts;
    assert_eq!(contacts.len(), 2, "the intake contact and the visit's");
    let rate = |key: &str| RateContactRequest {
        ticket_no: v1.ticket_no.clone(),
        contact_id: contact.contact_id.clone(),
        level: SatisfactionLevel::Satisfied as i32,
        comment: String::new(),
        idempotency_key: key.into(),
    };
    one.rate_contact(rate("rate-1")).await.expect("rated");
    let e = one.rate_contact(rate("rate-2")).await.unwrap_err();
    reason_of(&e, Code::AlreadyExists, "CONTACT_ALREADY_RATED");

    // The attempts run out: closed unreachable after the policy's two.
    let r = two
        .record_visit_attempt(attempt(&v2.visit_id, VisitAttemptResult::Unreachable))
        .await
        .expect("unreachable once")
        .into_inner();
    assert_eq!(
        r.visit.expect("visit").state,
        ReturnVisitState::Queued as i32
    );
    let again = eventually(PATIENCE, "the second visit due again", || async {
        take(&mut two.clone()).await.visit
    })
    .await;
    assert_eq!(again.visit_id, v2.visit_id);
    let r = two
        .record_visit_attempt(attempt(&v2.visit_id, VisitAttemptResult::Unreachable))
        .await
        .expect("unreachable twice")
        .into_inner();
    let ended = r.visit.expect("visit");
    assert_eq!(ended.state, ReturnVisitState::Closed as i32);
    assert_eq!(ended.outcome, VisitOutcome::Unreachable as i32);
    assert_eq!(ended.attempts, 2);
    assert!(r.contact.is_none() && ended.contact_id.is_empty());
    assert!(visits(&sys, ReturnVisitState::Queued).await.is_empty());

    // Closed (办结): the refused one with its answer, the unreachable one
    // with its ended visit; the one visited partly resolved through the
    // unit's fault is handled again, not closed.
    let closing = |no: String| {
        let sys = &sys;
        async move {
            let t = sys
                .intake()
                .await
                .get_timeline(GetTimelineRequest { ticket_no: no })
                .await
                .ok()?
                .into_inner();
            t.entries
                .last()
                .filter(|e| e.kind == TimelineEventKind::Closed as i32)
                .map(|e| e.detail.clone())
        }
    };
    for (no, cause) in [(&b, "not_visited"), (&v2.ticket_no, "visited")] {
        let detail = eventually(PATIENCE, "the ticket closed", || closing(no.clone())).await;
        assert_eq!(detail, format!("{cause}: hop 1 round 1"));
        assert_eq!(ticket_status(&sys, no).await, TicketStatus::Closed);
    }
    eventually(PATIENCE, "the unsatisfied one handled again", || async {
        (ticket_status(&sys, &v1.ticket_no).await == TicketStatus::Reopened).then_some(())
    })
    .await;
    assert_eq!(closing(v1.ticket_no.clone()).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_is_the_pure_function_of_seed_and_ticket_number() {
    let seed = "e2e-2026-11";
    let sys = start(&format!(
        "visit = \"sample\"\nseed = \"{seed}\"\n\
         [return_visits.rates]\nemergency = 0.5\nbasic_livelihood = 1.0\ngeneral = 1.0"
    ))
    .await;
    let mut tickets = Vec::new();
    for n in 0..4 {
        tickets.push(answered(&sys, &format!("sample-{n}"), true).await);
    }
    let refs: Vec<&str> = tickets.iter().map(String::as_str).collect();
    let all = decided(&sys, &refs).await;
    for v in &all {
        assert!(v.sampled);
        assert_eq!(v.sample_seed, seed, "the seed is stored with the decision");
        assert_eq!(v.sample_rate, 0.5, "the tier's rate too");
        let expected = in_sample(seed, &v.ticket_no, 0.5);
        let queued = v.state == ReturnVisitState::Queued as i32;
        assert_eq!(queued, expected, "{} redone by an auditor", v.ticket_no);
        if !queued {
            assert_eq!(v.state, ReturnVisitState::NotQueued as i32);
            assert_eq!(v.not_queued_reason, NotQueuedReason::NotSampled as i32);
        }
    }
}

/// A round whose lead lets the feedback limit pass unanswered is visited
/// back all the same (cause OVERDUE, no answer yet), once supervision
/// opened the case; the late answer is then noted on that visit, not
/// visited again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_left_unanswered_past_its_limit_is_visited_back_and_its_late_answer_noted() {
    use hotline_tests::{lead_answers, sign_as_lead, submit_co_parts};

    let policy = hotline_tests::quiet_policy(POLICY)
        .replace("{visit}", "visit = \"all\"")
        .replace("feedback = \"2h\"", "feedback = \"3s\"");
    let sys = System::start(Options {
        policy: Some(policy),
        ..Default::default()
    })
    .await
    .expect("system starts");
    let no = sys
        .intake()
        .await
        .submit(heating_request("visits-overdue"))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    submit_co_parts(&sys, &no).await;
    let lead = sign_as_lead(&sys, &no).await;

    let overdue = decided(&sys, &[&no]).await;
    assert_eq!(overdue.len(), 1, "one visit for the round: {overdue:?}");
    let v = &overdue[0];
    assert_eq!(v.cause, VisitCause::Overdue as i32);
    assert_eq!(v.state, ReturnVisitState::Queued as i32);
    assert_eq!(
        (v.unit_id.as_str(), v.hop, v.round),
        (lead.unit_id.as_str(), 1, 1)
    );
    assert!(v.answered_at.is_none(), "not answered yet");

    lead_answers(&sys, &lead, "已协调热力站调整供热参数。").await;
    let noted = eventually(PATIENCE, "the late answer on the visit", || async {
        let all = visits(&sys, ReturnVisitState::Unspecified).await;
        all.iter()
            .all(|v| v.answered_at.is_some())
            .then_some(all.clone())
    })
    .await;
    assert_eq!(noted.len(), 1, "the late answer is not visited again");
    assert_eq!(noted[0].visit_id, v.visit_id);
    assert_eq!(noted[0].cause, VisitCause::Overdue as i32);

    let mut staff = visitor(&sys).await;
    let taken = take(&mut staff).await.visit.expect("the overdue visit");
    assert_eq!(taken.visit_id, v.visit_id);
}
