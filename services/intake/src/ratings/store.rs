//! The SQL of contacts, ratings, check-backs and appeals.

use chrono::{DateTime, Utc};
use hotline_common::error::violated_constraint;
use hotline_common::ids::TicketNo;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::{ApiError, Reason};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::rules::{
    Appeal, AppealId, AppealState, CheckBack, CheckBackId, CheckBackState, Contact, ContactId,
    ContactKind, Level, NewRating, Outcome, Rating, RatingId, Record,
};

/// A contact row; with its default rating when the query joined
/// `default_ratings` (columns `default_level`, `defaulted_at`).
fn contact_from(row: &PgRow) -> Result<Contact, ApiError> {
    let level: Option<&str> = row.try_get("default_level").ok().flatten();
    let at: Option<DateTime<Utc>> = row.try_get("defaulted_at").ok().flatten();
    Ok(Contact {
        id: row.get("contact_id"),
        ticket_no: row.get("ticket_no"),
        kind: ContactKind::from_sql(row.get("kind"))?,
        channel: row.get("channel"),
        at: row.get("at"),
        default: match (level, at) {
            (Some(l), Some(at)) => Some((Level::from_sql(l)?, at)),
            _ => None,
        },
    })
}

fn rating_from(row: &PgRow) -> Result<Rating, ApiError> {
    Ok(Rating {
        id: row.get("rating_id"),
        contact_id: row.get("contact_id"),
        ticket_no: row.get("ticket_no"),
        contact_kind: ContactKind::from_sql(row.get("contact_kind"))?,
        level: Level::from_sql(row.get("level"))?,
        comment: row.get("comment"),
        rated_at: row.get("rated_at"),
        counts: row.get("counts"),
        set_aside_by: row.get("set_aside_by_appeal_id"),
    })
}

fn check_back_from(row: &PgRow) -> Result<CheckBack, ApiError> {
    Ok(CheckBack {
        id: row.get("check_back_id"),
        rating_id: row.get("rating_id"),
        ticket_no: row.get("ticket_no"),
        state: CheckBackState::from_sql(row.get("state"))?,
        opened_at: row.get("opened_at"),
        outcome: row
            .get::<Option<&str>, _>("outcome")
            .map(Outcome::from_sql)
            .transpose()?,
        planned_date: row.get("planned_date"),
        note: row.get::<Option<String>, _>("note").unwrap_or_default(),
        closed_at: row.get("closed_at"),
    })
}

fn appeal_from(row: &PgRow) -> Result<Appeal, ApiError> {
    Ok(Appeal {
        id: row.get("appeal_id"),
        rating_id: row.get("rating_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        reason: row.get("reason"),
        state: AppealState::from_sql(row.get("state"))?,
        appealed_at: row.get("appealed_at"),
        decided_at: row.get("decided_at"),
        decision_note: row
            .get::<Option<String>, _>("decision_note")
            .unwrap_or_default(),
    })
}

/// The intake contact of a new ticket, in the transaction that stores it.
pub async fn insert_intake_contact(
    conn: &mut PgConnection,
    ticket_no: &str,
    channel: i32,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO contacts (contact_id, ticket_no, kind, channel, at) \
         VALUES ($1, $2, 'intake', $3, $4)",
    )
    .bind(ContactId::new())
    .bind(ticket_no)
    .bind(channel)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A ticket's contacts, oldest first (a handful per ticket), served by
/// `contacts_by_ticket`.
pub const CONTACTS: &str = "SELECT c.*, d.level AS default_level, d.defaulted_at \
     FROM contacts c LEFT JOIN default_ratings d USING (contact_id) \
     WHERE c.ticket_no = $1 ORDER BY c.at, c.contact_id LIMIT 1000";

pub async fn contacts(pool: &PgPool, no: &TicketNo) -> Result<Vec<Contact>, ApiError> {
    let rows = sqlx::query(CONTACTS).bind(no).fetch_all(pool).await?;
    rows.iter().map(contact_from).collect()
}

/// One contact of one ticket.
pub async fn contact(
    conn: &mut PgConnection,
    no: &TicketNo,
    id: ContactId,
) -> Result<Option<Contact>, ApiError> {
    let row = sqlx::query("SELECT * FROM contacts WHERE contact_id = $1 AND ticket_no = $2")
        .bind(id)
        .bind(no)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(contact_from).transpose()
}

/// Stores a rating of `contact`; a contact rated already is ALREADY_EXISTS.
pub async fn insert_rating(
    tx: &mut Tx,
    contact: &Contact,
    r: &NewRating,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Rating, ApiError> {
    // The contact waits for a default no more, in the same statement.
    let row = sqlx::query(
        "WITH r AS (INSERT INTO ratings (rating_id, contact_id, ticket_no, contact_kind, level, \
         comment, rated_at, rated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *), \
         c AS (UPDATE contacts SET awaiting_rating = false WHERE contact_id = $2 AND awaiting_rating) \
         SELECT * FROM r",
    )
    .bind(RatingId::new())
    .bind(contact.id)
    .bind(&contact.ticket_no)
    .bind(contact.kind.as_sql())
    .bind(r.level.as_sql())
    .bind(&r.comment)
    .bind(at)
    .bind(by)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("ratings_one_per_contact") => ApiError::already_exists(
            Reason::ContactAlreadyRated,
            format!("contact {} is rated already", contact.id),
        )
        .with("contact_id", contact.id)
        .with("ticket_no", &contact.ticket_no),
        _ => e.into(),
    })?;
    rating_from(&row)
}

