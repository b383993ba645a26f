//! The SQL of public notices (`migrations/0007_notices.sql`), and the one
//! statement that generates a notice's lines from supervision's facts.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::supervision::v1 as pb;
use sqlx::{AssertSqlSafe, PgExecutor, PgPool};

use super::rules::{LATE_STAGES, NOT_ARRIVING_STAGES, NoticeCause, NoticeState};
use crate::ids::NoticeId;

const NOTICE: &str = "notice_id, state, title, period_from, period_to, drafted_by, drafted_at, \
     generated_at, submitted_at, decided_by, decision_note, decided_at, published_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notice {
    pub notice_id: NoticeId,
    pub state: String,
    pub title: String,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub drafted_by: String,
    pub drafted_at: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_by: String,
    pub decision_note: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Line {
    pub notice_id: NoticeId,
    pub unit_id: String,
    pub cause: String,
    pub count: i32,
    pub ticket_nos: Vec<String>,
}

impl Line {
    pub fn to_proto(&self) -> Result<pb::NoticeLine, ApiError> {
        Ok(pb::NoticeLine {
            unit_id: self.unit_id.clone(),
            cause: NoticeCause::from_sql(&self.cause)?.to_proto() as i32,
            count: self.count,
            ticket_nos: self.ticket_nos.clone(),
        })
    }
}

impl Notice {
    pub fn state(&self) -> Result<NoticeState, ApiError> {
        NoticeState::from_sql(&self.state)
    }

    /// The notice with those of `lines` that are its own.
    pub fn to_proto(&self, lines: &[Line]) -> Result<pb::Notice, ApiError> {
        Ok(pb::Notice {
            notice_id: self.notice_id.to_string(),
            state: self.state()?.to_proto() as i32,
            title: self.title.clone(),
            period_from: Some(to_proto(self.period_from)),
            period_to: Some(to_proto(self.period_to)),
            lines: lines
                .iter()
                .filter(|l| l.notice_id == self.notice_id)
                .map(Line::to_proto)
                .collect::<Result<_, _>>()?,
            drafted_by: self.drafted_by.clone(),
            generated_at: Some(to_proto(self.generated_at)),
            submitted_at: opt_to_proto(self.submitted_at),
            decided_by: self.decided_by.clone(),
            decision_note: self.decision_note.clone(),
            decided_at: opt_to_proto(self.decided_at),
            published_at: opt_to_proto(self.published_at),
        })
    }
}

fn stages(list: &[hotline_sla::Stage]) -> String {
    list.iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement that writes a notice's lines ($1) for the period [$2,
/// $3): every fact of each cause (see `rules`), counted per unit, with
/// its distinct tickets.
pub fn generate_sql() -> String {
    format!(
        "INSERT INTO notice_lines (notice_id, unit_id, cause, count, ticket_nos) \
         SELECT $1, unit_id, cause, count(*)::int, array_agg(DISTINCT ticket_no ORDER BY ticket_no) \
         FROM ( \
           SELECT unit_id, '{late}' AS cause, ticket_no FROM cases \
            WHERE kind = 'deadline' AND stage IN ({late_stages}) AND opened_at >= $2 AND opened_at < $3 \
           UNION ALL \
           SELECT unit_id, '{absent}', ticket_no FROM cases \
            WHERE kind = 'deadline' AND stage IN ({absent_stages}) AND opened_at >= $2 AND opened_at < $3 \
           UNION ALL \
           SELECT o.unit_id, CASE o.non_cooperation WHEN 'did_not_arrive' THEN '{absent}' ELSE '{refusing}' END, d.ticket_no \
            FROM onsite_divisions d JOIN onsite_units o ON o.division_id = d.division_id \
            WHERE d.state = 'divided' AND d.divided_at >= $2 AND d.divided_at < $3 \
              AND o.non_cooperation IN ('did_not_arrive', 'refused_division') \
           UNION ALL \
           SELECT unit_id, '{refusing}', ticket_no FROM cases \
            WHERE kind = 'shirking' AND opened_at >= $2 AND opened_at < $3 \
         ) facts GROUP BY unit_id, cause",
        late = NoticeCause::Late.as_sql(),
        absent = NoticeCause::NotArriving.as_sql(),
        refusing = NoticeCause::Refusing.as_sql(),
        late_stages = stages(LATE_STAGES),
        absent_stages = stages(NOT_ARRIVING_STAGES),
    )
}

async fn generate(
    tx: &mut Tx,
    id: NoticeId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM notice_lines WHERE notice_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(AssertSqlSafe(generate_sql()))
        .bind(id)
        .bind(from)
        .bind(to)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A new draft, its lines generated.
pub async fn insert(
    tx: &mut Tx,
    title: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    by: &str,
    at: DateTime<Utc>,
) -> Result<Notice, ApiError> {
    let id = NoticeId::new();
    let n: Notice = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO notices (notice_id, state, title, period_from, period_to, drafted_by, drafted_at, generated_at) \
         VALUES ($1, 'draft', $2, $3, $4, $5, $6, $6) RETURNING {NOTICE}"
    )))
    .bind(id)
    .bind(title)
    .bind(from)
    .bind(to)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    generate(tx, id, from, to).await?;
    Ok(n)
}

