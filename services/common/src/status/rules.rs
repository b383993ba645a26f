//! The one derivation of a ticket's status from the facts the services
//! hold. Pure: no IO.

use hotline_proto::common::v1::{AssignmentRole, TicketStatus};
use hotline_proto::undertaking::v1::{Assignment, AssignmentState};

/// How far routing got: intake's and dispatch's part of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    /// Intake holds the ticket; it has not been handed to dispatch yet.
    NotYet,
    /// The routing in force sends it to dispatch's manual queue.
    ManualQueue,
    /// The routing in force names units: a lead unit and co-units.
    Units,
}

/// The lead unit's assignment of the hop in force: undertaking's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    /// Not recorded (yet): undertaking has not received the hop's units.
    NotRecorded,
    /// Sent, not signed for (待签收).
    Pending,
    /// Returned (退单), waiting for the centre's decision.
    ReturnRequested,
    /// Signed for (签收), being handled.
    Signed,
    /// Feedback given (反馈).
    Answered,
}

impl Lead {
    /// The lead assignment's state as the contract writes it. A withdrawn
    /// or unknown state is no lead of the hop in force.
    pub fn from_state(state: i32) -> Lead {
        match AssignmentState::try_from(state) {
            Ok(AssignmentState::PendingSign) => Lead::Pending,
            Ok(AssignmentState::ReturnRequested) => Lead::ReturnRequested,
            Ok(AssignmentState::Signed) => Lead::Signed,
            Ok(AssignmentState::FedBack) => Lead::Answered,
            Ok(AssignmentState::Withdrawn | AssignmentState::Unspecified) | Err(_) => {
                Lead::NotRecorded
            }
        }
    }
}

/// Where a ticket stands, from how far routing got and the lead unit's
/// assignment of the hop in force, in the first handling round.
pub fn derive(routed: Routed, lead: Lead) -> TicketStatus {
    derive_in_round(routed, lead, 1)
}

/// Where a ticket stands, from how far routing got and the lead unit's
/// assignment of the hop in force in handling round `round`: from round 2
/// on (re-handling, 重办) a lead that has not answered yet, pending or
/// signed, shows REOPENED.
pub fn derive_in_round(routed: Routed, lead: Lead, round: i32) -> TicketStatus {
    let again = round > 1;
    match (routed, lead) {
        (Routed::NotYet, _) => TicketStatus::Accepted,
        (Routed::ManualQueue, _) => TicketStatus::AwaitingManualDispatch,
        (Routed::Units, Lead::Pending | Lead::Signed) if again => TicketStatus::Reopened,
        (Routed::Units, Lead::NotRecorded | Lead::Pending) => TicketStatus::Routed,
        (Routed::Units, Lead::ReturnRequested) => TicketStatus::Returned,
        (Routed::Units, Lead::Signed) => TicketStatus::Signed,
        (Routed::Units, Lead::Answered) => TicketStatus::Answered,
    }
}

/// The status of a ticket intake has closed (办结) or not: closing is
/// final and intake's alone, so a closed ticket shows CLOSED whatever the
/// other services' facts say; an open one shows what they derive.
pub fn closed_or(closed: bool, derived: TicketStatus) -> TicketStatus {
    if closed {
        TicketStatus::Closed
    } else {
        derived
    }
}

