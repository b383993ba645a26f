//! RecountEvaluation: the period's counters recomputed from the
//! evaluation's own copy of the raw events (every ticket refolded with
//! the exclusions in force now, the same fold as the consumer's), compared
//! with the counters kept incrementally. Reads only; it scans every stored
//! event, so it is an operator's check, not a report.

use std::collections::BTreeMap;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::validate::Fields;
use hotline_proto::supervision::v1 as pb;

use super::facts::{self, COLUMN_NAMES, Counts};
use super::period::Period;
use super::{Eval, period_field, store};

/// The most differences a reply lists.
pub const MAX_DIFFERENCES: usize = 1000;

/// What differs between two tables of counters, unit by unit (pure).
pub fn compare(
    recounted: &BTreeMap<String, Counts>,
    stored: &BTreeMap<String, Counts>,
) -> Vec<pb::RecountDifference> {
    let mut units: Vec<&String> = recounted.keys().chain(stored.keys()).collect();
    units.sort();
    units.dedup();
    let zero = Counts::default();
    let mut out = Vec::new();
    for u in units {
        let a = recounted.get(u).unwrap_or(&zero);
        let b = stored.get(u).unwrap_or(&zero);
        for (name, (x, y)) in COLUMN_NAMES.iter().zip(a.0.iter().zip(b.0.iter())) {
            if x != y {
                out.push(pb::RecountDifference {
                    unit_id: u.clone(),
                    counter: name.to_string(),
                    from_events: *x,
                    stored: *y,
                });
            }
        }
    }
    out
}

/// Recounts a period.
pub async fn recount_period(
    eval: &Eval,
    p: &Period,
) -> Result<pb::RecountEvaluationResponse, ApiError> {
    let policy = eval.evaluation();
    let exclusions = store::exclusions_in_force(&eval.pool).await?;
    let none = Default::default();
    let mut recounted: BTreeMap<String, Counts> = BTreeMap::new();
    let mut tickets = 0i64;
    let read = store::each_ticket(&eval.pool, |ticket, events| {
        tickets += 1;
        let folded = facts::fold(
            policy,
            ticket,
            &events,
            exclusions.get(ticket).unwrap_or(&none),
        );
        for f in folded.facts {
            if f.day >= p.from && f.day <= p.to {
                recounted
                    .entry(f.unit_id.clone())
                    .or_default()
                    .add(&f.contribution());
            }
        }
    })
    .await?;
    recounted.retain(|_, c| !c.is_zero());
    let stored: BTreeMap<String, Counts> = store::sums(&eval.pool, p.from, p.to)
        .await?
        .into_iter()
        .filter(|u| !u.counts.is_zero())
        .map(|u| (u.unit_id, u.counts))
        .collect();
    let mut differences = compare(&recounted, &stored);
    let equal = differences.is_empty();
    differences.truncate(MAX_DIFFERENCES);
    Ok(pb::RecountEvaluationResponse {
        equal,
        events_read: read,
        tickets,
        differences,
    })
}

/// RecountEvaluation.
pub async fn recount(
    eval: &Eval,
    _who: Identity,
    r: pb::RecountEvaluationRequest,
) -> Result<pb::RecountEvaluationResponse, ApiError> {
    let mut f = Fields::new();
    let p = period_field(&mut f, "period", &r.period);
    f.finish()?;
    recount_period(eval, &p.expect("checked")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_unit_and_counter() {
        let mut a = BTreeMap::new();
        let mut b = BTreeMap::new();
        let mut c = Counts::default();
        c.0[facts::RESPONSE_DUE] = 3;
        a.insert("u1".to_string(), c);
        b.insert("u1".to_string(), c);
        assert!(compare(&a, &b).is_empty());
        let mut d = c;
        d.0[facts::RESPONSE_DUE] = 4;
        b.insert("u1".to_string(), d);
        b.insert("u2".to_string(), c);
        let diff = compare(&a, &b);
        assert_eq!(diff.len(), 2);
        assert_eq!(
            (diff[0].unit_id.as_str(), diff[0].counter.as_str()),
            ("u1", "response_due")
        );
        assert_eq!((diff[0].from_events, diff[0].stored), (3, 4));
        assert_eq!((diff[1].unit_id.as_str(), diff[1].from_events), ("u2", 0));
    }
}
