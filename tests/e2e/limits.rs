//! Limits of what undertaking accepts and returns, through gRPC: every
//! client time lies in a window that makes sense for its field, and every
//! list pages with tokens bound to its filters.

#[path = "moves.rs"]
mod moves;

use hotline_proto::common::v1::{Feedback, FeedbackOutcome};
use hotline_proto::undertaking::v1::Assignment;
use hotline_tests::{Options, System, heating_request, submit_co_parts};
use moves::{Move, attempt, lead_of, resolved, submit};
use tonic::Code;

fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn accepted_at(a: &Assignment) -> chrono::DateTime<chrono::Utc> {
    let t = a
        .ticket
        .as_ref()
        .and_then(|t| t.accepted_at)
        .expect("the ticket's acceptance time");
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap()
}

/// Around year 255000: a time no field should take.
const YEAR_255000: i64 = 7_984_000_000_000;

fn invalid(r: Result<(), tonic::Status>, field: &str) {
    let e = r.expect_err(field);
    assert_eq!(e.code(), Code::InvalidArgument, "{field}: {}", e.message());
    assert!(e.message().contains(field), "{field}: {}", e.message());
}

/// A system with one signed lead assignment of a heating ticket.
async fn signed_lead(key: &str) -> (System, String, Assignment) {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, key).await;
    let a = lead_of(&sys, &no, 1).await;
    attempt(&sys, &a, Move::Sign, resolved())
        .await
        .expect("sign");
    (sys, no, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handling_record_is_dated_between_acceptance_and_now() {
    use hotline_proto::undertaking::v1::{AddHandlingRecordRequest, HandlingRecordKind};
    let (sys, _, a) = signed_lead("times-record").await;
    let accepted = accepted_at(&a);
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    let record = |at: chrono::DateTime<chrono::Utc>| AddHandlingRecordRequest {
        assignment_id: a.assignment_id.clone(),
        unit_id: a.unit_id.clone(),
        kind: HandlingRecordKind::Progress as i32,
        occurred_at: Some(ts(at)),
        note: "已安排维修".into(),
        ..Default::default()
    };
    for at in [
        accepted - chrono::Duration::hours(1),
        chrono::Utc::now() + chrono::Duration::hours(1),
        chrono::DateTime::from_timestamp(YEAR_255000, 0).unwrap(),
    ] {
        invalid(
            unit.add_handling_record(record(at)).await.map(drop),
            "occurred_at",
        );
    }
    unit.add_handling_record(record(accepted + chrono::Duration::seconds(1)))
        .await
        .expect("a record dated inside its window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_asks_for_a_deadline_within_a_year() {
    use hotline_proto::common::v1::Stage;
    use hotline_proto::undertaking::v1::RequestExtensionRequest;
    let (sys, _, a) = signed_lead("times-extension").await;
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    let extend = |at: chrono::DateTime<chrono::Utc>| RequestExtensionRequest {
        assignment_id: a.assignment_id.clone(),
        unit_id: a.unit_id.clone(),
        stage: Stage::Feedback as i32,
        reason: "需协调管线改造".into(),
        requested_deadline: Some(ts(at)),
        ..Default::default()
    };
    for at in [
        chrono::DateTime::from_timestamp(YEAR_255000, 0).unwrap(),
        chrono::Utc::now() + chrono::Duration::days(400),
    ] {
        invalid(
            unit.request_extension(extend(at)).await.map(drop),
            "requested_deadline",
        );
    }
    unit.request_extension(extend(chrono::Utc::now() + chrono::Duration::days(3)))
        .await
        .expect("a sensible extension");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measures_are_not_due_before_the_ticket_was_accepted() {
    let (sys, no, a) = signed_lead("times-measures").await;
    let accepted = accepted_at(&a);
    submit_co_parts(&sys, &no).await;
    let unresolved = |due: chrono::DateTime<chrono::Utc>| Feedback {
        outcome: FeedbackOutcome::Unresolved as i32,
        summary: "需更换主管线".into(),
        responsible_unit: "北京热力集团".into(),
        reason: "主管线老化".into(),
        next_measures: "更换主管线".into(),
        measures_due: Some(ts(due)),
        ..Default::default()
    };
    for due in [
        accepted - chrono::Duration::days(1),
        chrono::DateTime::from_timestamp(YEAR_255000, 0).unwrap(),
    ] {
        invalid(
            attempt(&sys, &a, Move::Feedback, unresolved(due)).await,
            "feedback.measures_due",
        );
    }
    attempt(
        &sys,
        &a,
        Move::Feedback,
        unresolved(chrono::Utc::now() + chrono::Duration::days(30)),
    )
    .await
    .expect("an answer with a sensible date");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whistle_summons_departments_within_thirty_days() {
    use hotline_proto::undertaking::v1::BlowWhistleRequest;
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut req = heating_request("times-street");
    req.category_code = "noise".into();
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    let street = lead_of(&sys, &no, 1).await;
    assert_eq!(street.unit_id, "street-110105001");
    attempt(&sys, &street, Move::Sign, resolved())
        .await
        .expect("sign");
    let mut office = sys.undertaking_as(&street.unit_id).await;
    let whistle = |at: chrono::DateTime<chrono::Utc>| BlowWhistleRequest {
        assignment_id: street.assignment_id.clone(),
        unit_id: street.unit_id.clone(),
        summoned_unit_ids: vec!["bj-urban-enforcement".into()],
        arrive_by: Some(ts(at)),
        place: "建外街道某小区南门".into(),
        matter: "夜间施工噪声扰民".into(),
        ..Default::default()
    };
    for at in [
        chrono::DateTime::from_timestamp(YEAR_255000, 0).unwrap(),
        chrono::Utc::now() + chrono::Duration::days(31),
    ] {
        invalid(
            office.blow_whistle(whistle(at)).await.map(drop),
            "arrive_by",
        );
    }
    office
        .blow_whistle(whistle(chrono::Utc::now() + chrono::Duration::hours(2)))
        .await
        .expect("a whistle for this afternoon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_tokens_bound_to_their_filters() {
    use hotline_proto::undertaking::v1::{
        AddHandlingRecordRequest, HandlingRecordKind, ListHandlingRecordsRequest,
        ListReturnsRequest,
    };
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // Three pending returns, listed two a page.
    let mut tickets = Vec::new();
    for key in ["page-1", "page-2", "page-3"] {
        let no = submit(&sys, key).await;
        let a = lead_of(&sys, &no, 1).await;
        attempt(&sys, &a, Move::Return, resolved())
            .await
            .expect("returned");
        tickets.push(no);
    }
    let mut centre = sys.undertaking().await;
    let list = |token: String| ListReturnsRequest {
        page_size: 2,
        page_token: token,
        ..Default::default()
    };
    let first = centre
        .list_returns(list(String::new()))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.returns.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = centre
        .list_returns(list(first.next_page_token.clone()))
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.returns.len(), 1);
    assert!(second.next_page_token.is_empty(), "the last page");
    let seen: Vec<&str> = first
        .returns
        .iter()
        .chain(&second.returns)
        .map(|r| r.ticket_no.as_str())
        .collect();
    assert_eq!(seen, tickets, "oldest first, none twice, none left out");
    // A token asked with other filters is refused, not silently applied.
    let e = centre
        .list_returns(ListReturnsRequest {
            ticket_no: tickets[0].clone(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("page_token"), "{}", e.message());
    let e = centre.list_returns(list("junk".into())).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("page_token"), "{}", e.message());

    // A ticket's handling records page the same way.
    let no = submit(&sys, "page-records").await;
    let a = lead_of(&sys, &no, 1).await;
    attempt(&sys, &a, Move::Sign, resolved())
        .await
        .expect("sign");
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    for n in 0..3 {
        unit.add_handling_record(AddHandlingRecordRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            kind: HandlingRecordKind::Progress as i32,
            note: format!("进展 {n}"),
            ..Default::default()
        })
        .await
        .expect("recorded");
    }
    let mut notes = Vec::new();
    let mut token = String::new();
    loop {
        let page = centre
            .list_handling_records(ListHandlingRecordsRequest {
                ticket_no: no.clone(),
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("a page")
            .into_inner();
        assert!(page.records.len() <= 2);
        notes.extend(page.records.into_iter().map(|r| r.note));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(notes, ["进展 0", "进展 1", "进展 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_urges_and_cases_page_with_their_own_tokens() {
    use hotline_proto::undertaking::v1::ListUnitSupervisionRequest;
    let sys = System::start(Options {
        policy: Some(hotline_tests::FAST_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts");
    // Two emergency tickets nobody signs: each is urged, then supervised.
    submit(&sys, "urged-1").await;
    submit(&sys, "urged-2").await;
    let mut unit = sys.undertaking_as("bj-heating-group").await;
    let ask = |urges: String, cases: String| ListUnitSupervisionRequest {
        unit_id: "bj-heating-group".into(),
        page_size: 1,
        urges_page_token: urges,
        cases_page_token: cases,
    };
    let first = hotline_tests::eventually(
        std::time::Duration::from_secs(60),
        "two urges and two cases against the unit",
        || {
            let mut unit = unit.clone();
            let ask = ask(String::new(), String::new());
            async move {
                let mut all = ask.clone();
                all.page_size = 10;
                let everything = unit.list_unit_supervision(all).await.ok()?.into_inner();
                (everything.urges.len() >= 2 && everything.cases.len() >= 2).then_some(())?;
                Some(unit.list_unit_supervision(ask).await.ok()?.into_inner())
            }
        },
    )
    .await;
    assert_eq!((first.urges.len(), first.cases.len()), (1, 1));
    assert!(!first.next_urges_page_token.is_empty());
    assert!(!first.next_cases_page_token.is_empty());
    let second = unit
        .list_unit_supervision(ask(
            first.next_urges_page_token.clone(),
            first.next_cases_page_token.clone(),
        ))
        .await
        .expect("the next pages")
        .into_inner();
    assert_eq!((second.urges.len(), second.cases.len()), (1, 1));
    assert_ne!(second.urges[0].urge_id, first.urges[0].urge_id);
    assert_ne!(second.cases[0].case_id, first.cases[0].case_id);
    // A token of one list is not the other's.
    let e = unit
        .list_unit_supervision(ask(String::new(), "junk".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("cases_page_token"), "{}", e.message());
}
