//! The SQL of on-site divisions (`migrations/0006_onsite_divisions.sql`).

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::summons::{Call, Summoned, Summonses};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::supervision::v1 as pb;
use hotline_sla::{Policy, Stage};
use sqlx::{AssertSqlSafe, PgExecutor, PgPool};

use super::rules::{DivisionState, NonCooperation};
use crate::ids::DivisionId;

/// The units a division summons: arrival clocks in stage `on_site_arrival`.
pub const SUMMONSES: Summonses = Summonses {
    table: "onsite_units",
    owner: "division_id",
    stage: Stage::OnSiteArrival,
};

const DIVISION: &str = "division_id, ticket_no, state, place, reason, called_by, called_at, \
     lead_unit_id, co_unit_ids, result, hop, divided_by, divided_at, planned_hop, media";
const UNIT: &str = "division_id, unit_id, arrive_by, arrived_at, non_cooperation";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Division {
    pub division_id: DivisionId,
    pub ticket_no: TicketNo,
    pub state: String,
    pub place: String,
    pub reason: String,
    pub called_by: String,
    pub called_at: DateTime<Utc>,
    pub lead_unit_id: String,
    pub co_unit_ids: Vec<String>,
    pub result: String,
    pub hop: i32,
    pub divided_by: String,
    pub divided_at: Option<DateTime<Utc>>,
    pub planned_hop: Option<i32>,
    /// Photos of the site, by SHA-256.
    pub media: Vec<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRow {
    pub division_id: DivisionId,
    pub unit_id: UnitId,
    pub arrive_by: DateTime<Utc>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub non_cooperation: String,
}

impl UnitRow {
    pub fn summoned(&self) -> Summoned {
        Summoned {
            unit_id: self.unit_id.clone(),
            arrive_by: self.arrive_by,
            arrived_at: self.arrived_at,
        }
    }

    fn to_proto(&self) -> Result<pb::SummonedUnit, ApiError> {
        let s = self.summoned();
        Ok(pb::SummonedUnit {
            unit_id: self.unit_id.to_string(),
            arrive_by: Some(to_proto(self.arrive_by)),
            arrived_at: opt_to_proto(self.arrived_at),
            late: s.late(),
            non_cooperation: match self.non_cooperation.as_str() {
                "" => pb::NonCooperation::Unspecified,
                other => NonCooperation::from_sql(other)?.to_proto(),
            } as i32,
        })
    }
}

impl Division {
    pub fn state(&self) -> Result<DivisionState, ApiError> {
        DivisionState::from_sql(&self.state)
    }

    pub fn to_proto(&self, units: &[UnitRow]) -> Result<pb::OnSiteDivision, ApiError> {
        Ok(pb::OnSiteDivision {
            division_id: self.division_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            state: self.state()?.to_proto() as i32,
            place: self.place.clone(),
            reason: self.reason.clone(),
            units: units
                .iter()
                .filter(|u| u.division_id == self.division_id)
                .map(UnitRow::to_proto)
                .collect::<Result<_, _>>()?,
            called_by: self.called_by.clone(),
            called_at: Some(to_proto(self.called_at)),
            lead_unit_id: self.lead_unit_id.clone(),
            co_unit_ids: self.co_unit_ids.clone(),
            result: self.result.clone(),
            hop: self.hop,
            divided_by: self.divided_by.clone(),
            divided_at: opt_to_proto(self.divided_at),
            media_sha256: self.media.clone(),
        })
    }
}

/// What a new division holds.
pub struct New<'a> {
    pub ticket: &'a TicketNo,
    pub place: &'a str,
    pub reason: &'a str,
    pub by: &'a str,
    pub call: &'a Call,
    pub at: DateTime<Utc>,
}

/// A new division, its summonses and their arrival clocks.
pub async fn insert(tx: &mut Tx, policy: &Policy, n: &New<'_>) -> Result<DivisionId, ApiError> {
    let id = DivisionId::new();
    sqlx::query(
        "INSERT INTO onsite_divisions (division_id, ticket_no, state, place, reason, called_by, called_at) \
         VALUES ($1, $2, 'summoned', $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(n.ticket)
    .bind(n.place)
    .bind(n.reason)
    .bind(n.by)
    .bind(n.at)
    .execute(&mut **tx)
    .await?;
    SUMMONSES
        .insert(tx, policy, id.uuid(), n.ticket, n.call, n.at)
        .await?;
    sqlx::query("UPDATE onsite_units SET called_at = $2 WHERE division_id = $1")
        .bind(id)
        .bind(n.at)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

pub async fn get<'e>(
    db: impl PgExecutor<'e>,
    id: DivisionId,
) -> Result<Option<Division>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DIVISION} FROM onsite_divisions WHERE division_id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

