use super::*;
use chrono::TimeZone;
use hotline_common::time::to_proto;
use hotline_proto::events::v1 as ev;
use hotline_proto::intake::v1::{Resolution, SatisfactionLevel};

fn policy() -> Evaluation {
    hotline_sla::Policy::beijing().evaluation
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 31, h, m, 0).unwrap()
}

fn event(id: &str, t: DateTime<Utc>, fact: Ev) -> LifecycleEvent {
    LifecycleEvent {
        event_id: id.into(),
        ticket_no: "BJ1".into(),
        occurred_at: Some(to_proto(t)),
        source: 0,
        fact: Some(fact),
    }
}

fn assigned(id: &str, unit: &str, deadline: DateTime<Utc>) -> LifecycleEvent {
    event(
        &format!("a-{id}"),
        at(1, 0),
        Ev::Assigned(ev::Assigned {
            assignment_id: id.into(),
            unit_id: unit.into(),
            sign_deadline: Some(to_proto(deadline)),
            ..Default::default()
        }),
    )
}

fn signed(id: &str, unit: &str, t: DateTime<Utc>, deadline: DateTime<Utc>) -> LifecycleEvent {
    event(
        &format!("s-{id}"),
        t,
        Ev::Signed(ev::Signed {
            assignment_id: id.into(),
            unit_id: unit.into(),
            signed_at: Some(to_proto(t)),
            sign_deadline: Some(to_proto(deadline)),
            within_limit: t <= deadline,
            ..Default::default()
        }),
    )
}

fn visited(
    id: &str,
    unit: &str,
    contact: &str,
    resolved: Resolution,
    level: SatisfactionLevel,
) -> LifecycleEvent {
    event(
        &format!("v-{id}"),
        at(10, 0),
        Ev::Visited(ev::Visited {
            visit_id: id.into(),
            outcome: VisitOutcome::Reached as i32,
            contact_id: contact.into(),
            resolved: resolved as i32,
            satisfaction: level as i32,
            visited_at: Some(to_proto(at(10, 0))),
            unit_id: unit.into(),
            ..Default::default()
        }),
    )
}

fn rated(id: &str, contact: &str, level: SatisfactionLevel, kind: ContactKind) -> LifecycleEvent {
    event(
        &format!("r-{id}"),
        at(11, 0),
        Ev::Rated(ev::Rated {
            rating_id: id.into(),
            contact_id: contact.into(),
            contact_kind: kind as i32,
            level: level as i32,
            rated_at: Some(to_proto(at(11, 0))),
        }),
    )
}

fn total(facts: &[Fact]) -> Counts {
    let mut c = Counts::default();
    for f in facts {
        c.add(&f.contribution());
    }
    c
}

#[test]
fn an_assignment_counts_on_the_local_day_of_its_deadline() {
    // 16:30 UTC on 31 March is 00:30 on 1 April in Beijing.
    let late_night = at(16, 30);
    let events = [
        assigned("x1", "u1", late_night),
        signed("x1", "u1", at(2, 0), late_night),
    ];
    let f = fold(&policy(), "BJ1", &events, &HashMap::new()).facts;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].day, NaiveDate::from_ymd_opt(2025, 4, 1).unwrap());
    assert!(f[0].listed_den && f[0].listed_num);
    assert!(f[0].why.contains("by the deadline"), "{}", f[0].why);
    let c = total(&f);
    assert_eq!((c.0[RESPONSE_DUE], c.0[RESPONSE_SIGNED]), (1, 1));
}

#[test]
fn late_unsigned_and_returned_assignments() {
    let d = at(5, 0);
    let events = [
        assigned("late", "u1", d),
        signed("late", "u1", at(6, 0), d),
        assigned("never", "u1", d),
        assigned("back", "u2", d),
        event(
            "rd",
            at(3, 0),
            Ev::ReturnDecided(ev::ReturnDecided {
                assignment_id: "back".into(),
                unit_id: "u2".into(),
                decision: ReturnState::Accepted as i32,
                ..Default::default()
            }),
        ),
    ];
    let f = fold(&policy(), "BJ1", &events, &HashMap::new()).facts;
    let c = total(&f);
    assert_eq!((c.0[RESPONSE_DUE], c.0[RESPONSE_SIGNED]), (2, 0));
    let back = f.iter().find(|x| x.item_id == "back").unwrap();
    assert!(!back.listed_den && back.why.contains("return accepted"));
}

fn of_hop(hop: i32, e: LifecycleEvent) -> LifecycleEvent {
    let mut e = e;
    if let Some(Ev::Assigned(a)) = &mut e.fact {
        a.hop = hop;
    }
    e
}

fn routed(hop: i32, t: DateTime<Utc>) -> LifecycleEvent {
    event(
        &format!("routed-{hop}"),
        t,
        Ev::Routed(ev::Routed {
            hop,
            routed_at: Some(to_proto(t)),
            ..Default::default()
        }),
    )
}

