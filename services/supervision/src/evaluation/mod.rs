//! The three-rate evaluation (三率考评) of handling units: a read model
//! built only from the ticket lifecycle events, and its RPCs.
//!
//! - `consume`: the consumer (own queue, each event once) that keeps the
//!   raw events and refolds the event's ticket
//! - `facts`: what a ticket's events make count, for whom, on which day,
//!   and what each fact adds to its unit's day (pure)
//! - `rules`: rates, composite, rank, rounding (pure)
//! - `period`: the periods asked for (pure)
//! - `store` (and `store::decisions`): the SQL
//! - `report`: GetEvaluation, ExplainEvaluation, GetUnitTrend,
//!   ExportEvaluation
//! - `exclusions`, `appeals`: the decisions that take tickets out of a
//!   unit's rates, and the units' appeals
//! - `recount`: the counters recomputed from the raw events
//!
//! The definitions (what counts, by which day, under which policy
//! version) are in docs/ARCHITECTURE.md, "Evaluation".

pub mod appeals;
pub mod consume;
pub mod exclusions;
pub mod facts;
pub mod period;
pub mod recount;
pub mod report;
pub mod rules;
pub mod store;

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::idempotency::Keys;
use hotline_common::ids::{Id, UnitId};
use hotline_common::validate::Fields;
use hotline_proto::dispatch::v1::UnitKind;
use hotline_sla::{Evaluation, EvaluationVersion, Policy};
use sqlx::PgPool;

use self::period::Period;

/// What the evaluation's handlers share.
#[derive(Clone)]
pub struct Eval {
    pub pool: PgPool,
    pub keys: Keys,
    pub policy: Arc<Policy>,
}

impl Eval {
    pub fn evaluation(&self) -> &Evaluation {
        &self.policy.evaluation
    }
}

/// The longest note or reason, in characters.
pub const MAX_NOTE: usize = 2000;

/// A period field, checked; the problem noted under its name.
pub fn period_field(f: &mut Fields, field: &str, raw: &str) -> Option<Period> {
    match Period::parse(raw) {
        Ok(p) => Some(p),
        Err(e) => {
            f.add(field, e);
            None
        }
    }
}

/// A unit-kind filter: UNSPECIFIED for all.
pub fn kind_filter(f: &mut Fields, field: &str, raw: i32) -> Option<UnitKind> {
    match UnitKind::try_from(raw) {
        Ok(UnitKind::Unspecified) => None,
        Ok(k) => Some(k),
        Err(_) => {
            f.add(field, format!("unknown unit kind {raw}"));
            None
        }
    }
}

/// The policy version of a period: the one applying to its first day.
pub fn version_of<'p>(
    e: &'p Evaluation,
    field: &str,
    p: &Period,
) -> Result<&'p EvaluationVersion, ApiError> {
    e.version_for(p.first_month()).ok_or_else(|| {
        ApiError::invalid(
            field,
            &format!(
                "no evaluation policy version applies to {}",
                p.first_month()
            ),
        )
    })
}

/// The unit a call concerns, confined to the caller's own for unit staff.
pub fn unit_for(who: &Identity, unit: Option<UnitId>) -> Result<Option<UnitId>, ApiError> {
    crate::scope::visible_unit(who, unit)
}

/// A unit the evaluation has seen, or INVALID_ARGUMENT naming `field`.
pub async fn known_unit(pool: &PgPool, field: &str, unit: &UnitId) -> Result<(), ApiError> {
    if store::unit_known(pool, unit.as_str()).await? {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            &format!(
                "unit {} is unknown to the evaluation (no event names it)",
                unit.as_str()
            ),
        ))
    }
}

/// A required unit id field.
pub fn unit_field(f: &mut Fields, field: &str, raw: &str) -> Option<UnitId> {
    f.id::<UnitId>(field, raw)
}

/// An optional unit id field.
pub fn optional_unit(f: &mut Fields, field: &str, raw: &str) -> Option<UnitId> {
    if raw.trim().is_empty() {
        None
    } else {
        UnitId::parse(raw).map_err(|e| f.add(field, e)).ok()
    }
}
