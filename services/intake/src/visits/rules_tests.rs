use std::time::Duration;

use chrono::TimeZone;
use hotline_common::auth::{Identity, Role};

use super::*;

fn policy(sampling: Sampling) -> ReturnVisits {
    ReturnVisits {
        sampling,
        limit: Duration::from_secs(3600),
        retry_after: Duration::from_secs(120),
        max_attempts: 3,
        take_lease: Duration::from_secs(600),
        questions: vec!["您反映的问题现在解决情况如何？".into()],
    }
}

fn sample(rate: f64) -> Sampling {
    Sampling::Sample {
        seed: "2026-11".into(),
        emergency: 1.0,
        basic_livelihood: 0.0,
        general: rate,
    }
}

#[test]
fn the_draw_is_sha256_of_seed_then_ticket_number() {
    // Fixed vectors: first 8 bytes of SHA-256("2026-11BJ000000000001") etc.
    assert_eq!(draw("2026-11", "BJ000000000001"), 0x8369_e013_c3fa_b4dc);
    assert_eq!(draw("2026-11", "BJ000000000002"), 0xcdcc_950b_daba_c8d0);
    assert_eq!(draw("2026-12", "BJ000000000001"), 0x26e6_ec18_ef77_70b5);
    // SHA-256 of nothing.
    assert_eq!(draw("", ""), 0xe3b0_c442_98fc_1c14);
}

#[test]
fn a_ticket_is_sampled_when_its_draw_is_below_the_rate() {
    // BJ…0001 draws 0.5133 of 2^64 in 2026-11, 0.1520 in 2026-12.
    assert!(in_sample("2026-11", "BJ000000000001", 0.52));
    assert!(!in_sample("2026-11", "BJ000000000001", 0.51));
    assert!(in_sample("2026-12", "BJ000000000001", 0.16));
    assert!(!in_sample("2026-12", "BJ000000000001", 0.15));
    // BJ…0002 draws 0.8039.
    assert!(!in_sample("2026-11", "BJ000000000002", 0.8));
    assert!(in_sample("2026-11", "BJ000000000002", 0.81));
    // The ends.
    assert!(in_sample("2026-11", "BJ000000000002", 1.0));
    assert!(!in_sample("2026-11", "BJ000000000001", 0.0));
    assert!(!in_sample("2026-11", "BJ000000000001", f64::NAN));
}

#[test]
fn the_sample_is_the_same_every_time_and_near_its_rate() {
    let pick = |seed: &str| -> Vec<bool> {
        (1..=2000)
            .map(|n| in_sample(seed, &format!("BJ{n:012}"), 0.3))
            .collect()
    };
    let first = pick("2026-11");
    assert_eq!(first, pick("2026-11"), "a pure function of seed and number");
    let share = first.iter().filter(|b| **b).count() as f64 / 2000.0;
    assert!((0.26..0.34).contains(&share), "share {share}");
    assert_ne!(first, pick("2026-12"), "another period, another sample");
}

#[test]
fn consent_refused_is_never_queued_whatever_the_policy() {
    for s in [Sampling::All, sample(1.0)] {
        let e = decide(&policy(s), Tier::General, false, "BJ000000000001");
        assert_eq!(e.not_queued, Some(NotQueued::ConsentRefused));
    }
}

#[test]
fn all_queues_every_consenting_ticket_with_no_sample() {
    let e = decide(
        &policy(Sampling::All),
        Tier::General,
        true,
        "BJ000000000001",
    );
    assert_eq!(
        e,
        Entry {
            not_queued: None,
            sample: None
        }
    );
}

#[test]
fn a_sample_is_per_tier_and_stored_with_its_seed_and_rate() {
    let p = policy(sample(0.52));
    let e = decide(&p, Tier::General, true, "BJ000000000001");
    assert_eq!(e.not_queued, None);
    assert_eq!(e.sample, Some(("2026-11".into(), 0.52)));
    let e = decide(&p, Tier::General, true, "BJ000000000002");
    assert_eq!(e.not_queued, Some(NotQueued::NotSampled));
    let e = decide(&p, Tier::Emergency, true, "BJ000000000002");
    assert_eq!(e.not_queued, None, "emergency at rate 1");
    let e = decide(&p, Tier::BasicLivelihood, true, "BJ000000000001");
    assert_eq!(e.not_queued, Some(NotQueued::NotSampled), "rate 0");
}

