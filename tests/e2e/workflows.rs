//! Supervision's own workflows, end to end through gRPC with limits of
//! seconds: a special report (专报) drafted, sent back, revised, approved
//! and issued to two units, one giving its written feedback (书面反馈) in
//! time and one late (urged, then supervised, the case closing with the
//! late feedback); a shirking case (推诿扯皮) opened with evidence, listed
//! with the other cases and closed with its result; an on-site division
//! (现场核分) with a unit that never arrives, the ticket re-dispatched as
//! divided. Every wrong role and every wrong state is refused with its
//! reason, and each step reaches the ticket's timeline.

use std::time::Duration;

use chrono::Utc;
use hotline_common::auth::Role;
use hotline_proto::common::v1::{Location, Stage};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::{GetTimelineRequest, TimelineEventKind};
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::supervision::v1::*;
use hotline_proto::undertaking::v1::{
    WatchUnitEventsRequest, WatchUnitEventsResponse, watch_unit_events_response,
};
use hotline_tests::supervision::{emergency, submit_request, ts};
use hotline_tests::{Options, System, assignments_of, eventually, quiet_policy, reason_of};
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(40);

/// Due-soon at half the time left: a report's unit is urged halfway to
/// its date. The tickets' own limits are an hour or more: their clocks
/// stay quiet.
fn policy() -> String {
    quiet_policy(
        "name = \"test-reports\"\n[due_soon]\nremaining_fraction = 0.5\nmax_lead = \"1d\"\n",
    )
}

async fn start() -> System {
    start_on(policy()).await
}

