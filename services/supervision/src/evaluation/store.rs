//! The evaluation's SQL: its copy of the raw events, the facts per
//! (ticket, unit), the per (unit, day) counters, and the reads of the
//! reports. Exclusions and appeals: [`decisions`].
//!
//! A ticket is refolded under a transaction-scoped advisory lock of its
//! own (`pg_advisory_xact_lock` of a hash of the ticket number): two
//! events of one ticket take turns, events of other tickets never wait
//! for it. The counters are upserted per (unit, day), in key order, by the
//! difference the ticket's facts made: two tickets of the same unit and
//! day in flight at once wait on that counter row for the rest of the
//! shorter transaction (a row lock, not a table lock).

pub mod decisions;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use hotline_common::ApiError;
use hotline_common::ids::RawUuid;
use hotline_common::outbox::Tx;
use hotline_proto::dispatch::v1::UnitKind;
use hotline_proto::events::v1::LifecycleEvent;
use hotline_sla::Evaluation;
use prost::Message;
use sqlx::{AssertSqlSafe, PgPool, Row};

use super::facts::{self, COLUMN_NAMES, COLUMNS, Counts, Fact, Metric};

/// The lock key space of the evaluation's per-ticket locks.
const LOCK_SEED: i64 = 0x3e7a1;

fn kind_sql(k: UnitKind) -> &'static str {
    match k {
        UnitKind::Unspecified => "unspecified",
        UnitKind::Department => "department",
        UnitKind::Utility => "utility",
        UnitKind::DistrictGovernment => "district_government",
        UnitKind::Street => "street",
    }
}

pub fn kind_from_sql(s: Option<&str>) -> UnitKind {
    match s {
        Some("department") => UnitKind::Department,
        Some("utility") => UnitKind::Utility,
        Some("district_government") => UnitKind::DistrictGovernment,
        Some("street") => UnitKind::Street,
        _ => UnitKind::Unspecified,
    }
}

/// Keeps the evaluation's copy of an event (once per event id).
pub async fn insert_event(tx: &mut Tx, e: &LifecycleEvent) -> Result<(), ApiError> {
    let id =
        RawUuid::parse_str(&e.event_id).map_err(|_| ApiError::invalid("event_id", "not a UUID"))?;
    let at = e
        .occurred_at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.clamp(0, 999_999_999) as u32))
        .ok_or_else(|| ApiError::invalid("occurred_at", "missing"))?;
    sqlx::query(
        "INSERT INTO eval_events (event_id, ticket_no, occurred_at, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(id)
    .bind(&e.ticket_no)
    .bind(at)
    .bind(e.encode_to_vec())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the ticket's lock for the rest of the transaction.
pub async fn lock_ticket(tx: &mut Tx, ticket_no: &str) -> Result<(), ApiError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind(ticket_no)
        .bind(LOCK_SEED)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Decodes stored event bodies (each was checked when consumed).
pub fn decode(bodies: Vec<Vec<u8>>) -> Result<Vec<LifecycleEvent>, ApiError> {
    bodies
        .into_iter()
        .map(|b| {
            LifecycleEvent::decode(b.as_slice())
                .map_err(|e| ApiError::internal(format!("stored evaluation event: {e}")))
        })
        .collect()
}

async fn ticket_events(tx: &mut Tx, ticket_no: &str) -> Result<Vec<LifecycleEvent>, ApiError> {
    let bodies: Vec<(Vec<u8>,)> = sqlx::query_as(
        "SELECT body FROM eval_events WHERE ticket_no = $1 ORDER BY occurred_at, event_id",
    )
    .bind(ticket_no)
    .fetch_all(&mut **tx)
    .await?;
    decode(bodies.into_iter().map(|b| b.0).collect())
}

async fn ticket_exclusions(
    tx: &mut Tx,
    ticket_no: &str,
) -> Result<HashMap<String, RawUuid>, ApiError> {
    let rows: Vec<(String, RawUuid)> = sqlx::query_as(
        "SELECT unit_id, exclusion_id FROM eval_exclusions WHERE ticket_no = $1 AND state = 'approved'",
    )
    .bind(ticket_no)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().collect())
}

