//! Dispatch's storage: routings and the outbox to undertaking.

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, ClockSpec};
use hotline_common::error::violated_constraint;
use hotline_common::outbox::Outbox;
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::{self as pb, CatalogueVersion, Routing};
use hotline_sla::{Policy, Stage};
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::{PgPool, Postgres, Row, Transaction};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Routings not yet handed to undertaking.
pub const UNDERTAKING_OUTBOX: Outbox = Outbox::new("undertaking_outbox");

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, ApiError> {
    M::decode(bytes).map_err(|e| ApiError::internal(format!("stored {what}: {e}")))
}

impl Store {
    pub fn new(pool: PgPool) -> Store {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores a first routing, with its outbox row unless it waits in the
    /// manual queue; when the ticket was routed already, returns that
    /// routing instead (`false`).
    pub async fn insert(
        &self,
        ticket: &TicketSummary,
        routing: &Routing,
        policy: &Policy,
        who: &Identity,
    ) -> Result<(Routing, bool), ApiError> {
        let mut tx = self.pool.begin().await?;
        let dispatched_at = time_of(routing.dispatched_at.as_ref(), "dispatched_at")?;
        let deadline = time_of(routing.dispatch_deadline.as_ref(), "dispatch_deadline")?;
        let inserted = sqlx::query(
            "INSERT INTO routings (ticket_no, ticket, routing, dispatched_at, catalogue_version, \
             hop, queued, transfers, dispatch_deadline) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, 0, $7) ON CONFLICT (ticket_no) DO NOTHING",
        )
        .bind(&ticket.ticket_no)
        .bind(ticket.encode_to_vec())
        .bind(routing.encode_to_vec())
        .bind(dispatched_at)
        .bind(&routing.catalogue_version)
        .bind(routing.units.is_empty())
        .bind(deadline)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            drop(tx);
            let existing = self
                .get(&ticket.ticket_no)
                .await?
                .ok_or_else(|| ApiError::unavailable("concurrent routing, retry"))?;
            return Ok((existing.1, false));
        }
        insert_hop(&mut tx, routing, dispatched_at).await?;
        if routing.units.is_empty() {
            start_queue_clock(&mut tx, policy, routing, dispatched_at, deadline).await?;
        } else {
            UNDERTAKING_OUTBOX.push(&mut tx, &ticket.ticket_no).await?;
        }
        let action = if routing.units.is_empty() {
            "ticket.queued"
        } else {
            "ticket.routed"
        };
        audit::append(
            &mut tx,
            &[Entry::by(who, action, &ticket.ticket_no, describe(routing))],
        )
        .await?;
        tx.commit().await?;
        Ok((routing.clone(), true))
    }

