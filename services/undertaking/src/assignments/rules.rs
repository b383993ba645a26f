//! An assignment and its state machine: the one table of legal moves.
//! Pure: no IO.

use std::fmt;

use chrono::{DateTime, Utc};
use hotline_common::ids::{AssignmentId, TicketNo, UnitId};
use hotline_common::status::{self, Lead, Routed};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::{AssignmentRole, Feedback, TicketStatus, TicketSummary};
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::AssignmentState;
use hotline_sla::Stage;

use crate::enums::stored_enum;
use crate::window::{MAX_LIMIT_AHEAD, SKEW, Window};

stored_enum! {
    /// Where an assignment stands.
    pub enum State as AssignmentState, "assignment state" {
        /// 待签收
        PendingSign = "pending_sign" => PendingSign,
        /// 办理中
        Signed = "signed" => Signed,
        /// 已反馈
        FedBack = "fed_back" => FedBack,
        /// 退单待审: returned, waiting for the centre.
        ReturnRequested = "return_requested" => ReturnRequested,
        /// 已撤回: the ticket was re-dispatched elsewhere.
        Withdrawn = "withdrawn" => Withdrawn,
    }
}

stored_enum! {
    /// A unit's role on a ticket.
    pub enum Role as AssignmentRole, "assignment role" {
        /// 牵头单位: coordinates and gives the one feedback.
        Lead = "lead" => Lead,
        /// 协办单位: submits its part to the lead unit.
        Co = "co" => Co,
    }
}

impl State {
    /// Still expected to do something (withdrawn by a re-dispatch).
    pub fn open(self) -> bool {
        matches!(
            self,
            State::PendingSign | State::Signed | State::ReturnRequested
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::PendingSign => "pending sign-off",
            State::Signed => "signed",
            State::FedBack => "fed back",
            State::ReturnRequested => "returned, waiting for the centre",
            State::Withdrawn => "withdrawn",
        })
    }
}

/// What happens to an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 签收
    Sign,
    /// 反馈: the lead unit's single feedback.
    Feedback,
    /// A co-unit's part, submitted to the lead unit.
    SubmitPart,
    /// 退单: the unit returns it to the centre.
    Return,
    /// The centre rejects the return: back to the unit.
    RejectReturn,
    /// The ticket is re-dispatched elsewhere (the centre accepted a return,
    /// or a dispatcher moved it).
    Withdraw,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Sign,
        Action::Feedback,
        Action::SubmitPart,
        Action::Return,
        Action::RejectReturn,
        Action::Withdraw,
    ];
}

/// The one table of legal moves. Anything else is FAILED_PRECONDITION,
/// saying the current state.
pub fn transition(from: State, action: Action) -> Result<State, ApiError> {
    use Action as A;
    use State as S;
    let refuse = |reason: Reason, why: &str| {
        Err(
            ApiError::precondition(reason, format!("{why}: the assignment is {from}"))
                .with("state", from.as_sql()),
        )
    };
    match (from, action) {
        (S::PendingSign, A::Sign) => Ok(S::Signed),
        (S::Signed, A::Feedback | A::SubmitPart) => Ok(S::FedBack),
        (S::PendingSign, A::Return) => Ok(S::ReturnRequested),
        (S::ReturnRequested, A::RejectReturn) => Ok(S::PendingSign),
        (S::PendingSign | S::Signed | S::ReturnRequested, A::Withdraw) => Ok(S::Withdrawn),

        (S::Signed | S::FedBack, A::Sign) => {
            refuse(Reason::AssignmentAlreadySigned, "already signed")
        }
        (S::PendingSign, A::Feedback | A::SubmitPart) => refuse(
            Reason::AssignmentNotSigned,
            "not signed yet; sign for it before answering",
        ),
        (S::FedBack, A::Feedback | A::SubmitPart) => {
            refuse(Reason::AssignmentAlreadyAnswered, "already answered")
        }
        (S::Signed | S::FedBack, A::Return) => refuse(
            Reason::AssignmentAlreadySigned,
            "already signed: only an assignment not yet signed for can be returned",
        ),
        (S::ReturnRequested, A::Sign | A::Feedback | A::SubmitPart | A::Return) => refuse(
            Reason::ReturnPending,
            "a return is waiting for the centre's decision",
        ),
        (S::PendingSign | S::Signed | S::FedBack | S::Withdrawn, A::RejectReturn) => refuse(
            Reason::NoReturnPending,
            "no return is waiting for a decision",
        ),
        (S::FedBack, A::Withdraw) => refuse(
            Reason::AssignmentAlreadyAnswered,
            "already answered; it cannot be withdrawn",
        ),
        (S::Withdrawn, _) => refuse(Reason::AssignmentWithdrawn, "the ticket was sent elsewhere"),
    }
}

