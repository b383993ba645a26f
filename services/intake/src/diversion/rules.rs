//! The rules of diversion: a referral to an emergency line, and the
//! centre's mark of a malicious caller. Pure.

use hotline_common::ApiError;
use hotline_common::validate::Fields;
use hotline_proto::intake::v1 as pb;

pub const MAX_NOTE_CHARS: usize = 2000;
pub const MAX_REASON_CHARS: usize = 500;

hotline_common::sql_enum!(
    /// The emergency line a request was referred to.
    EmergencyLine, pb::EmergencyLine, "emergency line", {
        Police110 = "police_110",
        Fire119 = "fire_119",
        Ambulance120 = "ambulance_120",
        Traffic122 = "traffic_122",
    }
);

/// A referral, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    pub line: EmergencyLine,
    pub note: String,
}

/// Checks a submission's referral; a referral is not also answered
/// directly.
pub fn parse_referral(r: &pb::Referral, answered_directly: bool) -> Result<Referral, ApiError> {
    let mut f = Fields::new();
    let line = EmergencyLine::filter_field(&mut f, "referral.line", r.line);
    if line.is_none() && r.line == 0 {
        f.add("referral.line", "required: 110, 119, 120 or 122");
    }
    let note = f.optional_text("referral.note", &r.note, MAX_NOTE_CHARS);
    if answered_directly {
        f.add(
            "referral",
            "a request is referred or answered directly, not both",
        );
    }
    f.finish()?;
    let Some(line) = line else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    Ok(Referral { line, note })
}

/// A mark to set, checked: the phone's digits, marked or cleared, why.
pub fn parse_mark(req: &pb::MarkCallerRequest) -> Result<(String, bool, String), ApiError> {
    let mut f = Fields::new();
    let phone = phone(&mut f, &req.phone);
    let reason = f.text("reason", &req.reason, MAX_REASON_CHARS);
    f.finish()?;
    Ok((phone, req.malicious, reason))
}

pub fn parse_get(req: &pb::GetCallerRequest) -> Result<String, ApiError> {
    let mut f = Fields::new();
    let phone = phone(&mut f, &req.phone);
    f.finish()?;
    Ok(phone)
}

fn phone(f: &mut Fields, raw: &str) -> String {
    if raw.trim().is_empty() {
        f.add("phone", "required");
    }
    crate::tickets::rules::check_phone(f, "phone", raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_names_its_line_and_excludes_a_direct_answer() {
        let ok = parse_referral(
            &pb::Referral {
                line: pb::EmergencyLine::Fire119 as i32,
                note: "已转接119".into(),
            },
            false,
        )
        .unwrap();
        assert_eq!(ok.line, EmergencyLine::Fire119);
        let e = parse_referral(
            &pb::Referral {
                line: 99,
                note: String::new(),
            },
            true,
        )
        .unwrap_err()
        .message;
        assert!(
            e.contains("referral.line: unknown emergency line 99"),
            "{e}"
        );
        assert!(e.contains("not both"), "{e}");
        let e = parse_referral(&pb::Referral::default(), false)
            .unwrap_err()
            .message;
        assert!(e.contains("referral.line: required"), "{e}");
    }

    #[test]
    fn a_mark_needs_a_phone_and_a_reason() {
        let e = parse_mark(&pb::MarkCallerRequest {
            phone: "abc".into(),
            malicious: true,
            ..Default::default()
        })
        .unwrap_err()
        .message;
        assert!(e.contains("phone") && e.contains("reason"), "{e}");
    }
}