const FACT_COLUMNS: &str = "ticket_no, unit_id, metric, item_id, day, listed_den, listed_num, \
     level, at, deadline, exclusion_id, set_aside, why";

fn fact_of(r: &sqlx::postgres::PgRow) -> Result<Fact, ApiError> {
    let metric: String = r.try_get("metric")?;
    Ok(Fact {
        ticket_no: r.try_get("ticket_no")?,
        unit_id: r.try_get("unit_id")?,
        metric: Metric::from_sql(&metric)
            .ok_or_else(|| ApiError::internal(format!("stored metric {metric}")))?,
        item_id: r.try_get("item_id")?,
        day: r.try_get("day")?,
        listed_den: r.try_get("listed_den")?,
        listed_num: r.try_get("listed_num")?,
        level: r.try_get("level")?,
        at: r.try_get("at")?,
        deadline: r.try_get("deadline")?,
        exclusion_id: r.try_get("exclusion_id")?,
        set_aside: r.try_get("set_aside")?,
        why: r.try_get("why")?,
    })
}

async fn ticket_facts(tx: &mut Tx, ticket_no: &str) -> Result<Vec<Fact>, ApiError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {FACT_COLUMNS} FROM eval_facts WHERE ticket_no = $1"
    )))
    .bind(ticket_no)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(fact_of).collect()
}

