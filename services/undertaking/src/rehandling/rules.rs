//! Re-handling (重办): which return visits send a ticket back to its lead
//! unit, and what is decided for one that does. Pure: no IO.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{AssignmentId, Id, TicketNo, UnitId};
use hotline_common::time::to_proto;
use hotline_proto::events::v1 as ev;
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::RehandlingDecision;
use hotline_sla::Rehandling as Policy;
use uuid::Uuid;

use crate::enums::stored_enum;
use crate::hops::rules::InForce;

stored_enum! {
    /// What was decided on a visit that called for handling again.
    pub enum Decision as RehandlingDecision, "rehandling decision" {
        /// A new handling round for the lead unit.
        Reopened = "reopened" => Reopened,
        /// The policy's rounds are used up.
        LimitReached = "limit_reached" => LimitReached,
        /// The visited round is no longer the one in force.
        Superseded = "superseded" => Superseded,
    }
}

pub use hotline_common::events::rules::calls_for_rehandling;

/// The visit a decision is about, read from the fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visited {
    pub visit_id: Uuid,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub hop: i32,
    pub round: i32,
}

/// Reads what a decision needs from the fact: an id, a ticket, the unit,
/// the hop and round visited. What is missing or malformed is named (the
/// event is then skipped: the producer is at fault, retrying cannot help).
pub fn parse_visited(ticket_no: &str, v: &ev::Visited) -> Result<Visited, String> {
    let visit_id = Uuid::parse_str(&v.visit_id).map_err(|_| "visit_id is not a UUID")?;
    let ticket_no = TicketNo::parse(ticket_no).map_err(|e| format!("ticket_no: {e}"))?;
    let unit_id = UnitId::parse(&v.unit_id).map_err(|e| format!("unit_id: {e}"))?;
    if v.hop < 1 || v.round < 1 {
        return Err(format!(
            "hop {} and round {} must be 1 or more (a visit recorded before they were carried)",
            v.hop, v.round
        ));
    }
    Ok(Visited {
        visit_id,
        ticket_no,
        unit_id,
        hop: v.hop,
        round: v.round,
    })
}

/// What to do with a visit that calls for handling again, given the hop
/// and round in force and the unit whose lead answer the visited round
/// holds (if any): reopen in the next round, unless the round visited is
/// no longer the one in force or its answer is not the visited unit's
/// (superseded: a re-dispatch or a reopening came first), or the policy's
/// rounds are used up.
pub fn decide(
    v: &Visited,
    in_force: InForce,
    answered_by: Option<&UnitId>,
    policy: &Policy,
) -> Decision {
    let current = in_force.hop == v.hop && in_force.round == v.round;
    if !current || answered_by != Some(&v.unit_id) {
        Decision::Superseded
    } else if !policy.allows_after(v.round) {
        Decision::LimitReached
    } else {
        Decision::Reopened
    }
}

/// One decision as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Rehandling {
    pub visit_id: Uuid,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub hop: i32,
    pub visited_round: i32,
    pub decision: Decision,
    pub new_round: Option<i32>,
    pub assignment_id: Option<AssignmentId>,
    pub max_rounds: i32,
    pub decided_at: DateTime<Utc>,
}

impl Rehandling {
    pub fn to_proto(&self) -> pb::Rehandling {
        pb::Rehandling {
            visit_id: self.visit_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            hop: self.hop,
            visited_round: self.visited_round,
            decision: self.decision.to_proto() as i32,
            new_round: self.new_round.unwrap_or_default(),
            assignment_id: self
                .assignment_id
                .map(|a| a.to_string())
                .unwrap_or_default(),
            max_rounds: self.max_rounds,
            decided_at: Some(to_proto(self.decided_at)),
        }
    }

