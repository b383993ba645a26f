//! Time-limit clocks (时限) and the deadline scheduler.
//!
//! A service that owns a stage starts a clock when the stage starts (in the
//! transaction that starts it), stops it when the stage is done, and moves
//! it when an extension is approved. Each running clock has two timers: "due
//! soon" at the policy's lead time and "expired" at the deadline. The
//! [`run_scheduler`] loop claims due timers by leasing them (one statement,
//! `FOR UPDATE SKIP LOCKED` inside, committed at once), publishes their
//! events to RabbitMQ with confirms with no transaction open, and only then
//! deletes them: a crash or a broker outage before the delete leaves the
//! timers in place to fire again (consumers deduplicate by `event_id`), and
//! replicas never claim the same timer while its lease runs.
//!
//! PostgreSQL holds the pending timers, indexed by fire time, so millions of
//! clocks lasting minutes to weeks cost one index; RabbitMQ only carries
//! events that are due.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hotline_proto::common::v1 as pb;
use hotline_proto::common::v1::clock_service_server::ClockService;
use hotline_sla::{Policy, Stage};
use sqlx::migrate::Migrator;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::bus::Publisher;
use crate::convert::{stage_from_proto, stage_to_proto};
use crate::error::ApiError;
use crate::outbox::Tx;
use crate::time::to_proto;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/clock");

/// The unit that holds dispatch clocks: the hotline centre itself.
pub const CENTRE_UNIT: &str = "hotline-centre";
/// Timers claimed and published per transaction.
pub const BATCH: i64 = 2000;
/// The scheduler looks for due timers at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(100);
const MAX_CHECK: usize = 1000;

/// A clock to start.
#[derive(Debug, Clone)]
pub struct ClockSpec<'a> {
    pub ticket_no: &'a str,
    pub stage: Stage,
    pub unit_id: &'a str,
    /// Tells apart clocks of the same ticket, stage and unit: a later
    /// routing hop, another whistle. `None` for the first.
    pub instance: Option<&'a str>,
    pub started_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

pub fn clock_id(ticket_no: &str, stage: Stage, unit_id: &str) -> String {
    format!("{ticket_no}/{}/{unit_id}", stage.as_str())
}

/// The id of a clock that may recur for the same ticket, stage and unit.
pub fn instance_clock_id(
    ticket_no: &str,
    stage: Stage,
    unit_id: &str,
    instance: Option<&str>,
) -> String {
    match instance {
        None => clock_id(ticket_no, stage, unit_id),
        Some(i) => format!("{}/{i}", clock_id(ticket_no, stage, unit_id)),
    }
}

/// The instance of an assignment's clocks at routing hop `hop`.
pub fn hop_instance(hop: i32) -> Option<String> {
    (hop > 1).then(|| format!("hop{hop}"))
}

pub fn event_id(clock_id: &str, version: i64, kind: pb::DeadlineEventKind) -> String {
    let k = match kind {
        pb::DeadlineEventKind::DueSoon => "due_soon",
        pb::DeadlineEventKind::Expired => "expired",
        pb::DeadlineEventKind::StoppedLate => "stopped_late",
        pb::DeadlineEventKind::Unspecified => "unspecified",
    };
    format!("{clock_id}#{version}#{k}")
}

struct TimerRow<'a> {
    fire_at: DateTime<Utc>,
    kind: pb::DeadlineEventKind,
    clock_id: &'a str,
    version: i64,
    ticket_no: &'a str,
    stage: Stage,
    unit_id: &'a str,
    deadline: DateTime<Utc>,
}

