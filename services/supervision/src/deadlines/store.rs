//! The SQL of deadlines: urges, cases and parked events, in supervision's
//! schema (`migrations/`).

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::convert::stage_to_proto;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::paging::Cursor;
use hotline_common::time::to_proto;
use hotline_common::{events, feed};
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use hotline_proto::supervision::v1::{FeedEvent, feed_event};
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, PgPool};

use super::model::{CaseKind, CaseRecord, CaseState, Event, UrgeRecord, stage_from_sql};
use super::rules::Actions;
use crate::ids::{CaseId, ClockId, EventId, UrgeId};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// The columns an urge or a case copies from its event.
#[derive(Default)]
struct Columns {
    event_id: Vec<EventId>,
    clock_id: Vec<ClockId>,
    version: Vec<i64>,
    ticket_no: Vec<TicketNo>,
    unit_id: Vec<UnitId>,
    stage: Vec<&'static str>,
    deadline: Vec<DateTime<Utc>>,
    fire_at: Vec<DateTime<Utc>>,
}

fn columns<'a>(events: impl Iterator<Item = &'a Event>) -> Columns {
    let mut c = Columns::default();
    for e in events {
        c.event_id.push(e.id.clone());
        c.clock_id.push(e.clock_id.clone());
        c.version.push(e.version);
        c.ticket_no.push(e.ticket_no.clone());
        c.unit_id.push(e.unit_id.clone());
        c.stage.push(e.stage.as_str());
        c.deadline.push(e.deadline);
        c.fire_at.push(e.fire_at);
    }
    c
}

/// What an urge or case was about, for its audit entry.
type Touched = (TicketNo, UnitId, String, DateTime<Utc>);

fn entry(action: &'static str, (ticket, unit, stage, deadline): &Touched) -> Entry {
    Entry::system(
        "supervision",
        action,
        ticket.as_str(),
        format!(
            "unit={unit} stage={stage} deadline={}",
            deadline.to_rfc3339()
        ),
    )
}

type UrgeRow = (
    UrgeId,
    TicketNo,
    UnitId,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);
/// The columns of a case, as `CaseRow` reads them.
pub const CASE_COLUMNS: &str =
    "case_id, ticket_no, unit_id, kind, stage, deadline, opened_at, state, closed_at";

#[derive(sqlx::FromRow)]
pub struct CaseRow {
    case_id: CaseId,
    ticket_no: TicketNo,
    unit_id: UnitId,
    kind: String,
    stage: Option<String>,
    deadline: Option<DateTime<Utc>>,
    opened_at: DateTime<Utc>,
    state: String,
    closed_at: Option<DateTime<Utc>>,
}

fn urge_from_row(
    (urge_id, ticket_no, unit_id, stage, deadline, issued_at): UrgeRow,
) -> Result<UrgeRecord, ApiError> {
    Ok(UrgeRecord {
        urge_id,
        ticket_no,
        unit_id,
        stage: stage_from_sql(&stage)?,
        deadline,
        issued_at,
    })
}

impl CaseRow {
    pub fn case_id(&self) -> CaseId {
        self.case_id
    }
}

/// A case from its row. A shirking case's details are in
/// `shirking_cases`: they are empty here until
/// [`crate::shirking::store::with_details`] reads them.
pub fn case_from_row(r: CaseRow) -> Result<CaseRecord, ApiError> {
    let kind = match (r.kind.as_str(), r.stage, r.deadline) {
        ("deadline", Some(stage), Some(deadline)) => CaseKind::Deadline {
            stage: stage_from_sql(&stage)?,
            deadline,
        },
        ("shirking", _, _) => CaseKind::Shirking {
            opened_by: String::new(),
            evidence: Vec::new(),
            closed_by: String::new(),
            result: String::new(),
        },
        (other, _, _) => {
            return Err(ApiError::internal(format!(
                "stored case {} of kind {other:?} without its columns",
                r.case_id
            )));
        }
    };
    Ok(CaseRecord {
        case_id: r.case_id,
        ticket_no: r.ticket_no,
        unit_id: r.unit_id,
        kind,
        opened_at: r.opened_at,
        state: CaseState::from_sql(&r.state)?,
        closed_at: r.closed_at,
    })
}

/// Tells the case's unit (supervision's feed, which undertaking carries
/// into the unit's stream) and the lifecycle consumers (`case_opened`), in
/// the transaction that opened it.
pub async fn announce_case(
    tx: &mut hotline_common::outbox::Tx,
    c: &CaseRecord,
) -> Result<(), ApiError> {
    let fact = Fact::CaseOpened(ev::CaseOpened {
        case_id: c.case_id.to_string(),
        unit_id: c.unit_id.to_string(),
        stage: c.stage().map(|s| stage_to_proto(s) as i32).unwrap_or(0),
        deadline: c.deadline().map(to_proto),
        opened_at: Some(to_proto(c.opened_at)),
    });
    events::record_fact(
        tx,
        Source::Supervision,
        c.ticket_no.as_str(),
        c.opened_at,
        fact,
    )
    .await?;
    let event = FeedEvent {
        event: Some(feed_event::Event::CaseOpened(c.to_proto())),
        ..Default::default()
    };
    feed::append(tx, &c.unit_id, &c.ticket_no, &event.encode_to_vec(), None).await?;
    Ok(())
}