    /// The `not_reopened` fact of a decision that did not reopen.
    pub fn not_reopened(&self) -> Result<ev::NotReopened, ApiError> {
        if self.decision == Decision::Reopened {
            return Err(ApiError::internal("a reopening is no not_reopened fact"));
        }
        Ok(ev::NotReopened {
            visit_id: self.visit_id.to_string(),
            unit_id: self.unit_id.to_string(),
            hop: self.hop,
            round: self.visited_round,
            decision: self.decision.to_proto() as i32,
            max_rounds: self.max_rounds,
            decided_at: Some(to_proto(self.decided_at)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::intake::v1::{Resolution, SatisfactionLevel, VisitOutcome};

    fn visited(
        resolved: Resolution,
        satisfaction: SatisfactionLevel,
        at_fault: bool,
    ) -> ev::Visited {
        ev::Visited {
            visit_id: Uuid::now_v7().to_string(),
            outcome: VisitOutcome::Reached as i32,
            resolved: resolved as i32,
            satisfaction: satisfaction as i32,
            unit_at_fault: at_fault,
            unit_id: "bj-heating-group".into(),
            hop: 1,
            round: 1,
            ..Default::default()
        }
    }

    #[test]
    fn unresolved_or_unsatisfied_through_the_units_fault_calls_for_handling_again() {
        use Resolution::*;
        use SatisfactionLevel::*;
        for (r, s, want) in [
            (Unresolved, Satisfied, true),
            (Partly, BasicallySatisfied, true),
            (Resolved, Dissatisfied, true),
            (Resolved, VeryDissatisfied, true),
            (Resolved, BasicallySatisfied, false),
            (Resolved, Satisfied, false),
            (Resolved, VerySatisfied, false),
        ] {
            assert_eq!(
                calls_for_rehandling(&visited(r, s, true)),
                want,
                "{r:?} {s:?}"
            );
            assert!(
                !calls_for_rehandling(&visited(r, s, false)),
                "not the unit's fault: {r:?} {s:?}"
            );
        }
    }

    #[test]
    fn a_visit_that_did_not_reach_the_requester_never_reopens() {
        for outcome in [VisitOutcome::Refused, VisitOutcome::Unreachable] {
            let mut v = visited(
                Resolution::Unresolved,
                SatisfactionLevel::VeryDissatisfied,
                true,
            );
            v.outcome = outcome as i32;
            assert!(!calls_for_rehandling(&v), "{outcome:?}");
        }
    }

    #[test]
    fn a_malformed_fact_is_named() {
        let good = visited(
            Resolution::Unresolved,
            SatisfactionLevel::Dissatisfied,
            true,
        );
        let v = parse_visited("BJ000000000001", &good).unwrap();
        assert_eq!(
            (v.hop, v.round, v.unit_id.as_str()),
            (1, 1, "bj-heating-group")
        );
        let mut bad = good.clone();
        bad.visit_id = "x".into();
        assert!(
            parse_visited("BJ000000000001", &bad)
                .unwrap_err()
                .contains("visit_id")
        );
        let mut old = good.clone();
        old.round = 0;
        assert!(
            parse_visited("BJ000000000001", &old)
                .unwrap_err()
                .contains("round 0")
        );
        assert!(parse_visited("", &good).is_err());
    }

    #[test]
    fn the_round_in_force_reopens_until_the_policy_s_rounds_are_used_up() {
        let unit = UnitId::parse("bj-heating-group").unwrap();
        let other = UnitId::parse("chaoyang-heating").unwrap();
        let policy = Policy { max_rounds: 2 };
        let mut v = parse_visited(
            "BJ000000000001",
            &visited(
                Resolution::Unresolved,
                SatisfactionLevel::Dissatisfied,
                true,
            ),
        )
        .unwrap();
        let first = InForce { hop: 1, round: 1 };
        assert_eq!(decide(&v, first, Some(&unit), &policy), Decision::Reopened);
        // Redelivered after the reopening: round 2 is in force.
        let again = InForce { hop: 1, round: 2 };
        assert_eq!(
            decide(&v, again, Some(&unit), &policy),
            Decision::Superseded
        );
        // Re-dispatched meanwhile (a later hop), or another unit's answer.
        let moved = InForce { hop: 2, round: 1 };
        assert_eq!(
            decide(&v, moved, Some(&unit), &policy),
            Decision::Superseded
        );
        assert_eq!(
            decide(&v, first, Some(&other), &policy),
            Decision::Superseded
        );
        assert_eq!(decide(&v, first, None, &policy), Decision::Superseded);
        // The last round's visit is not reopened.
        v.round = 2;
        assert_eq!(
            decide(&v, again, Some(&unit), &policy),
            Decision::LimitReached
        );
        let one = Policy { max_rounds: 1 };
        v.round = 1;
        assert_eq!(decide(&v, first, Some(&unit), &one), Decision::LimitReached);
    }

    #[test]
    fn every_decision_round_trips() {
        for d in Decision::ALL {
            assert_eq!(Decision::from_sql(d.as_sql()), Ok(*d));
            assert_eq!(Decision::from_proto(d.to_proto() as i32), Some(*d));
        }
    }
}