async fn insert_timer(tx: &mut Tx, t: TimerRow<'_>) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO clock_timers (fire_at, kind, clock_id, clock_version, ticket_no, stage, unit_id, deadline) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.fire_at)
    .bind(t.kind as i16)
    .bind(t.clock_id)
    .bind(t.version)
    .bind(t.ticket_no)
    .bind(stage_to_proto(t.stage) as i16)
    .bind(t.unit_id)
    .bind(t.deadline)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The "due soon" and "expired" timers of a clock running from
/// `started_at` to `deadline`, as (fire at, kind); a due-soon time already
/// past at `now` is skipped.
fn timers_of(
    policy: &Policy,
    started_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, pb::DeadlineEventKind)> {
    let due_soon = policy.due_soon_at(started_at, deadline);
    let mut timers = vec![(deadline, pb::DeadlineEventKind::Expired)];
    if due_soon < deadline && due_soon > now {
        timers.push((due_soon, pb::DeadlineEventKind::DueSoon));
    }
    timers
}

/// Arms the timers of a running clock (see [`timers_of`]).
#[allow(clippy::too_many_arguments)]
async fn arm(
    tx: &mut Tx,
    policy: &Policy,
    clock_id: &str,
    version: i64,
    ticket_no: &str,
    stage: Stage,
    unit_id: &str,
    started_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    for (fire_at, kind) in timers_of(policy, started_at, deadline, now) {
        insert_timer(
            tx,
            TimerRow {
                fire_at,
                kind,
                clock_id,
                version,
                ticket_no,
                stage,
                unit_id,
                deadline,
            },
        )
        .await?;
    }
    Ok(())
}

/// Starts a clock inside the caller's transaction, with its timers, in one
/// statement. Starting a clock that exists already does nothing (the
/// caller's retry is harmless).
pub async fn start(tx: &mut Tx, policy: &Policy, spec: &ClockSpec<'_>) -> Result<(), ApiError> {
    let id = instance_clock_id(spec.ticket_no, spec.stage, spec.unit_id, spec.instance);
    let (fire_at, kinds): (Vec<DateTime<Utc>>, Vec<i16>) =
        timers_of(policy, spec.started_at, spec.deadline, spec.started_at)
            .into_iter()
            .map(|(at, kind)| (at, kind as i16))
            .unzip();
    sqlx::query(
        "WITH started AS ( \
             INSERT INTO clocks (clock_id, ticket_no, stage, unit_id, started_at, deadline) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (clock_id) DO NOTHING RETURNING clock_id) \
         INSERT INTO clock_timers (fire_at, kind, clock_id, clock_version, ticket_no, stage, unit_id, deadline) \
         SELECT t.fire_at, t.kind, started.clock_id, 1, $2, $7, $4, $6 \
         FROM started, UNNEST($8::timestamptz[], $9::int2[]) AS t(fire_at, kind)",
    )
    .bind(&id)
    .bind(spec.ticket_no)
    .bind(spec.stage.as_str())
    .bind(spec.unit_id)
    .bind(spec.started_at)
    .bind(spec.deadline)
    .bind(stage_to_proto(spec.stage) as i16)
    .bind(&fire_at)
    .bind(&kinds)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stops a clock: its timers still in the future go (those already due
/// still fire, so an expiry the scheduler had not published yet is not
/// lost), and if it had expired a "stopped late" event is queued so that
/// supervision closes its case. Returns false when it was not running.
pub async fn stop(tx: &mut Tx, clock_id: &str, at: DateTime<Utc>) -> Result<bool, ApiError> {
    // One statement: the clock stops and, only if it was running, its
    // future timers go.
    let row = sqlx::query(
        "WITH stopped AS ( \
             UPDATE clocks SET stopped_at = $2 WHERE clock_id = $1 AND stopped_at IS NULL \
             RETURNING version, ticket_no, stage, unit_id, deadline), \
         gone AS ( \
             DELETE FROM clock_timers t USING stopped WHERE t.clock_id = $1 AND t.fire_at > $2) \
         SELECT version, ticket_no, stage, unit_id, deadline FROM stopped",
    )
    .bind(clock_id)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let deadline: DateTime<Utc> = row.get("deadline");
    if at > deadline {
        let stage: String = row.get("stage");
        insert_timer(
            tx,
            TimerRow {
                fire_at: at,
                kind: pb::DeadlineEventKind::StoppedLate,
                clock_id,
                version: row.get("version"),
                ticket_no: row.get("ticket_no"),
                stage: stage.parse().map_err(|e: String| ApiError::internal(e))?,
                unit_id: row.get("unit_id"),
                deadline,
            },
        )
        .await?;
    }
    Ok(true)
}

/// Moves a running clock's deadline (an approved extension): the version
/// goes up, old timers go, new ones are armed. Events of the old version
/// that are already on their way are ignored by supervision. When the old
/// deadline had already passed, a "stopped late" event of the old version
/// is queued, so that supervision closes the case the expiry opened: the
/// unit now has until the new deadline.
pub async fn extend(
    tx: &mut Tx,
    policy: &Policy,
    clock_id: &str,
    new_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, ApiError> {
    let old: (DateTime<Utc>,) = sqlx::query_as(
        "SELECT deadline FROM clocks WHERE clock_id = $1 AND stopped_at IS NULL FOR UPDATE",
    )
    .bind(clock_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| {
        ApiError::precondition(
            crate::Reason::ClockNotRunning,
            format!("clock {clock_id} is not running"),
        )
        .with("clock_id", clock_id)
    })?;
    let row = sqlx::query(
        "UPDATE clocks SET version = version + 1, deadline = $2 \
         WHERE clock_id = $1 AND stopped_at IS NULL \
         RETURNING version, ticket_no, stage, unit_id, started_at",
    )
    .bind(clock_id)
    .bind(new_deadline)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM clock_timers WHERE clock_id = $1")
        .bind(clock_id)
        .execute(&mut **tx)
        .await?;
    let stage: String = row.get("stage");
    let stage: Stage = stage.parse().map_err(|e: String| ApiError::internal(e))?;
    let version: i64 = row.get("version");
    if now > old.0 {
        insert_timer(
            tx,
            TimerRow {
                fire_at: now,
                kind: pb::DeadlineEventKind::StoppedLate,
                clock_id,
                version: version - 1,
                ticket_no: row.get("ticket_no"),
                stage,
                unit_id: row.get("unit_id"),
                deadline: old.0,
            },
        )
        .await?;
    }
    arm(
        tx,
        policy,
        clock_id,
        version,
        row.get("ticket_no"),
        stage,
        row.get("unit_id"),
        row.get("started_at"),
        new_deadline,
        now,
    )
    .await?;
    Ok(version)
}

/// A clock as its owner sees it now.
pub async fn states(pool: &PgPool, ids: &[String]) -> Result<Vec<pb::ClockState>, ApiError> {
    let rows = sqlx::query(
        "SELECT clock_id, version, stopped_at, deadline, ticket_no, stage, unit_id \
         FROM clocks WHERE clock_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let stage: String = r.get("stage");
            let stage: Stage = stage.parse().map_err(|e: String| ApiError::internal(e))?;
            Ok(pb::ClockState {
                clock_id: r.get("clock_id"),
                version: r.get("version"),
                running: r.get::<Option<DateTime<Utc>>, _>("stopped_at").is_none(),
                stopped_at: crate::time::opt_to_proto(r.get("stopped_at")),
                deadline: Some(to_proto(r.get("deadline"))),
                ticket_no: r.get("ticket_no"),
                stage: stage_to_proto(stage) as i32,
                unit_id: r.get("unit_id"),
            })
        })
        .collect()
}

/// The `ClockService` every clock owner serves.
pub struct ClockApi {
    pub pool: PgPool,
}

#[tonic::async_trait]
impl ClockService for ClockApi {
    async fn check_clocks(
        &self,
        req: Request<pb::CheckClocksRequest>,
    ) -> Result<Response<pb::CheckClocksResponse>, Status> {
        let ids = req.into_inner().clock_ids;
        if ids.len() > MAX_CHECK {
            return Err(ApiError::invalid("clock_ids", &format!("at most {MAX_CHECK}")).into());
        }
        Ok(Response::new(pb::CheckClocksResponse {
            clocks: states(&self.pool, &ids).await?,
        }))
    }
}

/// How long a claim of due timers keeps other schedulers away from them.
/// A scheduler that dies mid-publish leaves its timers to wait this long,
/// late by as much (an urge that comes due after its deadline is not
/// issued), so it is short: a publish is cut at half of it, so that only a
/// scheduler that died loses its timers to another, and an event published
/// twice is absorbed by its consumers (they deduplicate by event id).
pub const TIMER_LEASE: Duration = Duration::from_secs(10);

/// Claims due timers (leasing them, in a statement that commits at once),
/// publishes their events with confirms with no transaction open, then
/// deletes them. A failed publish hands the timers back at once, to be
/// retried on the backoff schedule; a scheduler that dies mid-publish
/// leaves its lease to run out. Returns how many were published.
pub async fn fire_due(pool: &PgPool, publisher: &Publisher, limit: i64) -> anyhow::Result<usize> {
    let started = std::time::Instant::now();
    let rows = sqlx::query(
        "UPDATE clock_timers SET leased_until = now() + make_interval(secs => $2) \
         WHERE id = ANY(ARRAY( \
           SELECT id FROM clock_timers WHERE fire_at <= now() \
           AND (leased_until IS NULL OR leased_until <= now()) \
           ORDER BY fire_at LIMIT $1 FOR UPDATE SKIP LOCKED)) \
         RETURNING id, fire_at, kind, clock_id, clock_version, ticket_no, stage, unit_id, deadline",
    )
    .bind(limit)
    .bind(TIMER_LEASE.as_secs_f64())
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let events: Vec<pb::DeadlineEvent> = rows
        .iter()
        .map(|r| {
            let kind = pb::DeadlineEventKind::try_from(r.get::<i16, _>("kind") as i32)
                .unwrap_or(pb::DeadlineEventKind::Unspecified);
            let clock_id: String = r.get("clock_id");
            let version: i64 = r.get("clock_version");
            pb::DeadlineEvent {
                event_id: event_id(&clock_id, version, kind),
                kind: kind as i32,
                clock_id,
                clock_version: version,
                ticket_no: r.get("ticket_no"),
                stage: r.get::<i16, _>("stage") as i32,
                unit_id: r.get("unit_id"),
                deadline: Some(to_proto(r.get("deadline"))),
                fire_at: Some(to_proto(r.get("fire_at"))),
            }
        })
        .collect();
    let claimed = started.elapsed();
    let limit = TIMER_LEASE / 2;
    let publish = tokio::time::timeout(limit, publisher.publish(&events))
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "not confirmed within {} ms",
                limit.as_millis()
            ))
        });
    if let Err(e) = publish {
        // Due again at once for the next try; if this fails too, the lease
        // runs out.
        let _ = sqlx::query("UPDATE clock_timers SET leased_until = NULL WHERE id = ANY($1)")
            .bind(&ids)
            .execute(pool)
            .await;
        return Err(e);
    }
    let published = started.elapsed();
    // A timer deleted meanwhile (its clock moved) is simply not there.
    sqlx::query("DELETE FROM clock_timers WHERE id = ANY($1)")
        .bind(&ids)
        .execute(pool)
        .await?;
    tracing::debug!(
        events = events.len(),
        claim_ms = claimed.as_millis() as u64,
        publish_ms = (published - claimed).as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "deadline events fired"
    );
    for e in &events {
        tracing::debug!(event_id = %e.event_id, "deadline event published");
    }
    Ok(events.len())
}

