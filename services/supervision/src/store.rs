//! Supervision's storage: urges and cases. All of its SQL lives here.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::common::v1::DeadlineEvent;
use hotline_proto::supervision::v1::{CaseState, SupervisionCase, Urge};
use hotline_sla::Stage;
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// What one batch of events leads to.
#[derive(Default)]
pub struct Actions<'a> {
    pub urges: Vec<&'a DeadlineEvent>,
    /// Events opening a case, with whether it is born closed (and when).
    pub cases: Vec<(&'a DeadlineEvent, Option<DateTime<Utc>>)>,
    /// Clocks whose open cases close.
    pub close: Vec<String>,
    /// Events whose clock owner could not be asked: (event, owner, error).
    pub park: Vec<(&'a DeadlineEvent, &'static str, String)>,
    /// Parked events now handled.
    pub unpark: Vec<String>,
}

pub use hotline_common::paging::Cursor;

struct Columns {
    event_id: Vec<String>,
    clock_id: Vec<String>,
    version: Vec<i64>,
    ticket_no: Vec<String>,
    unit_id: Vec<String>,
    stage: Vec<String>,
    deadline: Vec<DateTime<Utc>>,
    fire_at: Vec<DateTime<Utc>>,
}

fn columns<'a>(events: impl Iterator<Item = &'a DeadlineEvent>) -> Result<Columns, ApiError> {
    let mut c = Columns {
        event_id: vec![],
        clock_id: vec![],
        version: vec![],
        ticket_no: vec![],
        unit_id: vec![],
        stage: vec![],
        deadline: vec![],
        fire_at: vec![],
    };
    for e in events {
        let stage = hotline_common::convert::stage_from_proto(e.stage)
            .ok_or_else(|| ApiError::invalid("stage", "unknown"))?;
        c.event_id.push(e.event_id.clone());
        c.clock_id.push(e.clock_id.clone());
        c.version.push(e.clock_version);
        c.ticket_no.push(e.ticket_no.clone());
        c.unit_id.push(e.unit_id.clone());
        c.stage.push(stage.as_str().to_string());
        c.deadline.push(hotline_common::time::required(
            e.deadline.as_ref(),
            "deadline",
        )?);
        c.fire_at.push(hotline_common::time::required(
            e.fire_at.as_ref(),
            "fire_at",
        )?);
    }
    Ok(c)
}

fn stage_of(row: &PgRow) -> i32 {
    let s: String = row.get("stage");
    s.parse::<Stage>()
        .map(|s| hotline_common::convert::stage_to_proto(s) as i32)
        .unwrap_or(0)
}

fn urge_from_row(row: &PgRow) -> Urge {
    Urge {
        urge_id: row.get::<Uuid, _>("urge_id").to_string(),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        stage: stage_of(row),
        deadline: Some(to_proto(row.get("deadline"))),
        issued_at: Some(to_proto(row.get("issued_at"))),
    }
}

fn case_from_row(row: &PgRow) -> SupervisionCase {
    let state: String = row.get("state");
    SupervisionCase {
        case_id: row.get::<Uuid, _>("case_id").to_string(),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        stage: stage_of(row),
        deadline: Some(to_proto(row.get("deadline"))),
        opened_at: Some(to_proto(row.get("opened_at"))),
        state: if state == "open" {
            CaseState::Open
        } else {
            CaseState::Closed
        } as i32,
        closed_at: opt_to_proto(row.get("closed_at")),
    }
}

impl Store {
    pub fn new(pool: PgPool) -> Store {
        Store { pool }
    }

    /// Records a batch's actions in one transaction. Duplicated events
    /// are absorbed by the unique event ids. Returns (urges, cases) added.
    pub async fn record(
        &self,
        a: &Actions<'_>,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), ApiError> {
        let mut tx = self.pool.begin().await?;
        let u = columns(a.urges.iter().copied())?;
        let ids: Vec<Uuid> = a.urges.iter().map(|_| Uuid::now_v7()).collect();
        let urges: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "INSERT INTO urges (urge_id, event_id, clock_id, clock_version, ticket_no, unit_id, stage, deadline, fire_at, issued_at) \
             SELECT *, $10::timestamptz FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[]) \
             ON CONFLICT ON CONSTRAINT urges_event_unique DO NOTHING \
             RETURNING ticket_no, unit_id, stage, deadline",
        )
        .bind(&ids)
        .bind(&u.event_id)
        .bind(&u.clock_id)
        .bind(&u.version)
        .bind(&u.ticket_no)
        .bind(&u.unit_id)
        .bind(&u.stage)
        .bind(&u.deadline)
        .bind(&u.fire_at)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;

