//! The three-rate evaluation (三率考评) through the real services: four
//! heating tickets driven through intake, dispatch and undertaking (signed
//! within the limit, after it, never), three visited back with known
//! answers and two of the visits' contacts rated (one rating set aside by
//! an upheld appeal); then an exclusion (proposed, approved, reversed,
//! again) and a unit's evaluation appeal. The rates equal those computed
//! by hand here; explain pages list exactly the expected tickets; a
//! re-published event changes no number; the recount from the raw events
//! equals the counters; every new RPC names its bad fields. An assignment
//! a re-dispatch withdrew unsigned before its deadline was never due.

use chrono::Utc;
use hotline_common::auth::Role;
use hotline_common::bus::{Outgoing, Publisher};
use hotline_common::events::{self, rules};
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::events::v1::{LifecycleEvent, Source};
use hotline_proto::intake::v1::*;
use hotline_proto::supervision::v1::*;
use hotline_tests::{assignments_of, eventually};
use prost::Message;
use tonic::Code;

#[path = "evaluation_support.rs"]
mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rates_are_those_computed_by_hand_and_explained_ticket_by_ticket() {
    let sys = start().await;

    // T1, T2 signed at once; T3's lead signs late; T4 is never signed.
    let t1 = submit(&sys, "eval-1").await;
    let t2 = submit(&sys, "eval-2").await;
    let t3 = submit(&sys, "eval-3").await;
    let t4 = submit(&sys, "eval-4").await;
    lead_signs_and_answers(&sys, &t1, false).await;
    lead_signs_and_answers(&sys, &t2, false).await;
    let a4 = assignments_of(&sys, &t4).await;
    lead_signs_and_answers(&sys, &t3, true).await;
    let lead = lead_of(&a4).unit_id;
    let co: Vec<String> = a4
        .iter()
        .filter(|a| a.role == AssignmentRole::Co as i32)
        .map(|a| a.unit_id.clone())
        .collect();

    // Visits: T1 resolved and 非常满意, T2 partly and 基本满意, T3
    // unresolved and 不满意. T1's contact rated 满意, T2's 不满意.
    let contacts = visit_all(
        &sys,
        &[
            (&t1, Resolution::Resolved, SatisfactionLevel::VerySatisfied),
            (
                &t2,
                Resolution::Partly,
                SatisfactionLevel::BasicallySatisfied,
            ),
            (&t3, Resolution::Unresolved, SatisfactionLevel::Dissatisfied),
        ],
    )
    .await;
    let mut visitor = intake_as(&sys, &[Role::ReturnVisit], None).await;
    let mut ratings = Vec::new();
    for (no, level) in [
        (&t1, SatisfactionLevel::Satisfied),
        (&t2, SatisfactionLevel::Dissatisfied),
    ] {
        let (_, c) = contacts.iter().find(|(t, _)| t == no).expect("its contact");
        let r = visitor
            .rate_contact(RateContactRequest {
                ticket_no: no.clone(),
                contact_id: c.contact_id.clone(),
                level: level as i32,
                comment: String::new(),
                idempotency_key: String::new(),
            })
            .await
            .expect("rated")
            .into_inner()
            .rating
            .expect("a rating");
        ratings.push(r);
    }

    // By hand, lead: response 2 of 4 (T1, T2; T3 late, T4 never);
    // resolution (1 + 0.5 + 0) of 3; satisfaction (1 + 0.5 + 0) of 3;
    // rating 1 + 0 of 2.
    let l = until_numbers(&sys, &lead, [(2.0, 4), (1.5, 3), (1.5, 3), (1.0, 2)]).await;
    let r = l.response.as_ref().unwrap();
    assert_eq!((r.rate, r.applicable), (0.5, true));
    assert_eq!(l.satisfaction.as_ref().unwrap().rate, 0.5);
    // 100 × (0.5 + 0.5 + 0.5 + 0.5) / 4.
    assert_eq!((l.composite, l.scored), (50.0, true));
    assert!(l.rank >= 1 && l.ranked_in_class >= 1);
    assert_ne!(
        l.unit_kind, 0,
        "the unit's class came with the routed event"
    );
    for c in &co {
        // Co-units signed T1–T3 at once, T4 never; no visit concerns them.
        let l = until_numbers(&sys, c, [(3.0, 4), (0.0, 0), (0.0, 0), (0.0, 0)]).await;
        assert_eq!(l.composite, 75.0, "only the response rate applies");
    }

    // The rating of T2 appealed by the lead unit and upheld: set aside.
    let mut unit_intake = intake_as(&sys, &[Role::UnitStaff], Some(&lead)).await;
    let appeal = unit_intake
        .appeal_rating(AppealRatingRequest {
            rating_id: ratings[1].rating_id.clone(),
            reason: "回访时诉求人反映的是物业问题".into(),
            idempotency_key: String::new(),
        })
        .await
        .expect("appealed")
        .into_inner()
        .appeal
        .expect("appeal");
    intake_as(&sys, &[Role::Supervisor], None)
        .await
        .decide_appeal(DecideAppealRequest {
            appeal_id: appeal.appeal_id,
            uphold: true,
            note: "属实".into(),
            idempotency_key: String::new(),
        })
        .await
        .expect("upheld");
    until_numbers(&sys, &lead, [(2.0, 4), (1.5, 3), (1.5, 3), (1.0, 1)]).await;
    let rated = explain(
        &sys,
        &lead,
        EvaluationMetric::Rating,
        EvaluationSide::Denominator,
    )
    .await;
    assert_eq!(
        tickets(&rated),
        set(&[&t1, &t2]),
        "the set-aside rating stays on record"
    );
    let aside = rated.iter().find(|i| i.ticket_no == t2).unwrap();
    assert!(aside.set_aside && !aside.counted);

    // A re-published event changes no number: T1's lead signature again
    // (same id), then a fresh sentinel; once the sentinel is kept, the
    // repeat was handled before it.
    let mut db = sys.db("supervision").await.expect("db");
    let bodies: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT body FROM eval_events WHERE ticket_no = $1")
            .bind(&t1)
            .fetch_all(&mut db)
            .await
            .unwrap();
    let events: Vec<LifecycleEvent> = bodies
        .iter()
        .map(|b| LifecycleEvent::decode(b.0.as_slice()).unwrap())
        .collect();
    let signed = events
        .iter()
        .find(|e| matches!(&e.fact, Some(hotline_proto::events::v1::lifecycle_event::Fact::Signed(s)) if s.unit_id == lead))
        .expect("the lead's signed event")
        .clone();
    let answered = events
        .iter()
        .find(|e| {
            matches!(
                &e.fact,
                Some(hotline_proto::events::v1::lifecycle_event::Fact::Answered(
                    _
                ))
            )
        })
        .expect("the answered event");
    let sentinel = events::event(
        Source::Undertaking,
        &t1,
        Utc::now(),
        answered.fact.clone().unwrap(),
    );
    let publisher = Publisher::with_topology(&sys.amqp_url(), "test-evaluation", events::declare);
    let (again, fresh) = (signed.encode_to_vec(), sentinel.encode_to_vec());
    let out = publisher
        .publish_each(&[
            Outgoing {
                exchange: "hotline.undertaking.events",
                routing_key: "undertaking.signed",
                body: &again,
                message_id: &signed.event_id,
                kind: rules::EVENT_TYPE,
            },
            Outgoing {
                exchange: "hotline.undertaking.events",
                routing_key: "undertaking.answered",
                body: &fresh,
                message_id: &sentinel.event_id,
                kind: rules::EVENT_TYPE,
            },
        ])
        .await
        .expect("publish");
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    let sentinel_id: hotline_common::ids::RawUuid = sentinel.event_id.parse().unwrap();
    eventually(PATIENCE, "the sentinel kept", || {
        let url = format!("postgres://postgres@127.0.0.1:5432/{}", sys.db_name());
        async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.ok()?;
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM supervision.eval_events WHERE event_id = $1",
            )
            .bind(sentinel_id)
            .fetch_one(&mut c)
            .await
            .ok()?;
            (n == 1).then_some(())
        }
    })
    .await;
    let mut sup = supervision_as(&sys, &[Role::Supervisor], None).await;
    assert_eq!(
        nums(&line(&mut sup, &lead).await.unwrap()),
        [(2.0, 4), (1.5, 3), (1.5, 3), (1.0, 1)],
        "the repeat changed nothing"
    );

    // An exclusion of T4 for the lead: proposed (nothing changes yet),
    // approved by a leader, reversed, proposed and approved again.
    let mut leader = supervision_as(&sys, &[Role::Leader], None).await;
    let propose = |key: &str| ExcludeTicketRequest {
        ticket_no: t4.clone(),
        unit_id: lead.clone(),
        reason_code: "invalid".into(),
        note: "诉求人来电确认已自行解决，属无效诉求".into(),
        idempotency_key: key.into(),
    };
    let x = sup
        .exclude_ticket(propose("x-1"))
        .await
        .expect("proposed")
        .into_inner()
        .exclusion
        .unwrap();
    assert_eq!(x.state, ExclusionState::Proposed as i32);
    let replay = sup
        .exclude_ticket(propose("x-1"))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(
        replay.exclusion.unwrap().exclusion_id,
        x.exclusion_id,
        "the key acts once"
    );
    let e = sup.exclude_ticket(propose("x-2")).await.unwrap_err();
    reason_of(&e, Code::AlreadyExists, "TICKET_ALREADY_EXCLUDED");
    let e = sup
        .decide_exclusion(DecideExclusionRequest {
            exclusion_id: x.exclusion_id.clone(),
            approve: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "a supervisor does not approve"
    );
    let decide = |id: &str| DecideExclusionRequest {
        exclusion_id: id.to_string(),
        approve: true,
        note: "同意".into(),
        idempotency_key: String::new(),
    };
    let approved = leader
        .decide_exclusion(decide(&x.exclusion_id))
        .await
        .expect("approved")
        .into_inner();
    let approved = approved.exclusion.unwrap();
    assert_eq!(approved.state, ExclusionState::Approved as i32);
    assert!(!approved.decided_by.is_empty(), "who approved is recorded");
    let e = leader
        .decide_exclusion(decide(&x.exclusion_id))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "EXCLUSION_ALREADY_DECIDED");
    // Counters change in the decision's transaction.
    assert_eq!(nums(&line(&mut sup, &lead).await.unwrap())[0], (2.0, 3));
    let reverse = |id: &str| ReverseExclusionRequest {
        exclusion_id: id.to_string(),
        note: "复核后撤销".into(),
        idempotency_key: String::new(),
    };
    leader
        .reverse_exclusion(reverse(&x.exclusion_id))
        .await
        .expect("reversed");
    assert_eq!(nums(&line(&mut sup, &lead).await.unwrap())[0], (2.0, 4));
    let e = leader
        .reverse_exclusion(reverse(&x.exclusion_id))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "EXCLUSION_ALREADY_REVERSED");
    let again = sup
        .exclude_ticket(propose("x-3"))
        .await
        .expect("proposed again")
        .into_inner();
    let again = again.exclusion.unwrap();
    leader
        .decide_exclusion(decide(&again.exclusion_id))
        .await
        .expect("approved again");

    // The lead appeals T3 (signed late); a supervisor upholds: an
    // exclusion is made, linked, and T3 leaves every rate of the lead.
    let mut unit = supervision_as(&sys, &[Role::UnitStaff], Some(&lead)).await;
    let ap = unit
        .appeal_evaluation(AppealEvaluationRequest {
            unit_id: lead.clone(),
            ticket_no: t3.clone(),
            period: period(),
            reason: "该件签收时系统故障，已报备".into(),
            idempotency_key: String::new(),
        })
        .await
        .expect("appealed")
        .into_inner()
        .appeal
        .unwrap();
    let e = unit
        .appeal_evaluation(AppealEvaluationRequest {
            unit_id: lead.clone(),
            ticket_no: t3.clone(),
            period: period(),
            reason: "再次申诉".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "APPEAL_PENDING");
    let e = unit
        .appeal_evaluation(AppealEvaluationRequest {
            unit_id: lead.clone(),
            ticket_no: t4.clone(),
            period: period(),
            reason: "已排除的件".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::AlreadyExists, "TICKET_ALREADY_EXCLUDED");
    let decided = sup
        .decide_evaluation_appeal(DecideEvaluationAppealRequest {
            appeal_id: ap.appeal_id.clone(),
            upheld: true,
            reason_code: "untrue".into(),
            note: "系统故障属实".into(),
            idempotency_key: String::new(),
        })
        .await
        .expect("upheld")
        .into_inner();
    let made = decided.exclusion.expect("an exclusion");
    assert_eq!(made.appeal_id, ap.appeal_id);
    assert_eq!(made.state, ExclusionState::Approved as i32);
    assert_eq!(decided.appeal.unwrap().exclusion_id, made.exclusion_id);

    // By hand now: response 2 of 2; resolution 1.5 of 2; satisfaction 1.5
    // of 2; rating 1 of 1; composite 100 × (1 + 0.75 + 0.75 + 1) / 4.
    let l = line(&mut sup, &lead).await.unwrap();
    assert_eq!(nums(&l), [(2.0, 2), (1.5, 2), (1.5, 2), (1.0, 1)]);
    assert_eq!(l.composite, 87.5);
    assert_eq!(l.resolution.as_ref().unwrap().rate, 0.75);

    // Explain: exactly the expected tickets, the excluded ones marked.
    let den = explain(
        &sys,
        &lead,
        EvaluationMetric::Response,
        EvaluationSide::Denominator,
    )
    .await;
    assert_eq!(tickets(&den), set(&[&t1, &t2, &t3, &t4]));
    for i in &den {
        let out = i.ticket_no == t3 || i.ticket_no == t4;
        assert_eq!(
            (i.excluded, i.counted),
            (out, !out),
            "{}: {}",
            i.ticket_no,
            i.why
        );
        assert!(i.deadline.is_some() && !i.why.is_empty());
    }
    assert_eq!(
        den.iter().find(|i| i.ticket_no == t4).unwrap().exclusion_id,
        again.exclusion_id
    );
    let num = explain(
        &sys,
        &lead,
        EvaluationMetric::Response,
        EvaluationSide::Numerator,
    )
    .await;
    assert_eq!(tickets(&num), set(&[&t1, &t2]));
    assert!(
        num.iter().all(|i| i.why.contains("by the deadline")),
        "{num:?}"
    );
    let sat = explain(
        &sys,
        &lead,
        EvaluationMetric::Satisfaction,
        EvaluationSide::Numerator,
    )
    .await;
    assert_eq!(tickets(&sat), set(&[&t1, &t2]));
    assert_eq!(
        sat.iter()
            .find(|i| i.ticket_no == t2)
            .unwrap()
            .numerator_value,
        0.5
    );
    let res = explain(
        &sys,
        &lead,
        EvaluationMetric::Resolution,
        EvaluationSide::Denominator,
    )
    .await;
    assert_eq!(tickets(&res), set(&[&t1, &t2, &t3]));

    // A unit sees its own line and explains only its own numbers.
    let own = unit
        .get_evaluation(GetEvaluationRequest {
            period: period(),
            ..Default::default()
        })
        .await
        .expect("own line")
        .into_inner();
    assert_eq!(own.lines.len(), 1);
    assert_eq!(own.lines[0].unit_id, lead);
    if let Some(other) = co.first() {
        let e = unit
            .explain_evaluation(ExplainEvaluationRequest {
                unit_id: other.clone(),
                period: period(),
                metric: EvaluationMetric::Response as i32,
                side: EvaluationSide::Denominator as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        reason_of(&e, Code::PermissionDenied, "OTHER_UNIT");
    }

    // The exclusions and appeals are listed; the trend and export agree.
    let listed = unit
        .list_exclusions(ListExclusionsRequest::default())
        .await
        .expect("exclusions")
        .into_inner()
        .exclusions;
    assert_eq!(listed.len(), 3, "reversed, approved, made by the appeal");
    let appeals = sup
        .list_evaluation_appeals(ListEvaluationAppealsRequest::default())
        .await
        .expect("appeals")
        .into_inner()
        .appeals;
    assert_eq!(appeals.len(), 1);
    assert_eq!(appeals[0].state, EvaluationAppealState::Upheld as i32);
    let month = Utc::now().format("%Y-%m").to_string();
    let trend = unit
        .get_unit_trend(GetUnitTrendRequest {
            unit_id: lead.clone(),
            from_month: month.clone(),
            to_month: month.clone(),
        })
        .await
        .expect("trend")
        .into_inner();
    assert_eq!(trend.months.len(), 1);
    assert_eq!(trend.months[0].policy_version, "test-2020");
    let csv = sup
        .export_evaluation(ExportEvaluationRequest {
            period: period(),
            unit_kind: 0,
        })
        .await
        .expect("export")
        .into_inner();
    let text = String::from_utf8(csv.csv).expect("UTF-8");
    let mut rows = text.lines();
    assert!(
        rows.next()
            .unwrap()
            .starts_with("unit_id,unit_kind,rank,ranked_in_class,composite,")
    );
    let row = rows
        .find(|r| r.starts_with(&format!("{lead},")))
        .expect("the lead's row");
    assert!(row.contains(",87.50,2,2,1.0000,1.5,2,0.7500,"), "{row}");

    // The recount from the raw events equals the counters.
    let recount = recount(&sys).await;
    assert!(recount.equal, "{:?}", recount.differences);
    assert!(recount.events_read > 0 && recount.tickets == 4);

    // Hostile input to every new RPC: the fields named.
    let mut s = sup.clone();
    let e = s
        .get_evaluation(GetEvaluationRequest {
            period: "2025-13".into(),
            unit_kind: 99,
            unit_id: "a\0b".into(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["period", "unit_kind", "unit_id", "page_size"]);
    for bad in ["255000", "2025-02-30..2025-03-01", "", &"9".repeat(100_000)] {
        let e = s
            .export_evaluation(ExportEvaluationRequest {
                period: bad.to_string(),
                unit_kind: 0,
            })
            .await
            .unwrap_err();
        names(&e, &["period"]);
    }
    let e = s
        .explain_evaluation(ExplainEvaluationRequest {
            unit_id: "no-such-unit".into(),
            period: period(),
            metric: EvaluationMetric::Response as i32,
            side: EvaluationSide::Numerator as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["unit_id"]);
    let e = s
        .explain_evaluation(ExplainEvaluationRequest {
            unit_id: lead.clone(),
            period: "1999-01".into(),
            metric: 99,
            side: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["period", "metric", "side"]);
    let e = s
        .get_unit_trend(GetUnitTrendRequest {
            unit_id: lead.clone(),
            from_month: "2025-13".into(),
            to_month: "2025-01".into(),
        })
        .await
        .unwrap_err();
    names(&e, &["from_month"]);
    let e = s
        .exclude_ticket(ExcludeTicketRequest {
            ticket_no: t1.clone(),
            unit_id: lead.clone(),
            reason_code: "dislike".into(),
            note: "x".repeat(100_000),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    names(&e, &["reason_code", "note"]);
    let e = s
        .exclude_ticket(ExcludeTicketRequest {
            ticket_no: t1.clone(),
            unit_id: "no-such-unit".into(),
            reason_code: "invalid".into(),
            note: "备注\u{202E}".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    names(&e, &["note"]);
    let e = leader
        .decide_exclusion(DecideExclusionRequest {
            exclusion_id: "x".into(),
            note: "\0".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["exclusion_id", "note"]);
    let e = leader
        .reverse_exclusion(ReverseExclusionRequest::default())
        .await
        .unwrap_err();
    names(&e, &["exclusion_id", "note"]);
    let e = s
        .list_exclusions(ListExclusionsRequest {
            state: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["state"]);
    let e = unit
        .appeal_evaluation(AppealEvaluationRequest {
            unit_id: lead.clone(),
            ticket_no: "工单".into(),
            period: "2025-13".into(),
            reason: "y".repeat(100_000),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    names(&e, &["ticket_no", "period", "reason"]);
    let e = s
        .decide_evaluation_appeal(DecideEvaluationAppealRequest {
            appeal_id: "nope".into(),
            upheld: true,
            reason_code: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["appeal_id", "reason_code"]);
    let e = s
        .list_evaluation_appeals(ListEvaluationAppealsRequest {
            state: 99,
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["state"]);
    let e = supervision_as(&sys, &[Role::Ops], None)
        .await
        .recount_evaluation(RecountEvaluationRequest {
            period: "2025-00".into(),
        })
        .await
        .unwrap_err();
    names(&e, &["period"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_withdrawn_unsigned_by_a_redispatch_was_never_due() {
    use hotline_proto::common::v1::UrgencyTier;
    let sys = start().await;
    // Two tickets of two hours' sign-off to the same units.
    let mut submitted = Vec::new();
    for key in ["eval-withdrawn-signed", "eval-withdrawn-moved"] {
        let mut req = hotline_tests::heating_request(key);
        req.tier = UrgencyTier::BasicLivelihood as i32;
        submitted.push(hotline_tests::supervision::submit_request(&sys, req).await);
    }
    let (signed, moved) = (&submitted[0], &submitted[1]);
    let lead = lead_of(&assignments_of(&sys, moved).await).unit_id;
    hotline_tests::sign_as_lead(&sys, signed).await;
    // Both due to the lead, one signed.
    until_numbers(&sys, &lead, [(1.0, 2), (0.0, 0), (0.0, 0), (0.0, 0)]).await;

    // A dispatcher moves the other to the water group before anyone signs:
    // the lead's assignment of hop 1 is withdrawn, never due.
    sys.dispatch()
        .await
        .redispatch_ticket(hotline_tests::to_water(moved, 1))
        .await
        .expect("re-dispatched");
    until_numbers(&sys, &lead, [(1.0, 1), (0.0, 0), (0.0, 0), (0.0, 0)]).await;
    until_numbers(
        &sys,
        "bj-water-group",
        [(0.0, 1), (0.0, 0), (0.0, 0), (0.0, 0)],
    )
    .await;
    let due = explain(
        &sys,
        &lead,
        EvaluationMetric::Response,
        EvaluationSide::Denominator,
    )
    .await;
    assert_eq!(tickets(&due), set(&[signed]), "{due:?}");

    // The recount from the raw events agrees.
    let recount = recount(&sys).await;
    assert!(recount.equal, "{:?}", recount.differences);
}
