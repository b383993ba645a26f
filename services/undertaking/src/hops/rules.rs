//! The hop in force per ticket: which routing hop may act, and when a new
//! one may begin. Pure: no IO.

use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::{ApiError, Reason};

use crate::assignments::rules::State;

/// The routing hop whose assignments may act on a ticket, and the handling
/// round it belongs to (a ticket has at most one lead answer per round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForce {
    pub hop: i32,
    pub round: i32,
}

/// How a hop compares with the one in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The ticket has no hop in force yet: this one begins it.
    First,
    /// An older hop than the one in force.
    Older(InForce),
    /// The hop in force itself (a repeat).
    Same(InForce),
    /// A later hop: it replaces the one in force.
    Newer(InForce),
}

pub fn step(in_force: Option<InForce>, hop: i32) -> Step {
    match in_force {
        None => Step::First,
        Some(f) if hop < f.hop => Step::Older(f),
        Some(f) if hop == f.hop => Step::Same(f),
        Some(f) => Step::Newer(f),
    }
}

/// A new hop begins only while the round in force has no lead answer: a
/// re-dispatch of a ticket being answered is refused, or wins, never both.
pub fn may_begin(ticket: &TicketNo, answered_by: Option<&UnitId>) -> Result<(), ApiError> {
    match answered_by {
        None => Ok(()),
        Some(unit) => Err(ApiError::precondition(
            Reason::RoundAlreadyAnswered,
            format!(
                "ticket {ticket} was answered by its lead unit {unit}; it is not re-dispatched"
            ),
        )
        .with("ticket_no", ticket)
        .with("unit_id", unit)),
    }
}

/// BeginHop on an older hop than the one in force is a wrong state.
pub fn refuse_older(ticket: &TicketNo, hop: i32, in_force: InForce) -> ApiError {
    ApiError::precondition(
        Reason::HopSuperseded,
        format!(
            "ticket {ticket} is at hop {}, later than hop {hop}",
            in_force.hop
        ),
    )
    .with("ticket_no", ticket)
    .with("hop", in_force.hop)
}

/// An assignment acts only while its hop and handling round are the ones
/// in force; the refusal says where it stands.
pub fn check_in_force(
    hop: i32,
    round: i32,
    state: State,
    in_force: InForce,
) -> Result<(), ApiError> {
    if hop == in_force.hop && round != in_force.round {
        Err(ApiError::precondition(
            Reason::RoundSuperseded,
            format!(
                "the ticket was sent back for handling again in round {}: \
                 this assignment of round {round} is {state}",
                in_force.round
            ),
        )
        .with("state", state.as_sql())
        .with("round", in_force.round))
    } else if hop == in_force.hop {
        Ok(())
    } else {
        Err(ApiError::precondition(
            Reason::HopSuperseded,
            format!(
                "the ticket was re-dispatched to hop {}: this assignment of hop {hop} is {state}",
                in_force.hop
            ),
        )
        .with("state", state.as_sql())
        .with("hop", in_force.hop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;
    use hotline_common::ids::Id;

    const AT_2: InForce = InForce { hop: 2, round: 1 };

    #[test]
    fn a_hop_is_first_older_the_same_or_newer() {
        assert_eq!(step(None, 1), Step::First);
        assert_eq!(step(Some(AT_2), 1), Step::Older(AT_2));
        assert_eq!(step(Some(AT_2), 2), Step::Same(AT_2));
        assert_eq!(step(Some(AT_2), 3), Step::Newer(AT_2));
        let no = TicketNo::parse("HL1").unwrap();
        let e = refuse_older(&no, 1, AT_2);
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(e.message.contains("at hop 2"), "{}", e.message);
    }

    #[test]
    fn an_answered_round_is_not_re_dispatched() {
        let no = TicketNo::parse("HL1").unwrap();
        assert!(may_begin(&no, None).is_ok());
        let lead = UnitId::parse("bj-heating-group").unwrap();
        let e = may_begin(&no, Some(&lead)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(
            e.message.contains("answered") && e.message.contains("bj-heating-group"),
            "{}",
            e.message
        );
    }

    #[test]
    fn only_the_hop_in_force_acts_and_the_refusal_names_the_state() {
        assert!(check_in_force(2, 1, State::Signed, AT_2).is_ok());
        for &state in State::ALL {
            let e = check_in_force(1, 1, state, AT_2).unwrap_err();
            assert_eq!(e.code, ErrorCode::FailedPrecondition);
            assert!(
                e.message.contains(&state.to_string()) && e.message.contains("hop 2"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn an_earlier_round_of_the_hop_in_force_does_not_act() {
        let again = InForce { hop: 2, round: 2 };
        assert!(check_in_force(2, 2, State::PendingSign, again).is_ok());
        let e = check_in_force(2, 1, State::FedBack, again).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(e.message.contains("round 2"), "{}", e.message);
        let e = check_in_force(1, 1, State::FedBack, again).unwrap_err();
        assert!(e.message.contains("hop 2"), "{}", e.message);
    }
}
