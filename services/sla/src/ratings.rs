//! Ratings policy (好差评): whether a contact the requester does not rate
//! within a time is given a default rating (默认满意), as some platforms
//! do. Off unless the policy says so (Beijing's file does not). A default
//! is stored apart from the requester's ratings and never counted as one.

use std::time::Duration;

use serde::Deserialize;

use crate::field;

/// The five levels, as a policy file names them (best first).
pub const LEVEL_NAMES: [&str; 5] = [
    "very_satisfied",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "very_dissatisfied",
];

/// A default rating for contacts left unrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRating {
    /// How long after the contact the requester may rate before the
    /// default is recorded.
    pub after: Duration,
    /// The level recorded, one of [`LEVEL_NAMES`].
    pub level: &'static str,
}

/// The ratings section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ratings {
    /// None: no default is ever recorded.
    pub default: Option<DefaultRating>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRatings {
    default_after: Option<String>,
    default_level: Option<String>,
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawRatings) -> Ratings {
    let after = field(errors, "ratings.default_after", raw.default_after.as_ref());
    if after.is_some_and(|d| d.is_zero()) {
        errors.push("ratings.default_after: must be more than zero".into());
    }
    let level = match raw.default_level.as_deref() {
        None => "satisfied",
        Some(l) => match LEVEL_NAMES.iter().find(|n| **n == l) {
            Some(n) => n,
            None => {
                errors.push(format!(
                    "ratings.default_level: {l:?} is not one of {}",
                    LEVEL_NAMES.join(", ")
                ));
                "satisfied"
            }
        },
    };
    if raw.default_after.is_none() && raw.default_level.is_some() {
        errors.push("ratings.default_level: set without ratings.default_after".into());
    }
    Ratings {
        default: after.map(|after| DefaultRating { after, level }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(after: Option<&str>, level: Option<&str>) -> (Ratings, Vec<String>) {
        let mut errors = Vec::new();
        let r = parse(
            &mut errors,
            RawRatings {
                default_after: after.map(str::to_string),
                default_level: level.map(str::to_string),
            },
        );
        (r, errors)
    }

    #[test]
    fn no_default_unless_a_time_is_given_and_satisfied_by_default() {
        assert_eq!(parsed(None, None), (Ratings { default: None }, vec![]));
        let (r, errors) = parsed(Some("7d"), None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            r.default,
            Some(DefaultRating {
                after: Duration::from_secs(7 * 86_400),
                level: "satisfied"
            })
        );
        let (r, _) = parsed(Some("2s"), Some("basically_satisfied"));
        assert_eq!(r.default.unwrap().level, "basically_satisfied");
    }

    #[test]
    fn every_problem_is_named() {
        let (_, errors) = parsed(Some("0s"), Some("happy"));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("ratings.default_after"), "{errors:?}");
        assert!(errors[1].starts_with("ratings.default_level"), "{errors:?}");
        let (_, errors) = parsed(None, Some("satisfied"));
        assert_eq!(
            errors,
            ["ratings.default_level: set without ratings.default_after"]
        );
    }

    #[test]
    fn beijing_records_no_default() {
        assert_eq!(crate::Policy::beijing().ratings.default, None);
    }
}