pub async fn lock(tx: &mut Tx, id: DivisionId) -> Result<Option<Division>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DIVISION} FROM onsite_divisions WHERE division_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// The units of these divisions, in unit order.
pub async fn units<'e>(
    db: impl PgExecutor<'e>,
    ids: &[DivisionId],
) -> Result<Vec<UnitRow>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {UNIT} FROM onsite_units WHERE division_id = ANY($1) ORDER BY division_id, unit_id"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Keeps the hop the recording moves on from: the one given the first
/// time, the one kept ever after. Returns the hop kept.
pub async fn plan_hop(pool: &PgPool, id: DivisionId, hop: i32) -> Result<i32, ApiError> {
    let (kept,): (i32,) = sqlx::query_as(
        "UPDATE onsite_divisions SET planned_hop = COALESCE(planned_hop, $2) \
         WHERE division_id = $1 RETURNING planned_hop",
    )
    .bind(id)
    .bind(hop)
    .fetch_one(pool)
    .await?;
    Ok(kept)
}

/// What a recorded division says.
pub struct Recorded<'a> {
    pub lead: &'a UnitId,
    pub co: &'a [UnitId],
    pub result: &'a str,
    pub hop: i32,
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub cooperation: &'a [(UnitId, NonCooperation)],
    pub media: &'a [String],
}

pub async fn record(tx: &mut Tx, id: DivisionId, r: &Recorded<'_>) -> Result<(), ApiError> {
    let co: Vec<&str> = r.co.iter().map(|u| u.as_str()).collect();
    sqlx::query(
        "UPDATE onsite_divisions SET state = 'divided', lead_unit_id = $2, co_unit_ids = $3, \
         result = $4, hop = $5, divided_by = $6, divided_at = $7, media = $8 WHERE division_id = $1",
    )
    .bind(id)
    .bind(r.lead)
    .bind(&co)
    .bind(r.result)
    .bind(r.hop)
    .bind(r.by)
    .bind(r.at)
    .bind(r.media)
    .execute(&mut **tx)
    .await?;
    let units: Vec<&str> = r.cooperation.iter().map(|(u, _)| u.as_str()).collect();
    let how: Vec<&str> = r.cooperation.iter().map(|(_, n)| n.as_sql()).collect();
    sqlx::query(
        "UPDATE onsite_units o SET non_cooperation = t.n \
         FROM UNNEST($2::text[], $3::text[]) AS t(u, n) \
         WHERE o.division_id = $1 AND o.unit_id = t.u",
    )
    .bind(id)
    .bind(&units)
    .bind(&how)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The filters of a list.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filters<'a> {
    pub unit: Option<&'a UnitId>,
    pub ticket: Option<&'a TicketNo>,
    pub state: Option<DivisionState>,
}

/// The SQL of a list: unit and ticket bound in that order when given,
/// then cursor time, cursor id, limit; the state is a literal. A unit's
/// list pages on its summons rows (`onsite_units_by_unit`), a ticket's on
/// `onsite_divisions_by_ticket`, the others on the divisions.
pub fn list_sql(f: &Filters<'_>) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    let mut words: Vec<String> = Vec::new();
    let unit = f.unit.map(|_| next());
    let ticket = f.ticket.map(|_| next());
    let (from, key) = match unit {
        Some(u) => {
            words.push(format!("o.unit_id = ${u}"));
            (
                "onsite_units o JOIN onsite_divisions d ON d.division_id = o.division_id",
                "o",
            )
        }
        None => ("onsite_divisions d", "d"),
    };
    if let Some(t) = ticket {
        words.push(format!("d.ticket_no = ${t}"));
    }
    if let Some(s) = f.state {
        words.push(format!("d.state = '{}'", s.as_sql()));
    }
    let params = [next(), next(), next()];
    crate::lists::page(
        (DIVISION, "d"),
        from,
        (key, "called_at", "division_id"),
        &words,
        params,
    )
}

pub async fn list(
    pool: &PgPool,
    f: &Filters<'_>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Division>, ApiError> {
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
        let t = TicketNo::parse("BJ000000000001").unwrap();
        let sql = list_sql(&Filters {
            unit: Some(&u),
            ticket: Some(&t),
            state: Some(DivisionState::Summoned),
        });
        assert!(
            sql.contains("WHERE o.unit_id = $1 AND d.ticket_no = $2 AND d.state = 'summoned' AND (o.called_at"),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT $5"), "{sql}");
        let all = list_sql(&Filters::default());
        assert!(
            all.contains("FROM onsite_divisions d WHERE (d.called_at"),
            "{all}"
        );
    }
}
