//! The SQL of the lists: tickets waiting in the manual queue, tickets
//! transferred many times.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::TicketNo;
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::Routing;
use sqlx::PgPool;

use crate::routing::store::{decode, routing_of};

/// Tickets waiting for a dispatcher, earliest dispatch deadline first,
/// after (`$1`, `$2`) (NULL: from the first), served by the partial index
/// `routings_queued`.
pub const QUEUE: &str = "SELECT ticket, routing FROM routings WHERE queued \
     AND (dispatch_deadline, ticket_no) > (COALESCE($1::timestamptz, '-infinity'), COALESCE($2::text, '')) \
     ORDER BY dispatch_deadline, ticket_no LIMIT $3";

/// Routings transferred at least `$1` (≥ 1) times, most first, then by
/// ticket number, after (`$2` transfers, ticket `$3`) (NULL: from the
/// first). The order is that of `-transfers, ticket_no`, so that one row
/// comparison pages it on the partial index `routings_transferred_page`.
pub const TRANSFERRED: &str = "SELECT routing FROM routings WHERE transfers > 0 \
     AND -transfers <= -$1::int \
     AND (-transfers, ticket_no) > (COALESCE(-$2::int, -2147483647), COALESCE($3::text, '')) \
     ORDER BY -transfers, ticket_no LIMIT $4";

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
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(QUEUE)
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
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(TRANSFERRED)
            .bind(min.max(1))
            .bind(n)
            .bind(key)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| routing_of(r)).collect()
    }
}