/// A contact given the policy's default rating by [`record_defaults`].
pub struct Defaulted {
    pub contact_id: ContactId,
    pub ticket_no: String,
    pub kind: ContactKind,
}

/// Gives at most `limit` contacts made at or before `made_by`, still
/// awaiting a rating, the default `level` of `policy` (oldest first, served
/// by `contacts_awaiting_rating`; rows another sweep holds are skipped).
pub async fn record_defaults(
    tx: &mut Tx,
    made_by: DateTime<Utc>,
    level: Level,
    policy: &str,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Defaulted>, ApiError> {
    let rows: Vec<(ContactId, String, String)> = sqlx::query_as(
        "WITH due AS (SELECT contact_id FROM contacts WHERE awaiting_rating AND at <= $1 \
           ORDER BY at, contact_id LIMIT $2 FOR UPDATE SKIP LOCKED), \
         marked AS (UPDATE contacts c SET awaiting_rating = false FROM due \
           WHERE c.contact_id = due.contact_id RETURNING c.contact_id, c.ticket_no, c.kind) \
         INSERT INTO default_ratings (contact_id, ticket_no, contact_kind, level, policy, defaulted_at) \
         SELECT contact_id, ticket_no, kind, $3, $4, $5 FROM marked \
         RETURNING contact_id, ticket_no, contact_kind",
    )
    .bind(made_by)
    .bind(limit)
    .bind(level.as_sql())
    .bind(policy)
    .bind(at)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(contact_id, ticket_no, kind)| {
            Ok(Defaulted {
                contact_id,
                ticket_no,
                kind: ContactKind::from_sql(&kind)?,
            })
        })
        .collect()
}

/// Opens the check-back of a bad rating.
pub async fn open_check_back(
    tx: &mut Tx,
    rating: &Rating,
    at: DateTime<Utc>,
) -> Result<CheckBack, ApiError> {
    let row = sqlx::query(
        "INSERT INTO check_backs (check_back_id, rating_id, ticket_no, state, opened_at) \
         VALUES ($1, $2, $3, 'open', $4) RETURNING *",
    )
    .bind(CheckBackId::new())
    .bind(rating.id)
    .bind(&rating.ticket_no)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    check_back_from(&row)
}

