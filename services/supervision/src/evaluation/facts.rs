//! What a ticket's lifecycle events make count, for which unit, on which
//! day: a pure fold of all the ticket's events (in any order, repeats
//! harmless) and its exclusions in force into one [`Fact`] per counted
//! thing, and what each fact adds to its unit's day ([`Counts`]).
//!
//! The consumer refolds a ticket on each of its events and applies the
//! difference to the counters; the recount folds the raw events again and
//! compares. Both use this module, so they cannot disagree on a rule.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use hotline_common::ids::RawUuid;
use hotline_proto::dispatch::v1::UnitKind;
use hotline_proto::events::v1::{LifecycleEvent, lifecycle_event::Fact as Ev};
use hotline_proto::intake::v1::{ContactKind, VisitOutcome};
use hotline_proto::undertaking::v1::ReturnState;
use hotline_sla::Evaluation;

/// The numbers a fact counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// 响应率: one per assignment.
    Response,
    /// 解决率: one per return visit reached.
    Resolution,
    /// 满意率: one per return visit reached.
    Satisfaction,
    /// 好评率: one per rating of a return-visit contact.
    Rating,
    /// Re-handling rounds (重办) charged to the unit.
    Reopened,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Response,
        Metric::Resolution,
        Metric::Satisfaction,
        Metric::Rating,
        Metric::Reopened,
    ];

    pub fn as_sql(self) -> &'static str {
        match self {
            Metric::Response => "response",
            Metric::Resolution => "resolution",
            Metric::Satisfaction => "satisfaction",
            Metric::Rating => "rating",
            Metric::Reopened => "reopened",
        }
    }

    pub fn from_sql(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_sql() == s)
    }
}

/// One counted thing of a ticket, for one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub ticket_no: String,
    pub unit_id: String,
    pub metric: Metric,
    /// The assignment, visit, rating, or `round<N>`.
    pub item_id: String,
    /// The city's calendar day it counts on.
    pub day: NaiveDate,
    /// In the denominator (before exclusions and set-asides).
    pub listed_den: bool,
    /// In the numerator with a weight that may be positive (before
    /// exclusions and set-asides); the weight comes from the policy.
    pub listed_num: bool,
    /// Resolution 1–3, satisfaction level 1–5, 0 otherwise.
    pub level: i16,
    pub at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    /// The exclusion in force for the ticket and unit.
    pub exclusion_id: Option<RawUuid>,
    /// A rating set aside by an upheld appeal.
    pub set_aside: bool,
    pub why: String,
}

/// A fact's identity within its ticket.
pub type Key = (String, Metric, String);

impl Fact {
    pub fn key(&self) -> Key {
        (self.unit_id.clone(), self.metric, self.item_id.clone())
    }

    /// Counts for its unit's rates: neither excluded nor set aside.
    pub fn counts(&self) -> bool {
        self.exclusion_id.is_none() && !self.set_aside
    }

    /// What it adds to its unit's counters of its day.
    pub fn contribution(&self) -> Counts {
        let mut c = Counts::default();
        if !self.counts() || !self.listed_den {
            return c;
        }
        let level = self.level as usize;
        match self.metric {
            Metric::Response => {
                c.0[RESPONSE_DUE] = 1;
                c.0[RESPONSE_SIGNED] = self.listed_num as i64;
            }
            Metric::Resolution if (1..=3).contains(&level) => {
                c.0[RESOLUTION + level - 1] = 1;
            }
            Metric::Satisfaction if (1..=5).contains(&level) => {
                c.0[SATISFACTION + level - 1] = 1;
            }
            Metric::Rating if (1..=5).contains(&level) => {
                c.0[RATING + level - 1] = 1;
            }
            Metric::Reopened => c.0[REOPENED] = 1,
            _ => {}
        }
        c
    }
}

