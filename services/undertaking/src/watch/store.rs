//! The SQL of the watch: what each change writes to the unit's feed (in
//! the change's transaction), and where undertaking is in supervision's
//! feed. The feed itself is `hotline_common::feed`.

use hotline_common::ApiError;
use hotline_common::feed;
use hotline_common::ids::{AssignmentId, UnitId};
use hotline_common::outbox::Tx;
use hotline_proto::undertaking::v1::watch_unit_events_response::Event;
use hotline_proto::undertaking::v1::{UnitPartSubmitted, WatchUnitEventsResponse};
use prost::Message;
use sqlx::PgPool;

use crate::assignments::rules::{Assignment, Role};
use crate::returns::rules::Return;

/// Writes one event for `unit` (the response without its cursor, time and
/// ticket, which the reader fills from the row).
async fn announce(
    tx: &mut Tx,
    unit: &str,
    ticket_no: &str,
    event: Event,
    source: Option<&str>,
) -> Result<bool, ApiError> {
    let msg = WatchUnitEventsResponse {
        event: Some(event),
        ..Default::default()
    };
    feed::append(tx, unit, ticket_no, &msg.encode_to_vec(), source).await
}

/// A new assignment, for its unit.
pub async fn assignment_created(tx: &mut Tx, a: &Assignment) -> Result<(), ApiError> {
    announce(
        tx,
        &a.unit_id,
        &a.ticket_no,
        Event::AssignmentCreated(a.to_proto()),
        None,
    )
    .await
    .map(drop)
}

/// A decided return, for the unit that asked for it.
pub async fn return_decided(tx: &mut Tx, r: &Return) -> Result<(), ApiError> {
    announce(
        tx,
        &r.unit_id,
        &r.ticket_no,
        Event::ReturnDecided(r.to_proto()),
        None,
    )
    .await
    .map(drop)
}

/// A co-unit's part, for the lead unit of its hop.
pub async fn part_submitted(tx: &mut Tx, part: &Assignment) -> Result<(), ApiError> {
    let lead: Option<(AssignmentId, UnitId)> = sqlx::query_as(
        "SELECT assignment_id, unit_id FROM assignments \
         WHERE ticket_no = $1 AND hop = $2 AND role = $3",
    )
    .bind(&part.ticket_no)
    .bind(part.hop)
    .bind(Role::Lead.as_sql())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((lead_id, lead_unit)) = lead else {
        return Ok(());
    };
    announce(
        tx,
        lead_unit.as_str(),
        &part.ticket_no,
        Event::PartSubmitted(UnitPartSubmitted {
            lead_assignment_id: lead_id.to_string(),
            part: Some(part.to_proto()),
        }),
        None,
    )
    .await
    .map(drop)
}

/// An event of another service's feed, copied once (by `source`).
pub async fn copied(
    tx: &mut Tx,
    unit: &str,
    ticket_no: &str,
    event: Event,
    source: &str,
) -> Result<bool, ApiError> {
    announce(tx, unit, ticket_no, event, Some(source)).await
}

/// Where undertaking stands in a followed feed; empty before the first copy.
pub async fn follow_cursor(pool: &PgPool, source: &str) -> Result<String, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT cursor FROM feed_follows WHERE source = $1")
            .bind(source)
            .fetch_optional(pool)
            .await?
            .unwrap_or_default(),
    )
}

/// Records where undertaking stands in a followed feed, in the copy's
/// transaction.
pub async fn set_follow_cursor(tx: &mut Tx, source: &str, cursor: &str) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO feed_follows (source, cursor) VALUES ($1, $2) \
         ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
    )
    .bind(source)
    .bind(cursor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