async fn upsert_fact(tx: &mut Tx, f: &Fact) -> Result<(), ApiError> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO eval_facts ({FACT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (ticket_no, unit_id, metric, item_id) DO UPDATE SET \
         day = EXCLUDED.day, listed_den = EXCLUDED.listed_den, listed_num = EXCLUDED.listed_num, \
         level = EXCLUDED.level, at = EXCLUDED.at, deadline = EXCLUDED.deadline, \
         exclusion_id = EXCLUDED.exclusion_id, set_aside = EXCLUDED.set_aside, why = EXCLUDED.why"
    )))
    .bind(&f.ticket_no)
    .bind(&f.unit_id)
    .bind(f.metric.as_sql())
    .bind(&f.item_id)
    .bind(f.day)
    .bind(f.listed_den)
    .bind(f.listed_num)
    .bind(f.level)
    .bind(f.at)
    .bind(f.deadline)
    .bind(f.exclusion_id)
    .bind(f.set_aside)
    .bind(&f.why)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_counts(tx: &mut Tx, unit: &str, day: NaiveDate, c: &Counts) -> Result<(), ApiError> {
    let cols = COLUMN_NAMES.join(", ");
    let params: Vec<String> = (0..COLUMNS).map(|i| format!("${}", i + 3)).collect();
    let sets: Vec<String> = COLUMN_NAMES
        .iter()
        .map(|c| format!("{c} = eval_counters.{c} + EXCLUDED.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO eval_counters (unit_id, day, {cols}) VALUES ($1, $2, {}) \
         ON CONFLICT (unit_id, day) DO UPDATE SET {}",
        params.join(", "),
        sets.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(unit).bind(day);
    for v in c.0 {
        q = q.bind(v);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn note_kinds(tx: &mut Tx, kinds: &[(String, UnitKind)]) -> Result<(), ApiError> {
    if kinds.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = kinds.iter().map(|k| k.0.as_str()).collect();
    let known: HashMap<String, String> =
        sqlx::query_as("SELECT unit_id, kind FROM eval_units WHERE unit_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    for (unit, kind) in kinds {
        let k = kind_sql(*kind);
        match known.get(unit) {
            // Only a known kind replaces another; an unchanged row is not
            // written (a unit's row is not a point every routing waits on).
            Some(old) if old == k || *kind == UnitKind::Unspecified => {}
            Some(_) => {
                sqlx::query("UPDATE eval_units SET kind = $2 WHERE unit_id = $1")
                    .bind(unit)
                    .bind(k)
                    .execute(&mut **tx)
                    .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO eval_units (unit_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(unit)
                .bind(k)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Refolds a ticket from its stored events and exclusions in force, and
/// applies what changed to its facts and its units' counters, in the
/// caller's transaction (under the ticket's lock).
pub async fn refresh(tx: &mut Tx, policy: &Evaluation, ticket_no: &str) -> Result<(), ApiError> {
    lock_ticket(tx, ticket_no).await?;
    let events = ticket_events(tx, ticket_no).await?;
    let exclusions = ticket_exclusions(tx, ticket_no).await?;
    let folded = facts::fold(policy, ticket_no, &events, &exclusions);
    let old = ticket_facts(tx, ticket_no).await?;
    let old_by: HashMap<_, _> = old.iter().map(|f| (f.key(), f)).collect();
    let new_keys: std::collections::HashSet<_> = folded.facts.iter().map(Fact::key).collect();
    for f in &old {
        if !new_keys.contains(&f.key()) {
            sqlx::query(
                "DELETE FROM eval_facts WHERE ticket_no = $1 AND unit_id = $2 AND metric = $3 AND item_id = $4",
            )
            .bind(&f.ticket_no)
            .bind(&f.unit_id)
            .bind(f.metric.as_sql())
            .bind(&f.item_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    for f in &folded.facts {
        if old_by.get(&f.key()).is_none_or(|o| *o != f) {
            upsert_fact(tx, f).await?;
        }
    }
    for ((unit, day), c) in facts::deltas(&old, &folded.facts) {
        add_counts(tx, &unit, day, &c).await?;
    }
    note_kinds(tx, &folded.kinds).await
}

fn sums_sql() -> String {
    COLUMN_NAMES
        .iter()
        .map(|c| format!("SUM(c.{c})::BIGINT"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts_at(r: &sqlx::postgres::PgRow, first: usize) -> Result<Counts, ApiError> {
    let mut c = Counts::default();
    for i in 0..COLUMNS {
        c.0[i] = r.try_get::<Option<i64>, _>(first + i)?.unwrap_or(0);
    }
    Ok(c)
}

/// One unit's counters over a period, with its kind.
#[derive(Debug, Clone)]
pub struct UnitSums {
    pub unit_id: String,
    pub kind: UnitKind,
    pub counts: Counts,
}

/// Every unit's counters summed over the days `from`–`to`.
pub async fn sums(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<UnitSums>, ApiError> {
    let sql = format!(
        "SELECT c.unit_id, u.kind, {} FROM eval_counters c \
         LEFT JOIN eval_units u ON u.unit_id = c.unit_id \
         WHERE c.day BETWEEN $1 AND $2 GROUP BY c.unit_id, u.kind ORDER BY c.unit_id",
        sums_sql()
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(UnitSums {
                unit_id: r.try_get(0)?,
                kind: kind_from_sql(r.try_get::<Option<String>, _>(1)?.as_deref()),
                counts: counts_at(r, 2)?,
            })
        })
        .collect()
}

/// Every unit's counters per month (the month's first day) over the days
/// `from`–`to`.
pub async fn sums_by_month(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, UnitSums)>, ApiError> {
    let sql = format!(
        "SELECT date_trunc('month', c.day)::DATE, c.unit_id, u.kind, {} FROM eval_counters c \
         LEFT JOIN eval_units u ON u.unit_id = c.unit_id \
         WHERE c.day BETWEEN $1 AND $2 GROUP BY 1, c.unit_id, u.kind ORDER BY 1, c.unit_id",
        sums_sql()
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                UnitSums {
                    unit_id: r.try_get(1)?,
                    kind: kind_from_sql(r.try_get::<Option<String>, _>(2)?.as_deref()),
                    counts: counts_at(r, 3)?,
                },
            ))
        })
        .collect()
}

/// The tickets of `tickets` that supervision has heard of (an event of
/// theirs reached the evaluation).
pub async fn known_tickets(pool: &PgPool, tickets: &[String]) -> Result<Vec<String>, ApiError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT t FROM UNNEST($1::text[]) AS t \
         WHERE EXISTS (SELECT 1 FROM eval_events e WHERE e.ticket_no = t)",
    )
    .bind(tickets)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// The unit appears in the evaluation's events (routed to, or counted).
pub async fn unit_known(pool: &PgPool, unit: &str) -> Result<bool, ApiError> {
    let (known,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM eval_units WHERE unit_id = $1) \
             OR EXISTS (SELECT 1 FROM eval_counters WHERE unit_id = $1)",
    )
    .bind(unit)
    .fetch_one(pool)
    .await?;
    Ok(known)
}

/// Which facts an explain page lists.
pub enum Side {
    /// `listed_num` (response).
    Numerator,
    /// In the denominator with one of these levels (a positive weight).
    Levels(Vec<i16>),
    /// In the denominator.
    Denominator,
}

/// A page of one unit's facts of a metric over days, by day, ticket, item.
#[allow(clippy::too_many_arguments)]
pub async fn explain(
    pool: &PgPool,
    unit: &str,
    metric: Metric,
    from: NaiveDate,
    to: NaiveDate,
    side: &Side,
    after: Option<(NaiveDate, String, String)>,
    limit: i64,
) -> Result<Vec<Fact>, ApiError> {
    let filter = match side {
        Side::Numerator => "listed_den AND listed_num",
        Side::Levels(_) => "listed_den AND level = ANY($8)",
        Side::Denominator => "listed_den",
    };
    let sql = format!(
        "SELECT {FACT_COLUMNS} FROM eval_facts \
         WHERE unit_id = $1 AND metric = $2 AND day BETWEEN $3 AND $4 AND {filter} \
         AND ($5::DATE IS NULL OR (day, ticket_no, item_id) > ($5, $6, $7)) \
         ORDER BY day, ticket_no, item_id LIMIT $9"
    );
    let (a_day, a_ticket, a_item) = match after {
        Some((d, t, i)) => (Some(d), t, i),
        None => (None, String::new(), String::new()),
    };
    let levels: Vec<i16> = match side {
        Side::Levels(l) => l.clone(),
        _ => vec![],
    };
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(unit)
        .bind(metric.as_sql())
        .bind(from)
        .bind(to)
        .bind(a_day)
        .bind(a_ticket)
        .bind(a_item)
        .bind(levels)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(fact_of).collect()
}

/// The unit has facts of the ticket (it was counted, or is on record).
pub async fn has_facts(tx: &mut Tx, ticket_no: &str, unit: &str) -> Result<bool, ApiError> {
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM eval_facts WHERE ticket_no = $1 AND unit_id = $2)",
    )
    .bind(ticket_no)
    .bind(unit)
    .fetch_one(&mut **tx)
    .await?;
    Ok(found)
}

/// Every stored event, ticket by ticket, for the recount: `each` gets a
/// ticket's events at once.
pub async fn each_ticket(
    pool: &PgPool,
    mut each: impl FnMut(&str, Vec<LifecycleEvent>),
) -> Result<i64, ApiError> {
    use futures_util::TryStreamExt;
    let mut rows = sqlx::query_as::<_, (String, Vec<u8>)>(
        "SELECT ticket_no, body FROM eval_events ORDER BY ticket_no, occurred_at, event_id",
    )
    .fetch(pool);
    let mut read = 0i64;
    let mut current: Option<String> = None;
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    while let Some((ticket, body)) = rows.try_next().await? {
        read += 1;
        if current.as_deref() != Some(ticket.as_str()) {
            if let Some(t) = current.take() {
                each(&t, decode(std::mem::take(&mut bodies))?);
            }
            current = Some(ticket);
        }
        bodies.push(body);
    }
    if let Some(t) = current {
        each(&t, decode(bodies)?);
    }
    Ok(read)
}

/// Every exclusion in force: ticket → unit → exclusion.
pub async fn exclusions_in_force(
    pool: &PgPool,
) -> Result<HashMap<String, HashMap<String, RawUuid>>, ApiError> {
    let rows: Vec<(String, String, RawUuid)> = sqlx::query_as(
        "SELECT ticket_no, unit_id, exclusion_id FROM eval_exclusions WHERE state = 'approved'",
    )
    .fetch_all(pool)
    .await?;
    let mut by: HashMap<String, HashMap<String, RawUuid>> = HashMap::new();
    for (t, u, x) in rows {
        by.entry(t).or_default().insert(u, x);
    }
    Ok(by)
}
