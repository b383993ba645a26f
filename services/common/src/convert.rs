//! The shared enums between their protobuf form and the domain.

use hotline_proto::common::v1 as pb;
use hotline_sla::{RequestType, Stage, TicketClass, Tier};

use crate::error::ApiError;

pub fn tier_from_proto(value: i32, field: &str) -> Result<Tier, ApiError> {
    match pb::UrgencyTier::try_from(value) {
        Ok(pb::UrgencyTier::Emergency) => Ok(Tier::Emergency),
        Ok(pb::UrgencyTier::BasicLivelihood) => Ok(Tier::BasicLivelihood),
        Ok(pb::UrgencyTier::General) => Ok(Tier::General),
        Ok(pb::UrgencyTier::Unspecified) => Err(ApiError::invalid(field, "required")),
        Err(_) => Err(ApiError::invalid(field, &format!("unknown tier {value}"))),
    }
}

pub fn tier_to_proto(t: Tier) -> pb::UrgencyTier {
    match t {
        Tier::Emergency => pb::UrgencyTier::Emergency,
        Tier::BasicLivelihood => pb::UrgencyTier::BasicLivelihood,
        Tier::General => pb::UrgencyTier::General,
    }
}

/// A request type from the wire: UNSPECIFIED is "not recorded"; an
/// unknown value is INVALID_ARGUMENT naming `field`.
pub fn request_type_from_proto(value: i32, field: &str) -> Result<RequestType, ApiError> {
    match pb::RequestType::try_from(value) {
        Ok(pb::RequestType::Unspecified) => Ok(RequestType::Unrecorded),
        Ok(pb::RequestType::Consultation) => Ok(RequestType::Consultation),
        Ok(pb::RequestType::Help) => Ok(RequestType::Help),
        Ok(pb::RequestType::Complaint) => Ok(RequestType::Complaint),
        Ok(pb::RequestType::Report) => Ok(RequestType::Report),
        Ok(pb::RequestType::Suggestion) => Ok(RequestType::Suggestion),
        Err(_) => Err(ApiError::invalid(
            field,
            &format!("unknown request type {value}"),
        )),
    }
}

pub fn request_type_to_proto(t: RequestType) -> pb::RequestType {
    match t {
        RequestType::Unrecorded => pb::RequestType::Unspecified,
        RequestType::Consultation => pb::RequestType::Consultation,
        RequestType::Help => pb::RequestType::Help,
        RequestType::Complaint => pb::RequestType::Complaint,
        RequestType::Report => pb::RequestType::Report,
        RequestType::Suggestion => pb::RequestType::Suggestion,
    }
}

/// The class a stored or handed-in ticket's limits are looked up by; its
/// problems named under `at` (e.g. "ticket").
pub fn class_of(ticket: &pb::TicketSummary, at: &str) -> Result<TicketClass, ApiError> {
    Ok(TicketClass {
        tier: tier_from_proto(ticket.tier, &format!("{at}.tier"))?,
        complex: ticket.complex,
        kind: request_type_from_proto(ticket.request_type, &format!("{at}.request_type"))?,
    })
}

pub fn stage_to_proto(s: Stage) -> pb::Stage {
    match s {
        Stage::Dispatch => pb::Stage::Dispatch,
        Stage::SignOff => pb::Stage::SignOff,
        Stage::Feedback => pb::Stage::Feedback,
        Stage::ReportIn => pb::Stage::ReportIn,
        Stage::ManualDispatch => pb::Stage::ManualDispatch,
        Stage::ReturnVisit => pb::Stage::ReturnVisit,
        Stage::WrittenFeedback => pb::Stage::WrittenFeedback,
        Stage::OnSiteArrival => pb::Stage::OnSiteArrival,
        Stage::Rectification => pb::Stage::Rectification,
        Stage::MeetingArrival => pb::Stage::MeetingArrival,
        Stage::MeetingAction => pb::Stage::MeetingAction,
        Stage::Acceptance => pb::Stage::Acceptance,
    }
}

pub fn stage_from_proto(value: i32) -> Option<Stage> {
    match pb::Stage::try_from(value) {
        Ok(pb::Stage::Dispatch) => Some(Stage::Dispatch),
        Ok(pb::Stage::SignOff) => Some(Stage::SignOff),
        Ok(pb::Stage::Feedback) => Some(Stage::Feedback),
        Ok(pb::Stage::ReportIn) => Some(Stage::ReportIn),
        Ok(pb::Stage::ManualDispatch) => Some(Stage::ManualDispatch),
        Ok(pb::Stage::ReturnVisit) => Some(Stage::ReturnVisit),
        Ok(pb::Stage::WrittenFeedback) => Some(Stage::WrittenFeedback),
        Ok(pb::Stage::OnSiteArrival) => Some(Stage::OnSiteArrival),
        Ok(pb::Stage::Rectification) => Some(Stage::Rectification),
        Ok(pb::Stage::MeetingArrival) => Some(Stage::MeetingArrival),
        Ok(pb::Stage::MeetingAction) => Some(Stage::MeetingAction),
        Ok(pb::Stage::Acceptance) => Some(Stage::Acceptance),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_reject_unknown() {
        for t in Tier::ALL {
            assert_eq!(tier_from_proto(tier_to_proto(t) as i32, "tier"), Ok(t));
        }
        assert!(
            tier_from_proto(0, "tier")
                .unwrap_err()
                .message
                .contains("tier: required")
        );
        assert!(tier_from_proto(99, "tier").is_err());
    }
}
