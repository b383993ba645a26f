use super::*;
use chrono::TimeZone;
use hotline_proto::undertaking::v1::Assignment;

fn who(roles: &[Role], unit: Option<&str>) -> Identity {
    Identity {
        subject: "t".into(),
        unit: unit.map(str::to_string),
        roles: roles.to_vec(),
    }
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap()
}

fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(to_proto(t))
}

fn rate(level: i32, comment: &str) -> pb::RateContactRequest {
    pb::RateContactRequest {
        ticket_no: "BJ000000000001".into(),
        contact_id: ContactId::new().to_string(),
        level,
        comment: comment.into(),
        idempotency_key: String::new(),
    }
}

fn fields(e: ApiError) -> Vec<String> {
    e.fields.into_iter().map(|(f, _)| f).collect()
}

#[test]
fn only_the_two_bad_levels_open_a_check_back() {
    for (level, opens) in [
        (Level::VerySatisfied, false),
        (Level::Satisfied, false),
        (Level::BasicallySatisfied, false),
        (Level::Dissatisfied, true),
        (Level::VeryDissatisfied, true),
    ] {
        assert_eq!(opens_check_back(level), opens, "{level:?}");
        assert_eq!(Level::from_sql(level.as_sql()), Ok(level));
        assert_eq!(Level::from_proto(level.to_proto() as i32), Some(level));
    }
}

#[test]
fn a_rating_names_a_known_level_and_a_clean_bounded_comment() {
    let ok = parse_rate(&rate(2, " 态度很好 ")).expect("valid");
    assert_eq!(ok.level, Level::Satisfied);
    assert_eq!(ok.comment, "态度很好");
    assert!(parse_rate(&rate(4, "")).is_ok(), "the comment is optional");
    for level in [0, 6, 99, -1] {
        assert_eq!(fields(parse_rate(&rate(level, "")).unwrap_err()), ["level"]);
    }
    for bad in ["a\0b", "a\u{202E}b", "\u{FEFF}x"] {
        assert_eq!(fields(parse_rate(&rate(1, bad)).unwrap_err()), ["comment"]);
    }
    let long = "字".repeat(MAX_COMMENT_CHARS + 1);
    assert_eq!(
        fields(parse_rate(&rate(1, &long)).unwrap_err()),
        ["comment"]
    );
    let mut r = rate(99, "");
    r.contact_id = "nope".into();
    r.ticket_no = String::new();
    assert_eq!(
        fields(parse_rate(&r).unwrap_err()),
        ["ticket_no", "contact_id", "level"],
        "every bad field at once"
    );
}

#[test]
fn the_intake_contact_is_rated_by_the_desk_and_channels_a_return_visit_by_visitors() {
    for role in [Role::Operator, Role::Service] {
        assert!(may_rate(&who(&[role], None), ContactKind::Intake).is_ok());
    }
    for role in [Role::ReturnVisit, Role::Service] {
        assert!(may_rate(&who(&[role], None), ContactKind::ReturnVisit).is_ok());
    }
    let e = may_rate(&who(&[Role::ReturnVisit], None), ContactKind::Intake).unwrap_err();
    assert_eq!(e.reason, Some(Reason::RoleNotForContact));
    assert!(
        !e.message.contains("may not call"),
        "not the gate's refusal"
    );
    let e = may_rate(&who(&[Role::Operator], None), ContactKind::ReturnVisit).unwrap_err();
    assert_eq!(e.reason, Some(Reason::RoleNotForContact));
}

fn record(outcome: i32, planned: Option<DateTime<Utc>>, note: &str) -> pb::RecordCheckBackRequest {
    pb::RecordCheckBackRequest {
        check_back_id: CheckBackId::new().to_string(),
        outcome,
        planned_date: planned.and_then(ts),
        note: note.into(),
        idempotency_key: String::new(),
    }
}

