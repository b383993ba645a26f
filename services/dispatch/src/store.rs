//! Dispatch's storage: routings and the outbox to undertaking.

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::outbox::Outbox;
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::Routing;
use prost::Message;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

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

    /// Stores a routing with its outbox row; when the ticket was routed
    /// already, returns that routing instead (`false`).
    pub async fn insert(
        &self,
        ticket: &TicketSummary,
        routing: &Routing,
        who: &Identity,
    ) -> Result<(Routing, bool), ApiError> {
        let mut tx = self.pool.begin().await?;
        let dispatched_at = routing
            .dispatched_at
            .as_ref()
            .map(|t| hotline_common::time::from_proto(t, "dispatched_at"))
            .transpose()?
            .ok_or_else(|| ApiError::internal("routing without dispatch time"))?;
        let inserted = sqlx::query(
            "INSERT INTO routings (ticket_no, ticket, routing, dispatched_at, catalogue_version) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_no) DO NOTHING",
        )
        .bind(&ticket.ticket_no)
        .bind(ticket.encode_to_vec())
        .bind(routing.encode_to_vec())
        .bind(dispatched_at)
        .bind(&routing.catalogue_version)
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
        UNDERTAKING_OUTBOX.push(&mut tx, &ticket.ticket_no).await?;
        let units: Vec<&str> = routing.units.iter().map(|u| u.unit_id.as_str()).collect();
        let detail = format!(
            "units={} basis={} catalogue={}",
            units.join(","),
            routing.basis,
            routing.catalogue_version
        );
        audit::append(
            &mut tx,
            &[Entry::by(who, "ticket.routed", &ticket.ticket_no, detail)],
        )
        .await?;
        tx.commit().await?;
        Ok((routing.clone(), true))
    }

    pub async fn get(&self, ticket_no: &str) -> Result<Option<(TicketSummary, Routing)>, ApiError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT ticket, routing FROM routings WHERE ticket_no = $1")
                .bind(ticket_no)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(t, r)| Ok((decode(&t, "ticket")?, decode(&r, "routing")?)))
            .transpose()
    }
}
