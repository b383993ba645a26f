//! The SQL of exclusions and evaluation appeals: recorded, decided,
//! listed; never deleted.

use chrono::{DateTime, Utc};
use hotline_common::ids::RawUuid;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::time::opt_to_proto;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;
use sqlx::{AssertSqlSafe, PgPool};

use crate::deadlines::store::list_sql;

/// Where an exclusion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExclusionState {
    Proposed,
    Approved,
    Rejected,
    Reversed,
}

impl ExclusionState {
    pub const ALL: [ExclusionState; 4] = [
        ExclusionState::Proposed,
        ExclusionState::Approved,
        ExclusionState::Rejected,
        ExclusionState::Reversed,
    ];

    pub fn as_sql(self) -> &'static str {
        match self {
            ExclusionState::Proposed => "proposed",
            ExclusionState::Approved => "approved",
            ExclusionState::Rejected => "rejected",
            ExclusionState::Reversed => "reversed",
        }
    }

    pub fn to_proto(self) -> pb::ExclusionState {
        match self {
            ExclusionState::Proposed => pb::ExclusionState::Proposed,
            ExclusionState::Approved => pb::ExclusionState::Approved,
            ExclusionState::Rejected => pb::ExclusionState::Rejected,
            ExclusionState::Reversed => pb::ExclusionState::Reversed,
        }
    }

    pub fn from_proto(p: pb::ExclusionState) -> Option<ExclusionState> {
        ExclusionState::ALL.into_iter().find(|s| s.to_proto() == p)
    }

    fn from_sql(s: &str) -> Result<ExclusionState, ApiError> {
        ExclusionState::ALL
            .into_iter()
            .find(|x| x.as_sql() == s)
            .ok_or_else(|| ApiError::internal(format!("stored exclusion state {s}")))
    }
}

/// Where an appeal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppealState {
    Pending,
    Upheld,
    Rejected,
}

impl AppealState {
    pub const ALL: [AppealState; 3] = [
        AppealState::Pending,
        AppealState::Upheld,
        AppealState::Rejected,
    ];

    pub fn as_sql(self) -> &'static str {
        match self {
            AppealState::Pending => "pending",
            AppealState::Upheld => "upheld",
            AppealState::Rejected => "rejected",
        }
    }

    pub fn to_proto(self) -> pb::EvaluationAppealState {
        match self {
            AppealState::Pending => pb::EvaluationAppealState::Pending,
            AppealState::Upheld => pb::EvaluationAppealState::Upheld,
            AppealState::Rejected => pb::EvaluationAppealState::Rejected,
        }
    }

    pub fn from_proto(p: pb::EvaluationAppealState) -> Option<AppealState> {
        AppealState::ALL.into_iter().find(|s| s.to_proto() == p)
    }

    fn from_sql(s: &str) -> Result<AppealState, ApiError> {
        AppealState::ALL
            .into_iter()
            .find(|x| x.as_sql() == s)
            .ok_or_else(|| ApiError::internal(format!("stored appeal state {s}")))
    }
}

/// An exclusion as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Exclusion {
    pub exclusion_id: RawUuid,
    pub ticket_no: String,
    pub unit_id: String,
    pub reason_code: String,
    pub note: String,
    pub state: String,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
    pub reversed_by: Option<String>,
    pub reversed_at: Option<DateTime<Utc>>,
    pub reverse_note: String,
    pub appeal_id: Option<RawUuid>,
}

impl Exclusion {
    pub fn state(&self) -> Result<ExclusionState, ApiError> {
        ExclusionState::from_sql(&self.state)
    }

    pub fn to_proto(&self) -> pb::Exclusion {
        pb::Exclusion {
            exclusion_id: self.exclusion_id.to_string(),
            ticket_no: self.ticket_no.clone(),
            unit_id: self.unit_id.clone(),
            reason_code: self.reason_code.clone(),
            note: self.note.clone(),
            state: self.state().map(|s| s.to_proto() as i32).unwrap_or(0),
            proposed_by: self.proposed_by.clone(),
            proposed_at: opt_to_proto(Some(self.proposed_at)),
            decided_by: self.decided_by.clone().unwrap_or_default(),
            decided_at: opt_to_proto(self.decided_at),
            decision_note: self.decision_note.clone(),
            reversed_by: self.reversed_by.clone().unwrap_or_default(),
            reversed_at: opt_to_proto(self.reversed_at),
            reverse_note: self.reverse_note.clone(),
            appeal_id: self.appeal_id.map(|a| a.to_string()).unwrap_or_default(),
        }
    }
}

/// An appeal as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Appeal {
    pub appeal_id: RawUuid,
    pub unit_id: String,
    pub ticket_no: String,
    pub period: String,
    pub reason: String,
    pub state: String,
    pub appealed_by: String,
    pub appealed_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
    pub exclusion_id: Option<RawUuid>,
}