async fn start_on(policy: String) -> System {
    System::start(Options {
        policy: Some(policy),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

/// [`policy`] with emergency sign-off in `limit` (a unit not signing is
/// late), and `more` sections.
fn late_policy(limit: &str, more: &str) -> String {
    let p = policy().replace(
        "[tiers.emergency]\ndispatch = \"1h\"\nsign_off = \"1h\"",
        &format!("{more}\n[tiers.emergency]\ndispatch = \"1h\"\nsign_off = \"{limit}\""),
    );
    assert!(p.contains(&format!("sign_off = \"{limit}\"")), "{p}");
    p
}

/// Two tickets, each held by a district government alone (海淀, 朝阳):
/// (ticket numbers, their units).
async fn two_tickets(sys: &System) -> (Vec<String>, Vec<String>) {
    let mut chaoyang = emergency("report-chaoyang");
    chaoyang.location = Some(Location {
        district_code: "110105".into(),
        street_code: String::new(),
        address: "建国路某小区".into(),
        ..Default::default()
    });
    let mut tickets = Vec::new();
    let mut units = Vec::new();
    for req in [emergency("report-haidian"), chaoyang] {
        let no = submit_request(sys, req).await;
        units.push(assignments_of(sys, &no).await[0].unit_id.clone());
        tickets.push(no);
    }
    assert_ne!(units[0], units[1], "two units");
    (tickets, units)
}

fn asks(units: &[String]) -> Vec<ReportAsk> {
    units
        .iter()
        .map(|u| ReportAsk {
            unit_id: u.clone(),
            asked: format!("{u}：明确小区弃管后的管理责任并书面反馈"),
        })
        .collect()
}

/// Drafts once supervision has heard of the tickets and units (the
/// evaluation's consumer is asynchronous).
async fn draft_when_known(
    sup: &SupervisionServiceClient<hotline_tests::Authed>,
    req: DraftSpecialReportRequest,
) -> SpecialReport {
    eventually(PATIENCE, "the draft, once the tickets are known", || {
        let mut sup = sup.clone();
        let req = req.clone();
        async move {
            match sup.draft_special_report(req).await {
                Ok(r) => r.into_inner().report,
                Err(e) if e.code() == Code::NotFound => None,
                Err(e)
                    if e.code() == Code::InvalidArgument
                        && e.message().contains("unknown to the evaluation") =>
                {
                    None
                }
                Err(e) => panic!("draft: {e:?}"),
            }
        }
    })
    .await
}

/// The report of a call that must succeed.
macro_rules! reported {
    ($call:expr) => {
        $call
            .await
            .expect("call")
            .into_inner()
            .report
            .expect("report")
    };
}

fn recipient<'a>(r: &'a SpecialReport, unit: &str) -> &'a ReportRecipient {
    r.recipients
        .iter()
        .find(|x| x.unit_id == unit)
        .expect("the unit is a recipient")
}

async fn feedback_cases(sys: &System, ticket: &str, unit: &str) -> Vec<SupervisionCase> {
    hotline_tests::supervision::cases(sys, ticket)
        .await
        .into_iter()
        .filter(|c| c.stage == Stage::WrittenFeedback as i32 && c.unit_id == unit)
        .collect()
}

async fn feedback_urges(sys: &System, ticket: &str, unit: &str) -> Vec<Urge> {
    hotline_tests::supervision::urges(sys, ticket)
        .await
        .into_iter()
        .filter(|u| u.stage == Stage::WrittenFeedback as i32 && u.unit_id == unit)
        .collect()
}

/// The steps of `workflow` (as the timeline names it) on a ticket's
/// timeline as `who` sees it, once there are `n`: (step, unit).
async fn steps_on_timeline(
    sys: &System,
    ticket: &str,
    (workflow, roles, unit): (&str, &[Role], Option<&str>),
    n: usize,
) -> Vec<(String, String)> {
    let head = format!("{workflow} ");
    let intake = IntakeServiceClient::new(sys.channel_with("intake", sys.token(roles, unit)).await);
    eventually(PATIENCE, "the workflow's steps on the timeline", || {
        let mut intake = intake.clone();
        let head = head.clone();
        async move {
            let entries = intake
                .get_timeline(GetTimelineRequest {
                    ticket_no: ticket.into(),
                })
                .await
                .expect("timeline")
                .into_inner()
                .entries;
            let steps: Vec<(String, String)> = entries
                .iter()
                .filter(|e| {
                    e.kind == TimelineEventKind::Supervision as i32 && e.detail.starts_with(&head)
                })
                .map(|e| {
                    let step = e.detail.split([' ', ':']).nth(2).unwrap_or("").to_string();
                    (step, e.unit_id.clone())
                })
                .collect();
            (steps.len() >= n).then_some(steps)
        }
    })
    .await
}

/// The next call of a workflow on `unit`'s WatchUnitEvents stream (opened
/// before the call was made), skipping heartbeats and other events.
async fn next_call(
    s: &mut tonic::Streaming<WatchUnitEventsResponse>,
) -> hotline_proto::supervision::v1::WorkflowCall {
    loop {
        let m = tokio::time::timeout(PATIENCE, s.message())
            .await
            .expect("a message in time")
            .expect("the stream is healthy")
            .expect("the stream goes on");
        if let Some(watch_unit_events_response::Event::WorkflowCall(c)) = m.event {
            return c;
        }
    }
}

/// `unit`'s stream from now.
async fn watch(sys: &System, unit: &str) -> tonic::Streaming<WatchUnitEventsResponse> {
    sys.undertaking_as(unit)
        .await
        .watch_unit_events(WatchUnitEventsRequest {
            unit_id: unit.into(),
            after_cursor: String::new(),
        })
        .await
        .expect("watch opens")
        .into_inner()
}

fn written(report_id: &str, key: &str) -> SubmitReportFeedbackRequest {
    SubmitReportFeedbackRequest {
        report_id: report_id.into(),
        measures: "召开协调会，明确由街道牵头、物业服务中心接管".into(),
        result: "已落实临时物业，垃圾清运恢复".into(),
        responsible: "张科长".into(),
        idempotency_key: key.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_special_report_goes_from_draft_to_closed_with_one_unit_late() {
    let sys = start().await;
    let (tickets, units) = two_tickets(&sys).await;
    let (on_time, late) = (units[0].as_str(), units[1].as_str());
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let mut leader = sys.supervision_as(&[Role::Leader], None).await;
    let mut unit_a = sys.supervision_as(&[Role::UnitStaff], Some(on_time)).await;
    let mut unit_b = sys.supervision_as(&[Role::UnitStaff], Some(late)).await;

    // Drafted (far ahead, first: it will be sent back for a nearer date).
    let far = Utc::now() + chrono::Duration::days(30);
    let draft = DraftSpecialReportRequest {
        ticket_nos: tickets.clone(),
        title: "小区弃管，职能空白".into(),
        facts: "两区交界小区无人管理，多次协调未果。".into(),
        asks: asks(&units),
        feedback_due: Some(ts(far)),
        idempotency_key: "draft-1".into(),
        ..Default::default()
    };
    let r = draft_when_known(&sup, draft.clone()).await;
    assert_eq!(r.state, ReportState::Draft as i32);
    assert_eq!(r.recipients.len(), 2);
    assert!(
        r.recipients
            .iter()
            .all(|x| x.state == ReportFeedbackState::NotIssued as i32)
    );
    let id = r.report_id.clone();

    // Bad drafts name their fields; a unit nobody has heard of is refused.
    let mut bad = draft.clone();
    bad.idempotency_key.clear();
    bad.title = "\u{202e}".into();
    bad.asks.push(ReportAsk {
        unit_id: units[0].clone(),
        asked: "again".into(),
    });
    bad.feedback_due = Some(prost_types::Timestamp {
        seconds: 8_000_000_000_000,
        nanos: 0,
    });
    let e = sup.draft_special_report(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    for field in ["title", "asks[2].unit_id", "feedback_due"] {
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    let mut stranger = draft.clone();
    stranger.idempotency_key.clear();
    stranger.asks[0].unit_id = "no-such-unit".into();
    let e = sup.draft_special_report(stranger).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("asks[0].unit_id"), "{}", e.message());

    // Wrong roles, on every step.
    for (who, what) in [(&mut leader, "leader"), (&mut unit_a, "unit")] {
        let e = who.draft_special_report(draft.clone()).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{what} drafts");
        let e = who
            .submit_special_report(SubmitSpecialReportRequest {
                report_id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{what} submits");
    }
    for who in [&mut sup, &mut unit_a] {
        let e = who
            .decide_special_report(DecideSpecialReportRequest {
                report_id: id.clone(),
                approve: true,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
    }

    // A draft is not the units' to see, nor to answer.
    let e = unit_a
        .get_special_report(GetSpecialReportRequest {
            report_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    let listed = unit_a
        .list_special_reports(ListSpecialReportsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert!(listed.is_empty(), "a unit lists no draft: {listed:?}");

    // A leader cannot decide a draft; the supervisor submits it.
    let e = leader
        .decide_special_report(DecideSpecialReportRequest {
            report_id: id.clone(),
            approve: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "REPORT_NOT_SUBMITTED");
    let submit = SubmitSpecialReportRequest {
        report_id: id.clone(),
        idempotency_key: "submit-1".into(),
    };
    let r = sup
        .submit_special_report(submit.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.report.unwrap().state, ReportState::Submitted as i32);
    // The same call again (a lost reply) answers the same; a new one is a
    // real conflict.
    let again = sup
        .submit_special_report(submit)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.report.unwrap().state, ReportState::Submitted as i32);
    let e = sup
        .submit_special_report(SubmitSpecialReportRequest {
            report_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "REPORT_NOT_DRAFT");
    assert_eq!(meta.get("state").map(String::as_str), Some("submitted"));
    let mut revise = draft.clone();
    revise.report_id = id.clone();
    revise.idempotency_key = "revise-early".into();
    let e = sup.draft_special_report(revise).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "REPORT_NOT_EDITABLE");

    // Sent back: a note is required.
    let e = leader
        .decide_special_report(DecideSpecialReportRequest {
            report_id: id.clone(),
            approve: false,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("note"), "{}", e.message());
    let r = reported!(leader.decide_special_report(DecideSpecialReportRequest {
        report_id: id.clone(),
        approve: false,
        note: "反馈期限过长，请改为近期".into(),
        idempotency_key: "back-1".into(),
    }));
    assert_eq!(r.state, ReportState::SentBack as i32);
    assert_eq!(r.sent_back, 1);
    assert_eq!(r.decision_note, "反馈期限过长，请改为近期");

    // Revised with a near date, submitted again, approved: issued.
    let due = Utc::now() + chrono::Duration::seconds(14);
    let mut revise = draft.clone();
    revise.report_id = id.clone();
    revise.feedback_due = Some(ts(due));
    revise.idempotency_key = "revise-1".into();
    let r = sup.draft_special_report(revise).await.unwrap().into_inner();
    assert_eq!(r.report.unwrap().state, ReportState::Draft as i32);
    sup.submit_special_report(SubmitSpecialReportRequest {
        report_id: id.clone(),
        idempotency_key: "submit-2".into(),
    })
    .await
    .unwrap();
    // The late unit's system watches its stream: the issued report calls
    // on it there, with its date.
    let mut stream = watch(&sys, late).await;
    let r = reported!(leader.decide_special_report(DecideSpecialReportRequest {
        report_id: id.clone(),
        approve: true,
        idempotency_key: "approve-1".into(),
        ..Default::default()
    }));
    assert_eq!(r.state, ReportState::Issued as i32);
    assert!(r.issued_at.is_some());
    let called = next_call(&mut stream).await;
    assert_eq!(
        (
            called.workflow.as_str(),
            called.step.as_str(),
            called.ref_id.as_str()
        ),
        ("special_report", "issued", id.as_str())
    );
    assert_eq!(called.unit_id, late);
    assert_eq!(called.ticket_no, tickets[0]);
    assert!(called.due.is_some());
    assert!(
        r.recipients
            .iter()
            .all(|x| x.state == ReportFeedbackState::Awaited as i32)
    );

    // Each unit now sees it; the supervisor cannot give a unit's feedback.
    for u in [&mut unit_a, &mut unit_b] {
        let got = u
            .get_special_report(GetSpecialReportRequest {
                report_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        assert_eq!(got.report_id, id);
        let listed = u
            .list_special_reports(ListSpecialReportsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .reports;
        assert_eq!(listed.len(), 1);
    }
    let e = sup
        .submit_report_feedback(written(&id, ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Feedback must say the measures, the result and who is responsible.
    let mut empty = written(&id, "");
    empty.responsible.clear();
    empty.measures = "\0".into();
    let e = unit_a.submit_report_feedback(empty).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    for field in ["measures", "responsible"] {
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }

    // The first unit answers in time.
    let r = unit_a
        .submit_report_feedback(written(&id, "fb-a"))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let a = recipient(&r, on_time);
    assert_eq!(a.state, ReportFeedbackState::Submitted as i32);
    assert!(!a.late);
    let e = unit_a
        .submit_report_feedback(written(&id, "fb-a-again"))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "REPORT_FEEDBACK_NOT_AWAITED");

    // The second does not: urged halfway, supervised at the date.
    let first = tickets[0].as_str();
    eventually(PATIENCE, "the late unit's urge", || async {
        (feedback_urges(&sys, first, late).await.len() == 1).then_some(())
    })
    .await;
    let case = eventually(PATIENCE, "the late unit's case", || async {
        feedback_cases(&sys, first, late).await.pop()
    })
    .await;
    assert_eq!(case.state, CaseState::Open as i32);
    assert_eq!(case.kind, CaseKind::Deadline as i32);
    let at = hotline_tests::supervision::time(&case.deadline);
    assert!((at - due).num_milliseconds().abs() < 1, "{at} is {due}");
    // A deadline case closes with its stage, not by hand.
    let e = sup
        .close_case(CloseCaseRequest {
            case_id: case.case_id.clone(),
            result: "not this way".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "CASE_CLOSES_WITH_ITS_STAGE");
    // The unit sees its own case.
    let own = unit_b
        .list_cases(ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(own.iter().any(|c| c.case_id == case.case_id));

    // Late feedback is marked late and closes the case.
    let r = unit_b
        .submit_report_feedback(written(&id, "fb-b"))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(recipient(&r, late).late);
    eventually(PATIENCE, "the late unit's case closed", || async {
        feedback_cases(&sys, first, late)
            .await
            .iter()
            .all(|c| c.state == CaseState::Closed as i32)
            .then_some(())
    })
    .await;
    // That closing came from an event fired after every timer of the
    // report's date: the unit that answered in time was never urged nor
    // supervised.
    assert!(feedback_urges(&sys, first, on_time).await.is_empty());
    assert!(feedback_cases(&sys, first, on_time).await.is_empty());

    // The supervisor sends the late unit's feedback back with a new date,
    // accepts the other; the unit answers again; all accepted: closed.
    let e = sup
        .decide_report_feedback(DecideReportFeedbackRequest {
            report_id: id.clone(),
            unit_id: late.into(),
            accept: false,
            note: "请补充责任分工".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("new_feedback_due"), "{}", e.message());
    let r = reported!(sup.decide_report_feedback(DecideReportFeedbackRequest {
        report_id: id.clone(),
        unit_id: late.into(),
        accept: false,
        note: "请补充责任分工".into(),
        new_feedback_due: Some(ts(Utc::now() + chrono::Duration::hours(1))),
        idempotency_key: "back-b".into(),
    }));
    let b = recipient(&r, late);
    assert_eq!(b.state, ReportFeedbackState::SentBack as i32);
    assert_eq!(b.sent_back, 1);
    let r = reported!(sup.decide_report_feedback(DecideReportFeedbackRequest {
        report_id: id.clone(),
        unit_id: on_time.into(),
        accept: true,
        idempotency_key: "accept-a".into(),
        ..Default::default()
    }));
    assert_eq!(
        r.state,
        ReportState::Issued as i32,
        "one unit still owes it"
    );
    let e = sup
        .decide_report_feedback(DecideReportFeedbackRequest {
            report_id: id.clone(),
            unit_id: late.into(),
            accept: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(
        &e,
        Code::FailedPrecondition,
        "REPORT_FEEDBACK_NOT_SUBMITTED",
    );
    unit_b
        .submit_report_feedback(written(&id, "fb-b-2"))
        .await
        .unwrap();
    let r = reported!(sup.decide_report_feedback(DecideReportFeedbackRequest {
        report_id: id.clone(),
        unit_id: late.into(),
        accept: true,
        idempotency_key: "accept-b".into(),
        ..Default::default()
    }));
    assert_eq!(r.state, ReportState::Closed as i32);
    assert!(r.closed_at.is_some());

    // Listed by state and by ticket; each step is on the tickets' trail.
    let closed = sup
        .list_special_reports(ListSpecialReportsRequest {
            state: ReportState::Closed as i32,
            ticket_no: tickets[1].clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(closed.len(), 1);
    let e = unit_a
        .list_special_reports(ListSpecialReportsRequest {
            unit_id: late.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // The steps that reached the units are on both tickets' timelines, in
    // order; a unit's staff see their own unit's and the report's.
    let centre = steps_on_timeline(
        &sys,
        &tickets[1],
        ("special_report", &[Role::Supervisor], None),
        8,
    )
    .await;
    let names: Vec<&str> = centre.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "issued",
            "feedback_submitted",
            "feedback_submitted",
            "feedback_sent_back",
            "feedback_accepted",
            "feedback_submitted",
            "feedback_accepted",
            "closed"
        ]
    );
    assert_eq!(
        centre[2].1, late,
        "the second submission is the late unit's"
    );
    let own = steps_on_timeline(
        &sys,
        first,
        ("special_report", &[Role::UnitStaff], Some(on_time)),
        4,
    )
    .await;
    assert!(
        own.iter().all(|(_, u)| u.is_empty() || u == on_time),
        "{own:?}"
    );
    let trail = sys.audit_actions("supervision", first).await;
    for action in [
        "report.drafted",
        "report.submitted",
        "report.sent_back",
        "report.revised",
        "report.issued",
        "report.feedback_submitted",
        "report.feedback_sent_back",
        "report.feedback_accepted",
        "report.closed",
    ] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shirking_case_is_opened_with_evidence_listed_and_closed() {
    let sys = start().await;
    let (tickets, units) = two_tickets(&sys).await;
    let (ticket, unit) = (tickets[0].as_str(), units[0].as_str());
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let mut staff = sys.supervision_as(&[Role::UnitStaff], Some(unit)).await;
    let open = OpenShirkingCaseRequest {
        ticket_no: ticket.into(),
        unit_id: unit.into(),
        evidence: vec![
            Evidence {
                kind: EvidenceKind::RepeatedReturns as i32,
                detail: "三次退单，理由均为非本单位职责".into(),
            },
            Evidence {
                kind: EvidenceKind::AnswerDisputed as i32,
                detail: "回访中诉求人表示问题未解决".into(),
            },
        ],
        idempotency_key: "shirk-1".into(),
    };
    let e = staff.open_shirking_case(open.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut bad = open.clone();
    bad.idempotency_key.clear();
    bad.evidence[1].kind = 99;
    let e = sup.open_shirking_case(bad).await.unwrap_err();
    assert!(e.message().contains("evidence[1].kind"), "{}", e.message());
    // The other ticket's unit never held this one.
    let mut stranger = open.clone();
    stranger.idempotency_key.clear();
    stranger.unit_id = units[1].clone();
    let c = eventually(PATIENCE, "the case, once the ticket is known", || {
        let mut sup = sup.clone();
        let open = open.clone();
        async move {
            match sup.open_shirking_case(open).await {
                Ok(r) => r.into_inner().case,
                Err(e) if e.code() == Code::NotFound => None,
                Err(e) => panic!("open: {e:?}"),
            }
        }
    })
    .await;
    let e = sup.open_shirking_case(stranger).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    assert_eq!(c.kind, CaseKind::Shirking as i32);
    assert_eq!(c.state, CaseState::Open as i32);
    assert_eq!(c.stage, Stage::Unspecified as i32);
    assert!(c.deadline.is_none());
    assert_eq!(c.evidence, open.evidence);
    // A retry answers the same case; a second case while it is open is
    // refused, naming the open one.
    let again = sup
        .open_shirking_case(open.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.case.unwrap().case_id, c.case_id);
    let mut second = open.clone();
    second.idempotency_key = "shirk-2".into();
    let e = sup.open_shirking_case(second).await.unwrap_err();
    let meta = reason_of(&e, Code::AlreadyExists, "SHIRKING_CASE_OPEN");
    assert_eq!(meta.get("case_id"), Some(&c.case_id));

    // Listed with the other cases, to the centre and to the unit.
    for who in [&mut sup, &mut staff] {
        let listed = who
            .list_cases(ListCasesRequest {
                state: CaseState::Open as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .cases;
        assert!(listed.iter().any(|x| x.case_id == c.case_id), "{listed:?}");
    }
    let other = sys
        .supervision_as(&[Role::UnitStaff], Some(units[1].as_str()))
        .await
        .list_cases(ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(other.iter().all(|x| x.case_id != c.case_id));

    // Closed by a supervisor with the result, once.
    let close = CloseCaseRequest {
        case_id: c.case_id.clone(),
        result: "约谈单位负责人，责令整改".into(),
        idempotency_key: "close-1".into(),
    };
    let e = staff.close_case(close.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let closed = sup
        .close_case(close)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(closed.state, CaseState::Closed as i32);
    assert_eq!(closed.result, "约谈单位负责人，责令整改");
    assert!(!closed.closed_by.is_empty());
    let e = sup
        .close_case(CloseCaseRequest {
            case_id: c.case_id.clone(),
            result: "again".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "CASE_ALREADY_CLOSED");
    let e = sup
        .close_case(CloseCaseRequest {
            case_id: uuid::Uuid::new_v4().to_string(),
            result: "none".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let steps = steps_on_timeline(
        &sys,
        ticket,
        ("shirking_case", &[Role::Supervisor], None),
        2,
    )
    .await;
    assert_eq!(
        steps,
        [
            ("opened".to_string(), unit.to_string()),
            ("closed".to_string(), unit.to_string())
        ]
    );
    let trail = sys.audit_actions("supervision", ticket).await;
    for action in ["case.shirking_opened", "case.shirking_closed"] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_site_division_with_a_unit_that_never_arrives() {
    let sys = start().await;
    let (tickets, units) = two_tickets(&sys).await;
    let ticket = tickets[0].as_str();
    let (absent, present) = (units[0].as_str(), units[1].as_str());
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let mut staff_absent = sys.supervision_as(&[Role::UnitStaff], Some(absent)).await;
    let mut staff_present = sys.supervision_as(&[Role::UnitStaff], Some(present)).await;
    let arrive_by = Utc::now() + chrono::Duration::seconds(8);
    let start_req = StartOnSiteDivisionRequest {
        ticket_no: ticket.into(),
        unit_ids: units.clone(),
        place: "两区交界小区门口".into(),
        reason: "区域交叉、权属不清".into(),
        arrive_by: Some(ts(arrive_by)),
        idempotency_key: "onsite-1".into(),
    };
    for roles in [&[Role::Leader][..], &[Role::UnitStaff][..]] {
        let e = sys
            .supervision_as(roles, Some(absent))
            .await
            .start_on_site_division(start_req.clone())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{roles:?}");
    }
    let mut bad = start_req.clone();
    bad.idempotency_key.clear();
    bad.unit_ids.push(units[0].clone());
    bad.arrive_by = Some(ts(Utc::now() - chrono::Duration::seconds(1)));
    let e = sup.start_on_site_division(bad).await.unwrap_err();
    for field in ["unit_ids[2]", "arrive_by"] {
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    let d = hotline_tests::supervision::start_division_when_known(&sys, start_req.clone()).await;
    assert_eq!(d.state, DivisionState::Summoned as i32);
    assert_eq!(d.units.len(), 2);
    let id = d.division_id.clone();

    // One unit arrives in time, once; the supervisor cannot arrive for it.
    let arrive = ArriveOnSiteRequest {
        division_id: id.clone(),
        idempotency_key: "arrive-1".into(),
    };
    let e = sup.arrive_on_site(arrive.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let d = staff_present
        .arrive_on_site(arrive)
        .await
        .unwrap()
        .into_inner()
        .division
        .unwrap();
    let here = d.units.iter().find(|u| u.unit_id == present).unwrap();
    assert!(here.arrived_at.is_some() && !here.late);
    let e = staff_present
        .arrive_on_site(ArriveOnSiteRequest {
            division_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "ALREADY_REPORTED_IN");

    // The other never does: urged, then supervised.
    let arrival = |u: &Urge| u.stage == Stage::OnSiteArrival as i32 && u.unit_id == absent;
    eventually(PATIENCE, "the absent unit's urge", || async {
        hotline_tests::supervision::urges(&sys, ticket)
            .await
            .iter()
            .any(arrival)
            .then_some(())
    })
    .await;
    let arrival_cases = || async {
        hotline_tests::supervision::cases(&sys, ticket)
            .await
            .into_iter()
            .filter(|c| c.stage == Stage::OnSiteArrival as i32)
            .collect::<Vec<_>>()
    };
    let case = eventually(PATIENCE, "the absent unit's case", || async {
        arrival_cases().await.pop()
    })
    .await;
    assert_eq!(case.unit_id, absent);
    assert_eq!(case.state, CaseState::Open as i32);

    // The division: the absent unit cannot be the one that refused.
    let record = RecordDivisionRequest {
        division_id: id.clone(),
        lead_unit_id: present.into(),
        co_unit_ids: vec![],
        refused_unit_ids: vec![],
        result: "由朝阳区牵头处置，海淀区未到场".into(),
        idempotency_key: "divide-1".into(),
        media_sha256: vec![],
    };
    let mut refusing = record.clone();
    refusing.idempotency_key.clear();
    refusing.refused_unit_ids = vec![absent.into()];
    let e = sup.record_division(refusing).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("refused_unit_ids[0]"),
        "{}",
        e.message()
    );
    let e = staff_present
        .record_division(record.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let d = sup
        .record_division(record.clone())
        .await
        .unwrap()
        .into_inner()
        .division
        .unwrap();
    assert_eq!(d.state, DivisionState::Divided as i32);
    assert_eq!(d.hop, 2);
    assert_eq!(d.lead_unit_id, present);
    let how = |u: &str| {
        d.units
            .iter()
            .find(|x| x.unit_id == u)
            .map(|x| x.non_cooperation)
            .unwrap()
    };
    assert_eq!(how(absent), NonCooperation::DidNotArrive as i32);
    assert_eq!(how(present), NonCooperation::None as i32);
    // A retry answers the same; a second recording is refused; the unit
    // that never came cannot arrive now.
    let again = sup
        .record_division(record.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.division.unwrap().hop, 2);
    let mut second = record.clone();
    second.idempotency_key = "divide-2".into();
    let e = sup.record_division(second).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "DIVISION_ALREADY_RECORDED");
    let e = staff_absent
        .arrive_on_site(ArriveOnSiteRequest {
            division_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "DIVISION_ALREADY_RECORDED");

    // The ticket went to the lead the division named, as hop 2; the absent
    // unit's case closed with the division.
    let lead = eventually(PATIENCE, "hop 2's assignment", || async {
        assignments_of(&sys, ticket)
            .await
            .into_iter()
            .find(|a| a.hop == 2)
    })
    .await;
    assert_eq!(lead.unit_id, present);
    eventually(PATIENCE, "the absent unit's case closed", || async {
        arrival_cases()
            .await
            .iter()
            .all(|c| c.state == CaseState::Closed as i32)
            .then_some(())
    })
    .await;
    // Both units see the division; it lists as each one's.
    for staff in [&mut staff_absent, &mut staff_present] {
        let listed = staff
            .list_on_site_divisions(ListOnSiteDivisionsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .divisions;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].division_id, id);
    }
    let steps = steps_on_timeline(
        &sys,
        ticket,
        ("on_site_division", &[Role::Supervisor], None),
        4,
    )
    .await;
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["summoned", "arrived", "divided", "not_cooperating"]);
    assert_eq!(steps[3].1, absent);
    let trail = sys.audit_actions("supervision", ticket).await;
    for action in [
        "onsite.summoned",
        "onsite.arrived",
        "onsite.divided",
        "onsite.not_cooperating",
    ] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_lists_exactly_the_units_and_tickets_of_its_period() {
    // Emergency sign-off in 3 s: each ticket's unit is late, once.
    let sys = start_on(late_policy("3s", "")).await;
    let from = Utc::now() - chrono::Duration::seconds(1);
    let (tickets, units) = two_tickets(&sys).await;
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let mut leader = sys.supervision_as(&[Role::Leader], None).await;
    // Both units late to sign; the first shirking on its ticket too.
    for t in &tickets {
        eventually(PATIENCE, "the sign-off case", || async {
            hotline_tests::supervision::cases(&sys, t)
                .await
                .iter()
                .any(|c| c.stage == Stage::SignOff as i32)
                .then_some(())
        })
        .await;
    }
    let shirk = OpenShirkingCaseRequest {
        ticket_no: tickets[0].clone(),
        unit_id: units[0].clone(),
        evidence: vec![Evidence {
            kind: EvidenceKind::Other as i32,
            detail: "拒不参加协调".into(),
        }],
        idempotency_key: "notice-shirk".into(),
    };
    eventually(PATIENCE, "the shirking case", || {
        let mut sup = sup.clone();
        let shirk = shirk.clone();
        async move { sup.open_shirking_case(shirk).await.ok() }
    })
    .await;
    let to = Utc::now();

    let draft = DraftNoticeRequest {
        title: "本期超期及不配合情况通报".into(),
        period_from: Some(ts(from)),
        period_to: Some(ts(to)),
        idempotency_key: "notice-1".into(),
        ..Default::default()
    };
    for roles in [&[Role::Leader][..], &[Role::UnitStaff][..]] {
        let e = sys
            .supervision_as(roles, Some(&units[0]))
            .await
            .draft_notice(draft.clone())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{roles:?}");
    }
    let mut future = draft.clone();
    future.idempotency_key.clear();
    future.period_to = Some(ts(Utc::now() + chrono::Duration::hours(1)));
    let e = sup.draft_notice(future).await.unwrap_err();
    assert!(e.message().contains("period_to"), "{}", e.message());

    let n = sup
        .draft_notice(draft.clone())
        .await
        .unwrap()
        .into_inner()
        .notice
        .unwrap();
    assert_eq!(n.state, NoticeState::Draft as i32);
    let lines: Vec<(String, i32, i32, Vec<String>)> = n
        .lines
        .iter()
        .map(|l| (l.unit_id.clone(), l.cause, l.count, l.ticket_nos.clone()))
        .collect();
    let mut expected = vec![
        (
            units[0].clone(),
            NoticeCause::Late as i32,
            1,
            vec![tickets[0].clone()],
        ),
        (
            units[0].clone(),
            NoticeCause::Refusing as i32,
            1,
            vec![tickets[0].clone()],
        ),
        (
            units[1].clone(),
            NoticeCause::Late as i32,
            1,
            vec![tickets[1].clone()],
        ),
    ];
    expected.sort();
    let mut got = lines.clone();
    got.sort();
    assert_eq!(got, expected, "the lines are the period's facts, no more");
    let id = n.notice_id.clone();

    // Unpublished, the units see nothing of it.
    let mut staff = sys
        .supervision_as(&[Role::UnitStaff], Some(&units[0]))
        .await;
    let e = staff
        .get_notice(GetNoticeRequest {
            notice_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Submitted, sent back, revised to a period before anything happened
    // (no lines), revised back, submitted, published.
    let submit = |key: &str| SubmitNoticeRequest {
        notice_id: id.clone(),
        idempotency_key: key.into(),
    };
    sup.submit_notice(submit("s1")).await.unwrap();
    let e = sup.submit_notice(submit("s1b")).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "NOTICE_NOT_DRAFT");
    let e = sup
        .decide_notice(DecideNoticeRequest {
            notice_id: id.clone(),
            approve: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "a supervisor cannot publish"
    );
    leader
        .decide_notice(DecideNoticeRequest {
            notice_id: id.clone(),
            approve: false,
            note: "请核对期间".into(),
            idempotency_key: "back".into(),
        })
        .await
        .unwrap();
    let mut before = draft.clone();
    before.notice_id = id.clone();
    before.period_from = Some(ts(from - chrono::Duration::hours(2)));
    before.period_to = Some(ts(from - chrono::Duration::hours(1)));
    before.idempotency_key = "before".into();
    let n = sup
        .draft_notice(before)
        .await
        .unwrap()
        .into_inner()
        .notice
        .unwrap();
    assert!(n.lines.is_empty(), "nothing happened then: {:?}", n.lines);
    let mut again = draft.clone();
    again.notice_id = id.clone();
    again.idempotency_key = "again".into();
    let n = sup
        .draft_notice(again)
        .await
        .unwrap()
        .into_inner()
        .notice
        .unwrap();
    assert_eq!(n.lines.len(), 3);
    sup.submit_notice(submit("s2")).await.unwrap();
    let n = leader
        .decide_notice(DecideNoticeRequest {
            notice_id: id.clone(),
            approve: true,
            idempotency_key: "publish".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notice
        .unwrap();
    assert_eq!(n.state, NoticeState::Published as i32);
    let e = sup
        .draft_notice(DraftNoticeRequest {
            notice_id: id.clone(),
            idempotency_key: String::new(),
            ..draft.clone()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "NOTICE_NOT_EDITABLE");

    // Each unit sees the lines about itself.
    for (unit, want) in [(&units[0], 2), (&units[1], 1)] {
        let mut staff = sys.supervision_as(&[Role::UnitStaff], Some(unit)).await;
        let got = staff
            .get_notice(GetNoticeRequest {
                notice_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .notice
            .unwrap();
        assert_eq!(got.lines.len(), want, "{unit}");
        assert!(got.lines.iter().all(|l| &l.unit_id == unit));
        let listed = staff
            .list_notices(ListNoticesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .notices;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].lines.len(), want);
    }
    // The publication is on the tickets behind the lines.
    let steps =
        steps_on_timeline(&sys, &tickets[0], ("notice", &[Role::Supervisor], None), 1).await;
    assert!(
        steps
            .iter()
            .any(|(s, u)| s == "published" && u == &units[0]),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspection_is_opened_from_the_bottom_of_the_evaluation() {
    // Sign-off in 8 s: the first unit signs at once, the second never.
    let sys = start_on(late_policy(
        "8s",
        "[inspections]\nbottom = 1\ncases_per_hundred = 50.0",
    ))
    .await;
    let (tickets, units) = two_tickets(&sys).await;
    hotline_tests::sign_as_lead(&sys, &tickets[0]).await;
    let (good, low) = (units[0].as_str(), units[1].as_str());
    let today = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    let period = format!("{today}..{today}");
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    // Once the second unit's sign-off is due and missed (its case is
    // there, and the evaluation counts it), it ranks last and has one case
    // per assignment due.
    let candidates = eventually(PATIENCE, "the low unit offered twice", || {
        let mut sup = sup.clone();
        let period = period.clone();
        async move {
            let c = sup
                .list_inspection_candidates(ListInspectionCandidatesRequest { period })
                .await
                .expect("candidates")
                .into_inner();
            (c.candidates.len() == 2).then_some(c)
        }
    })
    .await;
    assert_eq!(candidates.bottom, 1);
    let got: Vec<(&str, i32)> = candidates
        .candidates
        .iter()
        .map(|c| (c.unit_id.as_str(), c.basis))
        .collect();
    assert_eq!(
        got,
        [
            (low, InspectionBasis::BottomOfEvaluation as i32),
            (low, InspectionBasis::CasesConcentrated as i32)
        ]
    );
    let bottom = &candidates.candidates[0];
    assert_eq!((bottom.rank, bottom.ranked_in_class), (2, 2));
    assert_eq!(
        (
            candidates.candidates[1].cases,
            candidates.candidates[1].assignments_due
        ),
        (1, 1)
    );

    let open = OpenInspectionRequest {
        unit_id: low.into(),
        period: period.clone(),
        basis: InspectionBasis::BottomOfEvaluation as i32,
        findings: "签收不及时，未建立值守制度".into(),
        rectification: "建立工单值守制度并报送整改报告".into(),
        rectify_by: Some(ts(Utc::now() + chrono::Duration::seconds(6))),
        idempotency_key: "inspect-1".into(),
    };
    let e = sys
        .supervision_as(&[Role::UnitStaff], Some(low))
        .await
        .open_inspection(open.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut not_low = open.clone();
    not_low.unit_id = good.into();
    not_low.idempotency_key.clear();
    let e = sup.open_inspection(not_low).await.unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "NOT_AN_INSPECTION_CANDIDATE");
    assert_eq!(meta.get("unit_id").map(String::as_str), Some(good));
    let i = sup
        .open_inspection(open)
        .await
        .unwrap()
        .into_inner()
        .inspection
        .unwrap();
    assert_eq!(i.state, InspectionState::Open as i32);
    assert!(i.inspection_no.starts_with("DC"), "{}", i.inspection_no);

    // Not rectified by the date: urged, then supervised, under the
    // inspection's number.
    let no = i.inspection_no.clone();
    eventually(PATIENCE, "the rectification urge", || async {
        hotline_tests::supervision::urges(&sys, &no)
            .await
            .iter()
            .any(|u| u.stage == Stage::Rectification as i32 && u.unit_id == low)
            .then_some(())
    })
    .await;
    let case = eventually(PATIENCE, "the rectification case", || async {
        hotline_tests::supervision::cases(&sys, &no).await.pop()
    })
    .await;
    assert_eq!(case.stage, Stage::Rectification as i32);
    assert_eq!(case.unit_id, low);

    // Only the inspected unit reports; late, the case closes.
    let report = ReportRectificationRequest {
        inspection_id: i.inspection_id.clone(),
        measures: "已建立24小时值守制度".into(),
        idempotency_key: "rectified".into(),
    };
    let e = sys
        .supervision_as(&[Role::UnitStaff], Some(good))
        .await
        .report_rectification(report.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let mut staff = sys.supervision_as(&[Role::UnitStaff], Some(low)).await;
    let r = staff
        .report_rectification(report)
        .await
        .unwrap()
        .into_inner()
        .inspection
        .unwrap();
    assert_eq!(r.state, InspectionState::Rectified as i32);
    assert!(r.late);
    eventually(PATIENCE, "the rectification case closed", || async {
        hotline_tests::supervision::cases(&sys, &no)
            .await
            .iter()
            .all(|c| c.state == CaseState::Closed as i32)
            .then_some(())
    })
    .await;
    let e = sys
        .supervision_as(&[Role::Leader], None)
        .await
        .close_inspection(CloseInspectionRequest {
            inspection_id: i.inspection_id.clone(),
            result: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let c = sup
        .close_inspection(CloseInspectionRequest {
            inspection_id: i.inspection_id.clone(),
            result: "整改到位，予以销号".into(),
            idempotency_key: "closed".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .inspection
        .unwrap();
    assert_eq!(c.state, InspectionState::Closed as i32);
    let e = sup
        .close_inspection(CloseInspectionRequest {
            inspection_id: i.inspection_id.clone(),
            result: "again".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "INSPECTION_NOT_RECTIFIED");
    let listed = staff
        .list_inspections(ListInspectionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .inspections;
    assert_eq!(listed.len(), 1);
    let trail = sys.audit_actions("supervision", &no).await;
    for action in [
        "inspection.opened",
        "inspection.rectified",
        "inspection.closed",
    ] {
        assert!(trail.iter().any(|a| a == action), "{action} in {trail:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_from_the_candidates_with_a_late_unit_redispatches_the_ticket() {
    let sys = start().await;
    let (tickets, units) = two_tickets(&sys).await;
    let ticket = tickets[0].as_str();
    let (on_time, late) = (units[0].as_str(), units[1].as_str());
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    // Both tickets are open emergencies: candidates.
    let candidates = eventually(PATIENCE, "the candidates", || {
        let mut sup = sup.clone();
        async move {
            let c = sup
                .list_meeting_candidates(ListMeetingCandidatesRequest::default())
                .await
                .expect("candidates")
                .into_inner()
                .candidates;
            (c.len() == 2).then_some(c)
        }
    })
    .await;
    assert!(
        candidates
            .iter()
            .all(|c| c.bases == [MeetingCandidateBasis::Emergency as i32])
    );
    let picked = candidates
        .iter()
        .find(|c| c.ticket_no == ticket)
        .expect("the first ticket is a candidate");

    let starts_at = Utc::now() + chrono::Duration::seconds(6);
    let convene = ConveneMeetingRequest {
        ticket_nos: vec![picked.ticket_no.clone()],
        unit_ids: units.clone(),
        place: "市民服务热线中心三楼会议室".into(),
        agenda: "反复流转工单的责任认定".into(),
        starts_at: Some(ts(starts_at)),
        idempotency_key: "meeting-1".into(),
    };
    let e = sys
        .supervision_as(&[Role::UnitStaff], Some(on_time))
        .await
        .convene_meeting(convene.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let m = sup
        .convene_meeting(convene)
        .await
        .unwrap()
        .into_inner()
        .meeting
        .unwrap();
    assert_eq!(m.state, MeetingState::Convened as i32);
    let id = m.meeting_id.clone();

    // One unit in time; the other after the start (its case proves it).
    let attend = |key: &str| AttendMeetingRequest {
        meeting_id: id.clone(),
        idempotency_key: key.into(),
    };
    let mut staff_on_time = sys.supervision_as(&[Role::UnitStaff], Some(on_time)).await;
    let mut staff_late = sys.supervision_as(&[Role::UnitStaff], Some(late)).await;
    let e = sup.attend_meeting(attend("a0")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    staff_on_time.attend_meeting(attend("a1")).await.unwrap();
    let case = eventually(PATIENCE, "the late unit's arrival case", || async {
        hotline_tests::supervision::cases(&sys, ticket)
            .await
            .into_iter()
            .find(|c| c.stage == Stage::MeetingArrival as i32)
    })
    .await;
    assert_eq!(case.unit_id, late);
    let m = staff_late
        .attend_meeting(attend("a2"))
        .await
        .unwrap()
        .into_inner()
        .meeting
        .unwrap();
    let arrival = |m: &Meeting, u: &str| m.units.iter().find(|x| x.unit_id == u).unwrap().late;
    assert!(!arrival(&m, on_time));
    assert!(arrival(&m, late));

    // The minutes: the ticket re-dispatched to the late unit as lead with
    // the other as co-unit, and an action for the first.
    let due = Utc::now() + chrono::Duration::hours(1);
    let record = RecordMeetingMinutesRequest {
        meeting_id: id.clone(),
        minutes: "会议明确由朝阳区牵头，海淀区配合".into(),
        resolutions: vec![
            MeetingResolution {
                resolution: Some(meeting_resolution::Resolution::Redispatch(
                    MeetingRedispatch {
                        ticket_no: ticket.into(),
                        lead_unit_id: late.into(),
                        co_unit_ids: vec![on_time.into()],
                        hop: 0,
                    },
                )),
            },
            MeetingResolution {
                resolution: Some(meeting_resolution::Resolution::Action(MeetingAction {
                    unit_id: on_time.into(),
                    action: "三日内提供产权资料".into(),
                    due: Some(ts(due)),
                    ..Default::default()
                })),
            },
        ],
        idempotency_key: "minutes-1".into(),
    };
    let mut stranger = record.clone();
    stranger.idempotency_key.clear();
    stranger.resolutions[0] = MeetingResolution {
        resolution: Some(meeting_resolution::Resolution::Redispatch(
            MeetingRedispatch {
                ticket_no: tickets[1].clone(),
                lead_unit_id: late.into(),
                ..Default::default()
            },
        )),
    };
    let e = sup.record_meeting_minutes(stranger).await.unwrap_err();
    assert!(
        e.message().contains("resolutions[0].redispatch.ticket_no"),
        "{}",
        e.message()
    );
    let m = sup
        .record_meeting_minutes(record.clone())
        .await
        .unwrap()
        .into_inner()
        .meeting
        .unwrap();
    assert_eq!(m.state, MeetingState::Recorded as i32);
    let hop = match &m.resolutions[0].resolution {
        Some(meeting_resolution::Resolution::Redispatch(d)) => d.hop,
        other => panic!("{other:?}"),
    };
    assert_eq!(hop, 2);
    let again = sup.record_meeting_minutes(record.clone()).await.unwrap();
    assert_eq!(again.into_inner().meeting.unwrap().resolutions.len(), 2);
    let mut second = record.clone();
    second.idempotency_key = "minutes-2".into();
    let e = sup.record_meeting_minutes(second).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "MEETING_ALREADY_RECORDED");

    // Hop 2 is the late unit's, as lead.
    let lead = eventually(PATIENCE, "hop 2's lead", || async {
        assignments_of(&sys, ticket).await.into_iter().find(|a| {
            a.hop == 2 && a.role == hotline_proto::common::v1::AssignmentRole::Lead as i32
        })
    })
    .await;
    assert_eq!(lead.unit_id, late);

    // The action is its unit's to report, once.
    let done = CompleteMeetingActionRequest {
        meeting_id: id.clone(),
        action_no: 2,
        result: "已提供产权资料".into(),
        idempotency_key: "done".into(),
    };
    let e = staff_late
        .complete_meeting_action(done.clone())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let m = staff_on_time
        .complete_meeting_action(done)
        .await
        .unwrap()
        .into_inner()
        .meeting
        .unwrap();
    match &m.resolutions[1].resolution {
        Some(meeting_resolution::Resolution::Action(a)) => {
            assert!(a.done_at.is_some() && !a.late);
        }
        other => panic!("{other:?}"),
    }
    let e = staff_on_time
        .complete_meeting_action(CompleteMeetingActionRequest {
            meeting_id: id.clone(),
            action_no: 2,
            result: "again".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "MEETING_ACTION_DONE");

    let listed = staff_late
        .list_meetings(ListMeetingsRequest {
            ticket_no: ticket.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .meetings;
    assert_eq!(listed.len(), 1);
    let steps = steps_on_timeline(&sys, ticket, ("meeting", &[Role::Supervisor], None), 7).await;
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "convened",
            "arrived",
            "arrived",
            "recorded",
            "redispatched",
            "action_set",
            "action_done"
        ]
    );
}