pub const RESPONSE_DUE: usize = 0;
pub const RESPONSE_SIGNED: usize = 1;
/// Resolved, partly, unresolved.
pub const RESOLUTION: usize = 2;
/// Levels 1–5 (非常满意 … 非常不满意).
pub const SATISFACTION: usize = 5;
/// Levels 1–5 of return-visit ratings.
pub const RATING: usize = 10;
pub const REOPENED: usize = 15;
pub const COLUMNS: usize = 16;

/// The counters' names, as stored (`eval_counters`) and reported.
pub const COLUMN_NAMES: [&str; COLUMNS] = [
    "response_due",
    "response_signed",
    "resolution_yes",
    "resolution_partly",
    "resolution_no",
    "satisfaction_1",
    "satisfaction_2",
    "satisfaction_3",
    "satisfaction_4",
    "satisfaction_5",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
    "reopened",
];

/// A unit's counters over some days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts(pub [i64; COLUMNS]);

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        for i in 0..COLUMNS {
            self.0[i] += o.0[i];
        }
    }

    pub fn sub(&mut self, o: &Counts) {
        for i in 0..COLUMNS {
            self.0[i] -= o.0[i];
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

/// What the counters of (unit, day) change by when a ticket's facts go
/// from `old` to `new`; zero changes left out, sorted (so transactions
/// take the counter rows in one order).
pub fn deltas(old: &[Fact], new: &[Fact]) -> Vec<((String, NaiveDate), Counts)> {
    let mut by: BTreeMap<(String, NaiveDate), Counts> = BTreeMap::new();
    for f in new {
        by.entry((f.unit_id.clone(), f.day))
            .or_default()
            .add(&f.contribution());
    }
    for f in old {
        by.entry((f.unit_id.clone(), f.day))
            .or_default()
            .sub(&f.contribution());
    }
    by.into_iter().filter(|(_, c)| !c.is_zero()).collect()
}

#[derive(Default)]
struct Assignment {
    unit: String,
    /// Its routing hop (0 when the event did not say).
    hop: i32,
    sign_deadline: Option<DateTime<Utc>>,
    signed_at: Option<DateTime<Utc>>,
    within_limit: bool,
    return_accepted: bool,
}

struct Visit {
    unit: String,
    contact_id: String,
    reached: bool,
    resolved: i32,
    satisfaction: i32,
    at: DateTime<Utc>,
}

struct Rating {
    contact_id: String,
    return_visit: bool,
    level: i32,
    at: DateTime<Utc>,
}

/// A ticket's facts and the unit classes its routings named.
#[derive(Debug, Default)]
pub struct Folded {
    pub facts: Vec<Fact>,
    pub kinds: Vec<(String, UnitKind)>,
}

fn time(t: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.clamp(0, 999_999_999) as u32))
}

