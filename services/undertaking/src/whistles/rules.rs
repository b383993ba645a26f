//! Whistles (街乡吹哨、部门报到): only a street or township unit blows the
//! whistle, summoning departments of the catalogue to a place by a time;
//! the summonses and their arrival clocks are `hotline_common::summons`.
//! Pure: no IO.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hotline_common::ids::{AssignmentId, TicketNo, UnitId, WhistleId};
use hotline_common::summons::{self, Call, Limits, Summoned};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::dispatch::v1::Unit as CatalogueUnit;
use hotline_proto::undertaking::v1 as pb;

use crate::window::MAX_ARRIVAL_AHEAD;

/// How one whistle is bounded: at most 20 departments, to arrive within
/// 30 days.
pub const LIMITS: Limits = Limits {
    max_units: 20,
    max_ahead: MAX_ARRIVAL_AHEAD,
};

/// What kind of unit a catalogue unit is, as far as whistles go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A street office or township (街道、乡镇).
    StreetOrTownship,
    /// A department, district government or utility.
    Other,
}

/// The kind of a unit of the catalogue in force, as the catalogue says
/// (`Unit.kind`).
pub fn unit_kind(u: &CatalogueUnit) -> UnitKind {
    if u.kind == hotline_proto::dispatch::v1::UnitKind::Street as i32 {
        UnitKind::StreetOrTownship
    } else {
        UnitKind::Other
    }
}

/// The catalogue's units by id.
pub type Units = HashMap<String, CatalogueUnit>;

/// Only a street or township unit of the catalogue in force blows the
/// whistle.
pub fn may_blow_whistle(units: &Units, caller: &UnitId) -> Result<(), ApiError> {
    match units.get(caller.as_str()).map(unit_kind) {
        Some(UnitKind::StreetOrTownship) => Ok(()),
        Some(UnitKind::Other) => Err(ApiError::permission(
            Reason::StreetOrTownshipOnly,
            format!("{caller} is not a street or township unit; only those blow the whistle"),
        )
        .with("unit_id", caller)),
        None => Err(ApiError::permission(
            Reason::UnitNotInCatalogue,
            format!("{caller} is not a unit of the dispatch catalogue in force"),
        )
        .with("unit_id", caller)),
    }
}

/// Every summoned department is a unit of the catalogue in force.
pub fn check_in_catalogue(units: &Units, summoned: &[String]) -> Result<(), ApiError> {
    let mut f = Fields::new();
    for (i, id) in summoned.iter().enumerate() {
        if !units.contains_key(id.trim()) {
            f.add(
                &format!("summoned_unit_ids[{i}]"),
                format!("{:?} is not a unit of the dispatch catalogue", id.trim()),
            );
        }
    }
    f.finish()
}

/// A whistle that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWhistle {
    pub call: Call,
    pub place: String,
    pub matter: String,
}

/// Checks a whistle: distinct departments other than the caller, an
/// arrival time to come within the limit, a place and a matter.
pub fn parse_whistle(
    f: &mut Fields,
    caller: &UnitId,
    summoned: &[String],
    arrive_by: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    (place, matter): (&str, &str),
) -> Option<NewWhistle> {
    let call = summons::check_call(
        f,
        ("summoned_unit_ids", "arrive_by"),
        caller,
        summoned,
        arrive_by,
        now,
        LIMITS,
    );
    let place = f.text("place", place, 500);
    let matter = f.text("matter", matter, 2000);
    Some(NewWhistle {
        call: call?,
        place,
        matter,
    })
}

/// A stored whistle with its summonses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whistle {
    pub id: WhistleId,
    pub assignment_id: AssignmentId,
    pub ticket_no: TicketNo,
    /// The street or township unit that blew it.
    pub unit_id: UnitId,
    pub matter: String,
    pub place: String,
    pub blown_at: DateTime<Utc>,
    pub arrive_by: DateTime<Utc>,
    pub summoned: Vec<Summoned>,
}

