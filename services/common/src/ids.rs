//! Identifiers, parsed once at the gRPC edge: rules and SQL take these
//! types, never a raw `String` or a proto field. Each is made by one of two
//! macros, so every id parses, prints and binds to SQL the same way.

use uuid::Uuid;

use crate::error::ApiError;
use crate::validate::Fields;

/// An identifier that parses from the text a caller sent.
pub trait Id: Sized {
    /// What the id is, for error messages ("a ticket number").
    const WHAT: &'static str;
    /// Parses trimmed text; the error says what is wrong, not which field.
    fn parse(raw: &str) -> Result<Self, String>;

    /// Parses the only id of a request: INVALID_ARGUMENT naming `field`.
    fn parse_field(field: &str, raw: &str) -> Result<Self, ApiError> {
        Self::parse(raw).map_err(|p| ApiError::invalid(field, &p))
    }
}

/// A code id's text: 1–`max` ASCII letters, digits, '-', '_' and '.'; so
/// no control, invisible or direction-changing character can be in one.
pub fn check_code(raw: &str, max: usize) -> Result<&str, String> {
    let v = raw.trim();
    if v.is_empty() {
        Err("required".into())
    } else if v.len() > max {
        Err(format!("too long: at most {max} characters"))
    } else if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Err("only letters, digits, '-', '_' and '.' are allowed".into())
    } else {
        Ok(v)
    }
}

/// Declares a text identifier (a code) of at most `max` characters.
#[macro_export]
macro_rules! code_id {
    ($(#[$m:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX: usize = $max;
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl $crate::ids::Id for $name {
            const WHAT: &'static str = $what;
            fn parse(raw: &str) -> Result<Self, String> {
                $crate::ids::check_code(raw, $max).map(|v| $name(v.to_string()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

/// Declares a UUID identifier.
#[macro_export]
macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub $crate::ids::RawUuid);

        impl $name {
            pub fn new() -> Self {
                $name($crate::ids::RawUuid::now_v7())
            }
            pub fn uuid(self) -> $crate::ids::RawUuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $crate::ids::Id for $name {
            const WHAT: &'static str = $what;
            fn parse(raw: &str) -> Result<Self, String> {
                let v = raw.trim();
                if v.is_empty() {
                    return Err("required".into());
                }
                $crate::ids::RawUuid::parse_str(v)
                    .map($name)
                    .map_err(|_| format!("not {}", $what))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$crate::ids::RawUuid> for $name {
            fn from(u: $crate::ids::RawUuid) -> Self {
                $name(u)
            }
        }
    };
}

/// Longest ticket number accepted anywhere.
pub const MAX_TICKET_NO: usize = 32;

code_id!(
    /// A ticket number (工单编号), as intake issued it.
    TicketNo,
    "a ticket number",
    MAX_TICKET_NO
);
code_id!(
    /// A handling unit of the dispatch catalogue.
    UnitId,
    "a unit id",
    64
);
code_id!(
    /// A category of the dispatch catalogue.
    CategoryCode,
    "a category code",
    64
);
code_id!(
    /// An area (district or street/township) code.
    AreaCode,
    "an area code",
    16
);
uuid_id!(
    /// One unit's assignment of one ticket in one hop.
    AssignmentId,
    "an assignment id"
);
uuid_id!(
    /// A return (退单) of an assignment.
    ReturnId,
    "a return id"
);
uuid_id!(
    /// A whistle (吹哨) of a street or township unit.
    WhistleId,
    "a whistle id"
);
uuid_id!(
    /// An extension (延期) request.
    ExtensionId,
    "an extension id"
);

impl Fields {
    /// A required identifier; `None` (and the problem noted) when bad.
    pub fn id<T: Id>(&mut self, field: &str, raw: &str) -> Option<T> {
        match T::parse(raw) {
            Ok(v) => Some(v),
            Err(p) => {
                self.add(field, p);
                None
            }
        }
    }

    /// An optional identifier: empty is `None` without a problem.
    pub fn optional_id<T: Id>(&mut self, field: &str, raw: &str) -> Option<T> {
        if raw.trim().is_empty() {
            None
        } else {
            self.id(field, raw)
        }
    }
}

/// The uuid type for [`uuid_id!`]'s expansion, so that crates using the
/// macro need no `uuid` dependency of their own.
#[doc(hidden)]
pub type RawUuid = Uuid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_refuse_invisible_and_foreign_characters() {
        assert!(TicketNo::parse(" 20261201-000001 ").is_ok());
        for bad in [
            "",
            "a b",
            "a\u{202E}b",
            "a\u{200B}b",
            "\u{FEFF}a",
            "a\0",
            "工单",
        ] {
            assert!(TicketNo::parse(bad).is_err(), "{bad:?}");
        }
        assert!(UnitId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn uuids_parse_or_say_what_they_are() {
        let id = AssignmentId::new();
        assert_eq!(AssignmentId::parse(&id.to_string()), Ok(id));
        assert_eq!(
            AssignmentId::parse("nope"),
            Err("not an assignment id".to_string())
        );
        let e = ReturnId::parse_field("return_id", "x").unwrap_err();
        assert_eq!(e.fields[0].0, "return_id");
    }
}
