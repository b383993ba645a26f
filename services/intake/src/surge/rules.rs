//! What switching surge mode (话务量大量集中) takes: a reason. Pure; the
//! longer dispatch limit it brings is the policy's.

use hotline_common::ApiError;
use hotline_common::validate::Fields;
use hotline_proto::intake::v1::{SetSurgeModeRequest, SurgeMode};

use super::store::Surge;

pub const MAX_REASON_CHARS: usize = 500;

/// On or off, and why (required, at most 500 characters).
pub fn parse_set(req: &SetSurgeModeRequest) -> Result<(bool, String), ApiError> {
    let mut f = Fields::new();
    let reason = f.text("reason", &req.reason, MAX_REASON_CHARS);
    f.finish()?;
    Ok((req.on, reason))
}

pub fn to_proto(s: Surge) -> SurgeMode {
    SurgeMode {
        on: s.on,
        reason: s.reason,
        changed_at: hotline_common::time::opt_to_proto(s.changed_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_needs_a_clean_reason() {
        let ok = SetSurgeModeRequest {
            on: true,
            reason: " 寒潮供暖集中来电 ".into(),
            ..Default::default()
        };
        assert_eq!(parse_set(&ok).unwrap(), (true, "寒潮供暖集中来电".into()));
        for bad in ["", "寒潮\u{0}", &"长".repeat(501)] {
            let e = parse_set(&SetSurgeModeRequest {
                on: false,
                reason: bad.into(),
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(e.fields[0].0, "reason", "{bad:?}");
        }
    }

    #[test]
    fn never_set_is_off() {
        let p = to_proto(Surge::default());
        assert!(!p.on && p.changed_at.is_none());
    }
}
