//! Evaluation policy (三率考评): how the response, resolution and
//! satisfaction rates and the good-rating share are weighed, per unit
//! class, in versions that apply from a month on, so that a past period is
//! recomputed with the numbers that applied to it; the reasons a ticket may
//! be excluded from a unit's rates; the city's time zone, which decides the
//! day an event counts on.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// A month, `YYYY-MM`: the unit versions apply from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// Parses `YYYY-MM` (four-digit year 2000–2200, month 01–12).
    pub fn parse(s: &str) -> Result<Month, String> {
        let bad = || format!("{s:?} is not a month YYYY-MM");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.chars().chain(m.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(format!("{s:?}: month {month} is not 01–12"));
        }
        if !(2000..=2200).contains(&year) {
            return Err(format!("{s:?}: year {year} is not 2000–2200"));
        }
        Ok(Month { year, month })
    }

    /// The month a day is in.
    pub fn of(day: NaiveDate) -> Month {
        Month {
            year: day.year(),
            month: day.month(),
        }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a checked month")
    }

    /// Its last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("a day before")
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The four weights of a unit class's composite score; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub response: f64,
    pub resolution: f64,
    pub satisfaction: f64,
    /// The good-rating share (好评率) of return-visit ratings; may be 0.
    pub rating: f64,
}

/// The unit classes evaluated apart (考评分类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitClass {
    /// 区人民政府
    DistrictGovernment,
    /// 街道、乡镇
    Street,
    /// 市级部门
    Department,
    /// 公共服务企业
    Utility,
}

impl UnitClass {
    pub const ALL: [UnitClass; 4] = [
        UnitClass::DistrictGovernment,
        UnitClass::Street,
        UnitClass::Department,
        UnitClass::Utility,
    ];

    /// The name in policy files and stored rows.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitClass::DistrictGovernment => "district_government",
            UnitClass::Street => "street",
            UnitClass::Department => "department",
            UnitClass::Utility => "utility",
        }
    }

    pub fn parse(s: &str) -> Option<UnitClass> {
        UnitClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One version of the evaluation's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Its name, quoted in every reply that used it (e.g. "2025-01").
    pub name: String,
    /// The first month it applies to; it applies until the next version's.
    pub from: Month,
    /// The share a partly resolved answer (部分解决) counts as resolved.
    pub partly_resolved: f64,
    /// The weight of each satisfaction level in the satisfaction rate and
    /// the good-rating share, from 非常满意 (index 0) to 非常不满意 (4).
    pub levels: [f64; 5],
    district_government: Weights,
    street: Weights,
    department: Weights,
    utility: Weights,
}

impl Version {
    pub fn weights(&self, class: UnitClass) -> Weights {
        match class {
            UnitClass::DistrictGovernment => self.district_government,
            UnitClass::Street => self.street,
            UnitClass::Department => self.department,
            UnitClass::Utility => self.utility,
        }
    }

    /// The weight of a satisfaction level 1 (非常满意) – 5 (非常不满意); 0
    /// for anything else.
    pub fn level_weight(&self, level: i32) -> f64 {
        match level {
            1..=5 => self.levels[(level - 1) as usize],
            _ => 0.0,
        }
    }
}

/// The evaluation policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The city's time zone: an event counts on its local calendar day.
    pub time_zone: Tz,
    /// The reason codes a ticket may be excluded from a unit's rates for.
    pub exclusion_reasons: Vec<String>,
    /// By `from`, oldest first, no two from the same month.
    pub versions: Vec<Version>,
}

impl Evaluation {
    /// The version that applies to a month: the newest whose `from` is not
    /// after it. None before the first.
    pub fn version_for(&self, month: Month) -> Option<&Version> {
        self.versions.iter().rev().find(|v| v.from <= month)
    }