fn shown(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Folds a ticket's events and its exclusions in force (unit → exclusion)
/// into its facts, sorted by key.
pub fn fold(
    policy: &Evaluation,
    ticket_no: &str,
    events: &[LifecycleEvent],
    exclusions: &HashMap<String, RawUuid>,
) -> Folded {
    let mut kinds: BTreeMap<String, UnitKind> = BTreeMap::new();
    let mut assignments: BTreeMap<String, Assignment> = BTreeMap::new();
    let mut visits: BTreeMap<String, Visit> = BTreeMap::new();
    let mut ratings: BTreeMap<String, Rating> = BTreeMap::new();
    let mut set_aside: HashSet<String> = HashSet::new();
    let mut reopened: BTreeMap<i32, (String, DateTime<Utc>)> = BTreeMap::new();
    // hop → when it was routed (a later hop withdraws the earlier's
    // assignments).
    let mut routed: BTreeMap<i32, DateTime<Utc>> = BTreeMap::new();
    let mut ordered: Vec<&LifecycleEvent> = events.iter().collect();
    ordered.sort_by_key(|e| (time(&e.occurred_at), e.event_id.clone()));
    for e in ordered {
        match &e.fact {
            Some(Ev::Routed(r)) => {
                if let Some(at) = time(&r.routed_at).or_else(|| time(&e.occurred_at)) {
                    routed.entry(r.hop).or_insert(at);
                }
                for u in &r.units {
                    let kind = UnitKind::try_from(u.kind).unwrap_or(UnitKind::Unspecified);
                    if kind != UnitKind::Unspecified || !kinds.contains_key(&u.unit_id) {
                        kinds.insert(u.unit_id.clone(), kind);
                    }
                }
            }
            Some(Ev::Assigned(a)) => {
                let x = assignments.entry(a.assignment_id.clone()).or_default();
                x.unit = a.unit_id.clone();
                x.hop = a.hop;
                if x.sign_deadline.is_none() {
                    x.sign_deadline = time(&a.sign_deadline);
                }
            }
            Some(Ev::Signed(s)) => {
                let x = assignments.entry(s.assignment_id.clone()).or_default();
                x.unit = s.unit_id.clone();
                // The deadline in force when it signed (an extension moves it).
                x.sign_deadline = time(&s.sign_deadline).or(x.sign_deadline);
                x.signed_at = time(&s.signed_at);
                x.within_limit = s.within_limit;
            }
            Some(Ev::ReturnDecided(d)) if d.decision == ReturnState::Accepted as i32 => {
                let x = assignments.entry(d.assignment_id.clone()).or_default();
                if x.unit.is_empty() {
                    x.unit = d.unit_id.clone();
                }
                x.return_accepted = true;
            }
            Some(Ev::Visited(v)) => {
                if let Some(at) = time(&v.visited_at) {
                    visits.insert(
                        v.visit_id.clone(),
                        Visit {
                            unit: v.unit_id.clone(),
                            contact_id: v.contact_id.clone(),
                            reached: v.outcome == VisitOutcome::Reached as i32,
                            resolved: v.resolved,
                            satisfaction: v.satisfaction,
                            at,
                        },
                    );
                }
            }
            Some(Ev::Rated(r)) => {
                if let Some(at) = time(&r.rated_at) {
                    ratings.insert(
                        r.rating_id.clone(),
                        Rating {
                            contact_id: r.contact_id.clone(),
                            return_visit: r.contact_kind == ContactKind::ReturnVisit as i32,
                            level: r.level,
                            at,
                        },
                    );
                }
            }
            Some(Ev::RatingAppealDecided(d)) if d.upheld => {
                set_aside.insert(d.rating_id.clone());
            }
            Some(Ev::Reopened(r)) => {
                if let Some(at) = time(&r.reopened_at) {
                    reopened.insert(r.round, (r.unit_id.clone(), at));
                }
            }
            _ => {}
        }
    }
    let mut facts = Vec::new();
    let fact = |unit: &str, metric: Metric, item: &str, day: NaiveDate| Fact {
        ticket_no: ticket_no.to_string(),
        unit_id: unit.to_string(),
        metric,
        item_id: item.to_string(),
        day,
        listed_den: true,
        listed_num: false,
        level: 0,
        at: None,
        deadline: None,
        exclusion_id: exclusions.get(unit).copied(),
        set_aside: false,
        why: String::new(),
    };
    for (id, a) in &assignments {
        let Some(deadline) = a.sign_deadline.filter(|_| !a.unit.is_empty()) else {
            continue;
        };
        let mut f = fact(&a.unit, Metric::Response, id, policy.day_of(deadline));
        f.deadline = Some(deadline);
        f.at = a.signed_at;
        // Withdrawn unsigned by a later hop (a re-dispatch) routed before
        // its sign-off deadline: it was never due.
        let withdrawn = a
            .signed_at
            .is_none()
            .then(|| withdrawn_by(&routed, a.hop))
            .flatten()
            .filter(|(_, at)| *at <= deadline);
        let not_due = a.return_accepted || withdrawn.is_some();
        f.listed_num = a.signed_at.is_some() && a.within_limit && !not_due;
        f.listed_den = !not_due;
        f.why = match (a.return_accepted, withdrawn, a.signed_at) {
            (true, _, _) => format!(
                "return accepted before the sign-off deadline {}: not the unit's to sign, not counted",
                shown(deadline)
            ),
            (false, Some((hop, at)), _) => format!(
                "withdrawn unsigned by hop {hop} routed at {}, before the sign-off deadline {}: not counted",
                shown(at),
                shown(deadline)
            ),
            (false, None, Some(t)) if a.within_limit => {
                format!("signed at {} by the deadline {}", shown(t), shown(deadline))
            }
            (false, None, Some(t)) => {
                format!(
                    "signed at {}, after the deadline {}",
                    shown(t),
                    shown(deadline)
                )
            }
            (false, None, None) => format!("not signed; due by {}", shown(deadline)),
        };
        facts.push(f);
    }
    for (id, v) in &visits {
        if !v.reached || v.unit.is_empty() {
            continue;
        }
        let day = policy.day_of(v.at);
        if (1..=3).contains(&v.resolved) {
            let mut f = fact(&v.unit, Metric::Resolution, id, day);
            f.at = Some(v.at);
            f.level = v.resolved as i16;
            f.listed_num = v.resolved <= 2;
            f.why = format!(
                "visited at {}: {}",
                shown(v.at),
                ["resolved", "partly resolved", "unresolved"][(v.resolved - 1) as usize]
            );
            facts.push(f);
        }
        if (1..=5).contains(&v.satisfaction) {
            let mut f = fact(&v.unit, Metric::Satisfaction, id, day);
            f.at = Some(v.at);
            f.level = v.satisfaction as i16;
            f.listed_num = v.satisfaction <= 3;
            f.why = format!(
                "visited at {}: {}",
                shown(v.at),
                LEVELS[(v.satisfaction - 1) as usize]
            );
            facts.push(f);
        }
    }
    for (id, r) in &ratings {
        if !r.return_visit || !(1..=5).contains(&r.level) {
            continue;
        }
        let Some(v) = visits.values().find(|v| {
            !r.contact_id.is_empty() && v.contact_id == r.contact_id && !v.unit.is_empty()
        }) else {
            continue;
        };
        let mut f = fact(&v.unit, Metric::Rating, id, policy.day_of(r.at));
        f.at = Some(r.at);
        f.level = r.level as i16;
        f.listed_num = r.level <= 3;
        f.set_aside = set_aside.contains(id);
        f.why = format!(
            "rated {} at {} on the return visit's contact {}{}",
            LEVELS[(r.level - 1) as usize],
            shown(r.at),
            r.contact_id,
            if f.set_aside {
                "; set aside by an upheld appeal"
            } else {
                ""
            }
        );
        facts.push(f);
    }
    for (round, (unit, at)) in &reopened {
        if unit.is_empty() {
            continue;
        }
        let mut f = fact(
            unit,
            Metric::Reopened,
            &format!("round{round}"),
            policy.day_of(*at),
        );
        f.at = Some(*at);
        f.why = format!(
            "sent back for handling again (round {round}) at {}",
            shown(*at)
        );
        facts.push(f);
    }
    for f in &mut facts {
        if let Some(x) = f.exclusion_id {
            f.why.push_str(&format!("; excluded by {x}"));
        }
    }
    facts.sort_by_key(Fact::key);
    Folded {
        facts,
        kinds: kinds.into_iter().collect(),
    }
}

/// The first hop after `hop` and when it was routed: the routing that
/// withdrew `hop`'s assignments. None for an assignment whose hop is not
/// known (0).
fn withdrawn_by(routed: &BTreeMap<i32, DateTime<Utc>>, hop: i32) -> Option<(i32, DateTime<Utc>)> {
    if hop < 1 {
        return None;
    }
    routed
        .range(hop + 1..)
        .map(|(h, at)| (*h, *at))
        .min_by_key(|(_, at)| *at)
}

/// The five levels as the requester hears them.
pub const LEVELS: [&str; 5] = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"];

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