/// Handling is recorded, whistles blown, between sign-off and feedback.
pub fn while_signed(state: State) -> Result<(), ApiError> {
    match state {
        State::Signed => Ok(()),
        State::PendingSign | State::ReturnRequested => Err(ApiError::precondition(
            Reason::AssignmentNotSigned,
            format!("not signed yet: the assignment is {state}; sign for it first"),
        )
        .with("state", state.as_sql())),
        State::FedBack => Err(ApiError::precondition(
            Reason::AssignmentAlreadyAnswered,
            "feedback already given: the assignment is fed back",
        )
        .with("state", state.as_sql())),
        State::Withdrawn => Err(ApiError::precondition(
            Reason::AssignmentWithdrawn,
            "the ticket was sent elsewhere: the assignment is withdrawn",
        )
        .with("state", state.as_sql())),
    }
}

/// One unit's assignment of one ticket in one routing hop.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: AssignmentId,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub role: Role,
    pub state: State,
    /// The routing hop it belongs to (1 for the first routing).
    pub hop: i32,
    /// The handling round it belongs to: one lead answer per round.
    pub round: i32,
    /// The ticket as dispatch sent it.
    pub ticket: TicketSummary,
    pub dispatched_at: DateTime<Utc>,
    pub sign_deadline: DateTime<Utc>,
    pub feedback_deadline: DateTime<Utc>,
    pub signed_at: Option<DateTime<Utc>>,
    pub fed_back_at: Option<DateTime<Utc>>,
    pub feedback: Option<Feedback>,
    pub part: Option<String>,
}

impl Assignment {
    pub fn lead(&self) -> bool {
        self.role == Role::Lead
    }

    /// When the ticket was accepted (受理), as dispatch sent it.
    pub fn accepted_at(&self) -> Option<DateTime<Utc>> {
        accepted_at(&self.ticket)
    }

    /// The deadline of one of its stages.
    pub fn deadline(&self, stage: Stage) -> Option<DateTime<Utc>> {
        match stage {
            Stage::SignOff => Some(self.sign_deadline),
            Stage::Feedback => Some(self.feedback_deadline),
            Stage::Dispatch
            | Stage::ReportIn
            | Stage::ManualDispatch
            | Stage::ReturnVisit
            | Stage::WrittenFeedback
            | Stage::OnSiteArrival
            | Stage::Rectification
            | Stage::MeetingArrival
            | Stage::MeetingAction
            | Stage::Acceptance => None,
        }
    }

    pub fn to_proto(&self) -> pb::Assignment {
        pb::Assignment {
            assignment_id: self.id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            role: self.role.to_proto() as i32,
            state: self.state.to_proto() as i32,
            dispatched_at: Some(to_proto(self.dispatched_at)),
            sign_deadline: Some(to_proto(self.sign_deadline)),
            signed_at: opt_to_proto(self.signed_at),
            feedback_deadline: Some(to_proto(self.feedback_deadline)),
            fed_back_at: opt_to_proto(self.fed_back_at),
            feedback: self.feedback.clone(),
            ticket: Some(self.ticket.clone()),
            part: self.part.clone().unwrap_or_default(),
            hop: self.hop,
            round: self.round,
        }
    }

    /// The id of its clock for `stage` (see [`super::store::clock_id`]).
    pub fn clock_id(&self, stage: hotline_sla::Stage) -> String {
        super::store::clock_id(&self.ticket_no, stage, &self.unit_id, self.hop, self.round)
    }
}

/// The ticket's status from what undertaking holds of its hop in force:
/// whether it went to the manual queue, the handling round in force and
/// its lead unit's assignment.
pub fn ticket_status(
    manual_queue: bool,
    round: i32,
    lead: Option<State>,
    closed: bool,
) -> TicketStatus {
    let routed = if manual_queue {
        Routed::ManualQueue
    } else {
        Routed::Units
    };
    let lead = lead.map_or(Lead::NotRecorded, |s| Lead::from_state(s.to_proto() as i32));
    status::closed_or(closed, status::derive_in_round(routed, lead, round))
}

/// The acceptance time a ticket summary carries, if any.
pub fn accepted_at(ticket: &TicketSummary) -> Option<DateTime<Utc>> {
    ticket
        .accepted_at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.clamp(0, 999_999_999) as u32))
}

/// One assignment of a routing hop to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub unit_id: UnitId,
    pub role: Role,
    pub sign_deadline: DateTime<Utc>,
    pub feedback_deadline: DateTime<Utc>,
}

/// A routing hop as dispatch sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHop {
    pub ticket: TicketSummary,
    pub ticket_no: TicketNo,
    pub hop: i32,
    pub dispatched_at: DateTime<Utc>,
    pub assignments: Vec<NewAssignment>,
}

/// One assignment as dispatch wrote it, times already read.
pub struct RawAssignment<'a> {
    pub unit_id: &'a str,
    pub role: i32,
    pub sign_deadline: Option<DateTime<Utc>>,
    pub feedback_deadline: Option<DateTime<Utc>>,
}