    /// The local calendar day of an instant.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    pub fn is_exclusion_reason(&self, code: &str) -> bool {
        self.exclusion_reasons.iter().any(|r| r == code)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvaluation {
    time_zone: Option<String>,
    exclusion_reasons: Option<Vec<String>>,
    versions: Option<Vec<RawVersion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    name: Option<String>,
    from: Option<String>,
    partly_resolved: Option<f64>,
    levels: Option<RawLevels>,
    weights: Option<RawClasses>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    very_satisfied: Option<f64>,
    satisfied: Option<f64>,
    basically_satisfied: Option<f64>,
    dissatisfied: Option<f64>,
    very_dissatisfied: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClasses {
    district_government: Option<RawWeights>,
    street: Option<RawWeights>,
    department: Option<RawWeights>,
    utility: Option<RawWeights>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeights {
    response: Option<f64>,
    resolution: Option<f64>,
    satisfaction: Option<f64>,
    rating: Option<f64>,
}

/// The exclusion reasons when a policy names none (不合理诉求, 无效诉求,
/// 已进入诉讼或信访程序, 反映不实, 恶意诉求, 重复反映且无新情况).
pub const DEFAULT_EXCLUSION_REASONS: &[&str] = &[
    "unreasonable",
    "invalid",
    "litigation_or_petition",
    "untrue",
    "malicious",
    "repeated_no_new_facts",
];

fn share(errors: &mut Vec<String>, path: &str, v: Option<f64>) -> f64 {
    match v {
        None => {
            errors.push(format!("{path}: missing"));
            0.0
        }
        Some(x) if !(0.0..=1.0).contains(&x) => {
            errors.push(format!("{path}: {x} is not between 0 and 1"));
            0.0
        }
        Some(x) => x,
    }
}

fn weights(errors: &mut Vec<String>, path: &str, raw: Option<&RawWeights>) -> Weights {
    let Some(raw) = raw else {
        errors.push(format!("{path}: missing"));
        return Weights {
            response: 0.0,
            resolution: 0.0,
            satisfaction: 0.0,
            rating: 0.0,
        };
    };
    let w = Weights {
        response: share(errors, &format!("{path}.response"), raw.response),
        resolution: share(errors, &format!("{path}.resolution"), raw.resolution),
        satisfaction: share(errors, &format!("{path}.satisfaction"), raw.satisfaction),
        rating: share(errors, &format!("{path}.rating"), raw.rating.or(Some(0.0))),
    };
    let sum = w.response + w.resolution + w.satisfaction + w.rating;
    if (sum - 1.0).abs() > 1e-9 {
        errors.push(format!("{path}: the weights sum to {sum}, not 1"));
    }
    w
}

fn version(errors: &mut Vec<String>, i: usize, raw: &RawVersion) -> Option<Version> {
    let path = format!("evaluation.versions[{i}]");
    let name = raw.name.clone().unwrap_or_default();
    if name.trim().is_empty() || name.len() > 64 {
        errors.push(format!("{path}.name: missing, or longer than 64"));
    }
    let from = match raw.from.as_deref().map(Month::parse) {
        None => {
            errors.push(format!("{path}.from: missing"));
            None
        }
        Some(Err(e)) => {
            errors.push(format!("{path}.from: {e}"));
            None
        }
        Some(Ok(m)) => Some(m),
    };
    let partly_resolved = share(
        errors,
        &format!("{path}.partly_resolved"),
        raw.partly_resolved,
    );
    let levels = match &raw.levels {
        None => {
            errors.push(format!("{path}.levels: missing"));
            [0.0; 5]
        }
        Some(l) => {
            let p = |n: &str| format!("{path}.levels.{n}");
            [
                share(errors, &p("very_satisfied"), l.very_satisfied),
                share(errors, &p("satisfied"), l.satisfied),
                share(errors, &p("basically_satisfied"), l.basically_satisfied),
                share(errors, &p("dissatisfied"), l.dissatisfied),
                share(errors, &p("very_dissatisfied"), l.very_dissatisfied),
            ]
        }
    };
    let classes = raw.weights.as_ref();
    let w = |errors: &mut Vec<String>, c: UnitClass, r: Option<&RawWeights>| {
        weights(errors, &format!("{path}.weights.{}", c.as_str()), r)
    };
    let district_government = w(
        errors,
        UnitClass::DistrictGovernment,
        classes.and_then(|c| c.district_government.as_ref()),
    );
    let street = w(
        errors,
        UnitClass::Street,
        classes.and_then(|c| c.street.as_ref()),
    );
    let department = w(
        errors,
        UnitClass::Department,
        classes.and_then(|c| c.department.as_ref()),
    );
    let utility = w(
        errors,
        UnitClass::Utility,
        classes.and_then(|c| c.utility.as_ref()),
    );
    Some(Version {
        name,
        from: from?,
        partly_resolved,
        levels,
        district_government,
        street,
        department,
        utility,
    })
}

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawEvaluation) -> Evaluation {
    let time_zone = match raw.time_zone.as_deref() {
        None => chrono_tz::Asia::Shanghai,
        Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
            errors.push(format!(
                "evaluation.time_zone: {name:?} is not an IANA time zone"
            ));
            chrono_tz::Asia::Shanghai
        }),
    };
    let exclusion_reasons = raw.exclusion_reasons.unwrap_or_else(|| {
        DEFAULT_EXCLUSION_REASONS
            .iter()
            .map(|r| r.to_string())
            .collect()
    });
    if exclusion_reasons.is_empty() {
        errors.push("evaluation.exclusion_reasons: at least one".into());
    }
    for r in &exclusion_reasons {
        if hotline_code(r).is_err() {
            errors.push(format!(
                "evaluation.exclusion_reasons: {r:?} is not 1–64 of a-z, 0-9, '_'"
            ));
        }
    }
    let raw_versions = raw.versions.unwrap_or_default();
    if raw_versions.is_empty() {
        errors.push("evaluation.versions: at least one".into());
    }
    let mut versions: Vec<Version> = raw_versions
        .iter()
        .enumerate()
        .filter_map(|(i, v)| version(errors, i, v))
        .collect();
    versions.sort_by_key(|v| v.from);
    for pair in versions.windows(2) {
        if pair[0].from == pair[1].from {
            errors.push(format!(
                "evaluation.versions: {} and {} both apply from {}",
                pair[0].name, pair[1].name, pair[0].from
            ));
        }
        if pair[0].name == pair[1].name {
            errors.push(format!(
                "evaluation.versions: the name {} twice",
                pair[0].name
            ));
        }
    }
    Evaluation {
        time_zone,
        exclusion_reasons,
        versions,
    }
}

