//! The SQL of special inspections (`migrations/0008_inspections.sql`), and
//! the case counts that offer units for one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::UnitId;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::supervision::v1 as pb;
use sqlx::{AssertSqlSafe, PgPool};

use super::rules::{Basis, InspectionState};
use crate::ids::InspectionId;

const INSPECTION: &str = "inspection_id, inspection_no, unit_id, period, basis, state, findings, \
     rectification, rectify_by, opened_by, opened_at, measures, rectified_at, result, closed_by, closed_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Inspection {
    pub inspection_id: InspectionId,
    pub inspection_no: String,
    pub unit_id: UnitId,
    pub period: String,
    pub basis: String,
    pub state: String,
    pub findings: String,
    pub rectification: String,
    pub rectify_by: DateTime<Utc>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub measures: String,
    pub rectified_at: Option<DateTime<Utc>>,
    pub result: String,
    pub closed_by: String,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Inspection {
    pub fn state(&self) -> Result<InspectionState, ApiError> {
        InspectionState::from_sql(&self.state)
    }

    pub fn to_proto(&self) -> Result<pb::Inspection, ApiError> {
        Ok(pb::Inspection {
            inspection_id: self.inspection_id.to_string(),
            inspection_no: self.inspection_no.clone(),
            unit_id: self.unit_id.to_string(),
            period: self.period.clone(),
            basis: Basis::from_sql(&self.basis)?.to_proto() as i32,
            state: self.state()?.to_proto() as i32,
            findings: self.findings.clone(),
            rectification: self.rectification.clone(),
            rectify_by: Some(to_proto(self.rectify_by)),
            opened_by: self.opened_by.clone(),
            opened_at: Some(to_proto(self.opened_at)),
            measures: self.measures.clone(),
            rectified_at: opt_to_proto(self.rectified_at),
            late: self.rectified_at.is_some_and(|at| at > self.rectify_by),
            result: self.result.clone(),
            closed_by: self.closed_by.clone(),
            closed_at: opt_to_proto(self.closed_at),
        })
    }
}

/// Supervision cases opened in [from, to), per unit.
pub async fn cases_by_unit(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<String, i64>, ApiError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT unit_id, count(*) FROM cases WHERE opened_at >= $1 AND opened_at < $2 GROUP BY unit_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// What a new inspection holds.
pub struct New<'a> {
    pub unit: &'a UnitId,
    pub period: &'a str,
    pub basis: Basis,
    pub findings: &'a str,
    pub rectification: &'a str,
    pub rectify_by: DateTime<Utc>,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, n: &New<'_>) -> Result<Inspection, ApiError> {
    let (seq,): (i64,) = sqlx::query_as("SELECT nextval('inspection_numbers')")
        .fetch_one(&mut **tx)
        .await?;
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO inspections (inspection_id, inspection_no, unit_id, period, basis, state, findings, \
         rectification, rectify_by, opened_by, opened_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10) RETURNING {INSPECTION}"
    )))
    .bind(InspectionId::new())
    .bind(super::rules::number(seq))
    .bind(n.unit)
    .bind(n.period)
    .bind(n.basis.as_sql())
    .bind(n.findings)
    .bind(n.rectification)
    .bind(n.rectify_by)
    .bind(n.by)
    .bind(n.at)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn lock(tx: &mut Tx, id: InspectionId) -> Result<Option<Inspection>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {INSPECTION} FROM inspections WHERE inspection_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn get(pool: &PgPool, id: InspectionId) -> Result<Option<Inspection>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {INSPECTION} FROM inspections WHERE inspection_id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

pub async fn rectified(
    tx: &mut Tx,
    id: InspectionId,
    measures: &str,
    at: DateTime<Utc>,
) -> Result<Inspection, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE inspections SET state = 'rectified', measures = $2, rectified_at = $3 \
         WHERE inspection_id = $1 RETURNING {INSPECTION}"
    )))
    .bind(id)
    .bind(measures)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn close(
    tx: &mut Tx,
    id: InspectionId,
    result: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Inspection, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE inspections SET state = 'closed', result = $2, closed_by = $3, closed_at = $4 \
         WHERE inspection_id = $1 RETURNING {INSPECTION}"
    )))
    .bind(id)
    .bind(result)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?)
}

/// The SQL of a list: the unit bound first when given, the state as a
/// literal, then cursor time, cursor id, limit.
pub fn list_sql(unit: bool, state: Option<InspectionState>) -> String {
    let mut words = Vec::new();
    let mut n = 0;
    if unit {
        n += 1;
        words.push(format!("unit_id = ${n}"));
    }
    if let Some(s) = state {
        words.push(format!("state = '{}'", s.as_sql()));
    }
    words.push(format!(
        "(opened_at, inspection_id) < (COALESCE(${}::timestamptz, 'infinity'), \
         COALESCE(${}::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))",
        n + 1,
        n + 2
    ));
    format!(
        "SELECT {INSPECTION} FROM inspections WHERE {} \
         ORDER BY opened_at DESC, inspection_id DESC LIMIT ${}",
        words.join(" AND "),
        n + 3
    )
}

pub async fn list(
    pool: &PgPool,
    unit: Option<&UnitId>,
    state: Option<InspectionState>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Inspection>, ApiError> {
    let filters: Vec<&str> = unit.map(|u| u.as_str()).into_iter().collect();
    crate::lists::fetch(
        pool,
        list_sql(unit.is_some(), state),
        &filters,
        cursor,
        limit,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_writes_only_its_filters() {
        let sql = list_sql(true, Some(InspectionState::Open));
        assert!(
            sql.contains("WHERE unit_id = $1 AND state = 'open' AND (opened_at"),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT $4"), "{sql}");
        assert!(list_sql(false, None).ends_with("LIMIT $3"));
    }
}