#[test]
fn an_assignment_withdrawn_unsigned_before_its_deadline_was_never_due() {
    let d = at(5, 0);
    // Hop 1: one unit signed, one not; hop 2 routed at 03:00, before the
    // deadline: the unsigned one is not counted, the signed one is.
    let early = [
        routed(1, at(0, 30)),
        of_hop(1, assigned("signed", "u1", d)),
        signed("signed", "u1", at(2, 0), d),
        of_hop(1, assigned("unsigned", "u2", d)),
        routed(2, at(3, 0)),
        of_hop(2, assigned("next", "u3", at(8, 0))),
    ];
    let f = fold(&policy(), "BJ1", &early, &HashMap::new()).facts;
    let c = total(&f);
    assert_eq!((c.0[RESPONSE_DUE], c.0[RESPONSE_SIGNED]), (2, 1));
    let w = f.iter().find(|x| x.item_id == "unsigned").unwrap();
    assert!(!w.listed_den && !w.listed_num);
    assert!(w.why.contains("withdrawn unsigned by hop 2"), "{}", w.why);
    // Routed after the deadline: the unit let it pass unsigned, it counts.
    let late = [
        of_hop(1, assigned("unsigned", "u2", d)),
        routed(2, at(6, 0)),
        routed(3, at(7, 0)),
    ];
    let f = fold(&policy(), "BJ1", &late, &HashMap::new()).facts;
    assert!(f[0].listed_den && !f[0].listed_num, "{}", f[0].why);
    assert!(f[0].why.contains("not signed"), "{}", f[0].why);
    // An assignment whose hop the event did not carry is never taken as
    // withdrawn.
    let unknown = [assigned("old", "u2", d), routed(2, at(3, 0))];
    let f = fold(&policy(), "BJ1", &unknown, &HashMap::new()).facts;
    assert!(f[0].listed_den, "{}", f[0].why);
}

#[test]
fn the_order_and_repeats_of_events_do_not_matter() {
    let d = at(5, 0);
    let a = [assigned("x", "u1", d), signed("x", "u1", at(4, 0), d)];
    let b = [
        signed("x", "u1", at(4, 0), d),
        assigned("x", "u1", d),
        signed("x", "u1", at(4, 0), d),
    ];
    let p = policy();
    assert_eq!(
        fold(&p, "BJ1", &a, &HashMap::new()).facts,
        fold(&p, "BJ1", &b, &HashMap::new()).facts
    );
}

#[test]
fn visits_and_ratings_count_for_the_unit_visited_about() {
    use SatisfactionLevel as L;
    let events = [
        visited("v1", "u1", "c1", Resolution::Partly, L::BasicallySatisfied),
        rated("r1", "c1", L::Satisfied, ContactKind::ReturnVisit),
        rated("r0", "c-intake", L::VerySatisfied, ContactKind::Intake),
        event(
            "ad",
            at(12, 0),
            Ev::RatingAppealDecided(ev::RatingAppealDecided {
                rating_id: "r1".into(),
                upheld: true,
                ..Default::default()
            }),
        ),
    ];
    let f = fold(&policy(), "BJ1", &events, &HashMap::new()).facts;
    let metrics: Vec<Metric> = f.iter().map(|x| x.metric).collect();
    assert_eq!(
        metrics,
        [Metric::Resolution, Metric::Satisfaction, Metric::Rating]
    );
    let c = total(&f);
    assert_eq!(c.0[RESOLUTION + 1], 1, "partly resolved");
    assert_eq!(c.0[SATISFACTION + 2], 1, "基本满意");
    assert_eq!(
        c.0[RATING..RATING + 5].iter().sum::<i64>(),
        0,
        "the rating was set aside"
    );
    let rating = &f[2];
    assert!(rating.set_aside && rating.unit_id == "u1" && rating.why.contains("set aside"));
}

#[test]
fn an_exclusion_takes_the_unit_s_facts_out_but_keeps_them() {
    let d = at(5, 0);
    let events = [assigned("x", "u1", d), assigned("y", "u2", d)];
    let x = RawUuid::now_v7();
    let ex: HashMap<String, RawUuid> = [("u1".to_string(), x)].into();
    let f = fold(&policy(), "BJ1", &events, &ex).facts;
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].exclusion_id, Some(x));
    assert!(f[0].contribution().is_zero());
    assert_eq!(f[1].contribution().0[RESPONSE_DUE], 1);
    let before = fold(&policy(), "BJ1", &events, &HashMap::new()).facts;
    let d = deltas(&before, &f);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0.0, "u1");
    assert_eq!(d[0].1.0[RESPONSE_DUE], -1);
}

#[test]
fn routed_units_bring_their_class_and_reopened_rounds_count() {
    let events = [
        event(
            "ro",
            at(0, 0),
            Ev::Routed(ev::Routed {
                units: vec![ev::RoutedUnit {
                    unit_id: "s1".into(),
                    kind: UnitKind::Street as i32,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        ),
        event(
            "re",
            at(9, 0),
            Ev::Reopened(ev::Reopened {
                round: 2,
                unit_id: "s1".into(),
                reopened_at: Some(to_proto(at(9, 0))),
                ..Default::default()
            }),
        ),
    ];
    let folded = fold(&policy(), "BJ1", &events, &HashMap::new());
    assert_eq!(folded.kinds, [("s1".to_string(), UnitKind::Street)]);
    assert_eq!(folded.facts[0].item_id, "round2");
    assert_eq!(total(&folded.facts).0[REOPENED], 1);
}

#[test]
fn a_default_rating_is_never_counted_as_a_rating() {
    use SatisfactionLevel as L;
    let events = [
        visited("v1", "u1", "c1", Resolution::Resolved, L::Satisfied),
        event(
            "d1",
            at(12, 0),
            Ev::RatingDefaulted(ev::RatingDefaulted {
                contact_id: "c1".into(),
                contact_kind: ContactKind::ReturnVisit as i32,
                level: L::Satisfied as i32,
                defaulted_at: Some(to_proto(at(12, 0))),
                policy: "p".into(),
            }),
        ),
    ];
    let f = fold(&policy(), "BJ1", &events, &HashMap::new()).facts;
    let metrics: Vec<Metric> = f.iter().map(|x| x.metric).collect();
    assert_eq!(metrics, [Metric::Resolution, Metric::Satisfaction]);
}
