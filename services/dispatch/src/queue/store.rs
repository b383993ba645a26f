//! The SQL of the lists: tickets waiting in the manual queue, tickets
//! transferred many times.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::TicketNo;
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::Routing;
use sqlx::PgPool;

use crate::routing::store::{decode, routing_of};

#[derive(Clone)]
pub struct Lists {
    pool: PgPool,
}

impl Lists {
    pub fn new(pool: PgPool) -> Lists {
        Lists { pool }
    }

    /// Tickets waiting for a dispatcher, earliest dispatch deadline first,
    /// after (`deadline`, `ticket_no`).
    pub async fn queue(
        &self,
        after: Option<(DateTime<Utc>, &TicketNo)>,
        limit: i64,
    ) -> Result<Vec<(TicketSummary, Routing)>, ApiError> {
        let (at, key) = after.map_or((None, None), |(at, no)| (Some(at), Some(no)));
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT ticket, routing FROM routings WHERE queued \
             AND ($1::timestamptz IS NULL OR (dispatch_deadline, ticket_no) > ($1, $2)) \
             ORDER BY dispatch_deadline, ticket_no LIMIT $3",
        )
        .bind(at)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(t, r)| Ok((decode(t, "ticket")?, routing_of(r)?)))
            .collect()
    }

    /// Routings transferred at least `min` times, most first, after
    /// (`transfers`, `ticket_no`).
    pub async fn transferred(
        &self,
        min: i32,
        after: Option<(i32, &TicketNo)>,
        limit: i64,
    ) -> Result<Vec<Routing>, ApiError> {
        let (n, key) = after.map_or((None, None), |(n, no)| (Some(n), Some(no)));
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT routing FROM routings WHERE transfers >= $1 \
             AND ($2::int IS NULL OR transfers < $2 OR (transfers = $2 AND ticket_no > $3)) \
             ORDER BY transfers DESC, ticket_no LIMIT $4",
        )
        .bind(min.max(1))
        .bind(n)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| routing_of(r)).collect()
    }
}
