//! Request types (诉求类型: 咨询, 求助, 投诉, 举报, 建议) and the limits a
//! policy may give the general requests of each (`[request_types.<type>]`,
//! e.g. Guangdong's consultations in 2 days and complaints in 15).
//! Emergency, basic-livelihood and complex requests keep their tier's
//! limits whatever their type: urgency and a judged extension come first.

use std::collections::HashMap;
use std::str::FromStr;

use crate::{Limits, RawLimits};

/// What kind of request a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestType {
    /// Not recorded (a client that predates request types).
    #[default]
    Unrecorded,
    /// 咨询
    Consultation,
    /// 求助
    Help,
    /// 投诉
    Complaint,
    /// 举报
    Report,
    /// 建议
    Suggestion,
}

impl RequestType {
    pub const RECORDED: [RequestType; 5] = [
        RequestType::Consultation,
        RequestType::Help,
        RequestType::Complaint,
        RequestType::Report,
        RequestType::Suggestion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Unrecorded => "unrecorded",
            RequestType::Consultation => "consultation",
            RequestType::Help => "help",
            RequestType::Complaint => "complaint",
            RequestType::Report => "report",
            RequestType::Suggestion => "suggestion",
        }
    }
}

impl FromStr for RequestType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestType::RECORDED
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown request type {s:?} (consultation, help, complaint, report, suggestion)"
                )
            })
    }
}

/// The `[request_types]` section: per type, limits that replace the
/// general tier's, stage by stage.
pub(crate) type RawRequestTypes = HashMap<String, RawLimits>;

/// Parses the section against the general tier's limits: a stage a type
/// leaves out keeps the general tier's limit.
pub(crate) fn parse(
    errors: &mut Vec<String>,
    raw: RawRequestTypes,
    general: Option<&Limits>,
) -> HashMap<RequestType, Limits> {
    let mut out = HashMap::new();
    let Some(general) = general else {
        return out;
    };
    for (name, limits) in raw {
        let kind = match name.parse::<RequestType>() {
            Ok(k) => k,
            Err(e) => {
                errors.push(format!("request_types.{name}: {e}"));
                continue;
            }
        };
        if limits.dispatch_surge.is_some() {
            errors.push(format!(
                "request_types.{name}.dispatch_surge: surge limits are the tier's"
            ));
        }
        let path = format!("request_types.{name}");
        if let Some(l) = crate::limits_at(errors, &path, Some(&limits), Some(general)) {
            out.insert(kind, l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{Policy, RequestType, TicketClass, Tier};
    use std::time::Duration;

    const BASE: &str = r#"
name = "t"
[tiers.emergency]
dispatch = "1h"
sign_off = "15m"
feedback = "2h"
[tiers.basic_livelihood]
dispatch = "2h"
sign_off = "30m"
feedback = "1d"
[tiers.general]
dispatch = "1d"
sign_off = "1d"
feedback = "7d"
"#;

    fn class(tier: Tier, complex: bool, kind: RequestType) -> TicketClass {
        TicketClass {
            tier,
            complex,
            kind,
        }
    }

    #[test]
    fn a_type_replaces_the_general_tier_stage_by_stage() {
        let p = Policy::from_toml(&format!(
            "{BASE}\n[request_types.consultation]\nfeedback = \"2d\"\n[request_types.complaint]\nfeedback = \"15d\"\n"
        ))
        .unwrap();
        let day = Duration::from_secs(86_400);
        let c = p.limits(class(Tier::General, false, RequestType::Consultation));
        assert_eq!((c.feedback, c.sign_off), (2 * day, day));
        let c = p.limits(class(Tier::General, false, RequestType::Complaint));
        assert_eq!(c.feedback, 15 * day);
        let c = p.limits(class(Tier::General, false, RequestType::Help));
        assert_eq!(
            c.feedback,
            7 * day,
            "a type without a section keeps the tier's"
        );
        let c = p.limits(class(Tier::Emergency, false, RequestType::Complaint));
        assert_eq!(c.feedback, Duration::from_secs(7200), "urgency comes first");
    }

    #[test]
    fn unknown_types_and_bad_limits_are_named() {
        let e = Policy::from_toml(&format!(
            "{BASE}\n[request_types.gossip]\nfeedback = \"2d\"\n[request_types.help]\nfeedback = \"0s\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("request_types.gossip: unknown request type"),
            "{e}"
        );
        assert!(e.contains("request_types.help.feedback"), "{e}");
    }
}