impl Appeal {
    pub fn state(&self) -> Result<AppealState, ApiError> {
        AppealState::from_sql(&self.state)
    }

    pub fn to_proto(&self) -> pb::EvaluationAppeal {
        pb::EvaluationAppeal {
            appeal_id: self.appeal_id.to_string(),
            unit_id: self.unit_id.clone(),
            ticket_no: self.ticket_no.clone(),
            period: self.period.clone(),
            reason: self.reason.clone(),
            state: self.state().map(|s| s.to_proto() as i32).unwrap_or(0),
            appealed_by: self.appealed_by.clone(),
            appealed_at: opt_to_proto(Some(self.appealed_at)),
            decided_by: self.decided_by.clone().unwrap_or_default(),
            decided_at: opt_to_proto(self.decided_at),
            decision_note: self.decision_note.clone(),
            exclusion_id: self.exclusion_id.map(|x| x.to_string()).unwrap_or_default(),
        }
    }
}

const EXCLUSION: &str = "exclusion_id, ticket_no, unit_id, reason_code, note, state, proposed_by, \
     proposed_at, decided_by, decided_at, decision_note, reversed_by, reversed_at, reverse_note, appeal_id";
const APPEAL: &str = "appeal_id, unit_id, ticket_no, period, reason, state, appealed_by, appealed_at, \
     decided_by, decided_at, decision_note, exclusion_id";

/// What a new exclusion says.
pub struct NewExclusion<'a> {
    pub ticket_no: &'a str,
    pub unit_id: &'a str,
    pub reason_code: &'a str,
    pub note: &'a str,
    pub by: &'a str,
    pub at: DateTime<Utc>,
    /// Approved at once (an upheld appeal), with the appeal.
    pub approved_by_appeal: Option<RawUuid>,
}

fn already_excluded(ticket: &str, unit: &str) -> ApiError {
    ApiError::already_exists(
        Reason::TicketAlreadyExcluded,
        format!("ticket {ticket} is excluded (or proposed for exclusion) for unit {unit} already"),
    )
    .with("ticket_no", ticket)
    .with("unit_id", unit)
}

/// The exclusion proposed or in force for a ticket and unit.
pub async fn live_exclusion(
    tx: &mut Tx,
    ticket_no: &str,
    unit_id: &str,
) -> Result<Option<Exclusion>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {EXCLUSION} FROM eval_exclusions WHERE ticket_no = $1 AND unit_id = $2 \
         AND state IN ('proposed', 'approved')"
    )))
    .bind(ticket_no)
    .bind(unit_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records an exclusion; ALREADY_EXISTS when one is live for the ticket
/// and unit.
pub async fn insert_exclusion(tx: &mut Tx, x: &NewExclusion<'_>) -> Result<Exclusion, ApiError> {
    if live_exclusion(tx, x.ticket_no, x.unit_id).await?.is_some() {
        return Err(already_excluded(x.ticket_no, x.unit_id));
    }
    let (state, decided_by, decided_at) = match x.approved_by_appeal {
        Some(_) => ("approved", Some(x.by), Some(x.at)),
        None => ("proposed", None, None),
    };
    let row = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO eval_exclusions (exclusion_id, ticket_no, unit_id, reason_code, note, state, \
         proposed_by, proposed_at, decided_by, decided_at, appeal_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {EXCLUSION}"
    )))
    .bind(RawUuid::now_v7())
    .bind(x.ticket_no)
    .bind(x.unit_id)
    .bind(x.reason_code)
    .bind(x.note)
    .bind(state)
    .bind(x.by)
    .bind(x.at)
    .bind(decided_by)
    .bind(decided_at)
    .bind(x.approved_by_appeal)
    .fetch_one(&mut **tx)
    .await;
    match row {
        Err(e)
            if hotline_common::error::violated_constraint(&e)
                == Some("eval_exclusions_one_live") =>
        {
            Err(already_excluded(x.ticket_no, x.unit_id))
        }
        other => Ok(other?),
    }
}

/// An exclusion, locked for a decision.
pub async fn lock_exclusion(tx: &mut Tx, id: RawUuid) -> Result<Option<Exclusion>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {EXCLUSION} FROM eval_exclusions WHERE exclusion_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Approves or rejects a proposed exclusion.
pub async fn decide_exclusion(
    tx: &mut Tx,
    id: RawUuid,
    state: ExclusionState,
    by: &str,
    note: &str,
    at: DateTime<Utc>,
) -> Result<Exclusion, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE eval_exclusions SET state = $2, decided_by = $3, decision_note = $4, decided_at = $5 \
         WHERE exclusion_id = $1 RETURNING {EXCLUSION}"
    )))
    .bind(id)
    .bind(state.as_sql())
    .bind(by)
    .bind(note)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?)
}

