//! The SQL of shirking cases: a row of `cases` of kind `shirking`, and its
//! details in `shirking_cases` (`migrations/0005_reports_and_shirking.sql`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_proto::supervision::v1::{Evidence, EvidenceKind};
use sqlx::{AssertSqlSafe, PgExecutor};

use super::rules::{evidence_from_sql, evidence_to_sql};
use crate::deadlines::model::{CaseKind, CaseRecord};
use crate::deadlines::store::{CASE_COLUMNS, CaseRow, case_from_row};
use crate::ids::CaseId;

#[derive(sqlx::FromRow)]
struct Details {
    case_id: CaseId,
    opened_by: String,
    evidence_kinds: Vec<String>,
    evidence_details: Vec<String>,
    closed_by: String,
    result: String,
}

impl Details {
    fn into_kind(self) -> Result<CaseKind, ApiError> {
        Ok(CaseKind::Shirking {
            opened_by: self.opened_by,
            evidence: self
                .evidence_kinds
                .iter()
                .zip(self.evidence_details)
                .map(|(k, detail)| {
                    Ok(Evidence {
                        kind: evidence_from_sql(k)? as i32,
                        detail,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            closed_by: self.closed_by,
            result: self.result,
        })
    }
}

const DETAILS: &str = "case_id, opened_by, evidence_kinds, evidence_details, closed_by, result";

/// Fills in the details of the shirking cases among `cases` (one query,
/// none when there is no shirking case).
pub async fn with_details<'e>(
    db: impl PgExecutor<'e>,
    cases: &mut [CaseRecord],
) -> Result<(), ApiError> {
    let ids: Vec<CaseId> = cases
        .iter()
        .filter(|c| matches!(c.kind, CaseKind::Shirking { .. }))
        .map(|c| c.case_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<Details> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DETAILS} FROM shirking_cases WHERE case_id = ANY($1)"
    )))
    .bind(&ids)
    .fetch_all(db)
    .await?;
    let mut by_id: HashMap<CaseId, Details> = rows.into_iter().map(|d| (d.case_id, d)).collect();
    for c in cases.iter_mut() {
        if let Some(d) = by_id.remove(&c.case_id) {
            c.kind = d.into_kind()?;
        }
    }
    Ok(())
}

async fn with_own_details(tx: &mut Tx, row: CaseRow) -> Result<CaseRecord, ApiError> {
    let mut c = [case_from_row(row)?];
    with_details(&mut **tx, &mut c).await?;
    let [c] = c;
    Ok(c)
}

/// Opens a shirking case; `Err(open case id)` when one is open already for
/// the ticket and unit.
pub async fn open(
    tx: &mut Tx,
    ticket: &TicketNo,
    unit: &UnitId,
    by: &str,
    evidence: &[(EvidenceKind, String)],
    at: DateTime<Utc>,
) -> Result<Result<CaseRecord, CaseId>, ApiError> {
    let row: Option<CaseRow> = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO cases (case_id, ticket_no, unit_id, kind, state, opened_at) \
         VALUES ($1, $2, $3, 'shirking', 'open', $4) \
         ON CONFLICT (ticket_no, unit_id) WHERE kind = 'shirking' AND state = 'open' DO NOTHING \
         RETURNING {CASE_COLUMNS}"
    )))
    .bind(CaseId::new())
    .bind(ticket)
    .bind(unit)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        let (open,): (CaseId,) = sqlx::query_as(
            "SELECT case_id FROM cases WHERE ticket_no = $1 AND unit_id = $2 \
             AND kind = 'shirking' AND state = 'open'",
        )
        .bind(ticket)
        .bind(unit)
        .fetch_one(&mut **tx)
        .await?;
        return Ok(Err(open));
    };
    let kinds: Vec<&str> = evidence.iter().map(|(k, _)| evidence_to_sql(*k)).collect();
    let details: Vec<&str> = evidence.iter().map(|(_, d)| d.as_str()).collect();
    sqlx::query(
        "INSERT INTO shirking_cases (case_id, opened_by, evidence_kinds, evidence_details) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(row.case_id())
    .bind(by)
    .bind(&kinds)
    .bind(&details)
    .execute(&mut **tx)
    .await?;
    Ok(Ok(with_own_details(tx, row).await?))
}

/// A case, locked for a change.
pub async fn lock(tx: &mut Tx, id: CaseId) -> Result<Option<CaseRecord>, ApiError> {
    let row: Option<CaseRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE case_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(with_own_details(tx, row).await?)),
    }
}

/// Closes an open shirking case with its result.
pub async fn close(
    tx: &mut Tx,
    id: CaseId,
    by: &str,
    result: &str,
    at: DateTime<Utc>,
) -> Result<CaseRecord, ApiError> {
    sqlx::query("UPDATE shirking_cases SET closed_by = $2, result = $3 WHERE case_id = $1")
        .bind(id)
        .bind(by)
        .bind(result)
        .execute(&mut **tx)
        .await?;
    let row: CaseRow = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE cases SET state = 'closed', closed_at = $2 WHERE case_id = $1 RETURNING {CASE_COLUMNS}"
    )))
    .bind(id)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    with_own_details(tx, row).await
}
