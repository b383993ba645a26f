//! Closing a ticket (办结): when a handling round's answer stands and
//! nothing more is due of it. Pure: no IO.
//!
//! | the round's lead answer | its return visit | undertaking's decision | closed? |
//! |---|---|---|---|
//! | not given (an overdue round) | any | any | no: the round is still the unit's |
//! | given | not queued (consent refused, not sampled) | | yes, NOT_VISITED |
//! | given | queued or taken | | not yet |
//! | given | ended, not calling for handling again | | yes, VISITED |
//! | given | ended, calling for handling again (重办) | none yet, or reopened | no |
//! | given | ended, calling for handling again | not reopened: the rounds used up | yes, NOT_REOPENED |
//! | given | ended, calling for handling again | not reopened: superseded | no: the later hop or round closes it |
//!
//! A round that a later one (a re-dispatch, a reopening) has replaced
//! closes nothing, whether intake has heard of the later one yet or not
//! (undertaking's `superseded` says it exists).

use hotline_common::events::rules::calls_for_rehandling;
use hotline_common::time::opt_to_proto;
use hotline_proto::events::v1 as ev;

use super::rules::{Visit, VisitState};
use crate::ratings::rules::stored;
use hotline_common::ApiError;

stored!(
    /// Why a ticket was closed: by its return visit (the first three), or
    /// at acceptance, never dispatched (the others).
    ClosureCause, ev::ClosureCause, "closure cause", {
        NotVisited = "not_visited",
        Visited = "visited",
        NotReopened = "not_reopened",
        DirectAnswer = "direct_answer",
        Referred = "referred",
        WithParent = "with_parent",
        Refused = "refused",
    }
);

/// What decides whether a round's visit closes its ticket, besides the
/// visit itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Undertaking told it did not reopen the ticket on this visit because
    /// the policy's rounds are used up (`limit_reached`; not `superseded`,
    /// which says a later hop or round holds the ticket).
    pub rounds_used_up: bool,
    /// Intake knows of a later round or hop of the ticket.
    pub replaced: bool,
}

/// The `visited` fact a closed visit publishes, from the visit as stored.
pub fn visited_fact(v: &Visit) -> ev::Visited {
    let shown = v.to_proto();
    ev::Visited {
        visit_id: shown.visit_id,
        outcome: shown.outcome,
        attempts: shown.attempts,
        contact_id: shown.contact_id,
        resolved: shown.resolution,
        satisfaction: shown.satisfaction,
        unit_at_fault: shown.unit_at_fault,
        visited_at: opt_to_proto(v.closed_at),
        unit_id: v.unit_id.clone(),
        hop: v.hop,
        round: v.round,
    }
}

/// Whether the visit alone leaves its round able to close the ticket: the
/// round was answered and its visit is not waiting (queued or taken).
/// When not, [`closure`] is None whatever the [`Standing`], which need not
/// be read.
pub fn may_close(v: &Visit) -> bool {
    v.answered_at.is_some() && !matches!(v.state, VisitState::Queued | VisitState::Taken)
}

