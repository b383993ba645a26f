//! The dispatch catalogue (派单目录) and routing by category (分类派单).
//! Pure: parsing and routing touch no IO.
//!
//! Routing, in the standard's order:
//! 1. a rule names the unit (权责明确): the most specific category first
//!    (the request's own, then its parents), and for each the most specific
//!    area (street, then district, then the whole city);
//! 2. a rule naming several units gives one lead unit and co-units;
//! 3. no rule matches (无法直接派单): the district government (区人民政府).

use std::collections::{HashMap, HashSet};

use hotline_proto::dispatch::v1 as pb;
use serde::Deserialize;

/// The Beijing sample catalogue, compiled in as the default.
pub const BEIJING_CATALOGUE_TOML: &str = include_str!("../catalogue/beijing.toml");

pub const DISTRICT_GOV_PREFIX: &str = "district-gov-";
pub const STREET_OFFICE_PREFIX: &str = "street-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    District,
    Street,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub kind: AreaKind,
    /// District of a street.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub name: String,
}

/// A unit named by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRef {
    Unit(String),
    /// `@district`: the district government of the request's district.
    DistrictGovernment,
    /// `@street`: the street office of the request's street, or the
    /// district government when the request has no street.
    StreetOffice,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub category: String,
    pub area: Option<String>,
    pub lead: UnitRef,
    pub co: Vec<UnitRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    CatalogueRule,
    DistrictGovernment,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub basis: Basis,
    pub lead: Unit,
    pub co: Vec<Unit>,
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub version: String,
    pub categories: Vec<Category>,
    pub areas: Vec<Area>,
    /// Departments and utilities, then the generated district governments
    /// and street offices.
    pub units: Vec<Unit>,
    rules: HashMap<(String, Option<String>), Rule>,
    /// The rules in the order they were given.
    rule_order: Vec<(String, Option<String>)>,
    category_parent: HashMap<String, Option<String>>,
    area_index: HashMap<String, usize>,
    unit_index: HashMap<String, usize>,
}

/// Every problem in a catalogue file, reported at once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid dispatch catalogue: {}", .0.join("; "))]
pub struct CatalogueError(pub Vec<String>);

