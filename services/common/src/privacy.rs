//! Requesters' personal data (name, phone) and who sees it in full.
//!
//! Shown in full to the operator who takes requests, to return-visit staff,
//! and to the handling units that hold the ticket, unless the requester
//! asked for confidentiality (保密); masked for everyone else
//! (`138****8000`, `王**`). Pure rules.

use hotline_proto::common::v1::Requester;

use crate::auth::{Identity, Role};

/// `13800138000` → `138****8000`; short numbers keep only their last two.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let n = digits.len();
    if n >= 7 {
        let head: String = digits[..3].iter().collect();
        let tail: String = digits[n - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let tail: String = digits[n.saturating_sub(2)..].iter().collect();
        format!("{}{tail}", "*".repeat(n.saturating_sub(2)))
    }
}

/// `王小明` → `王**`: the first character, then one star per character.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => format!("{first}{}", "*".repeat(chars.count())),
    }
}

/// Whether `viewer` sees the requester of a ticket in full; `holds` says
/// whether the viewer's unit holds the ticket.
pub fn sees_in_full(viewer: &Identity, holds: bool, requester: &Requester) -> bool {
    viewer.has(Role::Operator)
        || viewer.has(Role::ReturnVisit)
        || (holds && viewer.has(Role::UnitStaff) && !requester.confidential)
}

/// The requester as `viewer` may see it.
pub fn requester_for(viewer: &Identity, holds: bool, requester: &Requester) -> Requester {
    if sees_in_full(viewer, holds, requester) {
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
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("+86 138-0013-8000"), "861****8000");
        assert_eq!(mask_phone("110"), "*10");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name(""), "");
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
            "138****8000"
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
                ("王**", "138****8000"),
                "{role:?}"
            );
        }
        // Confidential: masked even to the holding unit, not to the operator.
        let c = requester(true);
        assert_eq!(
            requester_for(&who(&[Role::UnitStaff]), true, &c).phone,
            "138****8000"
        );
        assert_eq!(
            requester_for(&who(&[Role::Operator]), false, &c).phone,
            c.phone
        );
    }
}
