//! How a ticket's timeline is put together from what intake and
//! undertaking know of it: which entries, in which order, which are
//! overdue, and what each entry's detail says. Pure.

use chrono::{DateTime, Utc};
use hotline_proto::common::v1::{AssignmentRole, Feedback};
use hotline_proto::intake::v1::{TimelineEntry, TimelineEventKind};
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentReturn, AssignmentState, HandlingRecord, HandlingRecordKind, Rehandling,
    RehandlingDecision, ReturnReason, ReturnState, Whistle,
};
use prost_types::Timestamp;

/// Everything known of one ticket.
pub struct Facts {
    pub accepted_at: DateTime<Utc>,
    pub dispatch_deadline: DateTime<Utc>,
    /// Every hop's, lead first.
    pub assignments: Vec<Assignment>,
    pub records: Vec<HandlingRecord>,
    pub returns: Vec<AssignmentReturn>,
    pub whistles: Vec<Whistle>,
    /// Undertaking's decisions on return visits that called for handling
    /// again (重办).
    pub rehandlings: Vec<Rehandling>,
    /// When intake closed the ticket (办结), and how.
    pub closure: Option<Closure>,
    /// Supervision's workflow steps on the ticket, oldest first.
    pub steps: Vec<super::steps::Step>,
}

/// A ticket's closing (办结) as intake recorded it.
pub struct Closure {
    pub at: DateTime<Utc>,
    /// `visited`, `not_visited` or `not_reopened`.
    pub cause: String,
    pub hop: i32,
    pub round: i32,
}

pub struct Timeline {
    pub entries: Vec<TimelineEntry>,
    /// The lead unit's feedback, once given.
    pub feedback: Option<Feedback>,
}

/// The timeline: accepted; then per assignment dispatched, signed, fed
/// back; then the handling records, the returns, the whistles and the
/// re-handling decisions; last the closing, once closed.
pub fn assemble(f: Facts, now: DateTime<Utc>) -> Timeline {
    let mut entries = vec![accepted(f.accepted_at)];
    if f.assignments.is_empty() {
        entries.push(waiting_for_dispatch(f.dispatch_deadline, now));
    }
    for a in &f.assignments {
        entries.extend(assignment_entries(a, f.dispatch_deadline, now));
    }
    let role = |unit: &str| role_of(&f.assignments, unit);
    entries.extend(f.records.iter().map(|r| record_entry(r, role(&r.unit_id))));
    entries.extend(f.returns.iter().map(|r| return_entry(r, role(&r.unit_id))));
    entries.extend(
        f.whistles
            .iter()
            .map(|w| whistle_entry(w, role(&w.unit_id), now)),
    );
    entries.extend(
        f.rehandlings
            .iter()
            .map(|r| rehandling_entry(r, role(&r.unit_id))),
    );
    entries.extend(f.steps.iter().map(|s| step_entry(s, role(&s.unit_id))));
    entries.extend(f.closure.as_ref().map(closed_entry));
    // The latest answer: undertaking lists hop by hop, a hop's lead
    // assignments round by round.
    let feedback = f
        .assignments
        .iter()
        .filter(|a| {
            a.role == AssignmentRole::Lead as i32 && a.state == AssignmentState::FedBack as i32
        })
        .max_by_key(|a| (a.hop, a.round))
        .and_then(|a| a.feedback.clone());
    Timeline { entries, feedback }
}

fn time(t: &Timestamp) -> Option<DateTime<Utc>> {
    u32::try_from(t.nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(t.seconds, n))
}

/// Done after its deadline, or not done and the deadline passed.
pub fn overdue(done: Option<&Timestamp>, deadline: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    match done {
        Some(at) => time(at).is_some_and(|at| at > deadline),
        None => now > deadline,
    }
}

/// `HANDLING_RECORD_KIND_SITE_VISIT` → `site_visit`: an enum value as the
/// timeline's details name it.
pub fn value_name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_lowercase()
}

fn joined<'a>(parts: impl IntoIterator<Item = &'a str>, sep: &str) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

fn entry(kind: TimelineEventKind, unit_id: &str, role: i32) -> TimelineEntry {
    TimelineEntry {
        kind: kind as i32,
        occurred_at: None,
        deadline: None,
        unit_id: unit_id.to_string(),
        role,
        overdue: false,
        detail: String::new(),
    }
}