/// Why a request cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The request says no district: a dispatcher must place it.
    NoDistrict,
    UnknownCategory(String),
    UnknownDistrict(String),
    UnknownStreet(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    version: String,
    #[serde(default)]
    categories: Vec<RawCategory>,
    #[serde(default)]
    units: Vec<RawUnit>,
    #[serde(default)]
    areas: Vec<RawArea>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    code: String,
    name: String,
    parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    code: String,
    name: String,
    kind: String,
    parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    category: String,
    area: Option<String>,
    lead: String,
    #[serde(default)]
    co: Vec<String>,
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Catalogue {
    pub fn beijing() -> Catalogue {
        Catalogue::from_toml(BEIJING_CATALOGUE_TOML)
            .expect("the built-in Beijing catalogue is valid")
    }

    pub fn from_toml(text: &str) -> Result<Catalogue, CatalogueError> {
        let raw: RawCatalogue =
            toml::from_str(text).map_err(|e| CatalogueError(vec![e.to_string()]))?;
        Catalogue::from_raw(raw)
    }

    /// Reads a catalogue sent through the API. Generated units (district
    /// governments, street offices) are left out: they come from the areas.
    pub fn from_proto(c: &pb::Catalogue) -> Result<Catalogue, CatalogueError> {
        let raw = RawCatalogue {
            version: c.version.clone(),
            categories: c
                .categories
                .iter()
                .map(|x| RawCategory {
                    code: x.code.clone(),
                    name: x.name.clone(),
                    parent: Some(x.parent_code.clone()).filter(|p| !p.is_empty()),
                })
                .collect(),
            units: c
                .units
                .iter()
                .filter(|u| {
                    !u.unit_id.starts_with(DISTRICT_GOV_PREFIX)
                        && !u.unit_id.starts_with(STREET_OFFICE_PREFIX)
                })
                .map(|u| RawUnit {
                    id: u.unit_id.clone(),
                    name: u.name.clone(),
                })
                .collect(),
            areas: c
                .areas
                .iter()
                .map(|a| RawArea {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    kind: match pb::AreaKind::try_from(a.kind) {
                        Ok(pb::AreaKind::District) => "district",
                        Ok(pb::AreaKind::Street) => "street",
                        _ => "unspecified",
                    }
                    .to_string(),
                    parent: Some(a.parent_code.clone()).filter(|p| !p.is_empty()),
                })
                .collect(),
            rules: c
                .rules
                .iter()
                .map(|r| RawRule {
                    category: r.category_code.clone(),
                    area: Some(r.area_code.clone()).filter(|a| !a.is_empty()),
                    lead: r.lead.clone(),
                    co: r.co.clone(),
                })
                .collect(),
        };
        Catalogue::from_raw(raw)
    }

    /// The catalogue as the API shows it, generated units and rules included.
    pub fn to_proto(&self) -> pb::Catalogue {
        let unit_ref = |r: &UnitRef| match r {
            UnitRef::Unit(id) => id.clone(),
            UnitRef::DistrictGovernment => "@district".to_string(),
            UnitRef::StreetOffice => "@street".to_string(),
        };
        pb::Catalogue {
            version: self.version.clone(),
            categories: self
                .categories
                .iter()
                .map(|x| pb::Category {
                    code: x.code.clone(),
                    name: x.name.clone(),
                    parent_code: x.parent.clone().unwrap_or_default(),
                })
                .collect(),
            areas: self
                .areas
                .iter()
                .map(|a| pb::Area {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    kind: match a.kind {
                        AreaKind::District => pb::AreaKind::District,
                        AreaKind::Street => pb::AreaKind::Street,
                    } as i32,
                    parent_code: a.parent.clone().unwrap_or_default(),
                })
                .collect(),
            units: self
                .units
                .iter()
                .map(|u| pb::Unit {
                    unit_id: u.id.clone(),
                    name: u.name.clone(),
                })
                .collect(),
            rules: self
                .rule_order
                .iter()
                .filter_map(|k| self.rules.get(k))
                .map(|r| pb::Rule {
                    category_code: r.category.clone(),
                    area_code: r.area.clone().unwrap_or_default(),
                    lead: unit_ref(&r.lead),
                    co: r.co.iter().map(unit_ref).collect(),
                })
                .collect(),
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rule_order.len()
    }

    fn from_raw(raw: RawCatalogue) -> Result<Catalogue, CatalogueError> {
        let mut errors = Vec::new();
        if raw.version.trim().is_empty() {
            errors.push("version: missing".to_string());
        }

        let mut category_parent = HashMap::new();
        for c in &raw.categories {
            if !is_code(&c.code) {
                errors.push(format!(
                    "category {:?}: code must be lowercase ascii, digits, '-'",
                    c.code
                ));
            }
            if category_parent
                .insert(c.code.clone(), c.parent.clone())
                .is_some()
            {
                errors.push(format!("category {:?}: defined twice", c.code));
            }
        }
        for c in &raw.categories {
            if let Some(p) = &c.parent
                && !category_parent.contains_key(p)
            {
                errors.push(format!("category {:?}: unknown parent {p:?}", c.code));
            }
        }
        // A parent chain must end: no cycles.
        for c in &raw.categories {
            let mut seen = HashSet::new();
            let mut at = Some(c.code.clone());
            while let Some(code) = at {
                if !seen.insert(code.clone()) {
                    errors.push(format!("category {:?}: parent chain loops", c.code));
                    break;
                }
                at = category_parent.get(&code).cloned().flatten();
            }
        }

        let mut areas = Vec::new();
        let mut area_index = HashMap::new();
        for a in &raw.areas {
            let kind = match a.kind.as_str() {
                "district" => AreaKind::District,
                "street" => AreaKind::Street,
                other => {
                    errors.push(format!(
                        "area {:?}: kind {other:?} is neither district nor street",
                        a.code
                    ));
                    continue;
                }
            };
            if area_index.insert(a.code.clone(), areas.len()).is_some() {
                errors.push(format!("area {:?}: defined twice", a.code));
            }
            areas.push(Area {
                code: a.code.clone(),
                name: a.name.clone(),
                kind,
                parent: a.parent.clone(),
            });
        }
        for a in &areas {
            match (a.kind, &a.parent) {
                (AreaKind::Street, None) => errors.push(format!(
                    "area {:?}: a street needs its district as parent",
                    a.code
                )),
                (AreaKind::Street, Some(p)) => {
                    let ok = area_index
                        .get(p)
                        .is_some_and(|&i| areas[i].kind == AreaKind::District);
                    if !ok {
                        errors.push(format!("area {:?}: parent {p:?} is not a district", a.code));
                    }
                }
                (AreaKind::District, Some(_)) => {
                    errors.push(format!("area {:?}: a district has no parent", a.code))
                }
                (AreaKind::District, None) => {}
            }
        }

        let mut units = Vec::new();
        let mut unit_index = HashMap::new();
        for u in &raw.units {
            if !is_code(&u.id) {
                errors.push(format!(
                    "unit {:?}: id must be lowercase ascii, digits, '-'",
                    u.id
                ));
            }
            if u.id.starts_with(DISTRICT_GOV_PREFIX) || u.id.starts_with(STREET_OFFICE_PREFIX) {
                errors.push(format!("unit {:?}: ids starting with {DISTRICT_GOV_PREFIX:?} or {STREET_OFFICE_PREFIX:?} are generated", u.id));
            }
            if unit_index.insert(u.id.clone(), units.len()).is_some() {
                errors.push(format!("unit {:?}: defined twice", u.id));
            }
            units.push(Unit {
                id: u.id.clone(),
                name: u.name.clone(),
            });
        }
        for a in &areas {
            let unit = match a.kind {
                AreaKind::District => Unit {
                    id: format!("{DISTRICT_GOV_PREFIX}{}", a.code),
                    name: format!("{}人民政府", a.name),
                },
                AreaKind::Street => Unit {
                    id: format!("{STREET_OFFICE_PREFIX}{}", a.code),
                    name: a.name.clone(),
                },
            };
            unit_index.insert(unit.id.clone(), units.len());
            units.push(unit);
        }

        let mut rules = HashMap::new();
        let mut rule_order = Vec::new();
        for (i, r) in raw.rules.iter().enumerate() {
            let at = format!(
                "rule {} ({}{})",
                i + 1,
                r.category,
                r.area
                    .as_deref()
                    .map(|a| format!(" in {a}"))
                    .unwrap_or_default()
            );
            if !category_parent.contains_key(&r.category) {
                errors.push(format!("{at}: unknown category {:?}", r.category));
            }
            if let Some(a) = &r.area
                && !area_index.contains_key(a)
            {
                errors.push(format!("{at}: unknown area {a:?}"));
            }
            let mut parse_ref = |s: &str| match s {
                "@district" => Some(UnitRef::DistrictGovernment),
                "@street" => Some(UnitRef::StreetOffice),
                id if unit_index.contains_key(id) => Some(UnitRef::Unit(id.to_string())),
                id => {
                    errors.push(format!("{at}: unknown unit {id:?}"));
                    None
                }
            };
            let lead = parse_ref(&r.lead);
            let co: Vec<UnitRef> = r.co.iter().filter_map(|c| parse_ref(c)).collect();
            if let Some(lead) = lead {
                let key = (r.category.clone(), r.area.clone());
                let rule = Rule {
                    category: r.category.clone(),
                    area: r.area.clone(),
                    lead,
                    co,
                };
                rule_order.push(key.clone());
                if rules.insert(key, rule).is_some() {
                    errors.push(format!(
                        "{at}: a rule for this category and area exists already"
                    ));
                }
            }
        }

        if !errors.is_empty() {
            return Err(CatalogueError(errors));
        }
        Ok(Catalogue {
            version: raw.version,
            categories: raw
                .categories
                .into_iter()
                .map(|c| Category {
                    code: c.code,
                    name: c.name,
                    parent: c.parent,
                })
                .collect(),
            areas,
            units,
            rules,
            rule_order,
            category_parent,
            area_index,
            unit_index,
        })
    }

    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.unit_index.get(id).map(|&i| &self.units[i])
    }

    fn area(&self, code: &str) -> Option<&Area> {
        self.area_index.get(code).map(|&i| &self.areas[i])
    }

    /// Routes a request of `category` located in `district` (and `street`).
    pub fn route(
        &self,
        category: &str,
        district: &str,
        street: Option<&str>,
    ) -> Result<Route, RouteError> {
        if !self.category_parent.contains_key(category) {
            return Err(RouteError::UnknownCategory(category.to_string()));
        }
        if district.is_empty() {
            return Err(RouteError::NoDistrict);
        }
        if self
            .area(district)
            .is_none_or(|a| a.kind != AreaKind::District)
        {
            return Err(RouteError::UnknownDistrict(district.to_string()));
        }
        if let Some(s) = street
            && self
                .area(s)
                .is_none_or(|a| a.kind != AreaKind::Street || a.parent.as_deref() != Some(district))
        {
            return Err(RouteError::UnknownStreet(s.to_string()));
        }
        let district_gov = self
            .unit(&format!("{DISTRICT_GOV_PREFIX}{district}"))
            .cloned()
            .expect("every district has a generated government unit");
        let resolve = |r: &UnitRef| -> Unit {
            match r {
                UnitRef::Unit(id) => self.unit(id).cloned().expect("checked at load"),
                UnitRef::DistrictGovernment => district_gov.clone(),
                UnitRef::StreetOffice => street
                    .and_then(|s| self.unit(&format!("{STREET_OFFICE_PREFIX}{s}")))
                    .cloned()
                    .unwrap_or_else(|| district_gov.clone()),
            }
        };
        // Street (when given), then district, then the whole city.
        let areas: Vec<Option<&str>> = street
            .map(Some)
            .into_iter()
            .chain([Some(district), None])
            .collect();
        let mut at = Some(category.to_string());
        while let Some(cat) = at {
            for area in &areas {
                if let Some(rule) = self.rules.get(&(cat.clone(), area.map(str::to_string))) {
                    let lead = resolve(&rule.lead);
                    let mut co: Vec<Unit> = Vec::new();
                    for c in &rule.co {
                        let u = resolve(c);
                        if u.id != lead.id && !co.iter().any(|x| x.id == u.id) {
                            co.push(u);
                        }
                    }
                    return Ok(Route {
                        basis: Basis::CatalogueRule,
                        lead,
                        co,
                    });
                }
            }
            at = self.category_parent.get(&cat).cloned().flatten();
        }
        Ok(Route {
            basis: Basis::DistrictGovernment,
            lead: district_gov,
            co: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
        version = "t1"
        [[categories]]
        code = "utilities"
        name = "水电气热"
        [[categories]]
        code = "heating"
        name = "供暖"
        parent = "utilities"
        [[categories]]
        code = "water"
        name = "供水"
        parent = "utilities"
        [[categories]]
        code = "noise"
        name = "噪声"
        [[categories]]
        code = "consult"
        name = "咨询"
        [[units]]
        id = "heat-co"
        name = "热力集团"
        [[units]]
        id = "cmc"
        name = "城管委"
        [[areas]]
        code = "110105"
        name = "朝阳区"
        kind = "district"
        [[areas]]
        code = "110116"
        name = "怀柔区"
        kind = "district"
        [[areas]]
        code = "110105001"
        name = "建外街道"
        kind = "street"
        parent = "110105"
        [[rules]]
        category = "heating"
        lead = "heat-co"
        co = ["cmc", "heat-co"]
        [[rules]]
        category = "heating"
        area = "110116"
        lead = "@district"
        co = ["heat-co"]
        [[rules]]
        category = "utilities"
        lead = "cmc"
        [[rules]]
        category = "noise"
        lead = "@street"
        co = ["@district"]
    "#;

    fn cat() -> Catalogue {
        Catalogue::from_toml(SMALL).unwrap()
    }

    #[test]
    fn a_clear_rule_gives_lead_and_co_units_without_repeats() {
        let r = cat().route("heating", "110105", None).unwrap();
        assert_eq!(r.basis, Basis::CatalogueRule);
        assert_eq!(r.lead.id, "heat-co");
        assert_eq!(
            r.co.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["cmc"]
        );
    }

    #[test]
    fn the_most_specific_area_wins() {
        let r = cat().route("heating", "110116", None).unwrap();
        assert_eq!(r.lead.id, "district-gov-110116");
        assert_eq!(r.lead.name, "怀柔区人民政府");
    }

    #[test]
    fn a_child_without_rules_uses_its_parent() {
        assert_eq!(cat().route("water", "110105", None).unwrap().lead.id, "cmc");
    }

    #[test]
    fn street_office_or_district_when_no_street() {
        let c = cat();
        let with = c.route("noise", "110105", Some("110105001")).unwrap();
        assert_eq!(with.lead.id, "street-110105001");
        assert_eq!(with.co[0].id, "district-gov-110105");
        let without = c.route("noise", "110105", None).unwrap();
        assert_eq!(without.lead.id, "district-gov-110105");
        assert!(without.co.is_empty(), "the lead is not repeated as co-unit");
    }

    #[test]
    fn no_rule_goes_to_the_district_government() {
        let r = cat().route("consult", "110105", None).unwrap();
        assert_eq!(r.basis, Basis::DistrictGovernment);
        assert_eq!(r.lead.id, "district-gov-110105");
    }

    #[test]
    fn unknown_codes_are_refused() {
        let c = cat();
        assert_eq!(
            c.route("x", "110105", None),
            Err(RouteError::UnknownCategory("x".into()))
        );
        assert_eq!(
            c.route("heating", "999", None),
            Err(RouteError::UnknownDistrict("999".into()))
        );
        assert_eq!(
            c.route("heating", "110116", Some("110105001")),
            Err(RouteError::UnknownStreet("110105001".into()))
        );
    }

    #[test]
    fn a_catalogue_survives_the_api_and_back() {
        let c = Catalogue::beijing();
        let back = Catalogue::from_proto(&c.to_proto()).unwrap();
        assert_eq!(back.to_proto(), c.to_proto());
        assert_eq!(back.rule_count(), c.rule_count());
        assert_eq!(
            c.route("heating", "", None),
            Err(RouteError::NoDistrict),
            "no district: a dispatcher places it"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = SMALL
            .replace("lead = \"cmc\"", "lead = \"nobody\"")
            .replace("parent = \"110105\"", "parent = \"999\"")
            + "\n[[rules]]\ncategory = \"ghost\"\nlead = \"cmc\"\n[[rules]]\ncategory = \"noise\"\nlead = \"cmc\"\n";
        let e = Catalogue::from_toml(&bad).unwrap_err().0.join("\n");
        for needle in [
            "unknown unit \"nobody\"",
            "parent \"999\" is not a district",
            "unknown category \"ghost\"",
            "exists already",
        ] {
            assert!(e.contains(needle), "{needle} not in {e}");
        }
    }

    #[test]
    fn the_beijing_catalogue_loads_with_every_area() {
        let c = Catalogue::beijing();
        let districts = c
            .areas
            .iter()
            .filter(|a| a.kind == AreaKind::District)
            .count();
        let streets = c
            .areas
            .iter()
            .filter(|a| a.kind == AreaKind::Street)
            .count();
        assert_eq!((districts, streets), (16, 349));
        let r = c.route("heating", "110105", None).unwrap();
        assert_eq!(r.basis, Basis::CatalogueRule);
    }
}
