//! The rules of on-site division (现场核分): who may be summoned and by
//! when, which step each state allows, and who the division records as
//! not cooperating. Pure: no IO.
//!
//! | step | by | state | each unit |
//! |---|---|---|---|
//! | start | supervisor | → summoned | summoned, an arrival clock each |
//! | arrive | the unit | summoned | arrived (late after `arrive_by`), its clock stops |
//! | record the division | supervisor | summoned → divided, the ticket re-dispatched | not arrived: did not arrive; named as refusing: refused; others: none. Clocks still running stop |

use chrono::Duration;
use hotline_common::ids::UnitId;
use hotline_common::summons::{Limits, Summoned};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;

pub const LIMITS: Limits = Limits {
    max_units: 20,
    max_ahead: Duration::days(30),
};
pub const MAX_PLACE: usize = 500;
pub const MAX_TEXT: usize = 2000;
/// At most this many photos of the site on a division.
pub const MAX_MEDIA: usize = 9;

hotline_common::sql_enum!(
    /// Where a division stands.
    DivisionState, pb::DivisionState, "division state", {
        Summoned = "summoned",
        Divided = "divided",
    }
);

hotline_common::sql_enum!(
    /// Why a summoned unit is recorded as not cooperating.
    NonCooperation, pb::NonCooperation, "non-cooperation", {
        None = "none",
        DidNotArrive = "did_not_arrive",
        RefusedDivision = "refused_division",
    }
);

/// Arriving or recording: only while the units are summoned.
pub fn may_change(id: impl std::fmt::Display, state: DivisionState) -> Result<(), ApiError> {
    match state {
        DivisionState::Summoned => Ok(()),
        DivisionState::Divided => Err(ApiError::precondition(
            Reason::DivisionAlreadyRecorded,
            format!("on-site division {id} is divided: its division is recorded"),
        )
        .with("division_id", id)
        .with("state", state)),
    }
}

/// A division, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub lead: UnitId,
    pub co: Vec<UnitId>,
    pub refused: Vec<UnitId>,
}

/// Checks the division's units: a lead, distinct co-units besides it, and
/// refusing units among those summoned, none of them lead or co-unit.
pub fn division(f: &mut Fields, lead: &str, co: &[String], refused: &[String]) -> Option<Division> {
    let lead = f.id::<UnitId>("lead_unit_id", lead);
    let mut cos: Vec<UnitId> = Vec::new();
    if co.len() > LIMITS.max_units {
        f.add("co_unit_ids", format!("at most {} units", LIMITS.max_units));
    }
    for (i, raw) in co.iter().enumerate().take(LIMITS.max_units) {
        let at = format!("co_unit_ids[{i}]");
        if let Some(u) = f.id::<UnitId>(&at, raw) {
            if Some(&u) == lead.as_ref() || cos.contains(&u) {
                f.add(&at, format!("{u} is named twice"));
            } else {
                cos.push(u);
            }
        }
    }
    let mut refusing: Vec<UnitId> = Vec::new();
    for (i, raw) in refused.iter().enumerate().take(LIMITS.max_units) {
        let at = format!("refused_unit_ids[{i}]");
        if let Some(u) = f.id::<UnitId>(&at, raw) {
            if Some(&u) == lead.as_ref() || cos.contains(&u) {
                f.add(&at, format!("{u} cannot both take a share and refuse it"));
            } else if !refusing.contains(&u) {
                refusing.push(u);
            }
        }
    }
    Some(Division {
        lead: lead?,
        co: cos,
        refused: refusing,
    })
}

/// Each summoned unit's cooperation, once the division is recorded. A
/// refusing unit must have been summoned and have arrived (INVALID_ARGUMENT
/// naming it otherwise).
pub fn cooperation(
    summoned: &[Summoned],
    d: &Division,
) -> Result<Vec<(UnitId, NonCooperation)>, ApiError> {
    for (i, u) in d.refused.iter().enumerate() {
        match summoned.iter().find(|s| &s.unit_id == u) {
            None => {
                return Err(ApiError::invalid(
                    &format!("refused_unit_ids[{i}]"),
                    &format!("{u} was not summoned"),
                ));
            }
            Some(s) if s.arrived_at.is_none() => {
                return Err(ApiError::invalid(
                    &format!("refused_unit_ids[{i}]"),
                    &format!("{u} never arrived: it is recorded as not arriving"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(summoned
        .iter()
        .map(|s| {
            let n = if s.arrived_at.is_none() {
                NonCooperation::DidNotArrive
            } else if d.refused.contains(&s.unit_id) {
                NonCooperation::RefusedDivision
            } else {
                NonCooperation::None
            };
            (s.unit_id.clone(), n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use hotline_common::ids::Id;

    fn u(s: &str) -> UnitId {
        UnitId::parse(s).unwrap()
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn summoned(unit: &str, arrived: bool) -> Summoned {
        Summoned {
            unit_id: u(unit),
            arrive_by: at(10),
            arrived_at: arrived.then(|| at(5)),
        }
    }

    #[test]
    fn a_division_names_its_units_once() {
        let mut f = Fields::new();
        let d = division(&mut f, "a", &["b".into()], &["c".into()]).unwrap();
        assert!(f.is_ok());
        assert_eq!(d.co, vec![u("b")]);
        let mut f = Fields::new();
        division(
            &mut f,
            "a",
            &["a".into(), "b".into(), "b".into()],
            &["b".into()],
        );
        let m = f.finish().unwrap_err().message;
        for field in ["co_unit_ids[0]", "co_unit_ids[2]", "refused_unit_ids[0]"] {
            assert!(m.contains(field), "{field} in {m}");
        }
        let mut f = Fields::new();
        assert!(division(&mut f, "", &[], &[]).is_none());
        assert!(f.finish().unwrap_err().message.contains("lead_unit_id"));
    }

    #[test]
    fn units_that_never_arrived_or_refused_did_not_cooperate() {
        let units = [
            summoned("a", true),
            summoned("b", false),
            summoned("c", true),
        ];
        let d = Division {
            lead: u("a"),
            co: vec![],
            refused: vec![u("c")],
        };
        assert_eq!(
            cooperation(&units, &d).unwrap(),
            vec![
                (u("a"), NonCooperation::None),
                (u("b"), NonCooperation::DidNotArrive),
                (u("c"), NonCooperation::RefusedDivision),
            ]
        );
        let absent = Division {
            refused: vec![u("b")],
            ..d.clone()
        };
        assert!(
            cooperation(&units, &absent)
                .unwrap_err()
                .message
                .contains("never arrived")
        );
        let stranger = Division {
            refused: vec![u("z")],
            ..d
        };
        assert!(
            cooperation(&units, &stranger)
                .unwrap_err()
                .message
                .contains("not summoned")
        );
    }

    #[test]
    fn a_recorded_division_takes_no_more_steps() {
        assert!(may_change("d", DivisionState::Summoned).is_ok());
        let e = may_change("d", DivisionState::Divided).unwrap_err();
        assert_eq!(e.reason, Some(Reason::DivisionAlreadyRecorded));
    }
}
