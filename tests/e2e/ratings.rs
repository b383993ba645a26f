//! Ratings (好差评) through gRPC: a ticket's intake contact is rated once
//! (a second rating ALREADY_EXISTS, a keyed retry replays the first
//! answer); a bad rating opens a check-back that is recorded once; a unit
//! that held the ticket appeals, another may not; an upheld appeal sets the
//! rating aside (listed, not counting), a rejected one leaves it counting;
//! bad input names its field; the requester's comment is withheld from
//! those who may not reach the requester. Under a policy of default
//! ratings (默认满意), a contact left unrated gets the default once, shown
//! on the contact and never as a rating; a rated one never does.

mod support;

use hotline_common::auth::Role;
use hotline_proto::common::v1::Channel;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_tests::{Authed, Options, System, eventually, heating_request, reason_of};
use prost::Message;
use support::{hop_assignments, lead, submit};
use tonic::{Code, Status};
use tonic_types::StatusExt;

async fn intake_as(
    sys: &System,
    roles: &[Role],
    unit: Option<&str>,
) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(sys.channel_with("intake", sys.token(roles, unit)).await)
}

/// INVALID_ARGUMENT whose field violations name exactly `fields`.
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

async fn intake_contact(sys: &System, no: &str) -> Contact {
    let contacts = sys
        .intake()
        .await
        .list_contacts(ListContactsRequest {
            ticket_no: no.to_string(),
        })
        .await
        .expect("the ticket's contacts")
        .into_inner()
        .contacts;
    assert_eq!(contacts.len(), 1, "one contact: the call that filed it");
    contacts[0].clone()
}

fn rating_of(no: &str, c: &Contact, level: SatisfactionLevel, key: &str) -> RateContactRequest {
    RateContactRequest {
        ticket_no: no.to_string(),
        contact_id: c.contact_id.clone(),
        level: level as i32,
        comment: "王女士：接线员态度很好".into(),
        idempotency_key: key.into(),
    }
}

/// Rates the ticket's intake contact as an operator.
async fn rate(sys: &System, no: &str, level: SatisfactionLevel) -> Rating {
    let c = intake_contact(sys, no).await;
    sys.intake()
        .await
        .rate_contact(rating_of(no, &c, level, ""))
        .await
        .expect("rated")
        .into_inner()
        .rating
        .expect("a rating")
}

