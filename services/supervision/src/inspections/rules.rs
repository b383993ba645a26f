//! The rules of special inspections (专项督查): which units a period offers
//! (the bottom of each class in the evaluation, and where cases
//! concentrate), and the steps. Pure: no IO.
//!
//! | step | by | from → to |
//! |---|---|---|
//! | open (a candidate of the period, on its basis) | supervisor | → open, rectification clock starts |
//! | report rectification | the unit | open → rectified, clock stops |
//! | close with the result | supervisor | rectified → closed |

use std::collections::HashMap;

use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;
use hotline_sla::Inspections;

use crate::evaluation::rules::Line;

pub const MAX_FINDINGS: usize = 10_000;
pub const MAX_TEXT: usize = 5000;
pub const MAX_RESULT: usize = 2000;

hotline_common::sql_enum!(
    /// Why a unit is offered.
    Basis, pb::InspectionBasis, "inspection basis", {
        BottomOfEvaluation = "bottom_of_evaluation",
        CasesConcentrated = "cases_concentrated",
    }
);

hotline_common::sql_enum!(
    /// Where an inspection stands.
    InspectionState, pb::InspectionState, "inspection state", {
        Open = "open",
        Rectified = "rectified",
        Closed = "closed",
    }
);

/// One unit offered, on one basis.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub unit_id: String,
    pub kind: hotline_proto::dispatch::v1::UnitKind,
    pub basis: Basis,
    pub rank: i32,
    pub ranked_in_class: i32,
    pub composite: f64,
    pub cases: i64,
    pub due: i64,
    pub per_hundred: f64,
}

impl Candidate {
    pub fn to_proto(&self) -> pb::InspectionCandidate {
        pb::InspectionCandidate {
            unit_id: self.unit_id.clone(),
            unit_kind: self.kind as i32,
            basis: self.basis.to_proto() as i32,
            rank: self.rank,
            ranked_in_class: self.ranked_in_class,
            composite: self.composite,
            cases: self.cases,
            assignments_due: self.due,
            cases_per_hundred: self.per_hundred,
        }
    }
}

/// The units a period offers: each class's `bottom` lowest-ranked scored
/// units (lowest first), then the units with more than the policy's cases
/// per hundred assignments due (most first). A unit may be offered on both.
pub fn candidates(lines: &[Line], cases: &HashMap<String, i64>, p: &Inspections) -> Vec<Candidate> {
    let per_hundred = |l: &Line| {
        let due = l.scored.response.denominator;
        let n = cases.get(&l.unit_id).copied().unwrap_or(0);
        let ratio = if due > 0 {
            (n as f64) * 100.0 / (due as f64)
        } else {
            0.0
        };
        (n, due, (ratio * 100.0).round() / 100.0)
    };
    let candidate = |l: &Line, basis| {
        let (cases, due, per_hundred) = per_hundred(l);
        Candidate {
            unit_id: l.unit_id.clone(),
            kind: l.kind,
            basis,
            rank: l.rank,
            ranked_in_class: l.ranked_in_class,
            composite: l.scored.composite.unwrap_or(0.0),
            cases,
            due,
            per_hundred,
        }
    };
    let bottom = i32::try_from(p.bottom).unwrap_or(i32::MAX);
    let mut low: Vec<Candidate> = lines
        .iter()
        .filter(|l| l.rank > 0 && l.rank > l.ranked_in_class - bottom)
        .map(|l| candidate(l, Basis::BottomOfEvaluation))
        .collect();
    // Lines come by class then rank: lowest first within each class.
    low.reverse();
    low.sort_by_key(|c| {
        crate::evaluation::rules::class_order(crate::evaluation::rules::class_of(c.kind))
    });
    let mut many: Vec<Candidate> = lines
        .iter()
        .map(|l| candidate(l, Basis::CasesConcentrated))
        .filter(|c| c.due > 0 && c.per_hundred > p.cases_per_hundred)
        .collect();
    many.sort_by(|a, b| {
        b.per_hundred
            .total_cmp(&a.per_hundred)
            .then(a.unit_id.cmp(&b.unit_id))
    });
    low.extend(many);
    low
}

fn refused(
    reason: Reason,
    id: impl std::fmt::Display,
    state: InspectionState,
    what: &str,
) -> ApiError {
    ApiError::precondition(reason, format!("inspection {id} is {state}: {what}"))
        .with("inspection_id", id)
        .with("state", state)
}

pub fn may_rectify(id: impl std::fmt::Display, s: InspectionState) -> Result<(), ApiError> {
    match s {
        InspectionState::Open => Ok(()),
        s => Err(refused(
            Reason::InspectionNotOpen,
            id,
            s,
            "no rectification is awaited",
        )),
    }
}

pub fn may_close(id: impl std::fmt::Display, s: InspectionState) -> Result<(), ApiError> {
    match s {
        InspectionState::Rectified => Ok(()),
        s => Err(refused(
            Reason::InspectionNotRectified,
            id,
            s,
            "only a rectified inspection is closed",
        )),
    }
}

/// An inspection's number: DC and 12 digits of its sequence number.
pub fn number(seq: i64) -> String {
    format!("DC{seq:012}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::rules::{Rate, Scored};
    use hotline_proto::dispatch::v1::UnitKind;
    use hotline_sla::UnitClass;

    fn line(unit: &str, rank: i32, of: i32, due: i64) -> Line {
        let rate = Rate {
            numerator: 0.0,
            denominator: due,
        };
        Line {
            unit_id: unit.into(),
            kind: UnitKind::DistrictGovernment,
            class: UnitClass::DistrictGovernment,
            scored: Scored {
                response: rate,
                resolution: rate,
                satisfaction: rate,
                rating: rate,
                composite: (rank > 0).then_some(50.0),
            },
            rank,
            ranked_in_class: of,
            reopened: 0,
        }
    }

    #[test]
    fn the_bottom_of_each_class_and_concentrated_cases_are_offered() {
        let lines = [
            line("a", 1, 3, 10),
            line("b", 2, 3, 10),
            line("c", 3, 3, 10),
            line("d", 0, 3, 0),
        ];
        let cases = HashMap::from([("a".to_string(), 2), ("c".to_string(), 1)]);
        let p = Inspections {
            bottom: 1,
            cases_per_hundred: 10.0,
        };
        let got: Vec<(String, Basis)> = candidates(&lines, &cases, &p)
            .into_iter()
            .map(|c| (c.unit_id, c.basis))
            .collect();
        assert_eq!(
            got,
            [
                ("c".to_string(), Basis::BottomOfEvaluation),
                ("a".to_string(), Basis::CasesConcentrated),
            ]
        );
        let two = Inspections { bottom: 2, ..p };
        let low: Vec<String> = candidates(&lines, &HashMap::new(), &two)
            .into_iter()
            .map(|c| c.unit_id)
            .collect();
        assert_eq!(low, ["c", "b"], "lowest first; unscored never");
    }

    #[test]
    fn steps_move_only_from_their_states() {
        assert!(may_rectify("i", InspectionState::Open).is_ok());
        assert_eq!(
            may_rectify("i", InspectionState::Rectified)
                .unwrap_err()
                .reason,
            Some(Reason::InspectionNotOpen)
        );
        assert!(may_close("i", InspectionState::Rectified).is_ok());
        assert_eq!(
            may_close("i", InspectionState::Open).unwrap_err().reason,
            Some(Reason::InspectionNotRectified)
        );
        assert_eq!(number(42), "DC000000000042");
    }
}
