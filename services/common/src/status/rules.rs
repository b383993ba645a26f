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
/// assignment of the hop in force.
pub fn derive(routed: Routed, lead: Lead) -> TicketStatus {
    match (routed, lead) {
        (Routed::NotYet, _) => TicketStatus::Accepted,
        (Routed::ManualQueue, _) => TicketStatus::AwaitingManualDispatch,
        (Routed::Units, Lead::NotRecorded | Lead::Pending) => TicketStatus::Routed,
        (Routed::Units, Lead::ReturnRequested) => TicketStatus::Returned,
        (Routed::Units, Lead::Signed) => TicketStatus::Signed,
        (Routed::Units, Lead::Answered) => TicketStatus::Answered,
    }
}

/// The lead unit's assignment of `hop` among a ticket's assignments (of
/// every hop, as undertaking lists them).
pub fn lead_of(assignments: &[Assignment], hop: i32) -> Lead {
    assignments
        .iter()
        .find(|a| a.hop == hop && a.role == AssignmentRole::Lead as i32)
        .map_or(Lead::NotRecorded, |a| Lead::from_state(a.state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(hop: i32, role: AssignmentRole, state: AssignmentState) -> Assignment {
        Assignment {
            hop,
            role: role as i32,
            state: state as i32,
            ..Default::default()
        }
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
    fn no_fact_yields_closed_or_unspecified() {
        // CLOSED needs return visits (回访), not built; UNSPECIFIED is only
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
        assert_eq!(lead_of(&all, 2), Lead::ReturnRequested);
        assert_eq!(lead_of(&all, 1), Lead::NotRecorded);
        assert_eq!(lead_of(&all, 3), Lead::NotRecorded);
        assert_eq!(lead_of(&[], 1), Lead::NotRecorded);
    }
}
