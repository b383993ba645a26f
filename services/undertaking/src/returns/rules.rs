//! Returns (退单): what a return must say, when it may come, how it is
//! decided. Pure: no IO.

use chrono::{DateTime, Utc};
use hotline_common::ids::{AssignmentId, ReturnId, TicketNo, UnitId};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::ReturnReason as PbReason;
use hotline_proto::undertaking::v1::ReturnState as PbState;

use crate::enums::stored_enum;

stored_enum! {
    /// Where a return stands.
    pub enum ReturnState as PbState, "return state" {
        /// Waiting for the centre's decision.
        Pending = "pending" => Pending,
        /// The centre re-dispatched the ticket.
        Accepted = "accepted" => Accepted,
        /// Back to the unit.
        Rejected = "rejected" => Rejected,
    }
}

stored_enum! {
    /// Why a unit returns an assignment (退单原因).
    pub enum ReturnReason as PbReason, "return reason" {
        /// 非本单位职责
        NotOurDuty = "not_our_duty" => NotOurDuty,
        /// 非本辖区
        NotOurArea = "not_our_area" => NotOurArea,
        /// 分类错误
        WrongCategory = "wrong_category" => WrongCategory,
        /// 诉求要素不全
        InsufficientInformation = "insufficient_information" => InsufficientInformation,
    }
}

/// A return that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReturn {
    pub reason: ReturnReason,
    pub duty_rule: String,
    pub note: String,
}

/// Checks a return's fields: a reason code and the duty rule relied on.
pub fn parse_return(f: &mut Fields, reason: i32, duty_rule: &str, note: &str) -> Option<NewReturn> {
    let reason = ReturnReason::from_proto(reason);
    if reason.is_none() {
        f.add(
            "reason",
            "not_our_duty, not_our_area, wrong_category or insufficient_information",
        );
    }
    let duty_rule = f.text("duty_rule", duty_rule, 500);
    let note = f.optional_text("note", note, 2000);
    Some(NewReturn {
        reason: reason?,
        duty_rule,
        note,
    })
}

/// A return is possible only within the sign-off limit.
pub fn check_in_time(now: DateTime<Utc>, sign_deadline: DateTime<Utc>) -> Result<(), ApiError> {
    if now > sign_deadline {
        return Err(ApiError::precondition(
            Reason::LimitPassed,
            format!(
                "the sign-off limit ran out at {}; the assignment can no longer be returned",
                sign_deadline.to_rfc3339()
            ),
        )
        .with("stage", "sign_off")
        .with("deadline", sign_deadline.to_rfc3339()));
    }
    Ok(())
}

/// Only a pending return is decided.
pub fn check_pending(state: ReturnState) -> Result<(), ApiError> {
    match state {
        ReturnState::Pending => Ok(()),
        done => Err(ApiError::precondition(
            Reason::ReturnAlreadyDecided,
            format!("the return is already {}", done.as_sql()),
        )
        .with("state", done.as_sql())),
    }
}

/// A stored return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Return {
    pub id: ReturnId,
    pub assignment_id: AssignmentId,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub hop: i32,
    pub reason: ReturnReason,
    pub duty_rule: String,
    pub note: String,
    pub state: ReturnState,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
}

impl Return {
    pub fn to_proto(&self) -> pb::AssignmentReturn {
        pb::AssignmentReturn {
            return_id: self.id.to_string(),
            assignment_id: self.assignment_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            hop: self.hop,
            reason: self.reason.to_proto() as i32,
            duty_rule: self.duty_rule.clone(),
            note: self.note.clone(),
            state: self.state.to_proto() as i32,
            requested_at: Some(to_proto(self.requested_at)),
            decided_at: opt_to_proto(self.decided_at),
            decision_note: self.decision_note.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;

    fn t(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + m * 60, 0).unwrap()
    }

    #[test]
    fn returns_come_in_time_with_a_reason_and_a_duty_rule() {
        check_in_time(t(10), t(10)).unwrap();
        let e = check_in_time(t(11), t(10)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(e.message.contains("sign-off limit"), "{}", e.message);

        let mut f = Fields::new();
        let r = parse_return(&mut f, PbReason::NotOurDuty as i32, "三定方案第三条", "");
        assert!(f.finish().is_ok());
        assert_eq!(r.unwrap().reason, ReturnReason::NotOurDuty);
        let mut f = Fields::new();
        assert!(parse_return(&mut f, 0, " ", "").is_none());
        let e = f.finish().unwrap_err();
        assert!(
            e.message.contains("reason") && e.message.contains("duty_rule"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_return_is_decided_once() {
        assert!(check_pending(ReturnState::Pending).is_ok());
        for done in [ReturnState::Accepted, ReturnState::Rejected] {
            let e = check_pending(done).unwrap_err();
            assert_eq!(e.code, ErrorCode::FailedPrecondition);
            assert!(e.message.contains(done.as_sql()), "{}", e.message);
        }
    }
}
