//! The SQL of consultation meetings (`migrations/0009_meetings.sql`), and
//! of the tickets seen that may call for one.

use crate::meetings::rules::Thresholds;
use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::summons::{Call, Summoned, Summonses};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::supervision::v1 as pb;
use hotline_proto::supervision::v1::meeting_resolution::Resolution as Raw;
use hotline_sla::{Policy, Stage};
use sqlx::{AssertSqlSafe, PgExecutor, PgPool};

use super::rules::{MeetingState, Resolution};
use crate::ids::MeetingId;

/// The units a meeting invites: arrival clocks in stage `meeting_arrival`.
pub const SUMMONSES: Summonses = Summonses {
    table: "meeting_units",
    owner: "meeting_id",
    stage: Stage::MeetingArrival,
};

const MEETING: &str = "meeting_id, state, ticket_nos, place, agenda, starts_at, convened_by, \
     convened_at, minutes, recorded_by, recorded_at";
const RESOLUTION: &str = "meeting_id, position, kind, ticket_no, lead_unit_id, co_unit_ids, hop, \
     unit_id, action, due, done_at, result";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Meeting {
    pub meeting_id: MeetingId,
    pub state: String,
    pub ticket_nos: Vec<String>,
    pub place: String,
    pub agenda: String,
    pub starts_at: DateTime<Utc>,
    pub convened_by: String,
    pub convened_at: DateTime<Utc>,
    pub minutes: String,
    pub recorded_by: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRow {
    pub meeting_id: MeetingId,
    pub unit_id: UnitId,
    pub arrive_by: DateTime<Utc>,
    pub arrived_at: Option<DateTime<Utc>>,
}

impl UnitRow {
    pub fn summoned(&self) -> Summoned {
        Summoned {
            unit_id: self.unit_id.clone(),
            arrive_by: self.arrive_by,
            arrived_at: self.arrived_at,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResolutionRow {
    pub meeting_id: MeetingId,
    pub position: i32,
    pub kind: String,
    pub ticket_no: String,
    pub lead_unit_id: String,
    pub co_unit_ids: Vec<String>,
    pub hop: i32,
    pub unit_id: String,
    pub action: String,
    pub due: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub result: String,
}

impl ResolutionRow {
    fn to_proto(&self) -> pb::MeetingResolution {
        let resolution = if self.kind == "redispatch" {
            Raw::Redispatch(pb::MeetingRedispatch {
                ticket_no: self.ticket_no.clone(),
                lead_unit_id: self.lead_unit_id.clone(),
                co_unit_ids: self.co_unit_ids.clone(),
                hop: self.hop,
            })
        } else {
            Raw::Action(pb::MeetingAction {
                action_no: self.position,
                unit_id: self.unit_id.clone(),
                action: self.action.clone(),
                due: opt_to_proto(self.due),
                done_at: opt_to_proto(self.done_at),
                result: self.result.clone(),
                late: matches!((self.done_at, self.due), (Some(d), Some(due)) if d > due),
            })
        };
        pb::MeetingResolution {
            resolution: Some(resolution),
        }
    }
}

impl Meeting {
    pub fn state(&self) -> Result<MeetingState, ApiError> {
        MeetingState::from_sql(&self.state)
    }

    pub fn first_ticket(&self) -> &str {
        self.ticket_nos.first().map(String::as_str).unwrap_or("")
    }

    pub fn to_proto(
        &self,
        units: &[UnitRow],
        resolutions: &[ResolutionRow],
    ) -> Result<pb::Meeting, ApiError> {
        Ok(pb::Meeting {
            meeting_id: self.meeting_id.to_string(),
            state: self.state()?.to_proto() as i32,
            ticket_nos: self.ticket_nos.clone(),
            units: units
                .iter()
                .filter(|u| u.meeting_id == self.meeting_id)
                .map(|u| pb::SummonedUnit {
                    unit_id: u.unit_id.to_string(),
                    arrive_by: Some(to_proto(u.arrive_by)),
                    arrived_at: opt_to_proto(u.arrived_at),
                    late: u.summoned().late(),
                    non_cooperation: 0,
                })
                .collect(),
            place: self.place.clone(),
            agenda: self.agenda.clone(),
            starts_at: Some(to_proto(self.starts_at)),
            convened_by: self.convened_by.clone(),
            convened_at: Some(to_proto(self.convened_at)),
            minutes: self.minutes.clone(),
            resolutions: resolutions
                .iter()
                .filter(|r| r.meeting_id == self.meeting_id)
                .map(ResolutionRow::to_proto)
                .collect(),
            recorded_by: self.recorded_by.clone(),
            recorded_at: opt_to_proto(self.recorded_at),
        })
    }
}

/// What a lifecycle event tells of a ticket that may call for a meeting.
pub enum Seen<'a> {
    Accepted { tier: &'a str, at: DateTime<Utc> },
    Routed { transfers: i32 },
    Closed { at: DateTime<Utc> },
    RaisedAgain { times: i32 },
    Clustered { cluster_id: &'a str },
}

/// Keeps what an event tells, and whether the ticket is a candidate now.
pub async fn note_seen(
    tx: &mut Tx,
    ticket: &str,
    seen: Seen<'_>,
    t: Thresholds,
) -> Result<(), ApiError> {
    match seen {
        Seen::Accepted { tier, at } => sqlx::query(
            "INSERT INTO meeting_tickets_seen (ticket_no, tier, accepted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (ticket_no) DO UPDATE SET tier = EXCLUDED.tier, accepted_at = EXCLUDED.accepted_at",
        )
        .bind(ticket)
        .bind(tier)
        .bind(at),
        Seen::Routed { transfers } => sqlx::query(
            "INSERT INTO meeting_tickets_seen (ticket_no, transfers) VALUES ($1, $2) \
             ON CONFLICT (ticket_no) DO UPDATE \
             SET transfers = GREATEST(meeting_tickets_seen.transfers, EXCLUDED.transfers)",
        )
        .bind(ticket)
        .bind(transfers),
        Seen::Closed { at } => sqlx::query(
            "INSERT INTO meeting_tickets_seen (ticket_no, closed_at) VALUES ($1, $2) \
             ON CONFLICT (ticket_no) DO UPDATE SET closed_at = EXCLUDED.closed_at",
        )
        .bind(ticket)
        .bind(at),
        Seen::RaisedAgain { times } => sqlx::query(
            "INSERT INTO meeting_tickets_seen (ticket_no, times_raised) VALUES ($1, $2) \
             ON CONFLICT (ticket_no) DO UPDATE \
             SET times_raised = GREATEST(meeting_tickets_seen.times_raised, EXCLUDED.times_raised)",
        )
        .bind(ticket)
        .bind(times),
        Seen::Clustered { cluster_id } => sqlx::query(
            "INSERT INTO meeting_tickets_seen (ticket_no, cluster_id) VALUES ($1, $2) \
             ON CONFLICT (ticket_no) DO UPDATE SET cluster_id = EXCLUDED.cluster_id",
        )
        .bind(ticket)
        .bind(cluster_id),
    }
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE meeting_tickets_seen \
         SET candidate = (tier = 'emergency' OR transfers >= $2 OR times_raised >= $3 \
             OR cluster_id <> '') \
         WHERE ticket_no = $1",
    )
    .bind(ticket)
    .bind(i32::try_from(t.many_transfers).unwrap_or(i32::MAX))
    .bind(i32::try_from(t.raised_again).unwrap_or(i32::MAX))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeenRow {
    pub ticket_no: String,
    pub tier: String,
    pub transfers: i32,
    pub times_raised: i32,
    pub cluster_id: String,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// The open candidates, newest accepted first, after `cursor`.
pub async fn candidates(
    pool: &PgPool,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<SeenRow>, ApiError> {
    let q = match cursor {
        None => sqlx::query_as(CANDIDATES_FIRST).bind(limit),
        Some(c) => sqlx::query_as(CANDIDATES_AFTER)
            .bind(limit)
            .bind(c.at)
            .bind(c.key.clone()),
    };
    Ok(q.fetch_all(pool).await?)
}

/// The candidates' first page, on the partial index `meeting_candidates`.
pub const CANDIDATES_FIRST: &str = "SELECT ticket_no, tier, transfers, times_raised, cluster_id, accepted_at \
     FROM meeting_tickets_seen \
     WHERE candidate AND closed_at IS NULL AND accepted_at IS NOT NULL \
     ORDER BY accepted_at DESC, ticket_no DESC LIMIT $1";
/// The pages after the first, after the cursor ($2, $3).
pub const CANDIDATES_AFTER: &str = "SELECT ticket_no, tier, transfers, times_raised, cluster_id, accepted_at \
     FROM meeting_tickets_seen \
     WHERE candidate AND closed_at IS NULL AND accepted_at IS NOT NULL \
     AND (accepted_at, ticket_no) < ($2, $3) \
     ORDER BY accepted_at DESC, ticket_no DESC LIMIT $1";

/// What a new meeting holds.
pub struct New<'a> {
    pub tickets: &'a [TicketNo],
    pub place: &'a str,
    pub agenda: &'a str,
    pub by: &'a str,
    pub call: &'a Call,
    pub at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, policy: &Policy, n: &New<'_>) -> Result<MeetingId, ApiError> {
    let id = MeetingId::new();
    let tickets: Vec<&str> = n.tickets.iter().map(|t| t.as_str()).collect();
    sqlx::query(
        "INSERT INTO meetings (meeting_id, state, ticket_nos, place, agenda, starts_at, convened_by, convened_at) \
         VALUES ($1, 'convened', $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&tickets)
    .bind(n.place)
    .bind(n.agenda)
    .bind(n.call.arrive_by)
    .bind(n.by)
    .bind(n.at)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO meeting_tickets (ticket_no, meeting_id, convened_at) \
         SELECT t, $1, $3 FROM UNNEST($2::text[]) AS t",
    )
    .bind(id)
    .bind(&tickets)
    .bind(n.at)
    .execute(&mut **tx)
    .await?;
    SUMMONSES
        .insert(tx, policy, id.uuid(), &n.tickets[0], n.call, n.at)
        .await?;
    sqlx::query("UPDATE meeting_units SET convened_at = $2 WHERE meeting_id = $1")
        .bind(id)
        .bind(n.at)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

pub async fn get<'e>(db: impl PgExecutor<'e>, id: MeetingId) -> Result<Option<Meeting>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MEETING} FROM meetings WHERE meeting_id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

pub async fn lock(tx: &mut Tx, id: MeetingId) -> Result<Option<Meeting>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MEETING} FROM meetings WHERE meeting_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn units<'e>(
    db: impl PgExecutor<'e>,
    ids: &[MeetingId],
) -> Result<Vec<UnitRow>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT meeting_id, unit_id, arrive_by, arrived_at FROM meeting_units \
         WHERE meeting_id = ANY($1) ORDER BY meeting_id, unit_id",
    )
    .bind(ids)
    .fetch_all(db)
    .await?)
}

