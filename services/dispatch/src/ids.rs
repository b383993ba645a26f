//! Dispatch's own identifiers, made like the shared ones in
//! `hotline_common::ids`: parsed once at the gRPC edge.

use hotline_common::ApiError;

hotline_common::code_id!(
    /// A version of the dispatch catalogue, e.g. "beijing-2026.12".
    CatalogueVersionId,
    "a catalogue version",
    64
);

/// A routing hop: 1 for the first routing, one more for each re-dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hop(i32);

impl Hop {
    pub const FIRST: Hop = Hop(1);

    /// The hop a caller names: 1 or more.
    pub fn parse_field(field: &str, raw: i32) -> Result<Hop, ApiError> {
        if raw < 1 {
            Err(ApiError::invalid(
                field,
                "the hop in force, as read from the routing (1 or more)",
            ))
        } else {
            Ok(Hop(raw))
        }
    }

    /// A stored hop; routings stored before hops were counted are hop 1.
    pub fn stored(raw: i32) -> Hop {
        Hop(raw.max(1))
    }

    pub fn next(self) -> Hop {
        Hop(self.0.saturating_add(1))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ids::Id;

    #[test]
    fn versions_are_codes() {
        assert!(CatalogueVersionId::parse("beijing-2026.12").is_ok());
        assert!(CatalogueVersionId::parse("beijing\u{0}").is_err());
        assert!(CatalogueVersionId::parse("").is_err());
    }

    #[test]
    fn hops_start_at_one() {
        assert!(Hop::parse_field("hop", 0).is_err());
        assert_eq!(Hop::parse_field("hop", 2).unwrap().next().get(), 3);
        assert_eq!(Hop::stored(0), Hop::FIRST);
    }
}