    /// Puts a re-dispatch in force, if the ticket is still at `from_hop`.
    /// Undertaking hears of it through the outbox: the new units'
    /// assignments, and the earlier ones' withdrawal.
    pub async fn redispatch(
        &self,
        ticket: &TicketSummary,
        routing: &Routing,
        from: &Routing,
        policy: &Policy,
        who: &Identity,
    ) -> Result<(), ApiError> {
        let from_hop = from.hop;
        let mut tx = self.pool.begin().await?;
        let dispatched_at = time_of(routing.dispatched_at.as_ref(), "dispatched_at")?;
        let deadline = time_of(routing.dispatch_deadline.as_ref(), "dispatch_deadline")?;
        let updated = sqlx::query(
            "UPDATE routings SET ticket = $2, routing = $3, dispatched_at = $4, \
             catalogue_version = $5, hop = $6, queued = $7, transfers = $8, \
             dispatch_deadline = $10 WHERE ticket_no = $1 AND hop = $9",
        )
        .bind(&ticket.ticket_no)
        .bind(ticket.encode_to_vec())
        .bind(routing.encode_to_vec())
        .bind(dispatched_at)
        .bind(&routing.catalogue_version)
        .bind(routing.hop)
        .bind(routing.units.is_empty())
        .bind(routing.transfers)
        .bind(from_hop)
        .bind(deadline)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(ApiError::precondition(format!(
                "ticket {} is no longer at hop {from_hop}: read its routing again",
                ticket.ticket_no
            )));
        }
        insert_hop(&mut tx, routing, dispatched_at).await?;
        if from.units.is_empty() {
            clock::stop(
                &mut tx,
                &queue_clock(&routing.ticket_no, from_hop),
                dispatched_at,
            )
            .await?;
        }
        if routing.units.is_empty() {
            start_queue_clock(&mut tx, policy, routing, dispatched_at, deadline).await?;
        }
        UNDERTAKING_OUTBOX.push(&mut tx, &ticket.ticket_no).await?;
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "ticket.redispatched",
                &ticket.ticket_no,
                format!("{} reason={}", describe(routing), routing.reason),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get(&self, ticket_no: &str) -> Result<Option<(TicketSummary, Routing)>, ApiError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT ticket, routing FROM routings WHERE ticket_no = $1")
                .bind(ticket_no)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(t, r)| Ok((decode(&t, "ticket")?, routing_of(&r)?)))
            .transpose()
    }

    /// Every hop of a ticket, oldest first.
    pub async fn history(&self, ticket_no: &str) -> Result<Vec<Routing>, ApiError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT routing FROM routing_hops WHERE ticket_no = $1 ORDER BY hop",
        )
        .bind(ticket_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| routing_of(r)).collect()
    }

    /// Tickets waiting for a dispatcher, earliest dispatch deadline first.
    pub async fn queue(&self, limit: i64) -> Result<Vec<(TicketSummary, Routing)>, ApiError> {
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT ticket, routing FROM routings WHERE queued \
             ORDER BY dispatch_deadline, ticket_no LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(t, r)| Ok((decode(t, "ticket")?, routing_of(r)?)))
            .collect()
    }

    /// Routings transferred at least `min` times, most first.
    pub async fn transferred(&self, min: i32, limit: i64) -> Result<Vec<Routing>, ApiError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT routing FROM routings WHERE transfers >= $1 \
             ORDER BY transfers DESC, ticket_no LIMIT $2",
        )
        .bind(min.max(1))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| routing_of(r)).collect()
    }

    /// Registers the catalogue read at start-up. A version not seen before
    /// is put in force; so is any version when none is.
    pub async fn register_startup_catalogue(
        &self,
        c: &pb::Catalogue,
        rules: usize,
    ) -> Result<(), ApiError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CATALOGUE_LOCK)
            .execute(&mut *tx)
            .await?;
        let new = insert_catalogue(&mut tx, c, rules, "startup").await?;
        let any_in_force: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM catalogues WHERE in_force)")
                .fetch_one(&mut *tx)
                .await?;
        if new || !any_in_force {
            put_in_force(&mut tx, &c.version).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Publishes a new catalogue version and puts it in force.
    pub async fn publish_catalogue(
        &self,
        c: &pb::Catalogue,
        rules: usize,
        who: &Identity,
    ) -> Result<CatalogueVersion, ApiError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CATALOGUE_LOCK)
            .execute(&mut *tx)
            .await?;
        if !insert_catalogue(&mut tx, c, rules, &who.subject).await? {
            return Err(ApiError::precondition(format!(
                "catalogue version {:?} is published already; publish under a new version",
                c.version
            )));
        }
        put_in_force(&mut tx, &c.version).await?;
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "catalogue.published",
                "",
                format!("version={} rules={rules}", c.version),
            )],
        )
        .await?;
        let v = version_in(&mut tx, &c.version).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Puts a published version back in force.
    pub async fn activate_catalogue(
        &self,
        version: &str,
        who: &Identity,
    ) -> Result<CatalogueVersion, ApiError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CATALOGUE_LOCK)
            .execute(&mut *tx)
            .await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM catalogues WHERE version = $1)")
                .bind(version)
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            return Err(ApiError::not_found(format!(
                "no catalogue version {version:?}"
            )));
        }
        put_in_force(&mut tx, version).await?;
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "catalogue.activated",
                "",
                format!("version={version}"),
            )],
        )
        .await?;
        let v = version_in(&mut tx, version).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// The version in force.
    pub async fn catalogue_in_force(&self) -> Result<String, ApiError> {
        sqlx::query_scalar("SELECT version FROM catalogues WHERE in_force")
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ApiError::unavailable("no dispatch catalogue is in force"))
    }

    /// A published version's catalogue.
    pub async fn catalogue(&self, version: &str) -> Result<Option<pb::Catalogue>, ApiError> {
        let row: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT catalogue FROM catalogues WHERE version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|b| decode(&b, "catalogue")).transpose()
    }

    pub async fn catalogue_versions(&self) -> Result<Vec<CatalogueVersion>, ApiError> {
        let rows = sqlx::query(
            "SELECT version, rules, published_at, published_by, in_force FROM catalogues \
             ORDER BY published_at DESC, version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_from_row).collect())
    }
}