#[test]
fn a_dated_plan_needs_a_date_within_a_year_and_the_others_none() {
    let now = at(10);
    let plan = Outcome::DatedPlan.to_proto() as i32;
    let fixed = Outcome::Fixed.to_proto() as i32;
    let r = parse_record(&record(plan, Some(at(20)), "下周更换管道"), now).unwrap();
    assert_eq!(r.planned_date, Some(at(20)));
    assert!(parse_record(&record(fixed, None, "已修复"), now).is_ok());
    let e = parse_record(&record(plan, None, "计划"), now).unwrap_err();
    assert_eq!(fields(e), ["planned_date"]);
    let e = parse_record(&record(fixed, Some(at(20)), "已修复"), now).unwrap_err();
    assert_eq!(fields(e), ["planned_date"]);
    let far = now + MAX_PLAN_AHEAD + Duration::days(1);
    let e = parse_record(&record(plan, Some(far), "计划"), now).unwrap_err();
    assert_eq!(fields(e), ["planned_date"]);
    let e = parse_record(&record(plan, Some(at(1)), "计划"), now).unwrap_err();
    assert_eq!(fields(e), ["planned_date"], "not in the past");
    let e = parse_record(&record(0, None, " "), now).unwrap_err();
    assert_eq!(fields(e), ["outcome", "note"]);
    let e = parse_record(&record(99, None, "x"), now).unwrap_err();
    assert_eq!(fields(e), ["outcome"]);
}

fn check_back(state: CheckBackState) -> CheckBack {
    CheckBack {
        id: CheckBackId::new(),
        rating_id: RatingId::new(),
        ticket_no: "BJ000000000001".into(),
        state,
        opened_at: at(1),
        outcome: (state == CheckBackState::Closed).then_some(Outcome::Explained),
        planned_date: None,
        note: String::new(),
        closed_at: None,
    }
}

#[test]
fn a_check_back_is_recorded_once() {
    assert!(check_open(&check_back(CheckBackState::Open)).is_ok());
    let e = check_open(&check_back(CheckBackState::Closed)).unwrap_err();
    assert_eq!(e.reason, Some(Reason::CheckBackAlreadyRecorded));
    assert!(e.metadata.contains(&("state".into(), "closed".into())));
}

fn assignment(unit: &str, state: i32) -> Assignment {
    Assignment {
        unit_id: unit.into(),
        state,
        ..Default::default()
    }
}

#[test]
fn a_unit_appeals_only_a_ticket_it_holds_or_held() {
    use hotline_proto::undertaking::v1::AssignmentState;
    let held = [
        assignment("bj-heating-group", AssignmentState::Withdrawn as i32),
        assignment("bj-water-group", AssignmentState::Signed as i32),
    ];
    let heating = who(&[Role::UnitStaff], Some("bj-heating-group"));
    assert_eq!(appealing_unit(&heating, &held).unwrap(), "bj-heating-group");
    let water = who(&[Role::UnitStaff], Some("bj-water-group"));
    assert_eq!(appealing_unit(&water, &held).unwrap(), "bj-water-group");
    let other = who(&[Role::UnitStaff], Some("bj-cmc"));
    let e = appealing_unit(&other, &held).unwrap_err();
    assert_eq!(e.reason, Some(Reason::UnitNeverHeldTicket));
    assert_eq!(e.code, hotline_common::error::ErrorCode::PermissionDenied);
    let none = who(&[Role::UnitStaff], None);
    assert_eq!(
        appealing_unit(&none, &held).unwrap_err().reason,
        Some(Reason::NoUnit)
    );
}

fn appeal(state: AppealState) -> Appeal {
    Appeal {
        id: AppealId::new(),
        rating_id: RatingId::new(),
        ticket_no: "BJ000000000001".into(),
        unit_id: "bj-heating-group".into(),
        reason: "诉求人误评".into(),
        state,
        appealed_at: at(2),
        decided_at: None,
        decision_note: String::new(),
    }
}

#[test]
fn an_appeal_is_decided_once() {
    assert_eq!(
        decide(&appeal(AppealState::Pending), true),
        Ok(AppealState::Upheld)
    );
    assert_eq!(
        decide(&appeal(AppealState::Pending), false),
        Ok(AppealState::Rejected)
    );
    for done in [AppealState::Upheld, AppealState::Rejected] {
        let e = decide(&appeal(done), true).unwrap_err();
        assert_eq!(e.reason, Some(Reason::AppealAlreadyDecided));
        assert!(e.metadata.contains(&("state".into(), done.as_sql().into())));
    }
}

fn rating(set_aside_by: Option<AppealId>) -> Rating {
    Rating {
        id: RatingId::new(),
        contact_id: ContactId::new(),
        ticket_no: "BJ000000000001".into(),
        contact_kind: ContactKind::Intake,
        level: Level::VeryDissatisfied,
        comment: "王女士说没人来修".into(),
        rated_at: at(1),
        counts: set_aside_by.is_none(),
        set_aside_by,
    }
}

