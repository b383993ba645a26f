//! The rules of the requester's own view: whose phone matches, how many
//! wrong tries are allowed, and what the requester is shown. Pure.

use std::time::Duration;

use hotline_common::ApiError;
use hotline_common::ids::TicketNo;
use hotline_common::validate::Fields;
use hotline_proto::common::v1::{AssignmentRole, Stage};
use hotline_proto::intake::v1::{OwnStage, ViewOwnTicketRequest};
use hotline_proto::undertaking::v1::Assignment;

pub use crate::tickets::rules::phone_digits;

/// Wrong tries allowed per ticket number, and per phone, in a window.
pub const MAX_WRONG_TRIES: i64 = 5;
/// The window wrong tries are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// How the requester proves the ticket is theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The phone's digits.
    Phone(String),
    /// Their account with the channel system asking (its identity, the
    /// account).
    Account { channel: String, account: String },
}

impl Proof {
    /// What wrong tries are counted under.
    pub fn key(&self) -> String {
        match self {
            Proof::Phone(d) => d.clone(),
            Proof::Account { channel, account } => format!("account:{channel}:{account}"),
        }
    }
}

/// Checks the request: a ticket number, and a phone of 3–20 digits or
/// the requester's account (not both); `caller` is the asking identity.
pub fn parse(req: &ViewOwnTicketRequest, caller: &str) -> Result<(TicketNo, Proof), ApiError> {
    let mut f = Fields::new();
    let no = f.id::<TicketNo>("ticket_no", &req.ticket_no);
    let account = f.optional_text("requester_account", &req.requester_account, 128);
    let phone = phone_digits(&req.phone);
    let proof = match (req.phone.trim().is_empty(), account.is_empty()) {
        (true, true) => {
            f.add("phone", "required, or requester_account");
            None
        }
        (false, false) => {
            f.add("requester_account", "the phone or the account, not both");
            None
        }
        (true, false) => Some(Proof::Account {
            channel: caller.to_string(),
            account,
        }),
        (false, true) => {
            if !(3..=20).contains(&phone.len()) || req.phone.chars().count() > 40 {
                f.add(
                    "phone",
                    "3–20 digits, optionally a leading '+', spaces and dashes",
                );
            }
            Some(Proof::Phone(phone))
        }
    };
    f.finish()?;
    let (Some(no), Some(proof)) = (no, proof) else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    Ok((no, proof))
}

/// Whether the proof is the ticket's: the phone it was filed with (never
/// for an anonymous ticket), or the account the same channel system gave.
pub fn proves(
    proof: &Proof,
    filed_with: Option<&str>,
    anonymous: bool,
    account: Option<(&str, &str)>,
) -> bool {
    match proof {
        Proof::Phone(d) => matches(filed_with, anonymous, d),
        Proof::Account {
            channel,
            account: a,
        } => account.is_some_and(|(by, acct)| by == channel && acct == a),
    }
}

/// Whether the phone given is the one the ticket was filed with (never for
/// an anonymous ticket).
pub fn matches(filed_with: Option<&str>, anonymous: bool, given_digits: &str) -> bool {
    !anonymous && filed_with.is_some_and(|p| phone_digits(p) == given_digits)
}

/// The lead unit's assignment in force: of the routing's hop, the latest
/// handling round.
pub fn lead_in_force(assignments: &[Assignment], hop: i32) -> Option<&Assignment> {
    assignments
        .iter()
        .filter(|a| a.hop == hop && a.role == AssignmentRole::Lead as i32)
        .max_by_key(|a| a.round)
}

/// The stages shown: dispatch, then the lead's sign-off and feedback.
pub fn stages(
    dispatch_deadline: prost_types::Timestamp,
    dispatched_at: Option<prost_types::Timestamp>,
    lead: Option<&Assignment>,
) -> Vec<OwnStage> {
    let mut out = vec![OwnStage {
        stage: Stage::Dispatch as i32,
        expected_by: Some(dispatch_deadline),
        done_at: dispatched_at,
    }];
    out.push(OwnStage {
        stage: Stage::SignOff as i32,
        expected_by: lead.and_then(|a| a.sign_deadline),
        done_at: lead.and_then(|a| a.signed_at),
    });
    out.push(OwnStage {
        stage: Stage::Feedback as i32,
        expected_by: lead.and_then(|a| a.feedback_deadline),
        done_at: lead.and_then(|a| a.fed_back_at),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_compare_by_their_digits() {
        assert_eq!(phone_digits("+86 138-0013-8000"), "13800138000");
        assert_eq!(phone_digits("8613800138000"), "13800138000");
        assert_eq!(phone_digits("010-6512 3456"), "01065123456");
        assert!(matches(Some("138 0013 8000"), false, "13800138000"));
        assert!(!matches(Some("138 0013 8000"), true, "13800138000"));
        assert!(!matches(Some("138 0013 8001"), false, "13800138000"));
        assert!(!matches(None, false, "13800138000"));
    }

    #[test]
    fn bad_input_is_named() {
        let ask = |phone: &str, account: &str| {
            parse(
                &ViewOwnTicketRequest {
                    ticket_no: "no such".into(),
                    phone: phone.into(),
                    requester_account: account.into(),
                },
                "app",
            )
            .unwrap_err()
            .message
        };
        let e = ask("12", "");
        assert!(e.contains("ticket_no") && e.contains("phone"), "{e}");
        assert!(ask("13800138000", "u-1").contains("requester_account"));
        assert!(ask("", "").contains("phone"));
    }

    #[test]
    fn an_account_proves_a_ticket_only_to_the_channel_that_gave_it() {
        let by = |channel: &str| Proof::Account {
            channel: channel.into(),
            account: "u-1".into(),
        };
        let filed = Some(("app", "u-1"));
        assert!(proves(&by("app"), None, true, filed));
        assert!(!proves(&by("portal"), None, true, filed));
        assert!(!proves(&by("app"), None, true, Some(("app", "u-2"))));
        assert!(!proves(&by("app"), None, false, None));
        assert_ne!(by("app").key(), Proof::Phone("u-1".into()).key());
    }
}
