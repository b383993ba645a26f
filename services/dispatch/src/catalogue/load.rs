//! Reading a catalogue (from its TOML file or from the API) and checking
//! it; showing it through the API. Pure: every problem is reported at once.

use std::collections::{HashMap, HashSet};

use hotline_common::ids::{AreaCode, Id, UnitId};
use hotline_proto::dispatch::v1 as pb;
use serde::Deserialize;

use super::model::*;
use crate::ids::CatalogueVersionId;

/// The Beijing sample catalogue, compiled in as the default.
pub const BEIJING_CATALOGUE_TOML: &str = include_str!("../../catalogue/beijing.toml");

/// Longest display name of a category, area or unit.
pub const MAX_NAME_CHARS: usize = 200;

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
    /// "department" (the default) or "utility".
    kind: Option<String>,
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

/// Category codes and unit ids: lowercase ASCII, digits and '-'.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A display name: 1–200 characters, no control or invisible characters
/// (zero-width, byte-order mark, direction controls).
fn name_problem(name: &str) -> Option<&'static str> {
    let n = name.trim().chars().count();
    if n == 0 {
        Some("name missing")
    } else if n > MAX_NAME_CHARS {
        Some("name longer than 200 characters")
    } else if name.chars().any(char::is_control) {
        Some("name contains control characters")
    } else if name.chars().any(hotline_common::validate::is_invisible) {
        Some("name contains invisible characters")
    } else {
        None
    }
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
        let mut errors = Vec::new();
        let units = c
            .units
            .iter()
            .filter(|u| {
                !u.unit_id.starts_with(DISTRICT_GOV_PREFIX)
                    && !u.unit_id.starts_with(STREET_OFFICE_PREFIX)
            })
            .filter_map(|u| match UnitKind::from_proto(u.kind) {
                Some(k) if k.is_generated() => None,
                Some(k) => Some(RawUnit {
                    id: u.unit_id.clone(),
                    name: u.name.clone(),
                    kind: Some(k.as_str().to_string()),
                }),
                None => {
                    errors.push(format!("unit {:?}: unknown kind {}", u.unit_id, u.kind));
                    None
                }
            })
            .collect();
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
            units,
            areas: c
                .areas
                .iter()
                .map(|a| RawArea {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    kind: AreaKind::from_proto(a.kind)
                        .map_or("unspecified", AreaKind::as_str)
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
        match Catalogue::from_raw(raw) {
            Ok(c) if errors.is_empty() => Ok(c),
            Ok(_) => Err(CatalogueError(errors)),
            Err(CatalogueError(more)) => {
                errors.extend(more);
                Err(CatalogueError(errors))
            }
        }
    }

    /// The catalogue as the API shows it, generated units and rules included.
    pub fn to_proto(&self) -> pb::Catalogue {
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
                    kind: a.kind.to_proto() as i32,
                    parent_code: a.parent.clone().unwrap_or_default(),
                })
                .collect(),
            units: self.units.iter().map(Unit::to_proto).collect(),
            rules: self
                .rules()
                .map(|r| pb::Rule {
                    category_code: r.category.clone(),
                    area_code: r.area.clone().unwrap_or_default(),
                    lead: r.lead.as_text().to_string(),
                    co: r.co.iter().map(|c| c.as_text().to_string()).collect(),
                })
                .collect(),
        }
    }

    fn from_raw(raw: RawCatalogue) -> Result<Catalogue, CatalogueError> {
        let mut errors = Vec::new();
        if let Err(p) = CatalogueVersionId::parse(&raw.version) {
            errors.push(format!("version: {p}"));
        }
        let category_parent = categories(&raw.categories, &mut errors);
        let (areas, area_index) = areas(&raw.areas, &mut errors);
        let (units, unit_index) = units(&raw.units, &areas, &mut errors);
        let (rules, rule_order) = rules(
            &raw.rules,
            &category_parent,
            &area_index,
            &unit_index,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(CatalogueError(errors));
        }
        Ok(Catalogue {
            version: raw.version.trim().to_string(),
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
}

fn categories(raw: &[RawCategory], errors: &mut Vec<String>) -> HashMap<String, Option<String>> {
    let mut parent_of = HashMap::new();
    for c in raw {
        if !is_code(&c.code) {
            errors.push(format!(
                "category {:?}: code must be lowercase ascii, digits, '-'",
                c.code
            ));
        }
        if let Some(p) = name_problem(&c.name) {
            errors.push(format!("category {:?}: {p}", c.code));
        }
        if parent_of.insert(c.code.clone(), c.parent.clone()).is_some() {
            errors.push(format!("category {:?}: defined twice", c.code));
        }
    }
    for c in raw {
        if let Some(p) = &c.parent
            && !parent_of.contains_key(p)
        {
            errors.push(format!("category {:?}: unknown parent {p:?}", c.code));
        }
    }
    // A parent chain must end: no cycles.
    for c in raw {
        let mut seen = HashSet::new();
        let mut at = Some(c.code.clone());
        while let Some(code) = at {
            if !seen.insert(code.clone()) {
                errors.push(format!("category {:?}: parent chain loops", c.code));
                break;
            }
            at = parent_of.get(&code).cloned().flatten();
        }
    }
    parent_of
}

fn areas(raw: &[RawArea], errors: &mut Vec<String>) -> (Vec<Area>, HashMap<String, usize>) {
    let mut areas = Vec::new();
    let mut index = HashMap::new();
    for a in raw {
        let Some(kind) = AreaKind::parse(&a.kind) else {
            errors.push(format!(
                "area {:?}: kind {:?} is neither district nor street",
                a.code, a.kind
            ));
            continue;
        };
        if let Err(p) = AreaCode::parse(&a.code) {
            errors.push(format!("area {:?}: code {p}", a.code));
        }
        if let Some(p) = name_problem(&a.name) {
            errors.push(format!("area {:?}: {p}", a.code));
        }
        if index.insert(a.code.clone(), areas.len()).is_some() {
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
                let ok = index
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
    (areas, index)
}

/// The listed units, then one generated per district and per street.
fn units(
    raw: &[RawUnit],
    areas: &[Area],
    errors: &mut Vec<String>,
) -> (Vec<Unit>, HashMap<String, usize>) {
    let mut units = Vec::new();
    let mut index = HashMap::new();
    for u in raw {
        let id = match UnitId::parse(&u.id) {
            Ok(id) if is_code(&u.id) => id,
            _ => {
                errors.push(format!(
                    "unit {:?}: id must be lowercase ascii, digits, '-'",
                    u.id
                ));
                continue;
            }
        };
        if u.id.starts_with(DISTRICT_GOV_PREFIX) || u.id.starts_with(STREET_OFFICE_PREFIX) {
            errors.push(format!(
                "unit {:?}: ids starting with {DISTRICT_GOV_PREFIX:?} or \
                 {STREET_OFFICE_PREFIX:?} are generated",
                u.id
            ));
        }
        let kind = match u.kind.as_deref().map(|k| (k, UnitKind::parse(k))) {
            None => UnitKind::Department,
            Some((_, Some(k))) if !k.is_generated() => k,
            Some((k, _)) => {
                errors.push(format!(
                    "unit {:?}: kind {k:?} is neither department nor utility",
                    u.id
                ));
                UnitKind::Department
            }
        };
        if let Some(p) = name_problem(&u.name) {
            errors.push(format!("unit {:?}: {p}", u.id));
        }
        if index.insert(u.id.clone(), units.len()).is_some() {
            errors.push(format!("unit {:?}: defined twice", u.id));
        }
        units.push(Unit {
            id,
            name: u.name.clone(),
            kind,
        });
    }
    for a in areas {
        let (id, name, kind) = match a.kind {
            AreaKind::District => (
                format!("{DISTRICT_GOV_PREFIX}{}", a.code),
                format!("{}人民政府", a.name),
                UnitKind::DistrictGovernment,
            ),
            AreaKind::Street => (
                format!("{STREET_OFFICE_PREFIX}{}", a.code),
                a.name.clone(),
                UnitKind::Street,
            ),
        };
        // Area codes were checked as codes, so the ids are well formed.
        let Ok(id) = UnitId::parse(&id) else { continue };
        index.insert(id.to_string(), units.len());
        units.push(Unit { id, name, kind });
    }
    (units, index)
}

type Rules = (
    HashMap<(String, Option<String>), Rule>,
    Vec<(String, Option<String>)>,
);

fn rules(
    raw: &[RawRule],
    category_parent: &HashMap<String, Option<String>>,
    area_index: &HashMap<String, usize>,
    unit_index: &HashMap<String, usize>,
    errors: &mut Vec<String>,
) -> Rules {
    let mut rules = HashMap::new();
    let mut order = Vec::new();
    for (i, r) in raw.iter().enumerate() {
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
            id if unit_index.contains_key(id) => UnitId::parse(id).ok().map(UnitRef::Unit),
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
            order.push(key.clone());
            if rules.insert(key, rule).is_some() {
                errors.push(format!(
                    "{at}: a rule for this category and area exists already"
                ));
            }
        }
    }
    (rules, order)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{SMALL, small};
    use super::*;

    #[test]
    fn units_have_kinds_and_generated_ones_come_from_the_areas() {
        let c = small();
        let kind = |id: &str| c.unit(id).map(|u| u.kind);
        assert_eq!(kind("heat-co"), Some(UnitKind::Utility));
        assert_eq!(kind("cmc"), Some(UnitKind::Department));
        assert_eq!(
            kind("district-gov-110105"),
            Some(UnitKind::DistrictGovernment)
        );
        assert_eq!(kind("street-110105001"), Some(UnitKind::Street));
        assert_eq!(
            c.unit("district-gov-110105").unwrap().name,
            "朝阳区人民政府"
        );
    }

    #[test]
    fn a_catalogue_survives_the_api_and_back() {
        let c = Catalogue::beijing();
        let back = Catalogue::from_proto(&c.to_proto()).unwrap();
        assert_eq!(back.to_proto(), c.to_proto());
        assert_eq!(back.rule_count(), c.rule_count());
        let heating = c.unit("bj-heating-group").unwrap();
        assert_eq!(heating.kind, UnitKind::Utility);
        assert_eq!(c.unit("bj-housing").unwrap().kind, UnitKind::Department);
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = SMALL
            .replace("lead = \"cmc\"", "lead = \"nobody\"")
            .replace("parent = \"110105\"", "parent = \"999\"")
            .replace("kind = \"utility\"", "kind = \"street\"")
            .replace("name = \"城管委\"", "name = \"城管\\u0000委\"")
            .replace("version = \"t1\"", "version = \"t 1\"")
            + "\n[[rules]]\ncategory = \"ghost\"\nlead = \"cmc\"\n[[rules]]\ncategory = \"noise\"\nlead = \"cmc\"\n";
        let e = Catalogue::from_toml(&bad).unwrap_err().0.join("\n");
        for needle in [
            "unknown unit \"nobody\"",
            "parent \"999\" is not a district",
            "unknown category \"ghost\"",
            "exists already",
            "kind \"street\" is neither department nor utility",
            "unit \"cmc\": name contains control characters",
            "version: only letters",
        ] {
            assert!(e.contains(needle), "{needle} not in {e}");
        }
    }

    #[test]
    fn an_api_catalogue_is_checked_like_a_file() {
        let mut p = small().to_proto();
        p.version = "v\u{0}".into();
        p.units.push(pb::Unit {
            unit_id: "odd".into(),
            name: "x".into(),
            kind: 42,
        });
        p.areas[0].code = "11 01".into();
        let e = Catalogue::from_proto(&p).unwrap_err().0.join("\n");
        for needle in ["version:", "unknown kind 42", "area \"11 01\": code"] {
            assert!(e.contains(needle), "{needle} not in {e}");
        }
    }

    #[test]
    fn the_beijing_catalogue_loads_with_every_area() {
        let c = Catalogue::beijing();
        let count = |k| c.areas.iter().filter(|a| a.kind == k).count();
        assert_eq!(
            (count(AreaKind::District), count(AreaKind::Street)),
            (16, 349)
        );
        let streets = c
            .units
            .iter()
            .filter(|u| u.kind == UnitKind::Street)
            .count();
        assert_eq!(streets, 349);
    }
}