#[test]
fn a_set_aside_rating_is_not_appealed_again_and_stays_whole() {
    assert!(check_appealable(&rating(None)).is_ok());
    let r = rating(Some(AppealId::new()));
    assert_eq!(
        check_appealable(&r).unwrap_err().reason,
        Some(Reason::RatingNotCounted)
    );
    let p = r.to_proto(true, None);
    assert!(!p.counts);
    assert_eq!(p.level, pb::SatisfactionLevel::VeryDissatisfied as i32);
    assert_eq!(
        p.set_aside_by_appeal_id,
        r.set_aside_by.unwrap().to_string()
    );
}

#[test]
fn the_comment_is_shown_to_those_who_may_reach_the_requester() {
    for role in [Role::Operator, Role::ReturnVisit, Role::Supervisor] {
        assert!(sees_comment(&who(&[role], None), Holding::None, true));
    }
    for role in [Role::Dispatcher, Role::Leader, Role::Auditor, Role::Service] {
        assert!(!sees_comment(&who(&[role], None), Holding::None, false));
    }
    let unit = who(&[Role::UnitStaff], Some("u"));
    assert!(sees_comment(&unit, Holding::Open, false));
    assert!(!sees_comment(&unit, Holding::Open, true), "保密");
    assert!(!sees_comment(&unit, Holding::Past, false));
    let r = rating(None);
    let hidden = r.to_proto(false, None);
    assert!(hidden.comment.is_empty() && hidden.comment_withheld);
    let mut blank = rating(None);
    blank.comment.clear();
    assert!(!blank.to_proto(false, None).comment_withheld);
}

fn list(
    no: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> pb::ListRatingsRequest {
    pb::ListRatingsRequest {
        ticket_no: no.into(),
        from: from.and_then(ts),
        to: to.and_then(ts),
        page_size: 0,
        page_token: String::new(),
    }
}

#[test]
fn ratings_are_listed_by_ticket_or_by_period() {
    let centre = who(&[Role::Supervisor], None);
    let (q, _) = parse_list(&centre, &list("BJ000000000001", None, None)).unwrap();
    assert!(matches!(q, RatingQuery::ByTicket(_)));
    let (q, _) = parse_list(&centre, &list("", Some(at(1)), Some(at(2)))).unwrap();
    assert_eq!(q, RatingQuery::InPeriod(at(1), at(2)));
    let e = parse_list(&centre, &list("", None, None)).unwrap_err();
    assert_eq!(fields(e), ["ticket_no"]);
    let e = parse_list(&centre, &list("", Some(at(2)), Some(at(1)))).unwrap_err();
    assert_eq!(fields(e), ["to"]);
    let e = parse_list(&centre, &list("", Some(at(2)), None)).unwrap_err();
    assert_eq!(fields(e), ["to"]);
    let e = parse_list(&centre, &list("BJ1", Some(at(1)), Some(at(2)))).unwrap_err();
    assert_eq!(fields(e), ["from"]);
    let unit = who(&[Role::UnitStaff], Some("u"));
    let e = parse_list(&unit, &list("", Some(at(1)), Some(at(2)))).unwrap_err();
    assert_eq!(fields(e), ["ticket_no"], "unit staff list by ticket only");
    assert!(parse_list(&unit, &list("BJ1", None, None)).is_ok());
}

#[test]
fn a_page_token_is_bound_to_its_query() {
    let centre = who(&[Role::Supervisor], None);
    let (_, page) = parse_list(&centre, &list("BJ1", None, None)).unwrap();
    let mut rows = vec![1, 2];
    let mut small = page.clone();
    small.size = 1;
    let token = small.cut(&mut rows, |_| {
        hotline_common::paging::Cursor::new(at(1), "k")
    });
    let mut other = list("BJ2", None, None);
    other.page_token = token.clone();
    assert_eq!(
        fields(parse_list(&centre, &other).unwrap_err()),
        ["page_token"]
    );
    let mut same = list("BJ1", None, None);
    same.page_token = token;
    assert!(parse_list(&centre, &same).is_ok());
}

#[test]
fn check_backs_are_listed_open_closed_or_all() {
    let req = |state| pb::ListCheckBacksRequest {
        state,
        ..Default::default()
    };
    assert_eq!(parse_list_check_backs(&req(0)).unwrap().0, None);
    assert_eq!(
        parse_list_check_backs(&req(1)).unwrap().0,
        Some(CheckBackState::Open)
    );
    assert_eq!(
        fields(parse_list_check_backs(&req(99)).unwrap_err()),
        ["state"]
    );
}
