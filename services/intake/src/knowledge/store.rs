//! The SQL of the knowledge base: articles and their versions, search over
//! the offered versions' words, and the direct answers given.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::Reason;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::paging::{Cursor, Page};
use sqlx::{PgPool, Postgres, Transaction};

use super::rules::{self, ArticleState, Direct, Proposal};
use super::segment;

type Tx = Transaction<'static, Postgres>;

/// One stored version.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i32,
    pub state: String,
    pub question: String,
    pub answer: String,
    pub category_code: String,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// An article's head row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Head {
    pub article_id: String,
    pub owning_unit_id: String,
    pub created_at: DateTime<Utc>,
    pub latest_version: i32,
    pub latest_state: String,
}

/// One search hit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hit {
    pub article_id: String,
    pub version: i32,
    pub question: String,
    pub answer: String,
    pub category_code: String,
    pub owning_unit_id: String,
    pub score: f64,
}

const VERSION_COLUMNS: &str = "version, state, question, answer, category_code, valid_from, \
     valid_until, proposed_by, proposed_at, approved_by, approved_at";

/// The article's head, locked for a change.
pub async fn lock(tx: &mut Tx, article_id: &str) -> Result<Head, ApiError> {
    sqlx::query_as(
        "SELECT article_id, owning_unit_id, created_at, latest_version, latest_state \
         FROM articles WHERE article_id = $1 FOR UPDATE",
    )
    .bind(article_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no article {article_id}")))
}

async fn set_head(
    tx: &mut Tx,
    id: &str,
    version: i32,
    state: ArticleState,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE articles SET latest_version = $2, latest_state = $3, latest_valid_until = \
         (SELECT valid_until FROM article_versions WHERE article_id = $1 AND version = $2) \
         WHERE article_id = $1",
    )
    .bind(id)
    .bind(version)
    .bind(state.as_sql())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a proposal as the article's draft: a new article, a new version
/// of one, or the waiting draft rewritten. Returns the article's id.
pub async fn propose(
    tx: &mut Tx,
    p: &Proposal,
    head: Option<&Head>,
    unit: &str,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<String, ApiError> {
    let question_words = segment::words(&p.question).join(" ");
    let answer_words = segment::words(&p.answer).join(" ");
    let (id, version, rewrite) = match head {
        None => {
            let seq: i64 = sqlx::query_scalar("SELECT nextval('article_seq')")
                .fetch_one(&mut **tx)
                .await?;
            let id = rules::article_id(seq);
            sqlx::query(
                "INSERT INTO articles (article_id, owning_unit_id, created_at, latest_version, \
                 latest_state) VALUES ($1, $2, $3, 1, 'draft')",
            )
            .bind(&id)
            .bind(unit)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            (id, 1, false)
        }
        Some(h) if h.latest_state == ArticleState::Draft.as_sql() => {
            (h.article_id.clone(), h.latest_version, true)
        }
        Some(h) => (h.article_id.clone(), h.latest_version + 1, false),
    };
    if rewrite {
        sqlx::query(
            "UPDATE article_versions SET question = $3, answer = $4, category_code = $5, \
             valid_from = $6, valid_until = $7, proposed_by = $8, proposed_at = $9, \
             question_words = $10, answer_words = $11 \
             WHERE article_id = $1 AND version = $2 AND state = 'draft'",
        )
    } else {
        sqlx::query(
            "INSERT INTO article_versions (article_id, version, state, question, answer, \
             category_code, valid_from, valid_until, proposed_by, proposed_at, question_words, \
             answer_words) VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
    }
    .bind(&id)
    .bind(version)
    .bind(&p.question)
    .bind(&p.answer)
    .bind(p.category_code.as_str())
    .bind(p.valid_from)
    .bind(p.valid_until)
    .bind(&who.subject)
    .bind(at)
    .bind(&question_words)
    .bind(&answer_words)
    .execute(&mut **tx)
    .await?;
    set_head(tx, &id, version, ArticleState::Draft).await?;
    let detail = format!("article={id} version={version} unit={unit}");
    audit::append(tx, &[Entry::by(who, "article.proposed", "", detail)]).await?;
    Ok(id)
}

/// Approves the draft `version`: the approved one before it is superseded.
pub async fn approve(
    tx: &mut Tx,
    head: &Head,
    version: i32,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let id = &head.article_id;
    let state: Option<String> = sqlx::query_scalar(
        "SELECT state FROM article_versions WHERE article_id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(state) = state else {
        return Err(ApiError::not_found(format!(
            "no version {version} of article {id}"
        )));
    };
    if state != ArticleState::Draft.as_sql() || version != head.latest_version {
        return Err(ApiError::precondition(
            Reason::ArticleNotDraft,
            format!("version {version} of article {id} is {state}, not a draft"),
        )
        .with("article_id", id)
        .with("version", version)
        .with("state", &state));
    }
    sqlx::query(
        "UPDATE article_versions SET state = 'superseded' WHERE article_id = $1 AND state = 'approved'",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE article_versions SET state = 'approved', approved_by = $3, approved_at = $4, \
         valid_from = COALESCE(valid_from, $4) WHERE article_id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(&who.subject)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    set_head(tx, id, version, ArticleState::Approved).await?;
    let detail = format!("article={id} version={version}");
    audit::append(tx, &[Entry::by(who, "article.approved", "", detail)]).await?;
    Ok(())
}

/// Withdraws the approved version: never offered again.
pub async fn expire(
    tx: &mut Tx,
    head: &Head,
    reason: &str,
    who: &Identity,
) -> Result<(), ApiError> {
    let id = &head.article_id;
    let expired: Option<i32> = sqlx::query_scalar(
        "UPDATE article_versions SET state = 'expired', expired_reason = $2 \
         WHERE article_id = $1 AND state = 'approved' RETURNING version",
    )
    .bind(id)
    .bind(reason)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(version) = expired else {
        return Err(ApiError::precondition(
            Reason::ArticleNotOffered,
            format!(
                "article {id} has no approved version to withdraw (newest is {})",
                head.latest_state
            ),
        )
        .with("article_id", id));
    };
    if version == head.latest_version {
        set_head(tx, id, version, ArticleState::Expired).await?;
    }
    let detail = format!("article={id} version={version} reason={reason}");
    audit::append(tx, &[Entry::by(who, "article.expired", "", detail)]).await?;
    Ok(())
}

pub async fn head(pool: &PgPool, article_id: &str) -> Result<Option<Head>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT article_id, owning_unit_id, created_at, latest_version, latest_state \
         FROM articles WHERE article_id = $1",
    )
    .bind(article_id)
    .fetch_optional(pool)
    .await?)
}

/// Every version of the articles named, newest first.
pub async fn versions(
    pool: &PgPool,
    ids: &[String],
) -> Result<Vec<(String, VersionRow)>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        article_id: String,
        #[sqlx(flatten)]
        v: VersionRow,
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT article_id, {VERSION_COLUMNS} FROM article_versions \
         WHERE article_id = ANY($1) ORDER BY article_id, version DESC"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.article_id, r.v)).collect())
}