async fn ratings_of(
    client: &mut IntakeServiceClient<Authed>,
    no: &str,
) -> Result<Vec<Rating>, Status> {
    Ok(client
        .list_ratings(ListRatingsRequest {
            ticket_no: no.to_string(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .ratings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_contact_is_rated_once_and_a_keyed_retry_replays() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("rated-once")).await;
    let contact = intake_contact(&sys, &no).await;
    assert_eq!(contact.kind, ContactKind::Intake as i32);
    assert_eq!(contact.channel, Channel::Phone as i32);
    assert_eq!(contact.ticket_no, no);

    // Return-visit staff do not rate the call that filed the ticket.
    let e = intake_as(&sys, &[Role::ReturnVisit], None)
        .await
        .rate_contact(rating_of(&no, &contact, SatisfactionLevel::Satisfied, ""))
        .await
        .unwrap_err();
    reason_of(&e, Code::PermissionDenied, "ROLE_NOT_FOR_CONTACT");

    // The channel system records the keypad's answer.
    let mut channel = intake_as(&sys, &[Role::Service], None).await;
    let req = rating_of(&no, &contact, SatisfactionLevel::Satisfied, "keypad-1");
    let first = channel
        .rate_contact(req.clone())
        .await
        .expect("rated")
        .into_inner();
    let rating = first.rating.clone().expect("a rating");
    assert_eq!(rating.level, SatisfactionLevel::Satisfied as i32);
    assert!(rating.counts);
    assert!(
        rating.check_back.is_none(),
        "a good rating needs no check-back"
    );

    let again = channel
        .rate_contact(req.clone())
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(
        again.encode_to_vec(),
        first.encode_to_vec(),
        "byte for byte"
    );

    // A second rating of the contact, with another key or none.
    for key in ["keypad-2", ""] {
        let e = channel
            .rate_contact(rating_of(
                &no,
                &contact,
                SatisfactionLevel::VerySatisfied,
                key,
            ))
            .await
            .unwrap_err();
        let meta = reason_of(&e, Code::AlreadyExists, "CONTACT_ALREADY_RATED");
        assert_eq!(meta.get("contact_id"), Some(&contact.contact_id));
    }

    // Listed once; the comment in full to the desk, withheld from an
    // auditor.
    let listed = ratings_of(&mut sys.intake().await, &no).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].comment, "王女士：接线员态度很好");
    let audited = ratings_of(&mut intake_as(&sys, &[Role::Auditor], None).await, &no)
        .await
        .unwrap();
    assert!(audited[0].comment.is_empty() && audited[0].comment_withheld);

    // And by period, for the evaluation.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let period = sys
        .intake()
        .await
        .list_ratings(ListRatingsRequest {
            from: at(now - 3600),
            to: at(now + 3600),
            ..Default::default()
        })
        .await
        .expect("a period's ratings")
        .into_inner()
        .ratings;
    assert_eq!(period.len(), 1);
    assert_eq!(period[0].rating_id, rating.rating_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rating_opens_a_check_back_recorded_once() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("bad-rating")).await;
    let rating = rate(&sys, &no, SatisfactionLevel::VeryDissatisfied).await;
    let opened = rating
        .check_back
        .expect("a check-back opened with the rating");
    assert_eq!(opened.state, CheckBackState::Open as i32);
    assert_eq!(opened.rating_id, rating.rating_id);

    let mut centre = intake_as(&sys, &[Role::ReturnVisit], None).await;
    let lister = centre.clone();
    let listed = |state: CheckBackState| {
        let mut c = lister.clone();
        async move {
            c.list_check_backs(ListCheckBacksRequest {
                state: state as i32,
                ..Default::default()
            })
            .await
            .expect("check-backs")
            .into_inner()
            .check_backs
            .into_iter()
            .map(|c| c.check_back_id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(CheckBackState::Open).await,
        vec![opened.check_back_id.clone()]
    );
    assert!(listed(CheckBackState::Closed).await.is_empty());

    let in_a_week = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 7 * 24 * 3600;
    let record = RecordCheckBackRequest {
        check_back_id: opened.check_back_id.clone(),
        outcome: CheckBackOutcome::DatedPlan as i32,
        planned_date: Some(prost_types::Timestamp {
            seconds: in_a_week,
            nanos: 0,
        }),
        note: "热力公司承诺一周内更换楼内管道".into(),
        idempotency_key: String::new(),
    };
    let closed = centre
        .record_check_back(record.clone())
        .await
        .expect("recorded")
        .into_inner()
        .check_back
        .expect("the check-back");
    assert_eq!(closed.state, CheckBackState::Closed as i32);
    assert_eq!(closed.outcome, CheckBackOutcome::DatedPlan as i32);
    assert_eq!(closed.planned_date.map(|t| t.seconds), Some(in_a_week));
    assert!(
        listed(CheckBackState::Open).await.is_empty(),
        "none left open"
    );
    assert_eq!(
        listed(CheckBackState::Closed).await,
        vec![opened.check_back_id.clone()]
    );

    let e = centre.record_check_back(record).await.unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "CHECK_BACK_ALREADY_RECORDED");
    assert_eq!(meta.get("state").map(String::as_str), Some("closed"));

    // A satisfied rating opens none.
    let other = submit(&sys, heating_request("good-rating")).await;
    assert!(
        rate(&sys, &other, SatisfactionLevel::BasicallySatisfied)
            .await
            .check_back
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appeals_by_the_unit_that_held_the_ticket_decided_once() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("appealed")).await;
    let holder = lead(&hop_assignments(&sys, &no, 1).await).unit_id.clone();
    assert_eq!(holder, "bj-heating-group");
    let rating = rate(&sys, &no, SatisfactionLevel::VeryDissatisfied).await;
    let appeal_of = |id: &str| AppealRatingRequest {
        rating_id: id.to_string(),
        reason: "诉求人反映的是物业问题，非本单位职责".into(),
        idempotency_key: String::new(),
    };

    // A unit the ticket was never sent to.
    let mut stranger = intake_as(&sys, &[Role::UnitStaff], Some("bj-water-group")).await;
    let e = stranger
        .appeal_rating(appeal_of(&rating.rating_id))
        .await
        .unwrap_err();
    reason_of(&e, Code::PermissionDenied, "UNIT_NEVER_HELD_TICKET");
    assert_eq!(
        ratings_of(&mut stranger, &no).await.unwrap_err().code(),
        Code::NotFound
    );

    let mut unit = intake_as(&sys, &[Role::UnitStaff], Some(&holder)).await;
    let appeal = unit
        .appeal_rating(appeal_of(&rating.rating_id))
        .await
        .expect("the lead unit appeals")
        .into_inner()
        .appeal
        .expect("an appeal");
    assert_eq!(appeal.state, AppealState::Pending as i32);
    assert_eq!(appeal.unit_id, holder);
    let e = unit
        .appeal_rating(appeal_of(&rating.rating_id))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "APPEAL_PENDING");

    let mut supervisor = intake_as(&sys, &[Role::Supervisor], None).await;
    let decide = |id: &str, uphold| DecideAppealRequest {
        appeal_id: id.to_string(),
        uphold,
        note: "经核实，属物业管理范畴".into(),
        idempotency_key: String::new(),
    };
    let decided = supervisor
        .decide_appeal(decide(&appeal.appeal_id, true))
        .await
        .expect("upheld")
        .into_inner();
    assert_eq!(decided.appeal.unwrap().state, AppealState::Upheld as i32);
    let set_aside = decided.rating.expect("the rating");
    assert!(!set_aside.counts);
    assert_eq!(set_aside.set_aside_by_appeal_id, appeal.appeal_id);

    // Still listed, as given, not counting; the unit sees it too.
    let listed = ratings_of(&mut unit, &no)
        .await
        .expect("the unit lists them");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rating_id, rating.rating_id);
    assert_eq!(listed[0].level, SatisfactionLevel::VeryDissatisfied as i32);
    assert!(!listed[0].counts);
    assert!(listed[0].check_back.is_some(), "its check-back stays");

    let e = supervisor
        .decide_appeal(decide(&appeal.appeal_id, false))
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "APPEAL_ALREADY_DECIDED");
    assert_eq!(meta.get("state").map(String::as_str), Some("upheld"));
    let e = unit
        .appeal_rating(appeal_of(&rating.rating_id))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "RATING_NOT_COUNTED");

    // A rejected appeal leaves the rating counting.
    let other = submit(&sys, heating_request("appeal-rejected")).await;
    hop_assignments(&sys, &other, 1).await;
    let rating = rate(&sys, &other, SatisfactionLevel::Dissatisfied).await;
    let appeal = unit
        .appeal_rating(appeal_of(&rating.rating_id))
        .await
        .expect("appealed")
        .into_inner()
        .appeal
        .unwrap();
    let decided = supervisor
        .decide_appeal(decide(&appeal.appeal_id, false))
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(decided.appeal.unwrap().state, AppealState::Rejected as i32);
    assert!(decided.rating.unwrap().counts);
    let listed = ratings_of(&mut sys.intake().await, &other).await.unwrap();
    assert!(listed[0].counts && listed[0].set_aside_by_appeal_id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_its_field() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("bad-input")).await;
    let contact = intake_contact(&sys, &no).await;
    let mut desk = sys.intake().await;
    let base = rating_of(&no, &contact, SatisfactionLevel::Satisfied, "");

    let e = desk
        .rate_contact(RateContactRequest {
            level: 99,
            ..base.clone()
        })
        .await
        .unwrap_err();
    names(&e, &["level"]);
    let e = desk
        .rate_contact(RateContactRequest {
            level: 0,
            ..base.clone()
        })
        .await
        .unwrap_err();
    names(&e, &["level"]);
    for comment in [
        "ab\0cd".to_string(),
        "a\u{202E}b".into(),
        "字".repeat(100_000),
    ] {
        let e = desk
            .rate_contact(RateContactRequest {
                comment,
                ..base.clone()
            })
            .await
            .unwrap_err();
        names(&e, &["comment"]);
    }
    let e = desk
        .rate_contact(RateContactRequest {
            contact_id: uuid::Uuid::now_v7().to_string(),
            ..base.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    let e = desk
        .rate_contact(RateContactRequest {
            ticket_no: "BJ999999999999".into(),
            ..base.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::NotFound,
        "another ticket's contact: {}",
        e.message()
    );

    // None of these stored anything: the contact is still rateable.
    desk.rate_contact(base).await.expect("rated after all");

    let e = intake_as(&sys, &[Role::Supervisor], None)
        .await
        .record_check_back(RecordCheckBackRequest {
            check_back_id: uuid::Uuid::now_v7().to_string(),
            outcome: 99,
            note: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    names(&e, &["outcome", "note"]);
}

/// Beijing's limits (nothing expires during the test) and a default
/// rating of 满意 two seconds after an unrated contact.
const DEFAULT_RATINGS: &str = r#"
name = "test-default-ratings"
[ratings]
default_after = "2s"
default_level = "satisfied"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrated_contact_gets_the_policys_default_kept_apart_from_ratings() {
    let sys = System::start(Options {
        policy: Some(hotline_tests::quiet_policy(DEFAULT_RATINGS)),
        ..Default::default()
    })
    .await
    .expect("system starts");
    // Rated at once; the second ticket's contact, made later, is not.
    let rated = submit(&sys, heating_request("default-rated")).await;
    let real = rate(&sys, &rated, SatisfactionLevel::BasicallySatisfied).await;
    let unrated = submit(&sys, heating_request("default-unrated")).await;

    let c = eventually(
        std::time::Duration::from_secs(30),
        "the default rating",
        || async {
            Some(intake_contact(&sys, &unrated).await).filter(|c| c.defaulted_at.is_some())
        },
    )
    .await;
    assert_eq!(c.default_level, SatisfactionLevel::Satisfied as i32);
    let (made, defaulted) = (c.at.unwrap().seconds, c.defaulted_at.unwrap().seconds);
    assert!(defaulted >= made + 2, "not before the policy's time");
    // The sweep takes contacts oldest first: the earlier, rated one was
    // passed over, not left for later.
    let first = intake_contact(&sys, &rated).await;
    assert_eq!(first.default_level, SatisfactionLevel::Unspecified as i32);
    assert!(first.defaulted_at.is_none());

    // Not a rating: ListRatings shows only the requester's own, and the
    // requester may still rate the defaulted contact.
    let mut staff = sys.intake().await;
    let listed = ratings_of(&mut staff, &rated).await.expect("ratings");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rating_id, real.rating_id);
    assert!(
        ratings_of(&mut staff, &unrated)
            .await
            .expect("ratings")
            .is_empty()
    );
    let late = rate(&sys, &unrated, SatisfactionLevel::Dissatisfied).await;
    assert_eq!(late.level, SatisfactionLevel::Dissatisfied as i32);
    let after = intake_contact(&sys, &unrated).await;
    assert_eq!(
        after.default_level,
        SatisfactionLevel::Satisfied as i32,
        "kept"
    );

    // Stored apart, once, with its fact and audit entry.
    let mut db = sys.db("intake").await.expect("intake's schema");
    // (An audit entry is pending until the sealer chains it, within a
    // second: either table holds it.)
    let (defaults, audited): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM default_ratings), \
         (SELECT count(*) FROM audit_log WHERE action = 'rating.defaulted') \
         + (SELECT count(*) FROM audit_pending WHERE action = 'rating.defaulted')",
    )
    .fetch_one(&mut db)
    .await
    .expect("counts");
    assert_eq!((defaults, audited), (1, 1));
}