fn hotline_code(s: &str) -> Result<(), ()> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(())
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TWO: &str = r#"
time_zone = "Asia/Shanghai"
[[versions]]
name = "2025-01"
from = "2025-01"
partly_resolved = 0.5
levels = { very_satisfied = 1, satisfied = 1, basically_satisfied = 0.6, dissatisfied = 0, very_dissatisfied = 0 }
weights.district_government = { response = 0.2, resolution = 0.4, satisfaction = 0.4 }
weights.street = { response = 0.2, resolution = 0.4, satisfaction = 0.3, rating = 0.1 }
weights.department = { response = 0.3, resolution = 0.35, satisfaction = 0.35 }
weights.utility = { response = 0.3, resolution = 0.35, satisfaction = 0.35 }
[[versions]]
name = "2023-01"
from = "2023-01"
partly_resolved = 0.6
levels = { very_satisfied = 1, satisfied = 1, basically_satisfied = 0.8, dissatisfied = 0, very_dissatisfied = 0 }
weights.district_government = { response = 0.3, resolution = 0.35, satisfaction = 0.35 }
weights.street = { response = 0.3, resolution = 0.35, satisfaction = 0.35 }
weights.department = { response = 0.3, resolution = 0.35, satisfaction = 0.35 }
weights.utility = { response = 0.3, resolution = 0.35, satisfaction = 0.35 }
"#;

    fn parsed(text: &str) -> Result<Evaluation, Vec<String>> {
        let raw: RawEvaluation = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let e = parse(&mut errors, raw);
        if errors.is_empty() {
            Ok(e)
        } else {
            Err(errors)
        }
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn the_version_of_a_month_is_the_newest_not_after_it() {
        let e = parsed(TWO).unwrap();
        assert_eq!(e.versions[0].name, "2023-01", "sorted by from");
        assert_eq!(e.version_for(m("2022-12")), None);
        assert_eq!(e.version_for(m("2023-01")).unwrap().name, "2023-01");
        assert_eq!(e.version_for(m("2024-12")).unwrap().name, "2023-01");
        assert_eq!(e.version_for(m("2025-01")).unwrap().name, "2025-01");
        assert_eq!(e.version_for(m("2031-07")).unwrap().name, "2025-01");
        let v = e.version_for(m("2025-03")).unwrap();
        assert_eq!(v.weights(UnitClass::Street).rating, 0.1);
        assert_eq!(v.weights(UnitClass::DistrictGovernment).rating, 0.0);
        assert_eq!(v.level_weight(3), 0.6);
        assert_eq!(v.level_weight(0), 0.0);
        assert_eq!(v.level_weight(9), 0.0);
        assert_eq!(e.exclusion_reasons.len(), 6);
        assert!(e.is_exclusion_reason("malicious"));
    }

    #[test]
    fn days_are_the_city_s_calendar_days() {
        let e = parsed(TWO).unwrap();
        // 15:59:59 UTC is 23:59:59 in Beijing, 16:00 UTC the next day.
        let before = Utc.with_ymd_and_hms(2025, 3, 31, 15, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2025, 3, 31, 16, 0, 0).unwrap();
        assert_eq!(
            e.day_of(before),
            NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()
        );
        assert_eq!(
            e.day_of(after),
            NaiveDate::from_ymd_opt(2025, 4, 1).unwrap()
        );
    }

    #[test]
    fn months_parse_strictly_and_know_their_days() {
        for bad in [
            "2025-13",
            "2025-00",
            "255000-01",
            "2025-1",
            "25-01",
            "2025/01",
            "",
            "1999-12",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
        let feb = m("2024-02");
        assert_eq!(
            feb.last_day(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        assert_eq!(m("2025-12").next(), m("2026-01"));
        assert_eq!(m("2025-12").to_string(), "2025-12");
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = r#"
time_zone = "Mars/Olympus"
exclusion_reasons = ["Bad Code"]
[[versions]]
name = "a"
from = "2025-13"
partly_resolved = 1.5
levels = { very_satisfied = 1, satisfied = 1, basically_satisfied = 0.6, dissatisfied = 0 }
weights.street = { response = 0.5, resolution = 0.4, satisfaction = 0.4 }
"#;
        let errors = parsed(bad).unwrap_err().join("\n");
        for want in [
            "time_zone",
            "exclusion_reasons",
            "versions[0].from",
            "partly_resolved: 1.5",
            "levels.very_dissatisfied: missing",
            "weights.street: the weights sum to 1.3",
            "weights.utility: missing",
        ] {
            assert!(errors.contains(want), "{want} in {errors}");
        }
        let dup = TWO.replace("from = \"2023-01\"", "from = \"2025-01\"");
        assert!(parsed(&dup).unwrap_err()[0].contains("both apply from 2025-01"));
        assert!(parsed("").unwrap_err()[0].contains("at least one"));
    }
}

#[cfg(test)]
mod beijing {
    use super::*;

    #[test]
    fn the_built_in_policy_has_two_versions_in_shanghai_time() {
        let p = crate::Policy::beijing();
        let e = &p.evaluation;
        assert_eq!(e.time_zone, chrono_tz::Asia::Shanghai);
        let names: Vec<&str> = e.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["2023-01", "2025-01"]);
        let m = |s| Month::parse(s).unwrap();
        assert_eq!(e.version_for(m("2024-06")).unwrap().levels[2], 0.8);
        assert_eq!(e.version_for(m("2025-06")).unwrap().levels[2], 0.6);
    }
}
