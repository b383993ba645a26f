//! Routing by category (分类派单), in the standard's order. Pure.
//!
//! 1. a rule names the unit (权责明确): the most specific category first
//!    (the request's own, then its parents), and for each the most specific
//!    area (street, then district, then the whole city);
//! 2. a rule naming several units gives one lead unit and co-units;
//! 3. no rule matches (无法直接派单): the district government (区人民政府).

use hotline_common::ApiError;
use hotline_common::ids::{AreaCode, CategoryCode};

use super::model::*;

impl RouteError {
    /// The refusal as INVALID_ARGUMENT naming the field (after `prefix`,
    /// e.g. "reroute."), for a caller who named the codes.
    pub fn invalid(self, prefix: &str) -> ApiError {
        let (field, problem) = match self {
            RouteError::NoCategory => (
                "category_code",
                "the request has no category: give one".to_string(),
            ),
            RouteError::NoDistrict => (
                "district_code",
                "the request names no district: give one".to_string(),
            ),
            RouteError::UnknownCategory(c) => ("category_code", format!("unknown category {c:?}")),
            RouteError::UnknownDistrict(d) => ("district_code", format!("unknown district {d:?}")),
            RouteError::UnknownStreet(s) => (
                "street_code",
                format!("unknown street {s:?} in the district"),
            ),
        };
        ApiError::invalid(&format!("{prefix}{field}"), &problem)
    }
}

/// At most this many other districts on one request.
pub const MAX_OTHER_DISTRICTS: usize = 4;

impl Catalogue {
    /// A matter that spans other districts (跨区): when the route's lead is
    /// an area's own (a district government or a street office), the other
    /// districts' governments join as co-units, in the order given, after
    /// the route's own. A route to a city department or utility is the
    /// city's already and stays as it is.
    pub fn spanning(&self, mut route: Route, others: &[AreaCode]) -> Result<Route, RouteError> {
        if !matches!(
            route.lead.kind,
            UnitKind::DistrictGovernment | UnitKind::Street
        ) {
            return Ok(route);
        }
        for d in others {
            let gov = self
                .area(d.as_str())
                .filter(|a| a.kind == AreaKind::District)
                .and_then(|_| self.unit(&format!("{DISTRICT_GOV_PREFIX}{}", d.as_str())))
                .ok_or_else(|| RouteError::UnknownDistrict(d.to_string()))?;
            if gov.id != route.lead.id && !route.co.iter().any(|u| u.id == gov.id) {
                route.co.push(gov.clone());
            }
        }
        Ok(route)
    }

    /// Routes a request of `category` located in `district` (and `street`).
    pub fn route(
        &self,
        category: &CategoryCode,
        district: Option<&AreaCode>,
        street: Option<&AreaCode>,
    ) -> Result<Route, RouteError> {
        let category = category.as_str();
        if !self.category_parent.contains_key(category) {
            return Err(RouteError::UnknownCategory(category.to_string()));
        }
        let Some(district) = district.map(AreaCode::as_str) else {
            return Err(RouteError::NoDistrict);
        };
        if self
            .area(district)
            .is_none_or(|a| a.kind != AreaKind::District)
        {
            return Err(RouteError::UnknownDistrict(district.to_string()));
        }
        let street = street.map(AreaCode::as_str);
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
    use super::super::fixture::small;
    use super::*;
    use hotline_common::ids::Id;

    fn cat(s: &str) -> CategoryCode {
        CategoryCode::parse(s).unwrap()
    }

    fn area(s: &str) -> AreaCode {
        AreaCode::parse(s).unwrap()
    }

    fn route(c: &Catalogue, category: &str, district: &str, street: Option<&str>) -> Route {
        c.route(
            &cat(category),
            Some(&area(district)),
            street.map(area).as_ref(),
        )
        .unwrap()
    }

    #[test]
    fn a_clear_rule_gives_lead_and_co_units_without_repeats() {
        let r = route(&small(), "heating", "110105", None);
        assert_eq!(r.basis, Basis::CatalogueRule);
        assert_eq!(r.lead.id.as_str(), "heat-co");
        assert_eq!(
            r.co.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["cmc"]
        );
    }

    #[test]
    fn the_most_specific_area_wins() {
        let r = route(&small(), "heating", "110116", None);
        assert_eq!(r.lead.id.as_str(), "district-gov-110116");
        assert_eq!(r.lead.name, "怀柔区人民政府");
        assert_eq!(r.lead.kind, UnitKind::DistrictGovernment);
    }

    #[test]
    fn a_child_without_rules_uses_its_parent() {
        assert_eq!(
            route(&small(), "water", "110105", None).lead.id.as_str(),
            "cmc"
        );
    }

    #[test]
    fn street_office_or_district_when_no_street() {
        let c = small();
        let with = route(&c, "noise", "110105", Some("110105001"));
        assert_eq!(with.lead.id.as_str(), "street-110105001");
        assert_eq!(with.lead.kind, UnitKind::Street);
        assert_eq!(with.co[0].id.as_str(), "district-gov-110105");
        let without = route(&c, "noise", "110105", None);
        assert_eq!(without.lead.id.as_str(), "district-gov-110105");
        assert!(without.co.is_empty(), "the lead is not repeated as co-unit");
    }

    #[test]
    fn a_matter_across_districts_adds_their_governments_to_an_area_lead() {
        let c = small();
        let others = [area("110116")];
        let r = c
            .spanning(route(&c, "noise", "110105", Some("110105001")), &others)
            .unwrap();
        assert_eq!(
            r.co.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["district-gov-110105", "district-gov-110116"]
        );
        // A city department leads for the whole city: nothing added.
        let r = c
            .spanning(route(&c, "heating", "110105", None), &others)
            .unwrap();
        assert_eq!(r.lead.id.as_str(), "heat-co");
        assert_eq!(r.co.len(), 1);
        assert_eq!(
            c.spanning(route(&c, "noise", "110105", None), &[area("999")]),
            Err(RouteError::UnknownDistrict("999".into()))
        );
    }

    #[test]
    fn no_rule_goes_to_the_district_government() {
        let r = route(&small(), "consult", "110105", None);
        assert_eq!(r.basis, Basis::DistrictGovernment);
        assert_eq!(r.lead.id.as_str(), "district-gov-110105");
    }

    #[test]
    fn unknown_codes_and_no_district_are_refused() {
        let c = small();
        assert_eq!(
            c.route(&cat("x"), Some(&area("110105")), None),
            Err(RouteError::UnknownCategory("x".into()))
        );
        assert_eq!(
            c.route(&cat("heating"), Some(&area("999")), None),
            Err(RouteError::UnknownDistrict("999".into()))
        );
        assert_eq!(
            c.route(
                &cat("heating"),
                Some(&area("110116")),
                Some(&area("110105001"))
            ),
            Err(RouteError::UnknownStreet("110105001".into()))
        );
        assert_eq!(
            c.route(&cat("heating"), None, None),
            Err(RouteError::NoDistrict),
            "no district: a dispatcher places it"
        );
    }

    #[test]
    fn the_beijing_catalogue_routes_heating_by_rule() {
        let r = route(&Catalogue::beijing(), "heating", "110105", None);
        assert_eq!(r.basis, Basis::CatalogueRule);
    }
}