pub async fn resolutions<'e>(
    db: impl PgExecutor<'e>,
    ids: &[MeetingId],
) -> Result<Vec<ResolutionRow>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RESOLUTION} FROM meeting_resolutions WHERE meeting_id = ANY($1) ORDER BY meeting_id, position"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Keeps the hop a re-dispatch of `ticket` moves on from (the first one
/// given), and returns it.
pub async fn plan_hop(
    pool: &PgPool,
    id: MeetingId,
    ticket: &TicketNo,
    hop: i32,
) -> Result<i32, ApiError> {
    let (kept,): (i32,) = sqlx::query_as(
        "UPDATE meeting_tickets SET planned_hop = COALESCE(planned_hop, $3) \
         WHERE meeting_id = $1 AND ticket_no = $2 RETURNING planned_hop",
    )
    .bind(id)
    .bind(ticket)
    .bind(hop)
    .fetch_one(pool)
    .await?;
    Ok(kept)
}

pub async fn planned_hop(
    pool: &PgPool,
    id: MeetingId,
    ticket: &TicketNo,
) -> Result<Option<i32>, ApiError> {
    let row: Option<(Option<i32>,)> = sqlx::query_as(
        "SELECT planned_hop FROM meeting_tickets WHERE meeting_id = $1 AND ticket_no = $2",
    )
    .bind(id)
    .bind(ticket)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(h,)| h))
}