async fn next_fire(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // Timers leased by another scheduler are its to fire (or, once their
    // lease runs out, found by the next poll).
    sqlx::query_scalar(
        "SELECT fire_at FROM clock_timers WHERE leased_until IS NULL OR leased_until <= now() \
         ORDER BY fire_at LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

/// Fires timers as they come due until shutdown, looking at least every
/// 100 ms.
pub async fn run_scheduler(pool: PgPool, publisher: Arc<Publisher>, token: CancellationToken) {
    let mut backoff = crate::retry::Backoff::new();
    loop {
        if token.is_cancelled() {
            return;
        }
        let sleep = match fire_due(&pool, &publisher, BATCH).await {
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => {
                backoff.reset();
                match next_fire(&pool).await {
                    Ok(Some(t)) => (t - Utc::now()).to_std().unwrap_or_default().min(MAX_SLEEP),
                    Ok(None) => MAX_SLEEP,
                    Err(_) => MAX_SLEEP,
                }
            }
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = delay.as_millis() as u64,
                    "deadline events not published, will retry"
                );
                delay
            }
        };
        if sleep.is_zero() {
            continue;
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// The stage a deadline event concerns.
pub fn event_stage(e: &pb::DeadlineEvent) -> Option<Stage> {
    stage_from_proto(e.stage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let c = clock_id("BJ1", Stage::SignOff, "u1");
        assert_eq!(c, "BJ1/sign_off/u1");
        assert_ne!(
            event_id(&c, 1, pb::DeadlineEventKind::DueSoon),
            event_id(&c, 2, pb::DeadlineEventKind::DueSoon)
        );
        assert_ne!(
            event_id(&c, 1, pb::DeadlineEventKind::DueSoon),
            event_id(&c, 1, pb::DeadlineEventKind::Expired)
        );
    }
}
