//! The SQL of handling records.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{AssignmentId, TicketNo};
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::rules::{NewRecord, Record, RecordId, RecordKind};
use crate::assignments::rules::Assignment;

fn from_row(row: &PgRow) -> Result<Record, ApiError> {
    Ok(Record {
        id: row.get("record_id"),
        assignment_id: row.get("assignment_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        kind: RecordKind::from_sql(row.get("kind"))?,
        occurred_at: row.get("occurred_at"),
        way: row.get("way"),
        result: row.get("result"),
        note: row.get("note"),
        recorded_at: row.get("recorded_at"),
        media: row.get("media"),
    })
}

/// Records what a unit did on a locked, signed assignment.
pub async fn insert(
    tx: &mut Tx,
    a: &Assignment,
    r: &NewRecord,
    at: DateTime<Utc>,
) -> Result<Record, ApiError> {
    let row = sqlx::query(
        "INSERT INTO handling_records (record_id, assignment_id, ticket_no, unit_id, kind, \
         occurred_at, way, result, note, recorded_at, media) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
    )
    .bind(RecordId::new())
    .bind(a.id)
    .bind(&a.ticket_no)
    .bind(&a.unit_id)
    .bind(r.kind.as_sql())
    .bind(r.occurred_at)
    .bind(&r.way)
    .bind(&r.result)
    .bind(&r.note)
    .bind(at)
    .bind(&r.media)
    .fetch_one(&mut **tx)
    .await?;
    from_row(&row)
}

/// One ticket's records (`$1`), only unit `$2`'s when not NULL, oldest
/// first, after (`$3`, `$4`) (NULL: from the first), served by
/// `handling_records_page`.
pub const PAGE: &str = "SELECT * FROM handling_records WHERE ticket_no = $1 \
     AND ($2::text IS NULL OR unit_id = $2) \
     AND (occurred_at, record_id) > (COALESCE($3::timestamptz, '-infinity'), \
          COALESCE($4::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY occurred_at, record_id LIMIT $5";

/// One ticket's records, oldest first, after `cursor`; only `unit_id`'s
/// when given.
pub async fn page(
    pool: &PgPool,
    ticket_no: &TicketNo,
    unit_id: Option<&str>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Record>, ApiError> {
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = sqlx::query(PAGE)
        .bind(ticket_no)
        .bind(unit_id)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The ticket of an assignment a unit holds (its media are attached to
/// that ticket before the record is written).
pub async fn ticket_of(
    pool: &PgPool,
    id: AssignmentId,
    unit: &str,
) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT ticket_no FROM assignments WHERE assignment_id = $1 AND unit_id = $2",
    )
    .bind(id)
    .bind(unit)
    .fetch_optional(pool)
    .await?)
}