/// The clock of a ticket's wait in the manual queue at a hop.
fn queue_clock(ticket_no: &str, hop: i32) -> String {
    clock::instance_clock_id(
        ticket_no,
        Stage::ManualDispatch,
        clock::CENTRE_UNIT,
        clock::hop_instance(hop).as_deref(),
    )
}

/// A ticket enters the manual queue: the centre's clock runs until a
/// dispatcher sends it on.
async fn start_queue_clock(
    tx: &mut Transaction<'static, Postgres>,
    policy: &Policy,
    routing: &Routing,
    at: chrono::DateTime<chrono::Utc>,
    deadline: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let instance = clock::hop_instance(routing.hop);
    clock::start(
        tx,
        policy,
        &ClockSpec {
            ticket_no: &routing.ticket_no,
            stage: Stage::ManualDispatch,
            unit_id: clock::CENTRE_UNIT,
            instance: instance.as_deref(),
            started_at: at,
            deadline,
        },
    )
    .await
}

/// Serialises changes to which catalogue is in force.
const CATALOGUE_LOCK: i64 = 0x0063_6174_616c_6f67;

async fn insert_catalogue(
    tx: &mut Transaction<'static, Postgres>,
    c: &pb::Catalogue,
    rules: usize,
    by: &str,
) -> Result<bool, ApiError> {
    Ok(sqlx::query(
        "INSERT INTO catalogues (version, catalogue, rules, published_at, published_by) \
         VALUES ($1, $2, $3, now(), $4) ON CONFLICT (version) DO NOTHING",
    )
    .bind(&c.version)
    .bind(c.encode_to_vec())
    .bind(i32::try_from(rules).unwrap_or(i32::MAX))
    .bind(by)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

async fn put_in_force(
    tx: &mut Transaction<'static, Postgres>,
    version: &str,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE catalogues SET in_force = false WHERE in_force AND version <> $1")
        .bind(version)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE catalogues SET in_force = true WHERE version = $1")
        .bind(version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn version_in(
    tx: &mut Transaction<'static, Postgres>,
    version: &str,
) -> Result<CatalogueVersion, ApiError> {
    let row = sqlx::query(
        "SELECT version, rules, published_at, published_by, in_force FROM catalogues WHERE version = $1",
    )
    .bind(version)
    .fetch_one(&mut **tx)
    .await?;
    Ok(version_from_row(&row))
}

fn version_from_row(row: &sqlx::postgres::PgRow) -> CatalogueVersion {
    CatalogueVersion {
        version: row.get("version"),
        published_at: Some(hotline_common::time::to_proto(row.get("published_at"))),
        published_by: row.get("published_by"),
        in_force: row.get("in_force"),
        rules: row.get("rules"),
    }
}

async fn insert_hop(
    tx: &mut Transaction<'static, Postgres>,
    routing: &Routing,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO routing_hops (ticket_no, hop, routing, return_id, decided_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&routing.ticket_no)
    .bind(routing.hop)
    .bind(routing.encode_to_vec())
    .bind(Some(routing.return_id.as_str()).filter(|r| !r.is_empty()))
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("routing_hops_return_once") => {
            ApiError::precondition(format!("return {} was accepted already", routing.return_id))
        }
        Some("routing_hops_pkey") => ApiError::precondition(format!(
            "ticket {} is no longer at hop {}: read its routing again",
            routing.ticket_no,
            routing.hop - 1
        )),
        _ => e.into(),
    })?;
    Ok(())
}

fn describe(routing: &Routing) -> String {
    let units: Vec<&str> = routing.units.iter().map(|u| u.unit_id.as_str()).collect();
    format!(
        "hop={} units={} basis={} catalogue={} transfers={}",
        routing.hop,
        units.join(","),
        routing.basis,
        routing.catalogue_version,
        routing.transfers
    )
}

fn time_of(
    t: Option<&prost_types::Timestamp>,
    what: &str,
) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    t.map(|t| hotline_common::time::from_proto(t, what))
        .transpose()?
        .ok_or_else(|| ApiError::internal(format!("routing without {what}")))
}

/// A stored routing; routings stored before hops were counted are hop 1.
fn routing_of(bytes: &[u8]) -> Result<Routing, ApiError> {
    let mut r: Routing = decode(bytes, "routing")?;
    r.hop = r.hop.max(1);
    Ok(r)
}
