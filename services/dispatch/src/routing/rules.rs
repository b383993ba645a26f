//! Who may hand a ticket in, and when a re-dispatch may act: on the hop
//! the caller saw, accepting a waiting return of that hop, never after the
//! lead unit answered. Pure: the facts are read by the caller.

use hotline_common::auth::{Identity, Role};
use hotline_common::config::ServiceName;
use hotline_common::ids::{ReturnId, TicketNo};
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::undertaking::v1::{Assignment, AssignmentReturn, AssignmentState, ReturnState};

use crate::ids::Hop;

/// Only intake hands tickets in: the service identity intake's calls carry
/// (subject "intake", role service). Intake hands in only tickets it
/// accepted and stored.
pub fn may_hand_in(who: &Identity) -> Result<(), ApiError> {
    if who.has(Role::Service) && who.subject == ServiceName::Intake.as_str() {
        Ok(())
    } else {
        Err(ApiError::permission(
            Reason::IntakeOnly,
            format!(
                "{} is not intake: only intake hands tickets in",
                who.subject
            ),
        ))
    }
}

/// A re-dispatch acts on the hop in force, which the caller must have seen.
pub fn check_hop(no: &TicketNo, in_force: Hop, seen: Hop) -> Result<(), ApiError> {
    if in_force == seen {
        Ok(())
    } else {
        Err(ApiError::precondition(
            Reason::HopSuperseded,
            format!("ticket {no} is at hop {in_force}, not {seen}: read its routing again"),
        )
        .with("ticket_no", no)
        .with("hop", in_force))
    }
}

/// A return is accepted once, while it waits, for the hop in force.
pub fn check_return(
    ret: &AssignmentReturn,
    id: &ReturnId,
    no: &TicketNo,
    hop: Hop,
) -> Result<(), ApiError> {
    if ret.ticket_no != no.as_str() {
        return Err(ApiError::invalid(
            "return_id",
            &format!("return {id} is of ticket {}", ret.ticket_no),
        ));
    }
    if ret.state != ReturnState::Pending as i32 || Hop::stored(ret.hop) != hop {
        let state = ReturnState::try_from(ret.state)
            .map(|s| s.as_str_name())
            .unwrap_or("RETURN_STATE_UNSPECIFIED")
            .trim_start_matches("RETURN_STATE_")
            .to_lowercase();
        let reason = if ret.state == ReturnState::Pending as i32 {
            Reason::HopSuperseded
        } else {
            Reason::ReturnAlreadyDecided
        };
        return Err(ApiError::precondition(
            reason,
            format!("return {id} is not waiting for a decision on hop {hop}"),
        )
        .with("return_id", id)
        .with("state", state)
        .with("hop", ret.hop));
    }
    Ok(())
}

/// A ticket whose lead unit answered at the hop in force is not
/// re-dispatched. A hop reopened for handling again (重办) has a lead
/// assignment per round: the latest round's counts.
pub fn check_not_answered(
    no: &TicketNo,
    assignments: &[Assignment],
    hop: Hop,
) -> Result<(), ApiError> {
    let lead = assignments
        .iter()
        .filter(|a| Hop::stored(a.hop) == hop && a.role == AssignmentRole::Lead as i32)
        .max_by_key(|a| a.round);
    match lead.filter(|a| a.state == AssignmentState::FedBack as i32) {
        Some(a) => Err(ApiError::precondition(
            Reason::RoundAlreadyAnswered,
            format!(
                "ticket {no} was answered by its lead unit {}; it is not re-dispatched",
                a.unit_id
            ),
        )
        .with("ticket_no", no)
        .with("unit_id", &a.unit_id)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;
    use hotline_common::ids::Id;

    fn who(subject: &str, roles: &[Role]) -> Identity {
        Identity {
            subject: subject.into(),
            unit: None,
            roles: roles.to_vec(),
        }
    }

    fn no() -> TicketNo {
        TicketNo::parse("BJ000000000007").unwrap()
    }

    fn hop(n: i32) -> Hop {
        Hop::parse_field("hop", n).unwrap()
    }

    #[test]
    fn only_intake_hands_tickets_in() {
        assert!(may_hand_in(&who("intake", &[Role::Service])).is_ok());
        for w in [
            who("undertaking", &[Role::Service]),
            who("intake", &[Role::Dispatcher]),
            who("dispatcher-1", &[Role::Dispatcher, Role::Ops]),
        ] {
            let e = may_hand_in(&w).unwrap_err();
            assert_eq!(e.code, ErrorCode::PermissionDenied, "{w:?}");
            assert!(
                !e.message.contains("may not call"),
                "not the rule table's words"
            );
        }
    }

    #[test]
    fn a_re_dispatch_names_the_hop_in_force() {
        assert!(check_hop(&no(), hop(2), hop(2)).is_ok());
        let e = check_hop(&no(), hop(3), hop(2)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(e.message.contains("at hop 3, not 2"), "{}", e.message);
    }

    #[test]
    fn a_return_is_accepted_while_it_waits_on_the_hop_in_force() {
        let id = ReturnId::new();
        let ret = AssignmentReturn {
            return_id: id.to_string(),
            ticket_no: no().to_string(),
            hop: 2,
            state: ReturnState::Pending as i32,
            ..Default::default()
        };
        assert!(check_return(&ret, &id, &no(), hop(2)).is_ok());
        let other = TicketNo::parse("BJ000000000008").unwrap();
        let e = check_return(&ret, &id, &other, hop(2)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.fields[0].0, "return_id");
        for (state, h) in [(ReturnState::Rejected, 2), (ReturnState::Pending, 1)] {
            let r = AssignmentReturn {
                state: state as i32,
                hop: h,
                ..ret.clone()
            };
            let e = check_return(&r, &id, &no(), hop(2)).unwrap_err();
            assert_eq!(e.code, ErrorCode::FailedPrecondition);
        }
    }

    #[test]
    fn an_answer_of_the_hop_in_force_stops_re_dispatch() {
        let lead = |h: i32, state: AssignmentState| Assignment {
            unit_id: "bj-heating-group".into(),
            role: AssignmentRole::Lead as i32,
            state: state as i32,
            hop: h,
            ..Default::default()
        };
        let open = [
            lead(2, AssignmentState::Signed),
            lead(1, AssignmentState::FedBack),
        ];
        assert!(check_not_answered(&no(), &open, hop(2)).is_ok());
        let answered = [lead(2, AssignmentState::FedBack)];
        let e = check_not_answered(&no(), &answered, hop(2)).unwrap_err();
        assert!(e.message.contains("bj-heating-group"), "{}", e.message);
        // Reopened: round 1's answer stands, round 2 is being handled.
        let again = Assignment {
            round: 2,
            ..lead(2, AssignmentState::Signed)
        };
        let reopened = [
            Assignment {
                round: 1,
                ..lead(2, AssignmentState::FedBack)
            },
            again.clone(),
        ];
        assert!(check_not_answered(&no(), &reopened, hop(2)).is_ok());
        let answered_again = [
            reopened[0].clone(),
            Assignment {
                state: AssignmentState::FedBack as i32,
                ..again
            },
        ];
        assert!(check_not_answered(&no(), &answered_again, hop(2)).is_err());
    }
}
