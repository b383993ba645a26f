//! The SQL of whistles; their summonses are `hotline_common::summons`
//! rows in the table `summonses`.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{TicketNo, WhistleId};
use hotline_common::outbox::Tx;
use hotline_common::summons::Summonses;
use hotline_sla::{Policy, Stage};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::rules::{NewWhistle, Whistle};
use crate::assignments::rules::Assignment;

/// A whistle's summoned departments: arrival clocks in stage `report_in`.
pub const SUMMONSES: Summonses = Summonses {
    table: "summonses",
    owner: "whistle_id",
    stage: Stage::ReportIn,
};

fn from_row(row: &PgRow) -> Whistle {
    Whistle {
        id: row.get("whistle_id"),
        assignment_id: row.get("assignment_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        matter: row.get("matter"),
        place: row.get("place"),
        blown_at: row.get("blown_at"),
        arrive_by: row.get("arrive_by"),
        summoned: Vec::new(),
    }
}

/// Records a whistle on a locked assignment, with an arrival clock per
/// summoned department.
pub async fn insert(
    tx: &mut Tx,
    policy: &Policy,
    a: &Assignment,
    w: &NewWhistle,
    at: DateTime<Utc>,
) -> Result<WhistleId, ApiError> {
    let id = WhistleId::new();
    sqlx::query(
        "INSERT INTO whistles (whistle_id, assignment_id, ticket_no, unit_id, matter, place, \
         blown_at, arrive_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(a.id)
    .bind(&a.ticket_no)
    .bind(&a.unit_id)
    .bind(&w.matter)
    .bind(&w.place)
    .bind(at)
    .bind(w.call.arrive_by)
    .execute(&mut **tx)
    .await?;
    SUMMONSES
        .insert(tx, policy, id.uuid(), &a.ticket_no, &w.call, at)
        .await?;
    Ok(id)
}

/// One whistle with its summonses.
pub async fn get(conn: &mut PgConnection, id: WhistleId) -> Result<Option<Whistle>, ApiError> {
    let row = sqlx::query("SELECT * FROM whistles WHERE whistle_id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut w = from_row(&row);
    w.summoned = SUMMONSES
        .of(conn, &[id.uuid()])
        .await?
        .remove(&id.uuid())
        .unwrap_or_default();
    Ok(Some(w))
}

/// A ticket's whistles, oldest first, served by `whistles_page`.
pub const BY_TICKET: &str =
    "SELECT * FROM whistles WHERE ticket_no = $1 ORDER BY blown_at, whistle_id";

/// A ticket's whistles, oldest first, with their summonses.
pub async fn by_ticket(
    conn: &mut PgConnection,
    ticket_no: &TicketNo,
) -> Result<Vec<Whistle>, ApiError> {
    let rows = sqlx::query(BY_TICKET)
        .bind(ticket_no)
        .fetch_all(&mut *conn)
        .await?;
    let mut whistles: Vec<Whistle> = rows.iter().map(from_row).collect();
    let ids: Vec<Uuid> = whistles.iter().map(|w| w.id.uuid()).collect();
    let mut by_owner = SUMMONSES.of(conn, &ids).await?;
    for w in &mut whistles {
        w.summoned = by_owner.remove(&w.id.uuid()).unwrap_or_default();
    }
    Ok(whistles)
}