/// A page of articles, oldest first: by the newest version's state, and
/// only `unit`'s when given.
pub async fn list(
    pool: &PgPool,
    state: Option<ArticleState>,
    unit: Option<&str>,
    page: &Page,
    at: DateTime<Utc>,
) -> Result<Vec<Head>, ApiError> {
    let (after_at, after_id) = page
        .after
        .as_ref()
        .map_or((None, String::new()), |c| (Some(c.at), c.key.clone()));
    Ok(sqlx::query_as(LIST_SQL)
        .bind(state.map(ArticleState::as_sql))
        .bind(unit)
        .bind(after_at)
        .bind(after_id)
        .bind(page.fetch())
        .bind(at)
        .fetch_all(pool)
        .await?)
}

/// ListArticles, by the state the newest version reads as at $6: an
/// approved one past its validity is EXPIRED.
pub const LIST_SQL: &str = "SELECT article_id, owning_unit_id, created_at, latest_version, \
     latest_state FROM articles \
     WHERE ($1::TEXT IS NULL \
       OR ($1 = 'approved' AND latest_state = 'approved' \
           AND (latest_valid_until IS NULL OR $6::TIMESTAMPTZ < latest_valid_until)) \
       OR ($1 = 'expired' AND (latest_state = 'expired' \
           OR (latest_state = 'approved' AND latest_valid_until <= $6))) \
       OR ($1 NOT IN ('approved', 'expired') AND latest_state = $1)) \
     AND ($2::TEXT IS NULL OR owning_unit_id = $2) \
     AND ($3::TIMESTAMPTZ IS NULL OR (created_at, article_id) > ($3, $4)) \
     ORDER BY created_at, article_id LIMIT $5";

pub fn cursor(h: &Head) -> Cursor {
    Cursor::new(h.created_at, h.article_id.clone())
}

/// How many versions are offered, and their average length in words.
pub const OFFERED_SQL: &str = "SELECT count(*), COALESCE(avg(word_count), 0)::FLOAT8 \
     FROM article_versions WHERE state = 'approved'";

/// The offered versions holding any of the words (one GIN lookup of the
/// words OR-ed, `$3`), each with its length and which words it holds
/// (`$1`, by index from 1) and which of them in its question (`$2`).
pub const CANDIDATES_SQL: &str = "\
SELECT v.article_id, v.version, v.word_count, \
  ARRAY(SELECT i FROM generate_subscripts($1::TEXT[], 1) AS i WHERE v.words @@ ($1::TEXT[])[i]::tsquery) AS held, \
  ARRAY(SELECT i FROM generate_subscripts($2::TEXT[], 1) AS i WHERE v.words @@ ($2::TEXT[])[i]::tsquery) AS asked \
FROM article_versions v \
WHERE v.state = 'approved' AND v.words @@ $3::tsquery \
  AND (v.valid_from IS NULL OR v.valid_from <= $4) AND (v.valid_until IS NULL OR $4 < v.valid_until) \
  AND ($5::TEXT IS NULL OR v.category_code = $5)";

