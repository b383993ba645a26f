//! Extensions (延期): asked in time, for a running stage, for a sensible
//! deadline, decided once. Pure: no IO.

use chrono::{DateTime, Utc};
use hotline_common::convert::stage_to_proto;
use hotline_common::ids::{AssignmentId, ExtensionId, TicketNo, UnitId};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::ExtensionState as PbState;
use hotline_sla::Stage;

use crate::assignments::rules::State;
use crate::enums::stored_enum;
use crate::window::{MAX_EXTENSION_AHEAD, Window};

stored_enum! {
    /// Where an extension request stands.
    pub enum ExtensionState as PbState, "extension state" {
        /// Waiting for the centre's decision.
        Pending = "pending" => Pending,
        Approved = "approved" => Approved,
        Rejected = "rejected" => Rejected,
    }
}

/// The stages a unit may ask more time for.
pub fn extensible(stage: Option<Stage>) -> Option<Stage> {
    stage.filter(|s| matches!(s, Stage::SignOff | Stage::Feedback))
}

/// Checks an extension (延期) request: for a stage still running, asked
/// before its limit runs out, for a deadline later than the current one
/// and at most [`MAX_EXTENSION_AHEAD`] from now.
pub fn check_extension(
    assignment: State,
    stage: Stage,
    now: DateTime<Utc>,
    current_deadline: DateTime<Utc>,
    requested: DateTime<Utc>,
) -> Result<(), ApiError> {
    let running = match stage {
        Stage::SignOff => matches!(assignment, State::PendingSign | State::ReturnRequested),
        Stage::Feedback => assignment.open(),
        Stage::Dispatch
        | Stage::ReportIn
        | Stage::ManualDispatch
        | Stage::ReturnVisit
        | Stage::WrittenFeedback
        | Stage::OnSiteArrival
        | Stage::Rectification
        | Stage::MeetingArrival
        | Stage::MeetingAction
        | Stage::Acceptance => {
            return Err(ApiError::invalid(
                "stage",
                "only sign_off or feedback can be extended",
            ));
        }
    };
    if !running {
        return Err(ApiError::precondition(
            Reason::StageDone,
            format!(
                "the {} stage is done: the assignment is {assignment}",
                stage.as_str()
            ),
        )
        .with("state", assignment.as_sql())
        .with("stage", stage.as_str()));
    }
    if now >= current_deadline {
        return Err(ApiError::precondition(
            Reason::LimitPassed,
            format!(
                "the {} limit has already run out; extensions are asked for before it",
                stage.as_str()
            ),
        )
        .with("stage", stage.as_str())
        .with("deadline", current_deadline.to_rfc3339()));
    }
    let mut f = Fields::new();
    if requested <= current_deadline {
        f.add(
            "requested_deadline",
            "must be later than the current deadline",
        );
    } else {
        Window::planned(None, now, MAX_EXTENSION_AHEAD, "a year from now").check(
            &mut f,
            "requested_deadline",
            requested,
        );
    }
    f.finish()
}

/// The centre's decision on a pending request.
pub fn decide(from: ExtensionState, approve: bool) -> Result<ExtensionState, ApiError> {
    match from {
        ExtensionState::Pending if approve => Ok(ExtensionState::Approved),
        ExtensionState::Pending => Ok(ExtensionState::Rejected),
        done => Err(ApiError::precondition(
            Reason::ExtensionAlreadyDecided,
            format!("the extension is already {}", done.as_sql()),
        )
        .with("state", done.as_sql())),
    }
}

/// A stored extension request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub id: ExtensionId,
    pub assignment_id: AssignmentId,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub stage: Stage,
    pub reason: String,
    pub previous_deadline: DateTime<Utc>,
    pub requested_deadline: DateTime<Utc>,
    pub state: ExtensionState,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
}

impl Extension {
    pub fn to_proto(&self) -> pb::Extension {
        pb::Extension {
            extension_id: self.id.to_string(),
            assignment_id: self.assignment_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            stage: stage_to_proto(self.stage) as i32,
            reason: self.reason.clone(),
            previous_deadline: Some(to_proto(self.previous_deadline)),
            requested_deadline: Some(to_proto(self.requested_deadline)),
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
    fn extensions_are_asked_in_time_for_a_running_stage() {
        check_extension(State::PendingSign, Stage::SignOff, t(0), t(10), t(20)).unwrap();
        check_extension(State::Signed, Stage::Feedback, t(0), t(10), t(20)).unwrap();
        let e = check_extension(State::Signed, Stage::SignOff, t(0), t(10), t(20)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(e.message.contains("signed"), "{}", e.message);
        let e =
            check_extension(State::PendingSign, Stage::SignOff, t(10), t(10), t(20)).unwrap_err();
        assert!(e.message.contains("already run out"));
        let e = check_extension(State::PendingSign, Stage::SignOff, t(0), t(10), t(5)).unwrap_err();
        assert!(e.message.contains("requested_deadline"));
        let e =
            check_extension(State::PendingSign, Stage::Dispatch, t(0), t(10), t(20)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(extensible(Some(Stage::ReportIn)), None);
        assert_eq!(extensible(Some(Stage::Feedback)), Some(Stage::Feedback));
    }

    #[test]
    fn an_extension_asks_for_a_sensible_deadline() {
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        let a_year = t(0) + MAX_EXTENSION_AHEAD;
        check_extension(State::Signed, Stage::Feedback, t(0), t(10), a_year).unwrap();
        for far in [a_year + chrono::Duration::seconds(1), year_255000] {
            let e = check_extension(State::Signed, Stage::Feedback, t(0), t(10), far).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert_eq!(e.fields[0].0, "requested_deadline", "{}", e.message);
        }
    }

    #[test]
    fn an_extension_is_decided_once() {
        assert_eq!(
            decide(ExtensionState::Pending, true),
            Ok(ExtensionState::Approved)
        );
        assert_eq!(
            decide(ExtensionState::Pending, false),
            Ok(ExtensionState::Rejected)
        );
        for done in [ExtensionState::Approved, ExtensionState::Rejected] {
            assert!(decide(done, true).unwrap_err().message.contains("already"));
        }
    }
}
