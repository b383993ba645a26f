//! Requesters' personal data (name, phone) and who sees it in full.
//!
//! Shown in full to the operator who takes requests, to return-visit staff,
//! and to the handling units holding an open assignment of the ticket,
//! unless the requester asked for confidentiality (保密); masked for
//! everyone else (`*******8000`, `王**`). Pure rules.

use hotline_proto::common::v1::Requester;

use crate::auth::{Identity, Role};

/// Most digits a masked phone number shows.
pub const SHOWN_DIGITS: usize = 4;

/// A phone number as staff who must not reach the requester see it: its
/// last digits only, at most four and never more than half of them, each
/// other digit a star: `13800138000` → `*******8000`, a landline
/// `65123456` → `****3456`, `1234567` → `****567`, `110` → `**0`.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let n = digits.len();
    let shown = SHOWN_DIGITS.min(n / 2);
    let tail: String = digits[n - shown..].iter().collect();
    format!("{}{tail}", "*".repeat(n - shown))
}

/// A name as those staff see it: the first character and two stars,
/// whatever its length (`王小明` → `王**`, `欧阳娜娜` → `欧**`); a name of
/// one character shows none of it (`**`).
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (None, _) => String::new(),
        (Some(_), None) => "**".to_string(),
        (Some(first), Some(_)) => format!("{first}**"),
    }
}

/// Whether `viewer` sees the requester of a ticket in full;
/// `holds_open` says whether the viewer's unit holds an open assignment of
/// the ticket (pending sign-off, signed, or returned and waiting): a unit
/// whose assignment was withdrawn or that has answered no longer needs to
/// reach the requester.
pub fn sees_in_full(viewer: &Identity, holds_open: bool, requester: &Requester) -> bool {
    viewer.has(Role::Operator)
        || viewer.has(Role::ReturnVisit)
        || (holds_open && viewer.has(Role::UnitStaff) && !requester.confidential)
}

/// The requester as `viewer` may see it.
pub fn requester_for(viewer: &Identity, holds_open: bool, requester: &Requester) -> Requester {
    if sees_in_full(viewer, holds_open, requester) {
        requester.clone()
    } else {
        Requester {
            name: mask_name(&requester.name),
            phone: mask_phone(&requester.phone),
            ..requester.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(roles: &[Role]) -> Identity {
        Identity {
            subject: "t".into(),
            unit: Some("u".into()),
            roles: roles.to_vec(),
        }
    }

    fn requester(confidential: bool) -> Requester {
        Requester {
            anonymous: false,
            name: "王小明".into(),
            phone: "138 0013 8000".into(),
            return_visit_consent: true,
            confidential,
        }
    }

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13800138000"), "*******8000");
        assert_eq!(mask_phone("+86 138-0013-8000"), "*********8000");
        assert_eq!(mask_phone("65123456"), "****3456");
        assert_eq!(mask_phone("1234567"), "****567");
        assert_eq!(mask_phone("110"), "**0");
        assert_eq!(mask_phone("1"), "*");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("王明"), "王**");
        assert_eq!(mask_name("欧阳娜娜"), "欧**");
        assert_eq!(mask_name("王"), "**");
        assert_eq!(mask_name(" Wang Xiaoming "), "W**");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn a_masked_phone_never_shows_more_than_four_digits_or_half() {
        for n in 0..=20 {
            let phone: String = (0..n).map(|i| char::from(b'0' + (i % 10) as u8)).collect();
            let masked = mask_phone(&phone);
            let shown = masked.chars().filter(char::is_ascii_digit).count();
            assert!(
                shown <= SHOWN_DIGITS && shown * 2 <= n,
                "{phone} → {masked}"
            );
            assert_eq!(masked.chars().count(), n, "{phone} → {masked}");
        }
    }

    #[test]
    fn who_sees_what() {
        let r = requester(false);
        assert_eq!(
            requester_for(&who(&[Role::Operator]), false, &r).phone,
            r.phone
        );
        assert_eq!(
            requester_for(&who(&[Role::ReturnVisit]), false, &r).phone,
            r.phone
        );
        assert_eq!(
            requester_for(&who(&[Role::UnitStaff]), true, &r).phone,
            r.phone
        );
        assert_eq!(
            requester_for(&who(&[Role::UnitStaff]), false, &r).phone,
            "*******8000"
        );
        for role in [
            Role::Supervisor,
            Role::Dispatcher,
            Role::Leader,
            Role::Auditor,
            Role::Ops,
        ] {
            let seen = requester_for(&who(&[role]), false, &r);
            assert_eq!(
                (seen.name.as_str(), seen.phone.as_str()),
                ("王**", "*******8000"),
                "{role:?}"
            );
        }
        // Confidential: masked even to the holding unit, not to the operator.
        let c = requester(true);
        assert_eq!(
            requester_for(&who(&[Role::UnitStaff]), true, &c).phone,
            "*******8000"
        );
        assert_eq!(
            requester_for(&who(&[Role::Operator]), false, &c).phone,
            c.phone
        );
    }
}
