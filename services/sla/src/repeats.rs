//! Requests that come back: repeats (重复件) offered to the operator, and
//! a ticket raised again and again (多次反映) that reaches supervision
//! (`[repeats]`).

use std::time::Duration;

use serde::Deserialize;

use crate::field;

/// The repeats section.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeats {
    /// Open tickets accepted this long before a request are offered as
    /// ones it may repeat.
    pub window: Duration,
    /// A ticket at the same place in the same category is offered when the
    /// shorter text has at least this share of its words in the other
    /// (0–1).
    pub min_similarity: f64,
    /// Raised this many times (itself and its repeats), an open ticket is
    /// a consultation-meeting candidate (多次反映).
    pub raised_again: u32,
}

impl Default for Repeats {
    fn default() -> Self {
        Repeats {
            window: Duration::from_secs(30 * 86_400),
            min_similarity: 0.4,
            raised_again: 3,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRepeats {
    window: Option<String>,
    min_similarity: Option<f64>,
    raised_again: Option<u32>,
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawRepeats) -> Repeats {
    let d = Repeats::default();
    let window = field(errors, "repeats.window", raw.window.as_ref()).unwrap_or(d.window);
    if window.is_zero() {
        errors.push("repeats.window: must be above 0".into());
    }
    let min_similarity = raw.min_similarity.unwrap_or(d.min_similarity);
    if !(0.0..=1.0).contains(&min_similarity) {
        errors.push("repeats.min_similarity: must be a number from 0 to 1".into());
    }
    let raised_again = raw.raised_again.unwrap_or(d.raised_again);
    if raised_again < 2 {
        errors.push("repeats.raised_again: must be at least 2".into());
    }
    Repeats {
        window,
        min_similarity,
        raised_again,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        crate::check_section(
            parse,
            RawRepeats {
                window: Some("0s".into()),
                min_similarity: Some(f64::NAN),
                raised_again: Some(1),
            },
            3,
        );
    }
}
