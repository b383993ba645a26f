//! What a dispatch catalogue holds: categories, areas, units and rules, and
//! the one mapping of each of its enums to text (the catalogue file) and to
//! protobuf.

use std::collections::HashMap;

use hotline_common::ids::UnitId;
use hotline_proto::dispatch::v1 as pb;

/// Ids of the units generated for each district: `district-gov-<code>`.
pub const DISTRICT_GOV_PREFIX: &str = "district-gov-";
/// Ids of the units generated for each street or township: `street-<code>`.
pub const STREET_OFFICE_PREFIX: &str = "street-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Kind of administrative area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    /// 区
    District,
    /// 街道、乡、镇、地区
    Street,
}

impl AreaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::District => "district",
            AreaKind::Street => "street",
        }
    }

    pub fn parse(s: &str) -> Option<AreaKind> {
        [AreaKind::District, AreaKind::Street]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub fn to_proto(self) -> pb::AreaKind {
        match self {
            AreaKind::District => pb::AreaKind::District,
            AreaKind::Street => pb::AreaKind::Street,
        }
    }

    pub fn from_proto(value: i32) -> Option<AreaKind> {
        match pb::AreaKind::try_from(value) {
            Ok(pb::AreaKind::District) => Some(AreaKind::District),
            Ok(pb::AreaKind::Street) => Some(AreaKind::Street),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub kind: AreaKind,
    /// District of a street.
    pub parent: Option<String>,
}

/// What kind of handling unit (承办单位) a unit is: the classes units are
/// evaluated by, and what may blow the whistle (街乡吹哨).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A municipal department or agency (市级部门).
    Department,
    /// A public utility (公共服务企业): water, power, gas, heating, transit.
    Utility,
    /// A district government (区人民政府), generated for each district.
    DistrictGovernment,
    /// A street office or township (街道办事处、乡镇政府), generated for each
    /// street.
    Street,
}

impl UnitKind {
    pub const ALL: [UnitKind; 4] = [
        UnitKind::Department,
        UnitKind::Utility,
        UnitKind::DistrictGovernment,
        UnitKind::Street,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Utility => "utility",
            UnitKind::DistrictGovernment => "district-government",
            UnitKind::Street => "street",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Generated from the areas, never listed in a catalogue file.
    pub fn is_generated(self) -> bool {
        matches!(self, UnitKind::DistrictGovernment | UnitKind::Street)
    }

    pub fn to_proto(self) -> pb::UnitKind {
        match self {
            UnitKind::Department => pb::UnitKind::Department,
            UnitKind::Utility => pb::UnitKind::Utility,
            UnitKind::DistrictGovernment => pb::UnitKind::DistrictGovernment,
            UnitKind::Street => pb::UnitKind::Street,
        }
    }

    /// A kind sent through the API; unspecified (catalogues published
    /// before units had kinds) is a department.
    pub fn from_proto(value: i32) -> Option<UnitKind> {
        match pb::UnitKind::try_from(value) {
            Ok(pb::UnitKind::Unspecified | pb::UnitKind::Department) => Some(UnitKind::Department),
            Ok(pb::UnitKind::Utility) => Some(UnitKind::Utility),
            Ok(pb::UnitKind::DistrictGovernment) => Some(UnitKind::DistrictGovernment),
            Ok(pb::UnitKind::Street) => Some(UnitKind::Street),
            Err(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub kind: UnitKind,
}

impl Unit {
    pub fn to_proto(&self) -> pb::Unit {
        pb::Unit {
            unit_id: self.id.to_string(),
            name: self.name.clone(),
            kind: self.kind.to_proto() as i32,
        }
    }
}

/// A unit named by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRef {
    Unit(UnitId),
    /// `@district`: the district government of the request's district.
    DistrictGovernment,
    /// `@street`: the street office of the request's street, or the
    /// district government when the request has no street.
    StreetOffice,
}

impl UnitRef {
    pub fn as_text(&self) -> &str {
        match self {
            UnitRef::Unit(id) => id.as_str(),
            UnitRef::DistrictGovernment => "@district",
            UnitRef::StreetOffice => "@street",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub category: String,
    pub area: Option<String>,
    pub lead: UnitRef,
    pub co: Vec<UnitRef>,
}

/// Why a route goes where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A rule named the unit(s) (权责明确).
    CatalogueRule,
    /// No rule: the district government (区人民政府).
    DistrictGovernment,
}

impl Basis {
    pub fn to_proto(self) -> pb::RoutingBasis {
        match self {
            Basis::CatalogueRule => pb::RoutingBasis::CatalogueRule,
            Basis::DistrictGovernment => pb::RoutingBasis::DistrictGovernment,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub basis: Basis,
    pub lead: Unit,
    pub co: Vec<Unit>,
}

/// Why a request cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The operator left the category open: a dispatcher classifies it.
    NoCategory,
    /// The request says no district: a dispatcher must place it.
    NoDistrict,
    UnknownCategory(String),
    UnknownDistrict(String),
    UnknownStreet(String),
}

/// Every problem in a catalogue, reported at once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid dispatch catalogue: {}", .0.join("; "))]
pub struct CatalogueError(pub Vec<String>);

/// A catalogue that passed every check (see `load`).
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub version: String,
    pub categories: Vec<Category>,
    pub areas: Vec<Area>,
    /// Departments and utilities, then the generated district governments
    /// and street offices.
    pub units: Vec<Unit>,
    pub(super) rules: HashMap<(String, Option<String>), Rule>,
    /// The rules in the order they were given.
    pub(super) rule_order: Vec<(String, Option<String>)>,
    pub(super) category_parent: HashMap<String, Option<String>>,
    pub(super) area_index: HashMap<String, usize>,
    pub(super) unit_index: HashMap<String, usize>,
}

impl Catalogue {
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.unit_index.get(id).map(|&i| &self.units[i])
    }

    pub fn area(&self, code: &str) -> Option<&Area> {
        self.area_index.get(code).map(|&i| &self.areas[i])
    }

    pub fn rule_count(&self) -> usize {
        self.rule_order.len()
    }

    /// The rules in the order they were given.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rule_order.iter().filter_map(|k| self.rules.get(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_both_ways() {
        for k in UnitKind::ALL {
            assert_eq!(UnitKind::parse(k.as_str()), Some(k));
            assert_eq!(UnitKind::from_proto(k.to_proto() as i32), Some(k));
        }
        assert_eq!(UnitKind::from_proto(0), Some(UnitKind::Department));
        assert_eq!(UnitKind::from_proto(99), None);
        for k in [AreaKind::District, AreaKind::Street] {
            assert_eq!(AreaKind::parse(k.as_str()), Some(k));
            assert_eq!(AreaKind::from_proto(k.to_proto() as i32), Some(k));
        }
        assert_eq!(AreaKind::from_proto(0), None);
    }
}