/// A draft or a notice sent back, revised: its lines generated again.
pub async fn revise(
    tx: &mut Tx,
    id: NoticeId,
    title: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    at: DateTime<Utc>,
) -> Result<Notice, ApiError> {
    let n: Notice = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE notices SET state = 'draft', title = $2, period_from = $3, period_to = $4, generated_at = $5 \
         WHERE notice_id = $1 RETURNING {NOTICE}"
    )))
    .bind(id)
    .bind(title)
    .bind(from)
    .bind(to)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    generate(tx, id, from, to).await?;
    Ok(n)
}

pub async fn lock(tx: &mut Tx, id: NoticeId) -> Result<Option<Notice>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NOTICE} FROM notices WHERE notice_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn get(pool: &PgPool, id: NoticeId) -> Result<Option<Notice>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NOTICE} FROM notices WHERE notice_id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The lines of these notices, by unit then cause; only `unit`'s when
/// given.
pub async fn lines<'e>(
    db: impl PgExecutor<'e>,
    ids: &[NoticeId],
    unit: Option<&str>,
) -> Result<Vec<Line>, ApiError> {
    let only = if unit.is_some() {
        " AND unit_id = $2"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, Line>(AssertSqlSafe(format!(
        "SELECT notice_id, unit_id, cause, count, ticket_nos FROM notice_lines \
         WHERE notice_id = ANY($1){only} ORDER BY notice_id, unit_id, cause"
    )))
    .bind(ids);
    if let Some(u) = unit {
        q = q.bind(u);
    }
    Ok(q.fetch_all(db).await?)
}

/// Moves a notice on: submitted, published or sent back (with the
/// leader's name and note).
pub async fn set_state(
    tx: &mut Tx,
    id: NoticeId,
    state: NoticeState,
    at: DateTime<Utc>,
    decided: Option<(&str, &str)>,
) -> Result<Notice, ApiError> {
    let column = match state {
        NoticeState::Submitted => ", submitted_at = $3",
        NoticeState::Published => ", published_at = $3",
        NoticeState::SentBack => "",
        NoticeState::Draft => return Err(ApiError::internal("a notice becomes a draft by revise")),
    };
    let decision = if decided.is_some() {
        ", decided_by = $4, decision_note = $5, decided_at = $3"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, Notice>(AssertSqlSafe(format!(
        "UPDATE notices SET state = $2{column}{decision} WHERE notice_id = $1 RETURNING {NOTICE}"
    )))
    .bind(id)
    .bind(state.as_sql())
    .bind(at);
    if let Some((by, note)) = decided {
        q = q.bind(by).bind(note);
    }
    Ok(q.fetch_one(&mut **tx).await?)
}

/// The SQL of a list: state as a literal when given, then cursor time,
/// cursor id, limit.
pub fn list_sql(state: Option<NoticeState>) -> String {
    let filter = state
        .map(|s| format!("state = '{}' AND ", s.as_sql()))
        .unwrap_or_default();
    format!(
        "SELECT {NOTICE} FROM notices WHERE {filter}(drafted_at, notice_id) < \
         (COALESCE($1::timestamptz, 'infinity'), COALESCE($2::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
         ORDER BY drafted_at DESC, notice_id DESC LIMIT $3"
    )
}

pub async fn list(
    pool: &PgPool,
    state: Option<NoticeState>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Notice>, ApiError> {
    crate::lists::fetch(pool, list_sql(state), &[], cursor, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_count_each_cause_from_its_facts() {
        let sql = generate_sql();
        assert!(sql.contains("stage IN ('meeting_action', 'acceptance', 'dispatch', 'manual_dispatch', 'sign_off', 'feedback', 'return_visit', 'written_feedback')"), "{sql}");
        assert!(
            sql.contains("stage IN ('report_in', 'meeting_arrival')"),
            "{sql}"
        );
        assert!(sql.contains("kind = 'shirking'"), "{sql}");
        assert!(list_sql(Some(NoticeState::Published)).contains("WHERE state = 'published' AND"));
    }
}
