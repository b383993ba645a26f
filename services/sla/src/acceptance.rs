//! The acceptance of requests that do not come by phone (`[acceptance]`):
//! which channels' requests wait for an operator to accept them (受理), and
//! within how long of their arrival. A policy without the section reviews
//! none: every request is accepted as it is submitted.

use std::time::Duration;

use serde::Deserialize;

use crate::field;

/// The channels a policy may review, as it names them.
pub const CHANNELS: [&str; 6] = [
    "web",
    "app",
    "mini_program",
    "sms",
    "email",
    "government_system",
];

/// The acceptance section.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    /// From arrival to acceptance.
    pub limit: Duration,
    /// The channels whose requests wait for an operator.
    pub channels: Vec<String>,
}

impl Default for Acceptance {
    fn default() -> Self {
        Acceptance {
            limit: Duration::from_secs(2 * 3600),
            channels: Vec::new(),
        }
    }
}

impl Acceptance {
    /// Whether a request from `channel` waits for an operator.
    pub fn reviews(&self, channel: &str) -> bool {
        self.channels.iter().any(|c| c == channel)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAcceptance {
    limit: Option<String>,
    channels: Option<Vec<String>>,
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawAcceptance) -> Acceptance {
    let d = Acceptance::default();
    let limit = field(errors, "acceptance.limit", raw.limit.as_ref()).unwrap_or(d.limit);
    if limit.is_zero() {
        errors.push("acceptance.limit: must be above 0".into());
    }
    let channels = raw.channels.unwrap_or_default();
    for c in &channels {
        if !CHANNELS.contains(&c.as_str()) {
            errors.push(format!(
                "acceptance.channels: {c:?} is not one of {}",
                CHANNELS.join(", ")
            ));
        }
    }
    Acceptance { limit, channels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        crate::check_section(
            parse,
            RawAcceptance {
                limit: Some("0s".into()),
                channels: Some(vec!["phone".into(), "web".into()]),
            },
            2,
        );
        let a = parse(
            &mut Vec::new(),
            RawAcceptance {
                limit: None,
                channels: Some(vec!["web".into()]),
            },
        );
        assert!(a.reviews("web") && !a.reviews("app"));
    }
}