/// The texts of the versions found, with their units.
pub const HITS_SQL: &str = "\
SELECT v.article_id, v.version, v.question, v.answer, v.category_code, a.owning_unit_id, 0::FLOAT8 AS score \
FROM unnest($1::TEXT[], $2::INT[]) AS f(article_id, version) \
JOIN article_versions v ON v.article_id = f.article_id AND v.version = f.version \
JOIN articles a ON a.article_id = v.article_id";

/// Searches the offered versions for the words: candidates read once,
/// ranked by `rules::rank`, the best read with their texts.
pub async fn search(
    pool: &PgPool,
    terms: &[String],
    category: Option<&str>,
    at: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Hit>, ApiError> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let (any, question): (Vec<String>, Vec<String>) =
        terms.iter().map(|t| rules::term_queries(t)).unzip();
    let either = any.join(" | ");
    let mut conn = pool.acquire().await?;
    let (offered, avg_words): (i64, f64) =
        sqlx::query_as(OFFERED_SQL).fetch_one(&mut *conn).await?;
    let candidates: Vec<rules::Candidate> = sqlx::query_as(CANDIDATES_SQL)
        .bind(&any)
        .bind(&question)
        .bind(&either)
        .bind(at)
        .bind(category)
        .fetch_all(&mut *conn)
        .await?;
    let best = rules::rank(terms, &candidates, offered, avg_words, limit);
    let (ids, versions): (Vec<String>, Vec<i32>) = best
        .iter()
        .map(|(c, _)| (c.article_id.clone(), c.version))
        .unzip();
    let mut hits: Vec<Hit> = sqlx::query_as(HITS_SQL)
        .bind(&ids)
        .bind(&versions)
        .fetch_all(&mut *conn)
        .await?;
    for h in &mut hits {
        h.score = best
            .iter()
            .find(|(c, _)| c.article_id == h.article_id && c.version == h.version)
            .map_or(0.0, |(_, s)| *s);
    }
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.article_id.cmp(&b.article_id))
    });
    Ok(hits)
}

/// Records a direct answer in the submitting transaction, once the
/// version named is found offered (held against a concurrent withdrawal
/// until commit).
pub async fn answer_directly(
    tx: &mut Tx,
    ticket_no: &str,
    d: &Direct,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let offered: Option<i32> = sqlx::query_scalar(
        "SELECT version FROM article_versions WHERE article_id = $1 AND version = $2 \
         AND state = 'approved' AND (valid_from IS NULL OR valid_from <= $3) \
         AND (valid_until IS NULL OR $3 < valid_until) FOR SHARE",
    )
    .bind(&d.article_id)
    .bind(d.version)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    if offered.is_none() {
        return Err(ApiError::precondition(
            Reason::ArticleNotOffered,
            format!(
                "version {} of article {} is not offered now: search again",
                d.version, d.article_id
            ),
        )
        .with("article_id", &d.article_id)
        .with("version", d.version));
    }
    sqlx::query(
        "INSERT INTO direct_answers (ticket_no, article_id, article_version, note, answered_by, \
         answered_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ticket_no)
    .bind(&d.article_id)
    .bind(d.version)
    .bind(&d.note)
    .bind(&who.subject)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    crate::tickets::store::close_at_acceptance(
        tx,
        ticket_no,
        crate::visits::closure::ClosureCause::DirectAnswer,
        at,
    )
    .await
}

/// The article a ticket was answered from directly, if it was.
pub async fn direct_answer_of(
    pool: &PgPool,
    ticket_no: &str,
) -> Result<Option<(String, i32)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT article_id, article_version FROM direct_answers WHERE ticket_no = $1",
    )
    .bind(ticket_no)
    .fetch_optional(pool)
    .await?)
}

/// The answer text of the article a ticket was answered from directly.
pub async fn direct_answer_text(
    pool: &PgPool,
    ticket_no: &str,
) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT v.answer FROM direct_answers d JOIN article_versions v \
         ON v.article_id = d.article_id AND v.version = d.article_version WHERE d.ticket_no = $1",
    )
    .bind(ticket_no)
    .fetch_optional(pool)
    .await?)
}

/// Per request type: tickets accepted in [from, to), and those answered
/// directly; requests refused (不予受理) were never accepted.
pub async fn share(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(i32, i64, i64)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT request_type, count(*), count(*) FILTER (WHERE closure_cause = 'direct_answer') \
         FROM tickets WHERE accepted_at >= $1 AND accepted_at < $2 \
         AND closure_cause IS DISTINCT FROM 'refused' GROUP BY request_type ORDER BY request_type",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?)
}