fn req(result: pb::VisitAttemptResult) -> pb::RecordVisitAttemptRequest {
    pb::RecordVisitAttemptRequest {
        visit_id: "7b0c9a52-8a53-4f5e-9a7e-0d1b2c3d4e5f".into(),
        result: result as i32,
        ..Default::default()
    }
}

fn fields(e: ApiError) -> Vec<String> {
    e.fields.into_iter().map(|(f, _)| f).collect()
}

#[test]
fn a_reached_attempt_needs_resolution_and_satisfaction() {
    let e = parse_attempt(&req(pb::VisitAttemptResult::Reached)).unwrap_err();
    assert_eq!(fields(e), ["resolution", "satisfaction"]);
    let mut r = req(pb::VisitAttemptResult::Reached);
    r.resolution = pb::Resolution::Partly as i32;
    r.satisfaction = pb::SatisfactionLevel::Dissatisfied as i32;
    r.unit_at_fault = true;
    r.comment = "暖气仍然不热".into();
    let a = parse_attempt(&r).unwrap();
    assert_eq!(
        a.answers,
        Some(Answers {
            unit_contacted: false,
            resolution: Resolution::Partly,
            satisfaction: Level::Dissatisfied,
            unit_at_fault: true,
            comment: "暖气仍然不热".into(),
        })
    );
}

#[test]
fn only_a_reached_requester_answers_and_bad_input_is_named() {
    let mut r = req(pb::VisitAttemptResult::Unreachable);
    r.resolution = pb::Resolution::Resolved as i32;
    r.comment = "x".into();
    assert_eq!(
        fields(parse_attempt(&r).unwrap_err()),
        ["resolution", "comment"]
    );
    let r = pb::RecordVisitAttemptRequest {
        visit_id: "nope".into(),
        result: 99,
        comment: "a\u{202e}b".into(),
        ..Default::default()
    };
    assert_eq!(
        fields(parse_attempt(&r).unwrap_err()),
        ["visit_id", "result", "comment"]
    );
    assert!(parse_attempt(&req(pb::VisitAttemptResult::Refused)).is_ok());
}

fn at(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, s).unwrap()
}

#[test]
fn unreachable_retries_until_the_attempts_are_spent() {
    let p = policy(Sampling::All);
    let r = AttemptResult::Unreachable;
    assert_eq!(
        step(&p, r, 1, at(0)),
        Step::Retry(at(0) + chrono::Duration::seconds(120))
    );
    assert_eq!(
        step(&p, r, 2, at(0)),
        Step::Retry(at(0) + chrono::Duration::seconds(120))
    );
    assert_eq!(step(&p, r, 3, at(0)), Step::Close(Outcome::Unreachable));
    assert_eq!(
        step(&p, AttemptResult::Reached, 1, at(0)),
        Step::Close(Outcome::Reached)
    );
    assert_eq!(
        step(&p, AttemptResult::Refused, 2, at(0)),
        Step::Close(Outcome::Refused)
    );
}

fn visit(state: VisitState, taken_by: Option<&str>) -> Visit {
    Visit {
        id: VisitId::new(),
        ticket_no: "BJ000000000001".into(),
        unit_id: "bj-heating-group".into(),
        hop: 1,
        round: 1,
        cause: Cause::Answered,
        answered_at: Some(at(0)),
        entered_at: at(0),
        state,
        not_queued: None,
        sample: None,
        deadline: Some(at(30)),
        due_at: Some(at(0)),
        taken_by: taken_by.map(str::to_string),
        attempts: 0,
        outcome: None,
        answers: None,
        contact_id: None,
        closed_at: None,
    }
}

#[test]
fn only_the_visitor_holding_a_visit_records_it() {
    let me = Identity {
        subject: "visitor-1".into(),
        unit: None,
        roles: vec![Role::ReturnVisit],
    };
    assert!(check_recordable(&visit(VisitState::Taken, Some("visitor-1")), &me).is_ok());
    for v in [
        visit(VisitState::Taken, Some("visitor-2")),
        visit(VisitState::Queued, None),
    ] {
        let e = check_recordable(&v, &me).unwrap_err();
        assert_eq!(e.reason, Some(Reason::VisitNotTaken));
    }
    let mut closed = visit(VisitState::Closed, Some("visitor-1"));
    closed.outcome = Some(Outcome::Reached);
    let e = check_recordable(&closed, &me).unwrap_err();
    assert_eq!(e.reason, Some(Reason::VisitClosed));
}