        let c = columns(a.cases.iter().map(|(e, _)| *e))?;
        let ids: Vec<Uuid> = a.cases.iter().map(|_| Uuid::now_v7()).collect();
        let closed_at: Vec<Option<DateTime<Utc>>> = a.cases.iter().map(|(_, c)| *c).collect();
        let cases: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "INSERT INTO cases (case_id, event_id, clock_id, clock_version, ticket_no, unit_id, stage, deadline, fire_at, closed_at, opened_at, state) \
             SELECT *, $11::timestamptz, CASE WHEN c IS NULL THEN 'open' ELSE 'closed' END \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[]) \
               AS t(a, b, d, e, f, g, h, i, j, c) \
             ON CONFLICT ON CONSTRAINT cases_event_unique DO NOTHING \
             RETURNING ticket_no, unit_id, stage, deadline",
        )
        .bind(&ids)
        .bind(&c.event_id)
        .bind(&c.clock_id)
        .bind(&c.version)
        .bind(&c.ticket_no)
        .bind(&c.unit_id)
        .bind(&c.stage)
        .bind(&c.deadline)
        .bind(&c.fire_at)
        .bind(&closed_at)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;

        let mut entries: Vec<Entry> = Vec::with_capacity(urges.len() + cases.len());
        let line = |(ticket, unit, stage, deadline): &(String, String, String, DateTime<Utc>)| {
            (
                ticket.clone(),
                format!(
                    "unit={unit} stage={stage} deadline={}",
                    deadline.to_rfc3339()
                ),
            )
        };
        for r in &urges {
            let (ticket, detail) = line(r);
            entries.push(Entry::system("supervision", "urge.issued", &ticket, detail));
        }
        for r in &cases {
            let (ticket, detail) = line(r);
            entries.push(Entry::system("supervision", "case.opened", &ticket, detail));
        }
        if !a.close.is_empty() {
            let closed: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
                "UPDATE cases SET state = 'closed', closed_at = $2 \
                 WHERE clock_id = ANY($1) AND state = 'open' \
                 RETURNING ticket_no, unit_id, stage, deadline",
            )
            .bind(&a.close)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for r in &closed {
                let (ticket, detail) = line(r);
                entries.push(Entry::system("supervision", "case.closed", &ticket, detail));
            }
        }
        if !a.park.is_empty() {
            let ids: Vec<&str> = a.park.iter().map(|(e, _, _)| e.event_id.as_str()).collect();
            let bytes: Vec<Vec<u8>> = a.park.iter().map(|(e, _, _)| e.encode_to_vec()).collect();
            let owners: Vec<&str> = a.park.iter().map(|(_, o, _)| *o).collect();
            let errors: Vec<&str> = a.park.iter().map(|(_, _, m)| m.as_str()).collect();
            sqlx::query(
                "INSERT INTO parked_events (event_id, event, owner, parked_at, last_error) \
                 SELECT a, b, c, $5, d FROM UNNEST($1::text[], $2::bytea[], $3::text[], $4::text[]) AS t(a, b, c, d) \
                 ON CONFLICT (event_id) DO UPDATE \
                 SET attempts = parked_events.attempts + 1, last_error = EXCLUDED.last_error",
            )
            .bind(&ids)
            .bind(&bytes)
            .bind(&owners)
            .bind(&errors)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if !a.unpark.is_empty() {
            sqlx::query("DELETE FROM parked_events WHERE event_id = ANY($1)")
                .bind(&a.unpark)
                .execute(&mut *tx)
                .await?;
        }
        audit::append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok((urges.len() as u64, cases.len() as u64))
    }

    /// The oldest parked events, to retry.
    pub async fn parked(&self, limit: i64) -> Result<Vec<DeadlineEvent>, ApiError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT event FROM parked_events ORDER BY parked_at, event_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|b| {
                DeadlineEvent::decode(b.as_slice())
                    .map_err(|e| ApiError::internal(format!("parked event: {e}")))
            })
            .collect()
    }

    pub async fn urges(
        &self,
        unit_id: Option<&str>,
        ticket_no: Option<&str>,
        cursor: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<Urge>, ApiError> {
        let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
        let rows = sqlx::query(
            "SELECT * FROM urges WHERE ($1::text IS NULL OR unit_id = $1) \
             AND ($2::text IS NULL OR ticket_no = $2) \
             AND ($3::timestamptz IS NULL OR (issued_at, urge_id) < ($3, $4)) \
             ORDER BY issued_at DESC, urge_id DESC LIMIT $5",
        )
        .bind(unit_id)
        .bind(ticket_no)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(urge_from_row).collect())
    }

    pub async fn cases(
        &self,
        unit_id: Option<&str>,
        ticket_no: Option<&str>,
        open: Option<bool>,
        cursor: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<SupervisionCase>, ApiError> {
        let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
        let state = open.map(|o| if o { "open" } else { "closed" });
        let rows = sqlx::query(
            "SELECT * FROM cases WHERE ($1::text IS NULL OR unit_id = $1) \
             AND ($2::text IS NULL OR ticket_no = $2) \
             AND ($3::text IS NULL OR state = $3) \
             AND ($4::timestamptz IS NULL OR (opened_at, case_id) < ($4, $5)) \
             ORDER BY opened_at DESC, case_id DESC LIMIT $6",
        )
        .bind(unit_id)
        .bind(ticket_no)
        .bind(state)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(case_from_row).collect())
    }
}
