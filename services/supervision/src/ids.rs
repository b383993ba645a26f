//! Supervision's own identifiers, beside the shared ones of
//! `hotline_common::ids` (`TicketNo`, `UnitId`). Each parses once, where
//! the text comes in (a gRPC field, a RabbitMQ message).

use hotline_common::ids::Id;

hotline_common::uuid_id!(
    /// An urge (催办) issued to a unit.
    UrgeId,
    "an urge id"
);
hotline_common::uuid_id!(
    /// A supervision case (督办) opened against a unit.
    CaseId,
    "a case id"
);
hotline_common::uuid_id!(
    /// An on-site division (现场核分).
    DivisionId,
    "a division id"
);
hotline_common::uuid_id!(
    /// A public notice (通报).
    NoticeId,
    "a notice id"
);
hotline_common::uuid_id!(
    /// A special inspection (专项督查).
    InspectionId,
    "an inspection id"
);
hotline_common::uuid_id!(
    /// A consultation meeting (会议协商).
    MeetingId,
    "a meeting id"
);
hotline_common::uuid_id!(
    /// A special report (专报).
    ReportId,
    "a report id"
);
hotline_common::uuid_id!(
    /// A decision to exclude a ticket from a unit's evaluation.
    ExclusionId,
    "an exclusion id"
);
hotline_common::uuid_id!(
    /// A unit's appeal (申诉) against a ticket counted in its evaluation.
    EvalAppealId,
    "an appeal id"
);

/// Declares an identifier minted by a clock owner: 1–`max` printable
/// ASCII characters, no spaces (clock ids hold '/', event ids '#').
macro_rules! owner_id {
    ($(#[$m:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Id for $name {
            const WHAT: &'static str = $what;
            fn parse(raw: &str) -> Result<Self, String> {
                let v = raw.trim();
                if v.is_empty() {
                    Err("required".into())
                } else if v.len() > $max {
                    Err(format!("too long: at most {} characters", $max))
                } else if !v.chars().all(|c| c.is_ascii_graphic()) {
                    Err("only printable ASCII characters without spaces are allowed".into())
                } else {
                    Ok($name(v.to_string()))
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

owner_id!(
    /// A clock of its owner, e.g. `BJ000000000001/sign_off/bj-heating-group`.
    ClockId,
    "a clock id",
    256
);
owner_id!(
    /// A deadline event: one per clock, version and kind; the key that
    /// makes a redelivered event act once.
    EventId,
    "an event id",
    300
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_refuse_blanks_spaces_and_invisible_characters() {
        assert_eq!(
            ClockId::parse(" BJ1/sign_off/u1/hop2 ").unwrap().as_str(),
            "BJ1/sign_off/u1/hop2"
        );
        assert!(EventId::parse("BJ1/sign_off/u1#1#expired").is_ok());
        for bad in ["", "  ", "a b", "a\u{200B}b", "a\0", "工单"] {
            assert!(ClockId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClockId::parse(&"x".repeat(257)).is_err());
        assert_eq!(
            CaseId::parse("nope"),
            Err::<CaseId, _>("not a case id".to_string())
        );
    }
}
