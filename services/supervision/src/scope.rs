//! Who sees which unit's urges and cases: unit staff only their own unit's,
//! the centre's staff any unit's. Pure.

use hotline_common::auth::Identity;
use hotline_common::ids::{Id, UnitId};
use hotline_common::{ApiError, Reason};

/// The unit a list is confined to: the one asked for, or the caller's own
/// when the caller is confined to a unit. Asking for another unit's is
/// PERMISSION_DENIED.
pub fn visible_unit(who: &Identity, asked: Option<UnitId>) -> Result<Option<UnitId>, ApiError> {
    match (who.unit_scope(), asked) {
        (None, asked) => Ok(asked),
        (Some(own), None) => UnitId::parse(own).map(Some).map_err(|_| {
            ApiError::permission(
                Reason::NoUnit,
                format!("{} belongs to no unit", who.subject),
            )
        }),
        (Some(own), Some(a)) if a.as_str() == own => Ok(Some(a)),
        (Some(own), Some(_)) => Err(ApiError::permission(
            Reason::OtherUnit,
            format!("{} may list only unit {own}", who.subject),
        )
        .with("unit_id", own)),
    }
}

/// The caller's own unit, for a unit's step (a report's written feedback,
/// an arrival, a rectification): PERMISSION_DENIED for an identity of no
/// unit.
pub fn own_unit(who: &Identity) -> Result<UnitId, ApiError> {
    visible_unit(who, None)?.ok_or_else(|| {
        ApiError::permission(
            Reason::NoUnit,
            format!("{} belongs to no unit", who.subject),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;
    use hotline_common::auth::Role;

    fn who(roles: Vec<Role>, unit: Option<&str>) -> Identity {
        Identity {
            subject: "someone".into(),
            unit: unit.map(str::to_string),
            roles,
        }
    }

    fn unit(s: &str) -> UnitId {
        UnitId::parse(s).unwrap()
    }

    #[test]
    fn unit_staff_see_their_own_unit_only() {
        let staff = who(vec![Role::UnitStaff], Some("u1"));
        assert_eq!(visible_unit(&staff, None), Ok(Some(unit("u1"))));
        assert_eq!(visible_unit(&staff, Some(unit("u1"))), Ok(Some(unit("u1"))));
        let e = visible_unit(&staff, Some(unit("u2"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        assert!(e.message.contains("only unit u1"), "{}", e.message);
        let nowhere = who(vec![Role::UnitStaff], None);
        assert_eq!(
            visible_unit(&nowhere, None).unwrap_err().code,
            ErrorCode::PermissionDenied
        );
    }

    #[test]
    fn the_centre_sees_any_unit() {
        let sup = who(vec![Role::Supervisor], None);
        assert_eq!(visible_unit(&sup, None), Ok(None));
        assert_eq!(visible_unit(&sup, Some(unit("u2"))), Ok(Some(unit("u2"))));
    }
}
