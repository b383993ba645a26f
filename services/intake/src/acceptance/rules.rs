//! The rules of acceptance (受理) for requests that do not come by phone:
//! which wait for an operator, until when; what may be accepted. Pure.

use chrono::{DateTime, Utc};
use hotline_common::ids::TicketNo;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::Channel;
use hotline_proto::intake::v1 as pb;
use hotline_sla::Acceptance;

use crate::ratings::rules::stored;
use crate::visits::closure::ClosureCause;

stored!(
    /// Why a request is not accepted (不予受理).
    RefusalGround, pb::RefusalGround, "refusal ground", {
        LawfulChannel = "lawful_channel",
        Unlawful = "unlawful",
        NoRequest = "no_request",
        OutOfScope = "out_of_scope",
    }
);

/// The explanation a refused requester is told: at most this many
/// characters.
pub const MAX_EXPLANATION: usize = 2000;

/// A refusal as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusing {
    pub ticket_no: TicketNo,
    pub ground: RefusalGround,
    pub explanation: String,
}

/// Checks a RefuseRequest, every field at once.
pub fn parse_refusal(r: &pb::RefuseRequestRequest) -> Result<Refusing, ApiError> {
    let mut f = Fields::new();
    let no = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let ground = RefusalGround::from_proto(r.ground);
    if ground.is_none() {
        f.add("ground", "one of the RefusalGround values");
    }
    let explanation = f.text("explanation", &r.explanation, MAX_EXPLANATION);
    f.finish()?;
    match (no, ground) {
        (Some(ticket_no), Some(ground)) => Ok(Refusing {
            ticket_no,
            ground,
            explanation,
        }),
        _ => Err(ApiError::internal("a checked field is missing")),
    }
}

/// A channel as the policy names it (`web`, `app`, …).
pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Unspecified => "unspecified",
        Channel::Phone => "phone",
        Channel::Web => "web",
        Channel::App => "app",
        Channel::MiniProgram => "mini_program",
        Channel::Sms => "sms",
        Channel::Email => "email",
        Channel::GovernmentSystem => "government_system",
    }
}

/// Until when a request waits for an operator to accept it, if it does: a
/// request from a channel the policy reviews, unless the operator acted on
/// it already at Submit (answered it directly, referred it, linked it as a
/// repeat).
pub fn review_until(
    policy: &Acceptance,
    channel: Channel,
    acted_on: bool,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if acted_on || !policy.reviews(channel_name(channel)) {
        return None;
    }
    Some(hotline_common::time::plus(received_at, policy.limit))
}

/// Where a request stands towards acceptance, read under its row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// It waits for an operator.
    Awaiting,
    /// It was accepted, at Submit or by an operator.
    Accepted,
    /// It was refused (不予受理).
    Refused,
}

impl Waiting {
    /// From the row: waiting, and why it was closed.
    pub fn of(awaiting: bool, closure_cause: Option<ClosureCause>) -> Waiting {
        match (awaiting, closure_cause) {
            (true, _) => Waiting::Awaiting,
            (false, Some(ClosureCause::Refused)) => Waiting::Refused,
            (false, _) => Waiting::Accepted,
        }
    }
}

/// Only a request waiting for acceptance is accepted or refused, once.
pub fn may_decide(ticket_no: &str, w: Waiting) -> Result<(), ApiError> {
    let (state, was) = match w {
        Waiting::Awaiting => return Ok(()),
        Waiting::Accepted => ("accepted", "accepted"),
        Waiting::Refused => ("refused", "refused (不予受理)"),
    };
    Err(ApiError::precondition(
        Reason::NotAwaitingAcceptance,
        format!("ticket {ticket_no} is not awaiting acceptance: it was {was} already"),
    )
    .with("ticket_no", ticket_no)
    .with("state", state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviewed_channels_wait_until_the_limit_unless_acted_on() {
        let policy = Acceptance {
            limit: std::time::Duration::from_secs(7200),
            channels: vec!["web".into(), "government_system".into()],
        };
        let at = Utc::now();
        assert_eq!(
            review_until(&policy, Channel::Web, false, at),
            Some(at + chrono::Duration::hours(2))
        );
        assert_eq!(review_until(&policy, Channel::Web, true, at), None);
        assert_eq!(review_until(&policy, Channel::Phone, false, at), None);
        assert_eq!(review_until(&policy, Channel::App, false, at), None);
        assert!(may_decide("BJ1", Waiting::Awaiting).is_ok());
        for (w, says) in [
            (Waiting::Accepted, "accepted already"),
            (Waiting::Refused, "refused (不予受理) already"),
        ] {
            let e = may_decide("BJ1", w).unwrap_err();
            assert_eq!(e.reason, Some(Reason::NotAwaitingAcceptance));
            assert!(e.message.contains(says), "{}", e.message);
        }
        assert_eq!(Waiting::of(true, None), Waiting::Awaiting);
        assert_eq!(
            Waiting::of(false, Some(ClosureCause::Refused)),
            Waiting::Refused
        );
        assert_eq!(
            Waiting::of(false, Some(ClosureCause::Referred)),
            Waiting::Accepted
        );
        assert_eq!(Waiting::of(false, None), Waiting::Accepted);
    }

    #[test]
    fn a_refusal_names_each_bad_field() {
        let e = parse_refusal(&pb::RefuseRequestRequest {
            ticket_no: "".into(),
            ground: 99,
            explanation: "\u{202e}".into(),
            idempotency_key: String::new(),
        })
        .unwrap_err();
        for field in ["ticket_no", "ground", "explanation"] {
            assert!(e.message.contains(field), "{field}: {}", e.message);
        }
        let ok = parse_refusal(&pb::RefuseRequestRequest {
            ticket_no: "BJ000000000001".into(),
            ground: pb::RefusalGround::LawfulChannel as i32,
            explanation: " 请通过法院途径解决 ".into(),
            idempotency_key: String::new(),
        })
        .unwrap();
        assert_eq!(ok.ground, RefusalGround::LawfulChannel);
        assert_eq!(ok.explanation, "请通过法院途径解决");
        for g in [
            RefusalGround::LawfulChannel,
            RefusalGround::Unlawful,
            RefusalGround::NoRequest,
            RefusalGround::OutOfScope,
        ] {
            assert_eq!(RefusalGround::from_sql(g.as_sql()).unwrap(), g);
            assert_eq!(RefusalGround::from_proto(g.to_proto() as i32), Some(g));
        }
    }

    #[test]
    fn every_channel_has_the_policy_s_name() {
        for c in [
            Channel::Web,
            Channel::App,
            Channel::MiniProgram,
            Channel::Sms,
            Channel::Email,
            Channel::GovernmentSystem,
        ] {
            assert!(hotline_sla::acceptance_channels().contains(&channel_name(c)));
        }
    }
}