/// Records the minutes and the resolutions (re-dispatches with the hops
/// dispatch gave, by ticket).
pub async fn record(
    tx: &mut Tx,
    id: MeetingId,
    minutes: &str,
    resolutions: &[(Resolution, i32)],
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE meetings SET state = 'recorded', minutes = $2, recorded_by = $3, recorded_at = $4 \
         WHERE meeting_id = $1",
    )
    .bind(id)
    .bind(minutes)
    .bind(by)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    for (i, (r, hop)) in resolutions.iter().enumerate() {
        let position = i as i32 + 1;
        let q = match r {
            Resolution::Redispatch { ticket, lead, co } => {
                let co: Vec<&str> = co.iter().map(|u| u.as_str()).collect();
                sqlx::query(
                    "INSERT INTO meeting_resolutions (meeting_id, position, kind, ticket_no, lead_unit_id, co_unit_ids, hop) \
                     VALUES ($1, $2, 'redispatch', $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(position)
                .bind(ticket)
                .bind(lead)
                .bind(co)
                .bind(*hop)
            }
            Resolution::Action { unit, action, due } => sqlx::query(
                "INSERT INTO meeting_resolutions (meeting_id, position, kind, unit_id, action, due) \
                 VALUES ($1, $2, 'action', $3, $4, $5)",
            )
            .bind(id)
            .bind(position)
            .bind(unit)
            .bind(action)
            .bind(*due),
        };
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// An action, locked.
pub async fn lock_action(
    tx: &mut Tx,
    id: MeetingId,
    position: i32,
) -> Result<Option<ResolutionRow>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RESOLUTION} FROM meeting_resolutions \
         WHERE meeting_id = $1 AND position = $2 AND kind = 'action' FOR UPDATE"
    )))
    .bind(id)
    .bind(position)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn complete_action(
    tx: &mut Tx,
    id: MeetingId,
    position: i32,
    result: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE meeting_resolutions SET done_at = $3, result = $4 WHERE meeting_id = $1 AND position = $2",
    )
    .bind(id)
    .bind(position)
    .bind(at)
    .bind(result)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The filters of a list.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filters<'a> {
    pub unit: Option<&'a UnitId>,
    pub ticket: Option<&'a TicketNo>,
    pub state: Option<MeetingState>,
}

