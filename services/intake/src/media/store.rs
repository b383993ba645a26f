//! Media's SQL: the media held, uploads and their progress, the media of
//! each ticket. The bytes live in the object store (`media::objects`).

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::rules::{Declared, Kind, UploadId};
use hotline_common::outbox::Tx;
use hotline_proto::intake::v1 as pb;

/// A piece of media held.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub sha256: String,
    pub kind: Kind,
    pub content_type: String,
    pub size_bytes: i64,
    pub stored_at: DateTime<Utc>,
}

impl Held {
    pub fn to_proto(&self) -> pb::Media {
        pb::Media {
            sha256: self.sha256.clone(),
            kind: self.kind.to_proto() as i32,
            content_type: self.content_type.clone(),
            size_bytes: self.size_bytes,
            stored_at: Some(hotline_common::time::to_proto(self.stored_at)),
        }
    }
}

fn held_from(r: &PgRow) -> Result<Held, ApiError> {
    Ok(Held {
        sha256: r.get("sha256"),
        kind: Kind::from_sql(r.get("kind"))?,
        content_type: r.get("content_type"),
        size_bytes: r.get("size_bytes"),
        stored_at: r.get("stored_at"),
    })
}

pub async fn held(pool: &PgPool, sha256: &str) -> Result<Option<Held>, ApiError> {
    sqlx::query("SELECT * FROM media WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(held_from)
        .transpose()
}

/// The media held of those named.
pub async fn held_of(pool: &PgPool, sha256s: &[String]) -> Result<Vec<Held>, ApiError> {
    sqlx::query("SELECT * FROM media WHERE sha256 = ANY($1)")
        .bind(sha256s)
        .fetch_all(pool)
        .await?
        .iter()
        .map(held_from)
        .collect()
}

/// An upload as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: UploadId,
    pub declared: Declared,
    pub received: i64,
    pub parts: i32,
    pub complete: bool,
    pub started_by: String,
}

fn upload_from(r: &PgRow) -> Result<Upload, ApiError> {
    Ok(Upload {
        id: r.get("upload_id"),
        declared: Declared {
            kind: Kind::from_sql(r.get("kind"))?,
            content_type: r.get("content_type"),
            size_bytes: r.get("size_bytes"),
            sha256: r.get("sha256"),
            file_name: r.get("file_name"),
        },
        received: r.get("received_bytes"),
        parts: r.get("parts"),
        complete: r.get("complete"),
        started_by: r.get("started_by"),
    })
}

pub async fn begin(
    pool: &PgPool,
    d: &Declared,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Upload, ApiError> {
    let row = sqlx::query(
        "INSERT INTO uploads (upload_id, sha256, kind, content_type, size_bytes, file_name, \
         started_by, started_at, touched_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         RETURNING *",
    )
    .bind(UploadId::new())
    .bind(&d.sha256)
    .bind(d.kind.as_sql())
    .bind(&d.content_type)
    .bind(d.size_bytes)
    .bind(&d.file_name)
    .bind(by)
    .bind(at)
    .fetch_one(pool)
    .await?;
    upload_from(&row)
}

pub async fn upload(pool: &PgPool, id: UploadId) -> Result<Option<Upload>, ApiError> {
    sqlx::query("SELECT * FROM uploads WHERE upload_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(upload_from)
        .transpose()
}

/// Counts a chunk stored as the next part, if the upload still holds
/// `received` bytes (another call resuming it at once may not count the
/// same bytes twice). False otherwise.
pub async fn advance(
    pool: &PgPool,
    id: UploadId,
    received: i64,
    len: i64,
    at: DateTime<Utc>,
) -> Result<bool, ApiError> {
    Ok(sqlx::query(
        "UPDATE uploads SET received_bytes = received_bytes + $3, parts = parts + 1, \
         touched_at = $4 WHERE upload_id = $1 AND received_bytes = $2 AND NOT complete",
    )
    .bind(id)
    .bind(received)
    .bind(len)
    .bind(at)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// The upload's content is stored and matched: the media is held (once,
/// whoever uploaded it first) and the upload complete.
pub async fn complete(pool: &PgPool, u: &Upload, at: DateTime<Utc>) -> Result<Held, ApiError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO media (sha256, kind, content_type, size_bytes, stored_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&u.declared.sha256)
    .bind(u.declared.kind.as_sql())
    .bind(&u.declared.content_type)
    .bind(u.declared.size_bytes)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE uploads SET complete = true WHERE upload_id = $1")
        .bind(u.id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query("SELECT * FROM media WHERE sha256 = $1")
        .bind(&u.declared.sha256)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    held_from(&row)
}

/// Drops an upload whose content did not match its SHA-256.
pub async fn drop_upload(pool: &PgPool, id: UploadId) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Drops at most `limit` unfinished uploads untouched since `before`
/// (others' locked rows skipped): their ids and parts counted.
pub async fn drop_abandoned(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(UploadId, i32)>, ApiError> {
    Ok(sqlx::query_as(
        "DELETE FROM uploads WHERE upload_id IN (SELECT upload_id FROM uploads \
         WHERE NOT complete AND touched_at < $1 ORDER BY touched_at LIMIT $2 \
         FOR UPDATE SKIP LOCKED) RETURNING upload_id, parts",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Attaches held media to a ticket, in its Submit transaction.
pub async fn attach(tx: &mut Tx, ticket_no: &str, sha256s: &[String]) -> Result<(), ApiError> {
    if sha256s.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO ticket_media (ticket_no, sha256) SELECT $1, s FROM UNNEST($2::TEXT[]) AS s \
         ON CONFLICT DO NOTHING",
    )
    .bind(ticket_no)
    .bind(sha256s)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The media, if it is attached to the ticket.
pub async fn attached(
    pool: &PgPool,
    ticket_no: &str,
    sha256: &str,
) -> Result<Option<Held>, ApiError> {
    sqlx::query(
        "SELECT m.* FROM ticket_media t JOIN media m USING (sha256) \
         WHERE t.ticket_no = $1 AND t.sha256 = $2",
    )
    .bind(ticket_no)
    .bind(sha256)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(held_from)
    .transpose()
}