/// Whether the visit's round closes the ticket now, and why (the module's
/// table).
pub fn closure(v: &Visit, s: Standing) -> Option<ClosureCause> {
    if s.replaced || v.answered_at.is_none() {
        return None;
    }
    match v.state {
        VisitState::NotQueued => Some(ClosureCause::NotVisited),
        VisitState::Queued | VisitState::Taken => None,
        VisitState::Closed if !calls_for_rehandling(&visited_fact(v)) => {
            Some(ClosureCause::Visited)
        }
        VisitState::Closed if s.rounds_used_up => Some(ClosureCause::NotReopened),
        VisitState::Closed => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::rules::Level;
    use crate::visits::rules::{Answers, Cause, NotQueued, Outcome, Resolution, VisitId};
    use chrono::{DateTime, Utc};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    fn visit(state: VisitState) -> Visit {
        Visit {
            id: VisitId::new(),
            ticket_no: "BJ000000000001".into(),
            unit_id: "bj-housing".into(),
            hop: 1,
            round: 1,
            cause: Cause::Answered,
            answered_at: Some(t(0)),
            entered_at: t(1),
            state,
            not_queued: (state == VisitState::NotQueued).then_some(NotQueued::ConsentRefused),
            sample: None,
            deadline: None,
            due_at: None,
            taken_by: None,
            attempts: 0,
            outcome: None,
            answers: None,
            contact_id: None,
            closed_at: None,
        }
    }

    fn ended(outcome: Outcome, answers: Option<(Resolution, Level, bool)>) -> Visit {
        Visit {
            outcome: Some(outcome),
            answers: answers.map(|(resolution, satisfaction, unit_at_fault)| Answers {
                unit_contacted: true,
                resolution,
                satisfaction,
                unit_at_fault,
                comment: String::new(),
            }),
            closed_at: Some(t(5)),
            attempts: 1,
            ..visit(VisitState::Closed)
        }
    }

    const OPEN: Standing = Standing {
        rounds_used_up: false,
        replaced: false,
    };

    #[test]
    fn an_answered_round_closes_once_its_visit_is_settled() {
        assert_eq!(
            closure(&visit(VisitState::NotQueued), OPEN),
            Some(ClosureCause::NotVisited)
        );
        for waiting in [VisitState::Queued, VisitState::Taken] {
            assert_eq!(closure(&visit(waiting), OPEN), None);
            assert!(!may_close(&visit(waiting)), "{waiting:?}");
        }
        assert!(may_close(&visit(VisitState::NotQueued)));
        let satisfied = ended(
            Outcome::Reached,
            Some((Resolution::Resolved, Level::Satisfied, false)),
        );
        assert_eq!(closure(&satisfied, OPEN), Some(ClosureCause::Visited));
        // Unhappy, but not through the unit's fault: nothing to re-handle.
        let not_its_fault = ended(
            Outcome::Reached,
            Some((Resolution::Unresolved, Level::Dissatisfied, false)),
        );
        assert_eq!(closure(&not_its_fault, OPEN), Some(ClosureCause::Visited));
        for outcome in [Outcome::Unreachable, Outcome::Refused] {
            assert_eq!(
                closure(&ended(outcome, None), OPEN),
                Some(ClosureCause::Visited),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn a_visit_calling_for_handling_again_waits_for_undertaking() {
        let unhappy = ended(
            Outcome::Reached,
            Some((Resolution::Partly, Level::Dissatisfied, true)),
        );
        assert_eq!(closure(&unhappy, OPEN), None);
        let used_up = Standing {
            rounds_used_up: true,
            ..OPEN
        };
        assert_eq!(closure(&unhappy, used_up), Some(ClosureCause::NotReopened));
        // Superseded: a later hop or round holds the ticket, even before
        // intake hears of it; that one closes it.
        assert_eq!(closure(&unhappy, OPEN), None);
    }

    #[test]
    fn an_unanswered_or_replaced_round_closes_nothing() {
        let overdue = Visit {
            cause: Cause::Overdue,
            answered_at: None,
            ..visit(VisitState::NotQueued)
        };
        assert_eq!(closure(&overdue, OPEN), None);
        assert!(!may_close(&overdue));
        let replaced = Standing {
            replaced: true,
            ..OPEN
        };
        assert_eq!(closure(&visit(VisitState::NotQueued), replaced), None);
        let satisfied = ended(
            Outcome::Reached,
            Some((Resolution::Resolved, Level::VerySatisfied, false)),
        );
        assert_eq!(closure(&satisfied, replaced), None);
    }

    #[test]
    fn every_cause_round_trips() {
        for c in [
            ClosureCause::NotVisited,
            ClosureCause::Visited,
            ClosureCause::NotReopened,
            ClosureCause::DirectAnswer,
            ClosureCause::Referred,
            ClosureCause::WithParent,
            ClosureCause::Refused,
        ] {
            assert_eq!(ClosureCause::from_sql(c.as_sql()).unwrap(), c);
            assert_eq!(ClosureCause::from_proto(c.to_proto() as i32), Some(c));
        }
    }
}