/// The SQL of a list: unit and ticket bound in that order when given, then
/// cursor time, cursor id, limit; the state is a literal. A ticket's list
/// starts from `meeting_tickets`, a unit's from `meeting_units`, the
/// others from the meetings.
pub fn list_sql(f: &Filters<'_>) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    let unit = f.unit.map(|_| next());
    let ticket = f.ticket.map(|_| next());
    let mut words: Vec<String> = Vec::new();
    let (from, key) = match (unit, ticket) {
        (_, Some(t)) => {
            words.push(format!("t.ticket_no = ${t}"));
            if let Some(u) = unit {
                words.push(format!(
                    "EXISTS (SELECT 1 FROM meeting_units u WHERE u.meeting_id = m.meeting_id AND u.unit_id = ${u})"
                ));
            }
            (
                "meeting_tickets t JOIN meetings m ON m.meeting_id = t.meeting_id",
                "t",
            )
        }
        (Some(u), None) => {
            words.push(format!("u.unit_id = ${u}"));
            (
                "meeting_units u JOIN meetings m ON m.meeting_id = u.meeting_id",
                "u",
            )
        }
        (None, None) => ("meetings m", "m"),
    };
    if let Some(s) = f.state {
        words.push(format!("m.state = '{}'", s.as_sql()));
    }
    let params = [next(), next(), next()];
    crate::lists::page(
        (MEETING, "m"),
        from,
        (key, "convened_at", "meeting_id"),
        &words,
        params,
    )
}

pub async fn list(
    pool: &PgPool,
    f: &Filters<'_>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Meeting>, ApiError> {
    let filters: Vec<&str> = [f.unit.map(|u| u.as_str()), f.ticket.map(|t| t.as_str())]
        .into_iter()
        .flatten()
        .collect();
    crate::lists::fetch(pool, list_sql(f), &filters, cursor, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ids::Id;

    #[test]
    fn a_list_writes_only_its_filters() {
        let u = UnitId::parse("u1").unwrap();
        let sql = list_sql(&Filters {
            unit: Some(&u),
            state: Some(MeetingState::Convened),
            ..Default::default()
        });
        assert!(
            sql.contains("WHERE u.unit_id = $1 AND m.state = 'convened' AND (u.convened_at"),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT $4"), "{sql}");
    }
}