/// Checks a routing hop: exactly one lead unit (none only for a later hop
/// to the manual queue), and times in sensible windows: dispatched not in
/// the future nor before the ticket was accepted, limits not before the
/// acceptance nor over a year after dispatch.
pub fn check_hop(
    f: &mut Fields,
    hop: i32,
    dispatched_at: Option<DateTime<Utc>>,
    accepted_at: Option<DateTime<Utc>>,
    raw: &[RawAssignment<'_>],
    now: DateTime<Utc>,
) -> Vec<NewAssignment> {
    if raw.is_empty() && hop == 1 {
        f.add("assignments", "at least one");
    }
    let leads = raw
        .iter()
        .filter(|a| a.role == AssignmentRole::Lead as i32)
        .count();
    if !raw.is_empty() && leads != 1 {
        f.add("assignments", format!("exactly one lead unit, got {leads}"));
    }
    let since = accepted_at.map(|t| (t - SKEW, "the ticket was accepted"));
    if let Some(d) = dispatched_at {
        Window::past(since, now).check(f, "dispatched_at", d);
    }
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let unit = f.id::<UnitId>(&format!("assignments[{i}].unit_id"), a.unit_id);
        let role = Role::from_proto(a.role);
        if role.is_none() {
            f.add(&format!("assignments[{i}].role"), "lead or co");
        }
        let limit = Window {
            from: since,
            until: dispatched_at.map(|d| (d + MAX_LIMIT_AHEAD, "a year after dispatch")),
        };
        for (name, t) in [
            ("sign_deadline", a.sign_deadline),
            ("feedback_deadline", a.feedback_deadline),
        ] {
            let field = format!("assignments[{i}].{name}");
            match t {
                None => f.add(&field, "required"),
                Some(t) => {
                    limit.check(f, &field, t);
                }
            }
        }
        if let (Some(unit_id), Some(role), Some(sign), Some(feedback)) =
            (unit, role, a.sign_deadline, a.feedback_deadline)
        {
            out.push(NewAssignment {
                unit_id,
                role,
                sign_deadline: sign,
                feedback_deadline: feedback,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;

    #[test]
    fn every_state_and_action_is_decided() {
        for &from in State::ALL {
            for action in Action::ALL {
                let legal = matches!(
                    (from, action),
                    (State::PendingSign, Action::Sign | Action::Return)
                        | (State::Signed, Action::Feedback | Action::SubmitPart)
                        | (State::ReturnRequested, Action::RejectReturn)
                        | (
                            State::PendingSign | State::Signed | State::ReturnRequested,
                            Action::Withdraw
                        )
                );
                match transition(from, action) {
                    Ok(to) => {
                        assert!(legal, "{from:?} {action:?} should be refused");
                        assert_eq!(to.open(), to != State::FedBack && to != State::Withdrawn);
                    }
                    Err(e) => {
                        assert!(!legal, "{from:?} {action:?} should be allowed");
                        assert_eq!(e.code, ErrorCode::FailedPrecondition);
                        // Every refusal says where the assignment stands.
                        assert!(
                            e.message.contains(&from.to_string()),
                            "{from:?} {action:?}: {}",
                            e.message
                        );
                    }
                }
            }
            if let Err(e) = while_signed(from) {
                assert!(e.message.contains(&from.to_string()), "{}", e.message);
                assert_eq!(e.code, ErrorCode::FailedPrecondition);
            }
        }
        assert!(while_signed(State::Signed).is_ok());
    }

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + minutes * 60, 0).unwrap()
    }

    fn raw<'a>(unit: &'a str, role: AssignmentRole, sign: i64) -> RawAssignment<'a> {
        RawAssignment {
            unit_id: unit,
            role: role as i32,
            sign_deadline: Some(t(sign)),
            feedback_deadline: Some(t(sign + 60)),
        }
    }

    #[test]
    fn a_hop_has_one_lead_and_sensible_times() {
        let mut f = Fields::new();
        let ok = check_hop(
            &mut f,
            1,
            Some(t(5)),
            Some(t(0)),
            &[
                raw("bj-heating-group", AssignmentRole::Lead, 20),
                raw("bj-cmc", AssignmentRole::Co, 20),
            ],
            t(6),
        );
        assert!(f.finish().is_ok());
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].role, Role::Lead);

        let mut f = Fields::new();
        check_hop(&mut f, 1, Some(t(5)), Some(t(0)), &[], t(6));
        assert!(f.finish().unwrap_err().message.contains("at least one"));
        let mut f = Fields::new();
        assert!(check_hop(&mut f, 2, Some(t(5)), Some(t(0)), &[], t(6)).is_empty());
        assert!(f.finish().is_ok(), "a later hop may go to the manual queue");

        let mut f = Fields::new();
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        check_hop(
            &mut f,
            1,
            Some(t(100)),
            Some(t(0)),
            &[
                RawAssignment {
                    feedback_deadline: Some(year_255000),
                    ..raw("a", AssignmentRole::Lead, -10)
                },
                raw("b", AssignmentRole::Lead, 20),
            ],
            t(6),
        );
        let e = f.finish().unwrap_err();
        for field in [
            "exactly one lead unit, got 2",
            "dispatched_at",
            "assignments[0].sign_deadline",
            "assignments[0].feedback_deadline",
        ] {
            assert!(e.message.contains(field), "{field}: {}", e.message);
        }
    }
}