fn accepted(at: DateTime<Utc>) -> TimelineEntry {
    TimelineEntry {
        occurred_at: Some(hotline_common::time::to_proto(at)),
        ..entry(
            TimelineEventKind::Accepted,
            "",
            AssignmentRole::Unspecified as i32,
        )
    }
}

/// Not dispatched to any unit yet: the dispatch stage, pending.
fn waiting_for_dispatch(deadline: DateTime<Utc>, now: DateTime<Utc>) -> TimelineEntry {
    TimelineEntry {
        deadline: Some(hotline_common::time::to_proto(deadline)),
        overdue: overdue(None, deadline, now),
        ..entry(
            TimelineEventKind::Dispatched,
            "",
            AssignmentRole::Unspecified as i32,
        )
    }
}

/// One assignment's stages. A withdrawn assignment expects nothing more,
/// so the stages it never reached are left out rather than overdue.
pub fn assignment_entries(
    a: &Assignment,
    dispatch_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<TimelineEntry> {
    let stage = |kind, at: Option<&Timestamp>, deadline: Option<Timestamp>| TimelineEntry {
        occurred_at: at.cloned(),
        overdue: deadline
            .as_ref()
            .and_then(time)
            .is_some_and(|d| overdue(at, d, now)),
        deadline,
        ..entry(kind, &a.unit_id, a.role)
    };
    let withdrawn = a.state == AssignmentState::Withdrawn as i32;
    let hop = (a.hop > 1).then(|| format!("hop {}", a.hop));
    let round = (a.round > 1).then(|| format!("round {} (重办)", a.round));
    let returned = (a.state == AssignmentState::ReturnRequested as i32)
        .then_some("returned, waiting for the centre");
    let gone = withdrawn.then_some("withdrawn: re-dispatched elsewhere");
    let mut dispatched = stage(
        TimelineEventKind::Dispatched,
        a.dispatched_at.as_ref(),
        Some(hotline_common::time::to_proto(dispatch_deadline)),
    );
    dispatched.detail = joined(
        [
            hop.as_deref().unwrap_or(""),
            round.as_deref().unwrap_or(""),
            returned.unwrap_or(""),
            gone.unwrap_or(""),
        ],
        "; ",
    );
    let mut out = vec![dispatched];
    if !withdrawn || a.signed_at.is_some() {
        out.push(stage(
            TimelineEventKind::Signed,
            a.signed_at.as_ref(),
            a.sign_deadline,
        ));
    }
    if !withdrawn || a.fed_back_at.is_some() {
        out.push(stage(
            TimelineEventKind::FedBack,
            a.fed_back_at.as_ref(),
            a.feedback_deadline,
        ));
    }
    out
}

/// The role of a unit on the ticket (its first assignment's).
pub fn role_of(assignments: &[Assignment], unit: &str) -> i32 {
    assignments
        .iter()
        .find(|a| a.unit_id == unit)
        .map_or(AssignmentRole::Unspecified as i32, |a| a.role)
}

/// "contact: 电话: 已联系诉求人": kind, way, result, note.
pub fn record_entry(r: &HandlingRecord, role: i32) -> TimelineEntry {
    let kind = HandlingRecordKind::try_from(r.kind)
        .map(|k| value_name(k.as_str_name(), "HANDLING_RECORD_KIND_"))
        .unwrap_or_default();
    TimelineEntry {
        occurred_at: r.occurred_at,
        detail: joined([kind.as_str(), &r.way, &r.result, &r.note], ": "),
        ..entry(TimelineEventKind::Handling, &r.unit_id, role)
    }
}

/// "not_our_duty: 三定方案: …: rejected: 请签收": reason, duty rule, note,
/// the centre's decision and its note.
pub fn return_entry(r: &AssignmentReturn, role: i32) -> TimelineEntry {
    let reason = ReturnReason::try_from(r.reason)
        .map(|x| value_name(x.as_str_name(), "RETURN_REASON_"))
        .unwrap_or_default();
    let state = ReturnState::try_from(r.state)
        .map(|x| value_name(x.as_str_name(), "RETURN_STATE_"))
        .unwrap_or_default();
    TimelineEntry {
        occurred_at: r.requested_at,
        detail: joined(
            [
                reason.as_str(),
                &r.duty_rule,
                &r.note,
                &state,
                &r.decision_note,
            ],
            ": ",
        ),
        ..entry(TimelineEventKind::Returned, &r.unit_id, role)
    }
}

/// "place: matter: bj-a arrived, bj-b arrived late, bj-c not arrived";
/// overdue when a department came late or has not come by the time set.
pub fn whistle_entry(w: &Whistle, role: i32, now: DateTime<Utc>) -> TimelineEntry {
    let by = w.arrive_by.as_ref().and_then(time);
    let mut late = false;
    let summoned = w
        .summonses
        .iter()
        .map(|s| match (&s.arrived_at, s.late) {
            (Some(_), false) => format!("{} arrived", s.unit_id),
            (Some(_), true) => {
                late = true;
                format!("{} arrived late", s.unit_id)
            }
            (None, _) => {
                late |= by.is_some_and(|by| now > by);
                format!("{} not arrived", s.unit_id)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    TimelineEntry {
        occurred_at: w.blown_at,
        deadline: w.arrive_by,
        overdue: late,
        detail: format!("{}: {}: {summoned}", w.place, w.matter),
        ..entry(TimelineEventKind::Whistle, &w.unit_id, role)
    }
}

/// "visit …: round 2" when reopened; "visit …: round 2: limit_reached
/// (max 2 rounds)" or "…: superseded" when not.
pub fn rehandling_entry(r: &Rehandling, role: i32) -> TimelineEntry {
    let decision = RehandlingDecision::try_from(r.decision).unwrap_or_default();
    let (kind, detail) = match decision {
        RehandlingDecision::Reopened => (
            TimelineEventKind::Reopened,
            format!("visit {}: round {}", r.visit_id, r.new_round),
        ),
        other => (
            TimelineEventKind::NotReopened,
            format!(
                "visit {}: round {}: {} (max {} rounds)",
                r.visit_id,
                r.visited_round,
                value_name(other.as_str_name(), "REHANDLING_DECISION_"),
                r.max_rounds
            ),
        ),
    };
    TimelineEntry {
        occurred_at: r.decided_at,
        detail,
        ..entry(kind, &r.unit_id, role)
    }
}

/// "visited: hop 1 round 2": why and which round's answer closed it.
/// A step of a supervision workflow.
pub fn step_entry(s: &super::steps::Step, role: i32) -> TimelineEntry {
    let head = format!("{} {} {}", s.workflow, s.ref_id, s.step);
    TimelineEntry {
        occurred_at: Some(hotline_common::time::to_proto(s.at)),
        detail: if s.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", s.detail)
        },
        ..entry(TimelineEventKind::Supervision, &s.unit_id, role)
    }
}

pub fn closed_entry(c: &Closure) -> TimelineEntry {
    TimelineEntry {
        occurred_at: Some(hotline_common::time::to_proto(c.at)),
        detail: format!("{}: hop {} round {}", c.cause, c.hop, c.round),
        ..entry(
            TimelineEventKind::Closed,
            "",
            AssignmentRole::Unspecified as i32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimelineEventKind as K;
    use hotline_common::time::to_proto;
    use hotline_proto::common::v1::FeedbackOutcome;
    use hotline_proto::undertaking::v1::Summons;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + minutes * 60, 0).unwrap()
    }

    fn ts(minutes: i64) -> Option<Timestamp> {
        Some(to_proto(t(minutes)))
    }

    fn assignment(unit: &str, role: AssignmentRole, state: AssignmentState) -> Assignment {
        Assignment {
            unit_id: unit.into(),
            role: role as i32,
            state: state as i32,
            hop: 1,
            round: 1,
            dispatched_at: ts(5),
            sign_deadline: ts(20),
            feedback_deadline: ts(120),
            ..Default::default()
        }
    }

    fn facts(assignments: Vec<Assignment>) -> Facts {
        Facts {
            accepted_at: t(0),
            dispatch_deadline: t(60),
            assignments,
            records: vec![],
            returns: vec![],
            whistles: vec![],
            rehandlings: vec![],
            closure: None,
            steps: vec![],
        }
    }

    fn kinds(tl: &Timeline) -> Vec<(i32, &str)> {
        tl.entries
            .iter()
            .map(|e| (e.kind, e.unit_id.as_str()))
            .collect()
    }

    #[test]
    fn a_ticket_not_yet_dispatched_waits_against_its_deadline() {
        let tl = assemble(facts(vec![]), t(30));
        assert_eq!(
            kinds(&tl),
            [(K::Accepted as i32, ""), (K::Dispatched as i32, "")]
        );
        assert_eq!(tl.entries[0].occurred_at, ts(0));
        assert!(!tl.entries[1].overdue && tl.entries[1].occurred_at.is_none());
        assert!(assemble(facts(vec![]), t(61)).entries[1].overdue);
    }

    #[test]
    fn each_unit_has_its_stages_in_order_and_the_lead_answers() {
        let mut lead = assignment("heat", AssignmentRole::Lead, AssignmentState::FedBack);
        lead.signed_at = ts(25);
        lead.fed_back_at = ts(100);
        lead.feedback = Some(Feedback {
            outcome: FeedbackOutcome::Resolved as i32,
            summary: "已解决".into(),
            ..Default::default()
        });
        let co = assignment("cmc", AssignmentRole::Co, AssignmentState::PendingSign);
        let tl = assemble(facts(vec![lead, co]), t(30));
        assert_eq!(
            kinds(&tl),
            [
                (K::Accepted as i32, ""),
                (K::Dispatched as i32, "heat"),
                (K::Signed as i32, "heat"),
                (K::FedBack as i32, "heat"),
                (K::Dispatched as i32, "cmc"),
                (K::Signed as i32, "cmc"),
                (K::FedBack as i32, "cmc"),
            ]
        );
        let e = &tl.entries;
        assert_eq!(
            e[1].deadline,
            ts(60),
            "dispatch counts against the ticket's deadline"
        );
        assert!(e[2].overdue, "signed at 25, due at 20");
        assert!(!e[3].overdue, "fed back at 100, due at 120");
        assert!(e[5].overdue, "still unsigned at 30, due at 20");
        assert!(!e[6].overdue, "feedback still in time");
        assert_eq!(tl.feedback.unwrap().summary, "已解决");
    }

    #[test]
    fn a_withdrawn_assignment_expects_nothing_more() {
        let mut old = assignment("water", AssignmentRole::Lead, AssignmentState::Withdrawn);
        old.hop = 1;
        let mut new = assignment(
            "heat",
            AssignmentRole::Lead,
            AssignmentState::ReturnRequested,
        );
        new.hop = 2;
        let tl = assemble(facts(vec![old, new]), t(500));
        assert_eq!(
            kinds(&tl)[1..],
            [
                (K::Dispatched as i32, "water"),
                (K::Dispatched as i32, "heat"),
                (K::Signed as i32, "heat"),
                (K::FedBack as i32, "heat"),
            ]
        );
        assert_eq!(tl.entries[1].detail, "withdrawn: re-dispatched elsewhere");
        assert_eq!(
            tl.entries[2].detail,
            "hop 2; returned, waiting for the centre"
        );
        assert!(tl.feedback.is_none());
    }

    #[test]
    fn records_returns_and_whistles_say_what_happened() {
        let lead = assignment("street-1", AssignmentRole::Lead, AssignmentState::Signed);
        let mut f = facts(vec![lead]);
        f.records = vec![HandlingRecord {
            unit_id: "street-1".into(),
            kind: HandlingRecordKind::SiteVisit as i32,
            way: "3号楼".into(),
            note: "已调整".into(),
            occurred_at: ts(40),
            ..Default::default()
        }];
        f.returns = vec![AssignmentReturn {
            unit_id: "street-1".into(),
            reason: ReturnReason::NotOurDuty as i32,
            duty_rule: "三定方案".into(),
            state: ReturnState::Rejected as i32,
            decision_note: "请签收".into(),
            requested_at: ts(10),
            ..Default::default()
        }];
        let summons = |unit: &str, arrived: Option<i64>, late| Summons {
            unit_id: unit.into(),
            arrived_at: arrived.and_then(ts),
            late,
        };
        f.whistles = vec![Whistle {
            unit_id: "street-1".into(),
            place: "南门".into(),
            matter: "噪声".into(),
            blown_at: ts(50),
            arrive_by: ts(80),
            summonses: vec![
                summons("bj-a", Some(70), false),
                summons("bj-b", None, false),
            ],
            ..Default::default()
        }];
        let at = |now| {
            assemble(
                Facts {
                    records: f.records.clone(),
                    returns: f.returns.clone(),
                    whistles: f.whistles.clone(),
                    assignments: f.assignments.clone(),
                    ..facts(vec![])
                },
                t(now),
            )
        };
        let tl = at(60);
        let e = &tl.entries[4..];
        assert_eq!(e[0].detail, "site_visit: 3号楼: 已调整");
        assert_eq!(e[0].role, AssignmentRole::Lead as i32);
        assert_eq!(e[1].detail, "not_our_duty: 三定方案: rejected: 请签收");
        assert_eq!(e[2].detail, "南门: 噪声: bj-a arrived, bj-b not arrived");
        assert!(!e[2].overdue, "not late before the time set");
        assert!(
            at(81).entries[6].overdue,
            "bj-b has not come by the time set"
        );
    }

    #[test]
    fn enum_values_are_named_plainly() {
        assert_eq!(
            value_name("HANDLING_RECORD_KIND_SITE_VISIT", "HANDLING_RECORD_KIND_"),
            "site_visit"
        );
        assert_eq!(
            value_name("RETURN_STATE_PENDING", "RETURN_STATE_"),
            "pending"
        );
    }

    #[test]
    fn a_reopened_round_is_shown_with_its_decision_and_its_answer_counts() {
        let first = Assignment {
            fed_back_at: ts(30),
            feedback: Some(Feedback {
                summary: "第一轮".into(),
                ..Default::default()
            }),
            ..assignment("bj-a", AssignmentRole::Lead, AssignmentState::FedBack)
        };
        let again = Assignment {
            round: 2,
            dispatched_at: ts(60),
            sign_deadline: ts(80),
            feedback_deadline: ts(200),
            fed_back_at: ts(90),
            feedback: Some(Feedback {
                summary: "第二轮".into(),
                ..Default::default()
            }),
            ..assignment("bj-a", AssignmentRole::Lead, AssignmentState::FedBack)
        };
        let decided = |decision: RehandlingDecision, at: i64| Rehandling {
            visit_id: "v1".into(),
            unit_id: "bj-a".into(),
            hop: 1,
            visited_round: 1,
            decision: decision as i32,
            new_round: if decision == RehandlingDecision::Reopened {
                2
            } else {
                0
            },
            max_rounds: 2,
            decided_at: ts(at),
            ..Default::default()
        };
        let mut limit = decided(RehandlingDecision::LimitReached, 100);
        limit.visit_id = "v2".into();
        limit.visited_round = 2;
        let tl = assemble(
            Facts {
                rehandlings: vec![decided(RehandlingDecision::Reopened, 59), limit],
                ..facts(vec![first, again])
            },
            t(120),
        );
        let e = &tl.entries;
        assert_eq!(e[4].kind, K::Dispatched as i32);
        assert_eq!(e[4].detail, "round 2 (重办)");
        assert_eq!(
            (e[7].kind, e[7].detail.as_str()),
            (K::Reopened as i32, "visit v1: round 2")
        );
        assert_eq!(e[7].role, AssignmentRole::Lead as i32);
        assert_eq!(
            (e[8].kind, e[8].detail.as_str()),
            (
                K::NotReopened as i32,
                "visit v2: round 2: limit_reached (max 2 rounds)"
            )
        );
        assert_eq!(tl.feedback.expect("answered").summary, "第二轮");
        assert_eq!(e.len(), 9, "not closed: no closing entry");
    }

    #[test]
    fn a_closed_ticket_ends_with_its_closing() {
        let answered = Assignment {
            fed_back_at: ts(30),
            ..assignment("bj-a", AssignmentRole::Lead, AssignmentState::FedBack)
        };
        let step = super::super::steps::Step {
            at: t(30),
            workflow: "special_report".into(),
            ref_id: "r1".into(),
            step: "issued".into(),
            unit_id: String::new(),
            detail: "职能空白".into(),
        };
        let tl = assemble(
            Facts {
                closure: Some(Closure {
                    at: t(40),
                    cause: "visited".into(),
                    hop: 1,
                    round: 1,
                }),
                steps: vec![step],
                ..facts(vec![answered])
            },
            t(120),
        );
        let before = &tl.entries[tl.entries.len() - 2];
        assert_eq!(before.kind, K::Supervision as i32);
        assert_eq!(before.detail, "special_report r1 issued: 职能空白");
        let last = tl.entries.last().expect("entries");
        assert_eq!(
            (last.kind, last.detail.as_str()),
            (K::Closed as i32, "visited: hop 1 round 1")
        );
        assert_eq!(last.occurred_at, ts(40));
        assert!(!last.overdue);
    }
}