impl Store {
    /// The pool, for the feed's reads.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn new(pool: PgPool) -> Store {
        Store { pool }
    }

    /// Records a batch's actions in one transaction, with their audit
    /// entries. Repeated events are absorbed by the unique event ids.
    /// Returns (urges, cases) added.
    pub async fn record(
        &self,
        a: &Actions<'_>,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), ApiError> {
        let mut tx = self.pool.begin().await?;
        let u = columns(a.urges.iter().copied());
        let ids: Vec<UrgeId> = a.urges.iter().map(|_| UrgeId::new()).collect();
        let urges: Vec<UrgeRow> = sqlx::query_as(
            "INSERT INTO urges (urge_id, event_id, clock_id, clock_version, ticket_no, unit_id, stage, deadline, fire_at, issued_at) \
             SELECT *, $10::timestamptz FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[]) \
             ON CONFLICT ON CONSTRAINT urges_event_unique DO NOTHING \
             RETURNING urge_id, ticket_no, unit_id, stage, deadline, issued_at",
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

        let c = columns(a.cases.iter().map(|(e, _)| *e));
        let ids: Vec<CaseId> = a.cases.iter().map(|_| CaseId::new()).collect();
        let closed_at: Vec<Option<DateTime<Utc>>> = a.cases.iter().map(|(_, at)| *at).collect();
        let states: Vec<&str> = closed_at
            .iter()
            .map(|at| match at {
                None => CaseState::Open.as_sql(),
                Some(_) => CaseState::Closed.as_sql(),
            })
            .collect();
        let cases: Vec<CaseRow> = sqlx::query_as(AssertSqlSafe(format!(
            "INSERT INTO cases (case_id, event_id, clock_id, clock_version, ticket_no, unit_id, stage, deadline, fire_at, closed_at, state, opened_at) \
             SELECT *, $12::timestamptz \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[]) \
             ON CONFLICT ON CONSTRAINT cases_event_unique DO NOTHING \
             RETURNING {CASE_COLUMNS}"
        )))
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
        .bind(&states)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;

        let cases: Vec<CaseRecord> = cases
            .into_iter()
            .map(case_from_row)
            .collect::<Result<_, _>>()?;
        let mut entries: Vec<Entry> = Vec::with_capacity(urges.len() + cases.len());
        entries.extend(
            urges
                .iter()
                .map(|r| entry("urge.issued", &(r.1.clone(), r.2.clone(), r.3.clone(), r.4))),
        );
        for c in &cases {
            if let CaseKind::Deadline { stage, deadline } = &c.kind {
                let touched = (
                    c.ticket_no.clone(),
                    c.unit_id.clone(),
                    stage.as_str().to_string(),
                    *deadline,
                );
                entries.push(entry("case.opened", &touched));
            }
        }
        // Each urge and case is news for its unit: supervision's feed, in
        // this transaction (undertaking copies it into the unit's stream).
        for row in urges.iter().cloned() {
            let u = urge_from_row(row)?;
            let fact = Fact::Urged(ev::Urged {
                urge_id: u.urge_id.to_string(),
                unit_id: u.unit_id.to_string(),
                stage: stage_to_proto(u.stage) as i32,
                deadline: Some(to_proto(u.deadline)),
                urged_at: Some(to_proto(u.issued_at)),
            });
            events::record_fact(
                &mut tx,
                Source::Supervision,
                u.ticket_no.as_str(),
                u.issued_at,
                fact,
            )
            .await?;
            let event = FeedEvent {
                event: Some(feed_event::Event::UrgeIssued(u.to_proto())),
                ..Default::default()
            };
            feed::append(
                &mut tx,
                &u.unit_id,
                &u.ticket_no,
                &event.encode_to_vec(),
                None,
            )
            .await?;
        }
        for c in &cases {
            announce_case(&mut tx, c).await?;
        }
        if !a.close.is_empty() {
            // 'open' is written out (it is `CaseState::Open.as_sql()`) so
            // that the partial index `cases_open_by_clock` serves the query.
            let closed: Vec<Touched> = sqlx::query_as(
                "UPDATE cases SET state = $3, closed_at = $2 \
                 WHERE clock_id = ANY($1) AND state = 'open' \
                 RETURNING ticket_no, unit_id, stage, deadline",
            )
            .bind(&a.close)
            .bind(now)
            .bind(CaseState::Closed.as_sql())
            .fetch_all(&mut *tx)
            .await?;
            entries.extend(closed.iter().map(|r| entry("case.closed", r)));
        }
        if !a.park.is_empty() {
            let ids: Vec<&EventId> = a.park.iter().map(|p| &p.event.id).collect();
            let bytes: Vec<Vec<u8>> = a
                .park
                .iter()
                .map(|p| p.event.to_proto().encode_to_vec())
                .collect();
            let owners: Vec<&str> = a.park.iter().map(|p| p.owner.as_str()).collect();
            let errors: Vec<&str> = a.park.iter().map(|p| p.error.as_str()).collect();
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

    /// The oldest parked events, to retry: (event id, encoded event).
    pub async fn parked(&self, limit: i64) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT event_id, event FROM parked_events ORDER BY parked_at, event_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Takes parked events that can never be acted on out of the park.
    pub async fn drop_parked(&self, event_ids: &[String]) -> Result<u64, ApiError> {
        Ok(
            sqlx::query("DELETE FROM parked_events WHERE event_id = ANY($1)")
                .bind(event_ids)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Urges, newest first, after `cursor`.
    pub async fn urges(
        &self,
        unit_id: Option<&UnitId>,
        ticket_no: Option<&TicketNo>,
        cursor: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<UrgeRecord>, ApiError> {
        let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
        let sql = urges_sql(unit_id.is_some(), ticket_no.is_some());
        let mut q = sqlx::query_as::<_, UrgeRow>(AssertSqlSafe(sql));
        if let Some(u) = unit_id {
            q = q.bind(u);
        }
        if let Some(t) = ticket_no {
            q = q.bind(t);
        }
        let rows: Vec<UrgeRow> = q
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(urge_from_row).collect()
    }

    /// Cases, newest first, after `cursor`.
    pub async fn cases(
        &self,
        unit_id: Option<&UnitId>,
        ticket_no: Option<&TicketNo>,
        state: Option<CaseState>,
        cursor: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<CaseRecord>, ApiError> {
        let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
        let sql = cases_sql(unit_id.is_some(), ticket_no.is_some(), state.is_some());
        let mut q = sqlx::query_as::<_, CaseRow>(AssertSqlSafe(sql));
        if let Some(u) = unit_id {
            q = q.bind(u);
        }
        if let Some(t) = ticket_no {
            q = q.bind(t);
        }
        if let Some(s) = state {
            q = q.bind(s.as_sql());
        }
        let rows: Vec<CaseRow> = q
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut cases: Vec<CaseRecord> = rows
            .into_iter()
            .map(case_from_row)
            .collect::<Result<_, _>>()?;
        crate::shirking::store::with_details(&self.pool, &mut cases).await?;
        Ok(cases)
    }
}

/// The filters a list has, in the order their values are bound, then the
/// cursor (time, id: NULL for the first page) and the limit. Only the
/// filters given are written, so each shape has a plan of its own that an
/// index serves (see `migrations/0003_list_indexes.sql`), rather than one
/// plan for `($n IS NULL OR …)` that none can.
pub(crate) fn list_sql(select: &str, filters: &[(&str, bool)], at: &str, id: &str) -> String {
    let mut sql = String::from(select);
    let mut n = 0;
    let mut words = Vec::new();
    for (column, given) in filters {
        if *given {
            n += 1;
            words.push(format!("{column} = ${n}"));
        }
    }
    words.push(format!(
        "({at}, {id}) < (COALESCE(${}::timestamptz, 'infinity'), \
         COALESCE(${}::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))",
        n + 1,
        n + 2
    ));
    sql.push_str(" WHERE ");
    sql.push_str(&words.join(" AND "));
    sql.push_str(&format!(" ORDER BY {at} DESC, {id} DESC LIMIT ${}", n + 3));
    sql
}

/// The SQL of a list of urges with these filters: unit (bound first),
/// ticket, then cursor time, cursor id, limit.
pub fn urges_sql(unit: bool, ticket: bool) -> String {
    list_sql(
        "SELECT urge_id, ticket_no, unit_id, stage, deadline, issued_at FROM urges",
        &[("unit_id", unit), ("ticket_no", ticket)],
        "issued_at",
        "urge_id",
    )
}

/// The SQL of a list of cases with these filters: unit (bound first),
/// ticket, state, then cursor time, cursor id, limit.
pub fn cases_sql(unit: bool, ticket: bool, state: bool) -> String {
    list_sql(
        &format!("SELECT {CASE_COLUMNS} FROM cases"),
        &[("unit_id", unit), ("ticket_no", ticket), ("state", state)],
        "opened_at",
        "case_id",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_write_only_the_filters_given() {
        assert_eq!(
            urges_sql(true, false),
            "SELECT urge_id, ticket_no, unit_id, stage, deadline, issued_at FROM urges \
             WHERE unit_id = $1 AND (issued_at, urge_id) < (COALESCE($2::timestamptz, 'infinity'), \
             COALESCE($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
             ORDER BY issued_at DESC, urge_id DESC LIMIT $4"
        );
        let all = cases_sql(true, true, true);
        assert!(
            all.contains("unit_id = $1 AND ticket_no = $2 AND state = $3 AND"),
            "{all}"
        );
        assert!(all.ends_with("LIMIT $6"), "{all}");
        let none = cases_sql(false, false, false);
        assert!(
            none.contains(" WHERE (opened_at, case_id) < (COALESCE($1::timestamptz"),
            "{none}"
        );
    }
}