/// Reverses an approved exclusion.
pub async fn reverse_exclusion(
    tx: &mut Tx,
    id: RawUuid,
    by: &str,
    note: &str,
    at: DateTime<Utc>,
) -> Result<Exclusion, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE eval_exclusions SET state = 'reversed', reversed_by = $2, reverse_note = $3, \
         reversed_at = $4 WHERE exclusion_id = $1 RETURNING {EXCLUSION}"
    )))
    .bind(id)
    .bind(by)
    .bind(note)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?)
}

/// Exclusions newest first, by unit, ticket, state.
pub async fn list_exclusions(
    pool: &PgPool,
    unit: Option<&str>,
    ticket: Option<&str>,
    state: Option<ExclusionState>,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Exclusion>, ApiError> {
    let sql = list_sql(
        &format!("SELECT {EXCLUSION} FROM eval_exclusions"),
        &[
            ("unit_id", unit.is_some()),
            ("ticket_no", ticket.is_some()),
            ("state", state.is_some()),
        ],
        "proposed_at",
        "exclusion_id",
    );
    let mut q = sqlx::query_as::<_, Exclusion>(AssertSqlSafe(sql));
    if let Some(u) = unit {
        q = q.bind(u);
    }
    if let Some(t) = ticket {
        q = q.bind(t);
    }
    if let Some(s) = state {
        q = q.bind(s.as_sql());
    }
    let (at, id) = after.map(|c| (c.at, c.uuid())).unzip();
    Ok(q.bind(at).bind(id).bind(limit).fetch_all(pool).await?)
}

/// Records a pending appeal; FAILED_PRECONDITION when one is pending.
pub async fn insert_appeal(
    tx: &mut Tx,
    unit_id: &str,
    ticket_no: &str,
    period: &str,
    reason: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Appeal, ApiError> {
    let pending = || {
        ApiError::precondition(
            Reason::AppealPending,
            format!("an appeal of unit {unit_id} against ticket {ticket_no} waits for a decision already"),
        )
        .with("ticket_no", ticket_no)
        .with("unit_id", unit_id)
        .with("state", "pending")
    };
    let (exists,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM eval_appeals WHERE unit_id = $1 AND ticket_no = $2 AND state = 'pending')",
    )
    .bind(unit_id)
    .bind(ticket_no)
    .fetch_one(&mut **tx)
    .await?;
    if exists {
        return Err(pending());
    }
    let row = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO eval_appeals (appeal_id, unit_id, ticket_no, period, reason, state, appealed_by, appealed_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING {APPEAL}"
    )))
    .bind(RawUuid::now_v7())
    .bind(unit_id)
    .bind(ticket_no)
    .bind(period)
    .bind(reason)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await;
    match row {
        Err(e)
            if hotline_common::error::violated_constraint(&e)
                == Some("eval_appeals_one_pending") =>
        {
            Err(pending())
        }
        other => Ok(other?),
    }
}

/// An appeal, locked for a decision.
pub async fn lock_appeal(tx: &mut Tx, id: RawUuid) -> Result<Option<Appeal>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {APPEAL} FROM eval_appeals WHERE appeal_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records an appeal's decision.
pub async fn decide_appeal(
    tx: &mut Tx,
    id: RawUuid,
    state: AppealState,
    by: &str,
    note: &str,
    exclusion: Option<RawUuid>,
    at: DateTime<Utc>,
) -> Result<Appeal, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE eval_appeals SET state = $2, decided_by = $3, decision_note = $4, exclusion_id = $5, \
         decided_at = $6 WHERE appeal_id = $1 RETURNING {APPEAL}"
    )))
    .bind(id)
    .bind(state.as_sql())
    .bind(by)
    .bind(note)
    .bind(exclusion)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?)
}

/// Appeals newest first, by unit and state.
pub async fn list_appeals(
    pool: &PgPool,
    unit: Option<&str>,
    state: Option<AppealState>,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Appeal>, ApiError> {
    let sql = list_sql(
        &format!("SELECT {APPEAL} FROM eval_appeals"),
        &[("unit_id", unit.is_some()), ("state", state.is_some())],
        "appealed_at",
        "appeal_id",
    );
    let mut q = sqlx::query_as::<_, Appeal>(AssertSqlSafe(sql));
    if let Some(u) = unit {
        q = q.bind(u);
    }
    if let Some(s) = state {
        q = q.bind(s.as_sql());
    }
    let (at, id) = after.map(|c| (c.at, c.uuid())).unzip();
    Ok(q.bind(at).bind(id).bind(limit).fetch_all(pool).await?)
}
