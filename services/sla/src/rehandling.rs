//! Re-handling policy (重办): how many handling rounds a ticket may have
//! before a return visit that finds it unresolved or unsatisfied, through
//! the unit's fault, no longer sends it back to the unit.

use serde::Deserialize;

/// The largest `max_rounds` a policy may set: beyond it a ticket would
/// cycle between the unit and the visitors with no one deciding.
pub const MAX_ROUNDS_CEILING: u32 = 10;

/// Re-handling (重办) after a return visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rehandling {
    /// Handling rounds a ticket may have in all, the first included: with
    /// 3, a ticket is reopened at most twice. 1 never reopens.
    pub max_rounds: u32,
}

impl Rehandling {
    /// Whether a ticket whose round `round` was visited may have another.
    pub fn allows_after(&self, round: i32) -> bool {
        i64::from(round) < i64::from(self.max_rounds)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRehandling {
    max_rounds: Option<u32>,
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawRehandling) -> Rehandling {
    let max_rounds = raw.max_rounds.unwrap_or(3);
    if !(1..=MAX_ROUNDS_CEILING).contains(&max_rounds) {
        errors.push(format!(
            "rehandling.max_rounds: {max_rounds} is not between 1 and {MAX_ROUNDS_CEILING}"
        ));
    }
    Rehandling { max_rounds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(max_rounds: Option<u32>) -> (Rehandling, Vec<String>) {
        let mut errors = Vec::new();
        let r = parse(&mut errors, RawRehandling { max_rounds });
        (r, errors)
    }

    #[test]
    fn three_rounds_unless_said_and_the_bounds_are_checked() {
        assert_eq!(parsed(None), (Rehandling { max_rounds: 3 }, vec![]));
        assert_eq!(parsed(Some(1)).1, Vec::<String>::new());
        assert_eq!(parsed(Some(10)).1, Vec::<String>::new());
        for bad in [0, 11] {
            let (_, errors) = parsed(Some(bad));
            assert_eq!(errors.len(), 1, "{bad}");
            assert!(errors[0].starts_with("rehandling.max_rounds"), "{errors:?}");
        }
    }

    #[test]
    fn the_last_round_allows_no_other() {
        let r = Rehandling { max_rounds: 3 };
        assert!(r.allows_after(1));
        assert!(r.allows_after(2));
        assert!(!r.allows_after(3));
        assert!(!r.allows_after(4));
        assert!(!Rehandling { max_rounds: 1 }.allows_after(1));
    }

    #[test]
    fn beijing_has_three_rounds_and_a_bad_limit_is_reported_with_the_others() {
        use crate::{BEIJING_POLICY_TOML, Policy};
        assert_eq!(Policy::beijing().rehandling.max_rounds, 3);
        let text = BEIJING_POLICY_TOML.replace("max_rounds = 3", "max_rounds = 0");
        assert_ne!(
            text, BEIJING_POLICY_TOML,
            "the Beijing file names max_rounds"
        );
        let all = Policy::from_toml(&text).unwrap_err().0.join("\n");
        assert!(all.contains("rehandling.max_rounds: 0"), "{all}");
    }
}
