//! Concentrated requests (集中反映): how many distinct requesters on one
//! category, at one street or within a radius, within a window, make a
//! cluster (`[clusters]`).

use std::time::Duration;

use serde::Deserialize;

use crate::field;

/// The largest radius: the grid clusters are looked up on has cells of
/// 0.01° (about 1.1 km north–south).
pub const MAX_RADIUS_M: u32 = 1000;

/// The clusters section.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// Distinct requesters that make a cluster.
    pub min_requesters: u32,
    /// Requests within this long of each other (of the cluster's last).
    pub window: Duration,
    /// Requests with coordinates: within this many metres.
    pub radius_m: u32,
}

impl Default for Clusters {
    fn default() -> Self {
        Clusters {
            min_requesters: 5,
            window: Duration::from_secs(24 * 3600),
            radius_m: 300,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClusters {
    min_requesters: Option<u32>,
    window: Option<String>,
    radius_m: Option<u32>,
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawClusters) -> Clusters {
    let d = Clusters::default();
    let min_requesters = raw.min_requesters.unwrap_or(d.min_requesters);
    if min_requesters < 2 {
        errors.push("clusters.min_requesters: must be at least 2".into());
    }
    let window = field(errors, "clusters.window", raw.window.as_ref()).unwrap_or(d.window);
    if window.is_zero() {
        errors.push("clusters.window: must be above 0".into());
    }
    let radius_m = raw.radius_m.unwrap_or(d.radius_m);
    if !(1..=MAX_RADIUS_M).contains(&radius_m) {
        errors.push(format!("clusters.radius_m: 1 to {MAX_RADIUS_M}"));
    }
    Clusters {
        min_requesters,
        window,
        radius_m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        crate::check_section(
            parse,
            RawClusters {
                min_requesters: Some(1),
                window: Some("soon".into()),
                radius_m: Some(5000),
            },
            3,
        );
    }
}
