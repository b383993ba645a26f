//! Undertaking's lifecycle events (`hotline.events.v1`): each fact built
//! from what the change stored, recorded in the change's transaction
//! (`hotline_common::events`), published to `hotline.undertaking.events`.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::convert::stage_to_proto;
use hotline_common::events;
use hotline_common::outbox::Tx;
use hotline_common::time::to_proto;
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};

use crate::assignments::rules::Assignment;
use crate::extensions::rules::{Extension, ExtensionState};
use crate::returns::rules::Return;

/// Records `fact` about `ticket_no`, which happened at `at`.
pub async fn record(
    tx: &mut Tx,
    ticket_no: &str,
    at: DateTime<Utc>,
    fact: Fact,
) -> Result<(), ApiError> {
    events::record_fact(tx, Source::Undertaking, ticket_no, at, fact).await
}

/// An assignment recorded.
pub fn assigned(a: &Assignment) -> Fact {
    Fact::Assigned(ev::Assigned {
        assignment_id: a.id.to_string(),
        unit_id: a.unit_id.to_string(),
        role: a.role.to_proto() as i32,
        hop: a.hop,
        round: a.round,
        dispatched_at: Some(to_proto(a.dispatched_at)),
        sign_deadline: Some(to_proto(a.sign_deadline)),
        feedback_deadline: Some(to_proto(a.feedback_deadline)),
    })
}

/// An assignment signed for at `at`.
pub fn signed(a: &Assignment, at: DateTime<Utc>) -> Fact {
    Fact::Signed(ev::Signed {
        assignment_id: a.id.to_string(),
        unit_id: a.unit_id.to_string(),
        role: a.role.to_proto() as i32,
        hop: a.hop,
        round: a.round,
        signed_at: Some(to_proto(at)),
        sign_deadline: Some(to_proto(a.sign_deadline)),
        within_limit: at <= a.sign_deadline,
    })
}

/// A co-unit's part submitted at `at`.
pub fn part_submitted(a: &Assignment, at: DateTime<Utc>) -> Fact {
    Fact::PartSubmitted(ev::PartSubmitted {
        assignment_id: a.id.to_string(),
        unit_id: a.unit_id.to_string(),
        hop: a.hop,
        round: a.round,
        submitted_at: Some(to_proto(at)),
        feedback_deadline: Some(to_proto(a.feedback_deadline)),
        within_limit: at <= a.feedback_deadline,
    })
}

/// The lead unit's answer at `at`, with the outcome it stated.
pub fn answered(a: &Assignment, at: DateTime<Utc>, outcome: i32) -> Fact {
    Fact::Answered(ev::Answered {
        assignment_id: a.id.to_string(),
        unit_id: a.unit_id.to_string(),
        hop: a.hop,
        round: a.round,
        answered_at: Some(to_proto(at)),
        feedback_deadline: Some(to_proto(a.feedback_deadline)),
        within_limit: at <= a.feedback_deadline,
        outcome,
    })
}

/// A unit's return asked for, on its assignment `a`.
pub fn return_requested(r: &Return, a: &Assignment) -> Fact {
    Fact::ReturnRequested(ev::ReturnRequested {
        return_id: r.id.to_string(),
        assignment_id: r.assignment_id.to_string(),
        unit_id: r.unit_id.to_string(),
        hop: r.hop,
        reason: r.reason.to_proto() as i32,
        requested_at: Some(to_proto(r.requested_at)),
        sign_deadline: Some(to_proto(a.sign_deadline)),
    })
}

/// A return decided at `at`: rejected, or accepted by hop `new_hop`.
pub fn return_decided(r: &Return, at: DateTime<Utc>, new_hop: Option<i32>) -> Fact {
    Fact::ReturnDecided(ev::ReturnDecided {
        return_id: r.id.to_string(),
        assignment_id: r.assignment_id.to_string(),
        unit_id: r.unit_id.to_string(),
        hop: r.hop,
        decision: r.state.to_proto() as i32,
        decided_at: Some(to_proto(r.decided_at.unwrap_or(at))),
        new_hop: new_hop.unwrap_or_default(),
    })
}

/// Records a decided return (see [`return_decided`]).
pub async fn record_return_decided(
    tx: &mut Tx,
    r: &Return,
    at: DateTime<Utc>,
    new_hop: Option<i32>,
) -> Result<(), ApiError> {
    record(
        tx,
        r.ticket_no.as_str(),
        r.decided_at.unwrap_or(at),
        return_decided(r, at, new_hop),
    )
    .await
}

/// An extension decided at `at`.
pub fn extension_decided(e: &Extension, at: DateTime<Utc>) -> Fact {
    let approved = e.state == ExtensionState::Approved;
    Fact::ExtensionDecided(ev::ExtensionDecided {
        extension_id: e.id.to_string(),
        assignment_id: e.assignment_id.to_string(),
        unit_id: e.unit_id.to_string(),
        stage: stage_to_proto(e.stage) as i32,
        approved,
        old_deadline: Some(to_proto(e.previous_deadline)),
        new_deadline: Some(to_proto(if approved {
            e.requested_deadline
        } else {
            e.previous_deadline
        })),
        decided_at: Some(to_proto(e.decided_at.unwrap_or(at))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignments::rules::{Role, State};
    use chrono::Duration;
    use hotline_common::ids::{AssignmentId, Id, TicketNo, UnitId};

    fn assignment(deadline: DateTime<Utc>) -> Assignment {
        Assignment {
            id: AssignmentId::new(),
            ticket_no: TicketNo::parse_field("ticket_no", "BJ000000000001").unwrap(),
            unit_id: UnitId::parse_field("unit_id", "chaoyang-heating").unwrap(),
            role: Role::Co,
            state: State::Signed,
            hop: 2,
            round: 1,
            ticket: Default::default(),
            dispatched_at: deadline - Duration::hours(2),
            sign_deadline: deadline,
            feedback_deadline: deadline + Duration::hours(24),
            signed_at: None,
            fed_back_at: None,
            feedback: None,
            part: None,
        }
    }

    #[test]
    fn signing_is_within_the_limit_up_to_the_deadline_itself() {
        let deadline = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let a = assignment(deadline);
        for (at, within) in [
            (deadline - Duration::seconds(1), true),
            (deadline, true),
            (deadline + Duration::seconds(1), false),
        ] {
            let Fact::Signed(s) = signed(&a, at) else {
                panic!("not a signed fact");
            };
            assert_eq!(s.within_limit, within, "{at}");
            assert_eq!(s.sign_deadline, Some(to_proto(deadline)));
            assert_eq!((s.hop, s.round), (2, 1));
            assert_eq!(s.unit_id, "chaoyang-heating");
            assert_eq!(s.role, hotline_proto::common::v1::AssignmentRole::Co as i32);
        }
    }

    #[test]
    fn parts_and_answers_are_measured_against_the_feedback_deadline() {
        let deadline = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let a = assignment(deadline);
        // After the sign-off deadline, before the feedback deadline.
        let at = deadline + Duration::hours(1);
        let Fact::PartSubmitted(p) = part_submitted(&a, at) else {
            panic!("not a part");
        };
        assert!(p.within_limit);
        let Fact::Answered(r) = answered(&a, a.feedback_deadline + Duration::seconds(1), 1) else {
            panic!("not an answer");
        };
        assert!(!r.within_limit);
        assert_eq!(r.outcome, 1);
        assert_eq!(r.feedback_deadline, Some(to_proto(a.feedback_deadline)));
    }
}