/// The lead unit's assignment of `hop` among a ticket's assignments (of
/// every hop, as undertaking lists them), and its handling round: of the
/// latest round when the hop was reopened (a re-handling round has a lead
/// assignment of its own in the same hop).
pub fn lead_of(assignments: &[Assignment], hop: i32) -> (Lead, i32) {
    assignments
        .iter()
        .filter(|a| a.hop == hop && a.role == AssignmentRole::Lead as i32)
        .max_by_key(|a| a.round)
        .map_or((Lead::NotRecorded, 1), |a| {
            (Lead::from_state(a.state), a.round.max(1))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_ticket_is_closed_whatever_else_is_derived() {
        assert_eq!(
            closed_or(true, TicketStatus::Answered),
            TicketStatus::Closed
        );
        assert_eq!(
            closed_or(true, TicketStatus::Unspecified),
            TicketStatus::Closed
        );
        assert_eq!(
            closed_or(false, TicketStatus::Answered),
            TicketStatus::Answered
        );
    }

    fn assignment(hop: i32, role: AssignmentRole, state: AssignmentState) -> Assignment {
        Assignment {
            hop,
            round: 1,
            role: role as i32,
            state: state as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_reopened_round_shows_reopened_until_its_lead_answers() {
        let cases = [
            (Lead::NotRecorded, TicketStatus::Routed),
            (Lead::Pending, TicketStatus::Reopened),
            (Lead::Signed, TicketStatus::Reopened),
            (Lead::ReturnRequested, TicketStatus::Returned),
            (Lead::Answered, TicketStatus::Answered),
        ];
        for (lead, want) in cases {
            assert_eq!(derive_in_round(Routed::Units, lead, 2), want, "{lead:?}");
            assert_eq!(derive_in_round(Routed::Units, lead, 3), want, "{lead:?}");
        }
        assert_eq!(
            derive_in_round(Routed::ManualQueue, Lead::Pending, 2),
            TicketStatus::AwaitingManualDispatch
        );
        assert_eq!(derive(Routed::Units, Lead::Signed), TicketStatus::Signed);
    }

    #[test]
    fn the_lead_of_a_reopened_hop_is_that_of_its_latest_round() {
        use AssignmentRole::Lead as L;
        use AssignmentState::*;
        let first = assignment(1, L, FedBack);
        let again = Assignment {
            round: 2,
            ..assignment(1, L, PendingSign)
        };
        assert_eq!(
            lead_of(&[first.clone(), again.clone()], 1),
            (Lead::Pending, 2)
        );
        assert_eq!(lead_of(&[again, first.clone()], 1), (Lead::Pending, 2));
        assert_eq!(lead_of(&[first], 1), (Lead::Answered, 1));
    }

    #[test]
    fn not_handed_to_dispatch_is_accepted_whatever_else() {
        for lead in [Lead::NotRecorded, Lead::Signed, Lead::Answered] {
            assert_eq!(derive(Routed::NotYet, lead), TicketStatus::Accepted);
        }
    }

    #[test]
    fn the_manual_queue_wins_over_earlier_hops() {
        assert_eq!(
            derive(Routed::ManualQueue, Lead::NotRecorded),
            TicketStatus::AwaitingManualDispatch
        );
        assert_eq!(
            derive(Routed::ManualQueue, Lead::Pending),
            TicketStatus::AwaitingManualDispatch
        );
    }

    #[test]
    fn routed_tickets_follow_the_lead_unit() {
        let cases = [
            (Lead::NotRecorded, TicketStatus::Routed),
            (Lead::Pending, TicketStatus::Routed),
            (Lead::ReturnRequested, TicketStatus::Returned),
            (Lead::Signed, TicketStatus::Signed),
            (Lead::Answered, TicketStatus::Answered),
        ];
        for (lead, want) in cases {
            assert_eq!(derive(Routed::Units, lead), want, "{lead:?}");
        }
    }

    #[test]
    fn the_other_services_facts_never_yield_closed_or_unspecified() {
        // CLOSED is intake's word alone (`closed_or`); UNSPECIFIED is only
        // for an answer a service did not give.
        for routed in [Routed::NotYet, Routed::ManualQueue, Routed::Units] {
            for lead in [
                Lead::NotRecorded,
                Lead::Pending,
                Lead::ReturnRequested,
                Lead::Signed,
                Lead::Answered,
            ] {
                let s = derive(routed, lead);
                assert!(
                    s != TicketStatus::Closed && s != TicketStatus::Unspecified,
                    "{routed:?} {lead:?}"
                );
            }
        }
    }

    #[test]
    fn withdrawn_or_unknown_states_are_no_lead() {
        assert_eq!(
            Lead::from_state(AssignmentState::Withdrawn as i32),
            Lead::NotRecorded
        );
        assert_eq!(Lead::from_state(99), Lead::NotRecorded);
        assert_eq!(
            Lead::from_state(AssignmentState::FedBack as i32),
            Lead::Answered
        );
    }

    #[test]
    fn the_lead_of_the_hop_asked_counts_not_a_co_unit_nor_another_hop() {
        use AssignmentRole::{Co, Lead as L};
        use AssignmentState::*;
        let all = [
            assignment(1, L, Withdrawn),
            assignment(1, Co, Withdrawn),
            assignment(2, Co, Signed),
            assignment(2, L, ReturnRequested),
        ];
        assert_eq!(lead_of(&all, 2).0, Lead::ReturnRequested);
        assert_eq!(lead_of(&all, 1).0, Lead::NotRecorded);
        assert_eq!(lead_of(&all, 3).0, Lead::NotRecorded);
        assert_eq!(lead_of(&[], 1), (Lead::NotRecorded, 1));
    }
}