pub async fn rating(conn: &mut PgConnection, id: RatingId) -> Result<Option<Rating>, ApiError> {
    let row = sqlx::query("SELECT * FROM ratings WHERE rating_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rating_from).transpose()
}

/// Locks a rating in the caller's transaction.
pub async fn lock_rating(tx: &mut Tx, id: RatingId) -> Result<Option<Rating>, ApiError> {
    let row = sqlx::query("SELECT * FROM ratings WHERE rating_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(rating_from).transpose()
}

/// One ticket's ratings (`$1`), oldest first, after (`$2`, `$3`), served
/// by `ratings_by_ticket`.
pub const RATINGS_BY_TICKET: &str = "SELECT * FROM ratings WHERE ticket_no = $1 \
     AND (rated_at, rating_id) > (COALESCE($2::timestamptz, '-infinity'), \
          COALESCE($3::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY rated_at, rating_id LIMIT $4";

/// The ratings given in [`$1`, `$2`), oldest first, after (`$3`, `$4`),
/// served by `ratings_by_time`.
pub const RATINGS_IN_PERIOD: &str = "SELECT * FROM ratings \
     WHERE rated_at >= $1 AND rated_at < $2 \
     AND (rated_at, rating_id) > (COALESCE($3::timestamptz, '-infinity'), \
          COALESCE($4::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY rated_at, rating_id LIMIT $5";

pub async fn ratings_of_ticket(
    pool: &PgPool,
    no: &TicketNo,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Rating>, ApiError> {
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = sqlx::query(RATINGS_BY_TICKET)
        .bind(no)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(rating_from).collect()
}

pub async fn ratings_in_period(
    pool: &PgPool,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Rating>, ApiError> {
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = sqlx::query(RATINGS_IN_PERIOD)
        .bind(from)
        .bind(to)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(rating_from).collect()
}

/// The check-backs of these ratings (one per bad rating), by its primary
/// key `check_backs_one_per_rating`.
pub async fn check_backs_of(
    pool: &PgPool,
    ratings: &[RatingId],
) -> Result<Vec<CheckBack>, ApiError> {
    if ratings.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<_> = ratings.iter().map(|r| r.uuid()).collect();
    let rows = sqlx::query("SELECT * FROM check_backs WHERE rating_id = ANY($1)")
        .bind(ids)
        .fetch_all(pool)
        .await?;
    rows.iter().map(check_back_from).collect()
}

/// The check-back of one rating, in the caller's transaction.
pub async fn check_back_of(tx: &mut Tx, rating: RatingId) -> Result<Option<CheckBack>, ApiError> {
    let row = sqlx::query("SELECT * FROM check_backs WHERE rating_id = $1")
        .bind(rating)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(check_back_from).transpose()
}

/// Locks a check-back in the caller's transaction.
pub async fn lock_check_back(tx: &mut Tx, id: CheckBackId) -> Result<Option<CheckBack>, ApiError> {
    let row = sqlx::query("SELECT * FROM check_backs WHERE check_back_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(check_back_from).transpose()
}

/// Closes a locked, open check-back.
pub async fn close_check_back(
    tx: &mut Tx,
    r: &Record,
    by: &str,
    at: DateTime<Utc>,
) -> Result<CheckBack, ApiError> {
    let row = sqlx::query(
        "UPDATE check_backs SET state = 'closed', outcome = $2, planned_date = $3, note = $4, \
         closed_at = $5, closed_by = $6 WHERE check_back_id = $1 AND state = 'open' RETURNING *",
    )
    .bind(r.id)
    .bind(r.outcome.as_sql())
    .bind(r.planned_date)
    .bind(&r.note)
    .bind(at)
    .bind(by)
    .fetch_one(&mut **tx)
    .await?;
    check_back_from(&row)
}

/// Check-backs in one state (`$1`), oldest opened first, after (`$2`,
/// `$3`), served by `check_backs_by_state`.
pub const CHECK_BACKS_IN_STATE: &str = "SELECT * FROM check_backs WHERE state = $1 \
     AND (opened_at, check_back_id) > (COALESCE($2::timestamptz, '-infinity'), \
          COALESCE($3::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY opened_at, check_back_id LIMIT $4";

/// Every check-back, oldest opened first, after (`$1`, `$2`), served by
/// `check_backs_page`.
pub const CHECK_BACKS: &str = "SELECT * FROM check_backs \
     WHERE (opened_at, check_back_id) > (COALESCE($1::timestamptz, '-infinity'), \
          COALESCE($2::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY opened_at, check_back_id LIMIT $3";

pub async fn check_backs(
    pool: &PgPool,
    state: Option<CheckBackState>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<CheckBack>, ApiError> {
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = match state {
        Some(s) => {
            sqlx::query(CHECK_BACKS_IN_STATE)
                .bind(s.as_sql())
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        None => {
            sqlx::query(CHECK_BACKS)
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(check_back_from).collect()
}

/// Records a pending appeal of a locked rating; one pending per rating.
pub async fn insert_appeal(
    tx: &mut Tx,
    rating: &Rating,
    unit: &str,
    reason: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Appeal, ApiError> {
    let row = sqlx::query(
        "INSERT INTO appeals (appeal_id, rating_id, ticket_no, unit_id, reason, state, \
         appealed_at, appealed_by) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING *",
    )
    .bind(AppealId::new())
    .bind(rating.id)
    .bind(&rating.ticket_no)
    .bind(unit)
    .bind(reason)
    .bind(at)
    .bind(by)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("appeals_one_pending") => ApiError::precondition(
            Reason::AppealPending,
            "an appeal of the rating waits for a decision already",
        )
        .with("state", AppealState::Pending.as_sql())
        .with("rating_id", rating.id),
        _ => e.into(),
    })?;
    appeal_from(&row)
}

/// Locks an appeal in the caller's transaction.
pub async fn lock_appeal(tx: &mut Tx, id: AppealId) -> Result<Option<Appeal>, ApiError> {
    let row = sqlx::query("SELECT * FROM appeals WHERE appeal_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(appeal_from).transpose()
}

/// Decides a locked, pending appeal; an upheld one sets its rating aside
/// (kept, no longer counting).
pub async fn decide_appeal(
    tx: &mut Tx,
    a: &Appeal,
    state: AppealState,
    note: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(Appeal, Rating), ApiError> {
    let row = sqlx::query(
        "UPDATE appeals SET state = $2, decision_note = $3, decided_at = $4, decided_by = $5 \
         WHERE appeal_id = $1 AND state = 'pending' RETURNING *",
    )
    .bind(a.id)
    .bind(state.as_sql())
    .bind(note)
    .bind(at)
    .bind(by)
    .fetch_one(&mut **tx)
    .await?;
    let appeal = appeal_from(&row)?;
    let rating = if state == AppealState::Upheld {
        let row = sqlx::query(
            "UPDATE ratings SET counts = false, set_aside_by_appeal_id = $2 \
             WHERE rating_id = $1 RETURNING *",
        )
        .bind(a.rating_id)
        .bind(a.id)
        .fetch_one(&mut **tx)
        .await?;
        rating_from(&row)?
    } else {
        lock_rating(tx, a.rating_id)
            .await?
            .ok_or_else(|| ApiError::internal("an appeal's rating vanished"))?
    };
    Ok((appeal, rating))
}