impl Whistle {
    /// Unit staff see a whistle they blew or were summoned by.
    pub fn involves(&self, unit: &str) -> bool {
        self.unit_id.as_str() == unit || self.summoned.iter().any(|s| s.unit_id.as_str() == unit)
    }

    pub fn to_proto(&self) -> pb::Whistle {
        pb::Whistle {
            whistle_id: self.id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            assignment_id: self.assignment_id.to_string(),
            unit_id: self.unit_id.to_string(),
            matter: self.matter.clone(),
            place: self.place.clone(),
            blown_at: Some(to_proto(self.blown_at)),
            arrive_by: Some(to_proto(self.arrive_by)),
            summonses: self
                .summoned
                .iter()
                .map(|s| pb::Summons {
                    unit_id: s.unit_id.to_string(),
                    arrived_at: opt_to_proto(s.arrived_at),
                    late: s.late(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;
    use hotline_common::ids::Id;

    fn t(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + m * 60, 0).unwrap()
    }

    /// Units whose id starts `street-` are streets here, the others
    /// departments: the kind is the catalogue's, not the id's.
    fn catalogue(ids: &[&str]) -> Units {
        use hotline_proto::dispatch::v1::UnitKind as Kind;
        ids.iter()
            .map(|id| {
                let kind = if id.starts_with("street-") {
                    Kind::Street
                } else {
                    Kind::Department
                };
                (
                    id.to_string(),
                    CatalogueUnit {
                        unit_id: id.to_string(),
                        name: id.to_string(),
                        kind: kind as i32,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn only_street_and_township_units_of_the_catalogue_blow_the_whistle() {
        let units = catalogue(&["street-110105001", "bj-housing"]);
        let street = UnitId::parse("street-110105001").unwrap();
        may_blow_whistle(&units, &street).unwrap();
        let e = may_blow_whistle(&units, &UnitId::parse("bj-housing").unwrap()).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        let mut named_like_a_street = units.clone();
        named_like_a_street
            .get_mut("street-110105001")
            .unwrap()
            .kind = hotline_proto::dispatch::v1::UnitKind::Department as i32;
        assert!(
            may_blow_whistle(&named_like_a_street, &street).is_err(),
            "the kind decides, not the id"
        );
        let e = may_blow_whistle(&units, &UnitId::parse("street-999").unwrap()).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        assert!(e.message.contains("catalogue"), "{}", e.message);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        check_in_catalogue(&units, &ids(&["bj-housing"])).unwrap();
        let e = check_in_catalogue(&units, &ids(&["bj-housing", "bj-nobody"])).unwrap_err();
        assert!(
            e.message.contains("summoned_unit_ids[1]") && e.message.contains("bj-nobody"),
            "{}",
            e.message
        );
    }

    #[test]
    fn whistles_summon_other_departments_to_come_within_the_limit() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let me = UnitId::parse("street-110105001").unwrap();
        let mut f = Fields::new();
        let w = parse_whistle(
            &mut f,
            &me,
            &ids(&["bj-urban-management", "bj-housing"]),
            Some(t(30)),
            t(0),
            ("建外街道某小区", "楼道堆物清理"),
        );
        assert!(f.finish().is_ok());
        assert_eq!(w.unwrap().call.units.len(), 2);
        let mut f = Fields::new();
        parse_whistle(
            &mut f,
            &me,
            &ids(&["street-110105001", "bj-housing", "bj-housing"]),
            Some(t(0)),
            t(0),
            ("", ""),
        );
        let e = f.finish().unwrap_err();
        for part in [
            "summoned_unit_ids[0]",
            "summoned_unit_ids[2]",
            "arrive_by",
            "place",
            "matter",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
        let mut f = Fields::new();
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        parse_whistle(
            &mut f,
            &me,
            &ids(&["bj-housing"]),
            Some(year_255000),
            t(0),
            ("南门", "核查"),
        );
        let e = f.finish().unwrap_err();
        assert_eq!(e.fields.len(), 1, "{}", e.message);
        assert_eq!(e.fields[0].0, "arrive_by");
    }
}
