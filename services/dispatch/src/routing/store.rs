//! The SQL of routings: the one in force per ticket, every hop, the manual
//! queue's clock, and the outbox of routings for undertaking.

use chrono::{DateTime, Utc};
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, ClockSpec};
use hotline_common::error::violated_constraint;
use hotline_common::ids::TicketNo;
use hotline_common::outbox::Outbox;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::Routing;
use hotline_sla::{Policy, Stage};
use prost::Message;
use sqlx::{PgPool, Postgres, Transaction};

use crate::ids::Hop;

/// Routings not yet handed to undertaking.
pub const UNDERTAKING_OUTBOX: Outbox = Outbox::new("undertaking_outbox");

type Tx = Transaction<'static, Postgres>;

#[derive(Clone)]
pub struct Routings {
    pool: PgPool,
}

pub fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, ApiError> {
    M::decode(bytes).map_err(|e| ApiError::internal(format!("stored {what}: {e}")))
}

/// A stored routing; routings stored before hops were counted are hop 1.
pub fn routing_of(bytes: &[u8]) -> Result<Routing, ApiError> {
    let mut r: Routing = decode(bytes, "routing")?;
    r.hop = Hop::stored(r.hop).get();
    Ok(r)
}

impl Routings {
    pub fn new(pool: PgPool) -> Routings {
        Routings { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores a first routing, with its outbox row unless it waits in the
    /// manual queue; when the ticket was routed already, returns that
    /// routing instead (`false`).
    pub async fn insert(
        &self,
        no: &TicketNo,
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
        .bind(no)
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
                .get(no)
                .await?
                .ok_or_else(|| ApiError::unavailable("concurrent routing, retry"))?;
            return Ok((existing.1, false));
        }
        insert_hop(&mut tx, routing, dispatched_at).await?;
        if routing.units.is_empty() {
            start_queue_clock(&mut tx, policy, routing, dispatched_at, deadline).await?;
        } else {
            UNDERTAKING_OUTBOX.push(&mut tx, no).await?;
        }
        let action = if routing.units.is_empty() {
            "ticket.queued"
        } else {
            "ticket.routed"
        };
        audit::append(&mut tx, &[Entry::by(who, action, no, describe(routing))]).await?;
        crate::lifecycle::record_routed(&mut tx, no.as_str(), routing, dispatched_at, deadline)
            .await?;
        tx.commit().await?;
        Ok((routing.clone(), true))
    }

    /// Puts a re-dispatch in force, if the ticket is still at `from`'s hop,
    /// in the caller's transaction. Undertaking receives the new units'
    /// assignments through the outbox.
    #[allow(clippy::too_many_arguments)]
    pub async fn redispatch(
        &self,
        tx: &mut Tx,
        no: &TicketNo,
        ticket: &TicketSummary,
        routing: &Routing,
        from: &Routing,
        policy: &Policy,
        who: &Identity,
    ) -> Result<(), ApiError> {
        let from_hop = from.hop;
        let dispatched_at = time_of(routing.dispatched_at.as_ref(), "dispatched_at")?;
        let deadline = time_of(routing.dispatch_deadline.as_ref(), "dispatch_deadline")?;
        let updated = sqlx::query(
            "UPDATE routings SET ticket = $2, routing = $3, dispatched_at = $4, \
             catalogue_version = $5, hop = $6, queued = $7, transfers = $8, \
             dispatch_deadline = $10 WHERE ticket_no = $1 AND hop = $9",
        )
        .bind(no)
        .bind(ticket.encode_to_vec())
        .bind(routing.encode_to_vec())
        .bind(dispatched_at)
        .bind(&routing.catalogue_version)
        .bind(routing.hop)
        .bind(routing.units.is_empty())
        .bind(routing.transfers)
        .bind(from_hop)
        .bind(deadline)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(ApiError::precondition(
                Reason::HopSuperseded,
                format!("ticket {no} is no longer at hop {from_hop}: read its routing again"),
            )
            .with("ticket_no", no));
        }
        insert_hop(tx, routing, dispatched_at).await?;
        if from.units.is_empty() {
            clock::stop(tx, &queue_clock(no, from_hop), dispatched_at).await?;
        }
        if routing.units.is_empty() {
            start_queue_clock(tx, policy, routing, dispatched_at, deadline).await?;
        }
        UNDERTAKING_OUTBOX.push(tx, no).await?;
        let detail = format!("{} reason={}", describe(routing), routing.reason);
        audit::append(tx, &[Entry::by(who, "ticket.redispatched", no, detail)]).await?;
        crate::lifecycle::record_routed(tx, no.as_str(), routing, dispatched_at, deadline).await?;
        Ok(())
    }

    /// The ticket and the routing in force.
    pub async fn get(
        &self,
        ticket_no: &TicketNo,
    ) -> Result<Option<(TicketSummary, Routing)>, ApiError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT ticket, routing FROM routings WHERE ticket_no = $1")
                .bind(ticket_no)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(t, r)| Ok((decode(&t, "ticket")?, routing_of(&r)?)))
            .transpose()
    }

    /// Every hop of a ticket, oldest first.
    pub async fn history(&self, ticket_no: &TicketNo) -> Result<Vec<Routing>, ApiError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT routing FROM routing_hops WHERE ticket_no = $1 ORDER BY hop",
        )
        .bind(ticket_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| routing_of(r)).collect()
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
    tx: &mut Tx,
    policy: &Policy,
    routing: &Routing,
    at: DateTime<Utc>,
    deadline: DateTime<Utc>,
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

async fn insert_hop(tx: &mut Tx, routing: &Routing, at: DateTime<Utc>) -> Result<(), ApiError> {
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
        Some("routing_hops_return_once") => ApiError::precondition(
            Reason::ReturnAlreadyDecided,
            format!("return {} was accepted already", routing.return_id),
        )
        .with("return_id", &routing.return_id)
        .with("state", "accepted"),
        Some("routing_hops_pkey") => ApiError::precondition(
            Reason::HopSuperseded,
            format!(
                "ticket {} is no longer at hop {}: read its routing again",
                routing.ticket_no,
                routing.hop - 1
            ),
        )
        .with("ticket_no", &routing.ticket_no),
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

fn time_of(t: Option<&prost_types::Timestamp>, what: &str) -> Result<DateTime<Utc>, ApiError> {
    t.map(|t| hotline_common::time::from_proto(t, what))
        .transpose()?
        .ok_or_else(|| ApiError::internal(format!("routing without {what}")))
}
