//! The SQL of catalogue versions: every version published, and which one
//! is in force (one row, read by every replica).

use chrono::{DateTime, Utc};
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::paging::Cursor;
use hotline_common::{ApiError, Reason};
use hotline_proto::dispatch::v1::{self as pb, CatalogueVersion};
use prost::Message;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::ids::CatalogueVersionId;

/// Serialises changes to which catalogue is in force.
const CATALOGUE_LOCK: i64 = 0x0063_6174_616c_6f67;

#[derive(Clone)]
pub struct Versions {
    pool: PgPool,
}

type Tx = Transaction<'static, Postgres>;

impl Versions {
    pub fn new(pool: PgPool) -> Versions {
        Versions { pool }
    }

    /// Registers the catalogue read at start-up. A version not seen before
    /// is put in force; so is any version when none is.
    pub async fn register_startup(&self, c: &pb::Catalogue, rules: usize) -> Result<(), ApiError> {
        let mut tx = locked(&self.pool).await?;
        let new = insert(&mut tx, c, rules, "startup").await?;
        let any_in_force: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM catalogues WHERE in_force)")
                .fetch_one(&mut *tx)
                .await?;
        if new || !any_in_force {
            put_in_force(&mut tx, &c.version).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The version in force.
    pub async fn in_force(&self) -> Result<String, ApiError> {
        sqlx::query_scalar("SELECT version FROM catalogues WHERE in_force")
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ApiError::unavailable("no dispatch catalogue is in force"))
    }

    /// A published version's catalogue.
    pub async fn get(&self, version: &str) -> Result<Option<pb::Catalogue>, ApiError> {
        let row: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT catalogue FROM catalogues WHERE version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|b| {
            pb::Catalogue::decode(b.as_slice())
                .map_err(|e| ApiError::internal(format!("stored catalogue {version}: {e}")))
        })
        .transpose()
    }

    /// Published versions, newest first, after `after`.
    pub async fn list(
        &self,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<CatalogueVersion>, ApiError> {
        let (at, key): (Option<DateTime<Utc>>, Option<&str>) =
            after.map_or((None, None), |c| (Some(c.at), Some(c.key.as_str())));
        let rows = sqlx::query(
            "SELECT version, rules, published_at, published_by, in_force FROM catalogues \
             WHERE $1::timestamptz IS NULL OR (published_at, version) < ($1, $2) \
             ORDER BY published_at DESC, version DESC LIMIT $3",
        )
        .bind(at)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_from_row).collect())
    }
}

async fn locked(pool: &PgPool) -> Result<Tx, ApiError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    Ok(tx)
}

/// Takes the lock of changes to which catalogue is in force, in `tx`.
async fn lock(tx: &mut Tx) -> Result<(), ApiError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CATALOGUE_LOCK)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Publishes a new catalogue version and puts it in force, in the
/// caller's transaction.
pub async fn publish(
    tx: &mut Tx,
    c: &pb::Catalogue,
    rules: usize,
    who: &Identity,
) -> Result<CatalogueVersion, ApiError> {
    lock(tx).await?;
    if !insert(tx, c, rules, &who.subject).await? {
        return Err(ApiError::precondition(
            Reason::CatalogueVersionExists,
            format!(
                "catalogue version {:?} is published already; publish under a new version",
                c.version
            ),
        )
        .with("version", &c.version));
    }
    put_in_force(tx, &c.version).await?;
    let detail = format!("version={} rules={rules}", c.version);
    audit::append(tx, &[Entry::by(who, "catalogue.published", "", detail)]).await?;
    version_in(tx, &c.version).await
}

/// Puts a published version back in force, in the caller's transaction.
pub async fn activate(
    tx: &mut Tx,
    version: &CatalogueVersionId,
    who: &Identity,
) -> Result<CatalogueVersion, ApiError> {
    lock(tx).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM catalogues WHERE version = $1)")
            .bind(version)
            .fetch_one(&mut **tx)
            .await?;
    if !exists {
        return Err(ApiError::not_found(format!(
            "no catalogue version {version:?}"
        )));
    }
    put_in_force(tx, version).await?;
    let detail = format!("version={version}");
    audit::append(tx, &[Entry::by(who, "catalogue.activated", "", detail)]).await?;
    version_in(tx, version).await
}

async fn insert(tx: &mut Tx, c: &pb::Catalogue, rules: usize, by: &str) -> Result<bool, ApiError> {
    Ok(sqlx::query(
        "INSERT INTO catalogues (version, catalogue, rules, published_at, published_by) \
         VALUES ($1, $2, $3, now(), $4) ON CONFLICT (version) DO NOTHING",
    )
    .bind(&c.version)
    .bind(c.encode_to_vec())
    .bind(i32::try_from(rules).unwrap_or(i32::MAX))
    .bind(by)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

async fn put_in_force(tx: &mut Tx, version: &str) -> Result<(), ApiError> {
    sqlx::query("UPDATE catalogues SET in_force = false WHERE in_force AND version <> $1")
        .bind(version)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE catalogues SET in_force = true WHERE version = $1")
        .bind(version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn version_in(tx: &mut Tx, version: &str) -> Result<CatalogueVersion, ApiError> {
    let row = sqlx::query(
        "SELECT version, rules, published_at, published_by, in_force FROM catalogues \
         WHERE version = $1",
    )
    .bind(version)
    .fetch_one(&mut **tx)
    .await?;
    Ok(version_from_row(&row))
}

fn version_from_row(row: &sqlx::postgres::PgRow) -> CatalogueVersion {
    CatalogueVersion {
        version: row.get("version"),
        published_at: Some(hotline_common::time::to_proto(row.get("published_at"))),
        published_by: row.get("published_by"),
        in_force: row.get("in_force"),
        rules: row.get("rules"),
    }
}
