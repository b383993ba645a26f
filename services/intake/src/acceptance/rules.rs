//! The rules of acceptance (受理) for requests that do not come by phone:
//! which wait for an operator, until when; what may be accepted. Pure.

use chrono::{DateTime, Utc};
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::Channel;
use hotline_sla::Acceptance;

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

/// Only a request waiting for acceptance is accepted, once.
pub fn may_accept(ticket_no: &str, awaiting: bool) -> Result<(), ApiError> {
    if awaiting {
        return Ok(());
    }
    Err(ApiError::precondition(
        Reason::NotAwaitingAcceptance,
        format!("ticket {ticket_no} is not awaiting acceptance: it was accepted already"),
    )
    .with("ticket_no", ticket_no))
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
        assert!(may_accept("BJ1", true).is_ok());
        assert_eq!(
            may_accept("BJ1", false).unwrap_err().reason,
            Some(Reason::NotAwaitingAcceptance)
        );
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
