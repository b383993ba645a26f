//! Which units hold a ticket, and where it stands: from intake's own fact,
//! dispatch's routing in force and undertaking's assignments. Pure: no IO.

use hotline_common::status::{self, Lead, Routed};
use hotline_proto::common::v1 as pb;
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::dispatch::v1::Routing;
use hotline_proto::intake::v1::TicketRouting;
use hotline_proto::undertaking::v1::{Assignment, AssignmentState};

/// How a unit stands to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holding {
    /// It was never sent the ticket: it learns nothing of it.
    None,
    /// It was sent the ticket, and nothing more is expected of it: its
    /// assignment was withdrawn (re-dispatched elsewhere) or it answered
    /// (fed back, or a co-unit's part given). It may read the ticket, with
    /// the requester masked.
    Past,
    /// It holds an open assignment (pending sign-off, signed, returned and
    /// waiting for the centre): it may need to reach the requester.
    Open,
}

/// Whether an assignment still expects work of its unit.
pub fn is_open(state: i32) -> bool {
    matches!(
        AssignmentState::try_from(state),
        Ok(AssignmentState::PendingSign
            | AssignmentState::Signed
            | AssignmentState::ReturnRequested)
    )
}

/// How `unit` stands to a ticket with these assignments.
pub fn holding(assignments: &[Assignment], unit: &str) -> Holding {
    assignments
        .iter()
        .filter(|a| a.unit_id == unit)
        .map(|a| {
            if is_open(a.state) {
                Holding::Open
            } else {
                Holding::Past
            }
        })
        .max()
        .unwrap_or(Holding::None)
}

/// Where a ticket stands and where it was routed, from intake's fact (was
/// it handed to dispatch), dispatch's routing in force and the ticket's
/// assignments in undertaking (of every hop).
pub fn standing(
    handed_over: bool,
    routing: Option<&Routing>,
    assignments: &[Assignment],
) -> (pb::TicketStatus, Option<TicketRouting>) {
    let routing = routing.filter(|_| handed_over);
    let routed = match routing {
        None => Routed::NotYet,
        Some(r) if r.units.is_empty() => Routed::ManualQueue,
        Some(_) => Routed::Units,
    };
    let (lead, round) = routing.map_or((Lead::NotRecorded, 1), |r| {
        status::lead_of(assignments, r.hop)
    });
    let shown = routing.and_then(|r| {
        let lead = r
            .units
            .iter()
            .find(|u| u.role == AssignmentRole::Lead as i32)?;
        Some(TicketRouting {
            lead_unit_id: lead.unit_id.clone(),
            co_unit_ids: r
                .units
                .iter()
                .filter(|u| u.role == AssignmentRole::Co as i32)
                .map(|u| u.unit_id.clone())
                .collect(),
            hop: r.hop,
            dispatched_at: r.dispatched_at,
        })
    });
    (status::derive_in_round(routed, lead, round), shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_open_assignments_hold_a_ticket() {
        let a = |unit: &str, state: AssignmentState| Assignment {
            unit_id: unit.into(),
            state: state as i32,
            ..Default::default()
        };
        use AssignmentState::*;
        for (state, want) in [
            (PendingSign, Holding::Open),
            (Signed, Holding::Open),
            (ReturnRequested, Holding::Open),
            (FedBack, Holding::Past),
            (Withdrawn, Holding::Past),
        ] {
            assert_eq!(holding(&[a("u", state)], "u"), want, "{state:?}");
        }
        assert_eq!(holding(&[a("u", Signed)], "v"), Holding::None);
        // Withdrawn at hop 1, sent the ticket again at hop 3.
        let again = [a("u", Withdrawn), a("v", Withdrawn), a("u", PendingSign)];
        assert_eq!(holding(&again, "u"), Holding::Open);
        assert_eq!(holding(&again, "v"), Holding::Past);
    }

    fn routed_to(hop: i32, units: &[(&str, AssignmentRole)]) -> Routing {
        use hotline_proto::dispatch::v1::RoutedUnit;
        Routing {
            hop,
            units: units
                .iter()
                .map(|(u, role)| RoutedUnit {
                    unit_id: (*u).into(),
                    role: *role as i32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn assigned(hop: i32, unit: &str, role: AssignmentRole, state: AssignmentState) -> Assignment {
        Assignment {
            hop,
            unit_id: unit.into(),
            role: role as i32,
            state: state as i32,
            ..Default::default()
        }
    }

    #[test]
    fn standing_before_dispatch_is_accepted_with_no_routing() {
        let r = routed_to(1, &[("u", AssignmentRole::Lead)]);
        // Still in intake's outbox: whatever a peer says, not handed over.
        assert_eq!(
            standing(false, Some(&r), &[]),
            (pb::TicketStatus::Accepted, None)
        );
        assert_eq!(
            standing(true, None, &[]),
            (pb::TicketStatus::Accepted, None)
        );
    }

    #[test]
    fn standing_in_the_manual_queue_names_no_unit() {
        let queued = routed_to(2, &[]);
        let earlier = [assigned(
            1,
            "u",
            AssignmentRole::Lead,
            AssignmentState::Withdrawn,
        )];
        assert_eq!(
            standing(true, Some(&queued), &earlier),
            (pb::TicketStatus::AwaitingManualDispatch, None)
        );
    }

    #[test]
    fn standing_follows_the_lead_of_the_hop_in_force() {
        use AssignmentRole::{Co, Lead as L};
        use AssignmentState::*;
        let r = routed_to(2, &[("lead", L), ("co1", Co), ("co2", Co)]);
        let (status, routing) = standing(true, Some(&r), &[]);
        assert_eq!(status, pb::TicketStatus::Routed, "units not recorded yet");
        let routing = routing.expect("routing");
        assert_eq!(routing.lead_unit_id, "lead");
        assert_eq!(routing.co_unit_ids, ["co1", "co2"]);
        assert_eq!(routing.hop, 2);
        for (state, want) in [
            (PendingSign, pb::TicketStatus::Routed),
            (ReturnRequested, pb::TicketStatus::Returned),
            (Signed, pb::TicketStatus::Signed),
            (FedBack, pb::TicketStatus::Answered),
        ] {
            let all = [
                assigned(1, "old", L, FedBack),
                assigned(2, "co1", Co, Signed),
                assigned(2, "lead", L, state),
            ];
            assert_eq!(standing(true, Some(&r), &all).0, want, "{state:?}");
        }
    }
}
