//! Special inspections (专项督查、实地督查): which units supervision offers
//! for one. The units ranking lowest in the evaluation (the bottom `bottom`
//! of each unit class), and those where problems concentrate (more than
//! `cases_per_hundred` supervision cases per hundred assignments due to be
//! signed in the period).

use serde::Deserialize;

/// The inspections section.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspections {
    /// How many of each class's lowest-ranked units are offered.
    pub bottom: u32,
    /// Cases per hundred assignments above which a unit is offered.
    pub cases_per_hundred: f64,
}

impl Default for Inspections {
    fn default() -> Self {
        Inspections {
            bottom: 3,
            cases_per_hundred: 10.0,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInspections {
    bottom: Option<u32>,
    cases_per_hundred: Option<f64>,
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawInspections) -> Inspections {
    let d = Inspections::default();
    let bottom = raw.bottom.unwrap_or(d.bottom);
    if bottom == 0 {
        errors.push("inspections.bottom: must be at least 1".into());
    }
    let cases_per_hundred = raw.cases_per_hundred.unwrap_or(d.cases_per_hundred);
    if !(cases_per_hundred.is_finite() && cases_per_hundred > 0.0) {
        errors.push("inspections.cases_per_hundred: must be a number above 0".into());
    }
    Inspections {
        bottom,
        cases_per_hundred,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        crate::check_section(
            parse,
            RawInspections {
                bottom: Some(0),
                cases_per_hundred: Some(f64::NAN),
            },
            2,
        );
    }
}
