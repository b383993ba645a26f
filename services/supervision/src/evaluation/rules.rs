//! The evaluation's arithmetic: rates from a unit's counters under a
//! policy version, the composite score of its class's weights, the rank
//! within the class, rounding. Pure.

use hotline_proto::dispatch::v1::UnitKind;
use hotline_sla::{EvaluationVersion, UnitClass};

use super::facts::{
    Counts, Metric, RATING, RESOLUTION, RESPONSE_DUE, RESPONSE_SIGNED, SATISFACTION,
};

/// Rates are rounded to this many decimal places.
pub const RATE_PLACES: i32 = 4;
/// The composite (0–100) is rounded to this many.
pub const COMPOSITE_PLACES: i32 = 2;

/// Rounds half away from zero to `places` decimals.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    // A tiny nudge so that 0.12345 (stored as 0.1234499…) rounds up.
    ((x * f) + x.signum() * 1e-9).round() / f
}

/// One rate: a (weighted) numerator over a count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub numerator: f64,
    pub denominator: i64,
}

impl Rate {
    pub fn applicable(&self) -> bool {
        self.denominator > 0
    }

    /// The exact rate; 0 when nothing counts.
    pub fn exact(&self) -> f64 {
        if self.denominator > 0 {
            self.numerator / self.denominator as f64
        } else {
            0.0
        }
    }

    /// As reported.
    pub fn rounded(&self) -> f64 {
        round(self.exact(), RATE_PLACES)
    }
}

/// The class a unit is evaluated in: its kind, an unknown kind read as a
/// department (as `UnitKind` says of UNSPECIFIED).
pub fn class_of(kind: UnitKind) -> UnitClass {
    match kind {
        UnitKind::Utility => UnitClass::Utility,
        UnitKind::DistrictGovernment => UnitClass::DistrictGovernment,
        UnitKind::Street => UnitClass::Street,
        UnitKind::Department | UnitKind::Unspecified => UnitClass::Department,
    }
}

/// The sort order of classes in replies and exports.
pub fn class_order(c: UnitClass) -> usize {
    UnitClass::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

/// A unit's four rates and its composite, under one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub response: Rate,
    pub resolution: Rate,
    pub satisfaction: Rate,
    pub rating: Rate,
    /// 0–100 rounded, None when no rate with a positive weight applies.
    pub composite: Option<f64>,
}

/// The rates of counters: response = signed / due; resolution = (yes +
/// partly × share) / answered; satisfaction and rating: Σ weight(level) ×
/// count / Σ count.
pub fn rates(c: &Counts, v: &EvaluationVersion) -> [Rate; 4] {
    let x = &c.0;
    let response = Rate {
        numerator: x[RESPONSE_SIGNED] as f64,
        denominator: x[RESPONSE_DUE],
    };
    let resolution = Rate {
        numerator: x[RESOLUTION] as f64 + v.partly_resolved * x[RESOLUTION + 1] as f64,
        denominator: x[RESOLUTION] + x[RESOLUTION + 1] + x[RESOLUTION + 2],
    };
    let weighed = |base: usize| Rate {
        numerator: (0..5).map(|i| v.levels[i] * x[base + i] as f64).sum(),
        denominator: (0..5).map(|i| x[base + i]).sum(),
    };
    [response, resolution, weighed(SATISFACTION), weighed(RATING)]
}

/// Scores a unit of `class`: the composite is 100 × Σ weight × rate over
/// the rates that apply, divided by the sum of their weights (a rate with
/// nothing to count leaves the composite, the others keep their
/// proportions).
pub fn score(c: &Counts, v: &EvaluationVersion, class: UnitClass) -> Scored {
    let [response, resolution, satisfaction, rating] = rates(c, v);
    let w = v.weights(class);
    let parts = [
        (response, w.response),
        (resolution, w.resolution),
        (satisfaction, w.satisfaction),
        (rating, w.rating),
    ];
    let (sum, weights) = parts
        .iter()
        .filter(|(r, w)| r.applicable() && *w > 0.0)
        .fold((0.0, 0.0), |(s, ws), (r, w)| (s + w * r.exact(), ws + w));
    let composite = (weights > 0.0).then(|| round(100.0 * sum / weights, COMPOSITE_PLACES));
    Scored {
        response,
        resolution,
        satisfaction,
        rating,
        composite,
    }
}

/// Ranks composites (1 best; equal scores share a rank, the next rank
/// skips: 1, 2, 2, 4). None ranks 0.
pub fn ranks(composites: &[Option<f64>]) -> Vec<i32> {
    composites
        .iter()
        .map(|c| match c {
            None => 0,
            Some(mine) => {
                1 + composites
                    .iter()
                    .filter(|o| matches!(o, Some(x) if x > mine))
                    .count() as i32
            }
        })
        .collect()
}

/// What one fact adds to its rate's numerator under a version.
pub fn numerator_value(metric: Metric, level: i16, listed_num: bool, v: &EvaluationVersion) -> f64 {
    match metric {
        Metric::Response | Metric::Reopened => listed_num as i32 as f64,
        Metric::Resolution => match level {
            1 => 1.0,
            2 => v.partly_resolved,
            _ => 0.0,
        },
        Metric::Satisfaction | Metric::Rating => v.level_weight(level as i32),
    }
}

/// The levels whose facts are in a rate's numerator under a version (a
/// positive weight); empty for response, which uses `listed_num`.
pub fn numerator_levels(metric: Metric, v: &EvaluationVersion) -> Vec<i16> {
    match metric {
        Metric::Response | Metric::Reopened => vec![],
        Metric::Resolution | Metric::Satisfaction | Metric::Rating => {
            let max = if metric == Metric::Resolution { 3 } else { 5 };
            (1..=max)
                .filter(|l| numerator_value(metric, *l, true, v) > 0.0)
                .collect()
        }
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

/// One unit's counters of a period, with its kind.
#[derive(Debug, Clone)]
pub struct UnitCounts {
    pub unit_id: String,
    pub kind: UnitKind,
    pub counts: Counts,
}

/// One unit's evaluation line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub unit_id: String,
    pub kind: UnitKind,
    pub class: UnitClass,
    pub scored: Scored,
    pub rank: i32,
    pub ranked_in_class: i32,
    pub reopened: i64,
}

/// Every unit's line, ranked within its class, ordered by class, then
/// rank (unscored last), then unit.
pub fn lines(units: &[UnitCounts], v: &EvaluationVersion) -> Vec<Line> {
    let mut out: Vec<Line> = units
        .iter()
        .map(|u| {
            let class = class_of(u.kind);
            Line {
                unit_id: u.unit_id.clone(),
                kind: u.kind,
                class,
                scored: score(&u.counts, v, class),
                rank: 0,
                ranked_in_class: 0,
                reopened: u.counts.0[super::facts::REOPENED],
            }
        })
        .collect();
    for class in UnitClass::ALL {
        let idx: Vec<usize> = (0..out.len()).filter(|i| out[*i].class == class).collect();
        let composites: Vec<Option<f64>> = idx.iter().map(|i| out[*i].scored.composite).collect();
        let scored = composites.iter().filter(|c| c.is_some()).count() as i32;
        for (i, r) in idx.iter().zip(ranks(&composites)) {
            out[*i].rank = r;
            out[*i].ranked_in_class = scored;
        }
    }
    out.sort_by(|a, b| {
        (class_order(a.class), a.rank == 0, a.rank, &a.unit_id).cmp(&(
            class_order(b.class),
            b.rank == 0,
            b.rank,
            &b.unit_id,
        ))
    });
    out
}
