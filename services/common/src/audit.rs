//! The audit trail: who did what, to which ticket, when; every state change
//! and every read of personal data. Append-only and hash-chained
//! (`migrations/audit/9101_audit_log.sql`); [`verify`] walks the chain.
//!
//! Entries are appended inside the transaction of the change they record,
//! as its last statement: a chain lock (a transaction-scoped advisory lock)
//! orders the appends, so holding it only until the commit that follows
//! keeps every chain gapless without deadlocks.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::{PgPool, Row};

use hotline_proto::common::v1 as pb;

use crate::auth::Identity;
use crate::error::ApiError;
use crate::outbox::Tx;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/audit");

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub actor: String,
    pub actor_unit: String,
    /// e.g. `ticket.accepted`, `assignment.signed`, `requester.read`.
    pub action: &'static str,
    pub ticket_no: String,
    pub detail: String,
}

impl Entry {
    /// An entry for what `who` did.
    pub fn by(
        who: &Identity,
        action: &'static str,
        ticket_no: &str,
        detail: impl Into<String>,
    ) -> Entry {
        Entry {
            actor: who.subject.clone(),
            actor_unit: who.unit.clone().unwrap_or_default(),
            action,
            ticket_no: ticket_no.to_string(),
            detail: detail.into(),
        }
    }

    /// An entry for what a service did on its own (a deadline acted on).
    pub fn system(
        service: &str,
        action: &'static str,
        ticket_no: &str,
        detail: impl Into<String>,
    ) -> Entry {
        Entry {
            actor: service.to_string(),
            actor_unit: String::new(),
            action,
            ticket_no: ticket_no.to_string(),
            detail: detail.into(),
        }
    }
}

/// The hash of one row: its fields and the previous row's hash, each field
/// length-prefixed so that no two rows hash the same.
pub fn row_hash(prev: &[u8], seq: i64, at: DateTime<Utc>, e: &Entry) -> Vec<u8> {
    row_hash_with_action(prev, seq, at, e, e.action)
}

/// Appends entries inside the caller's transaction; call it last, right
/// before the commit.
pub async fn append(tx: &mut Tx, entries: &[Entry]) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_log'))")
        .execute(&mut **tx)
        .await?;
    let last: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let (mut seq, mut prev) = last.unwrap_or((0, vec![0; 32]));
    let at = crate::time::now();
    #[allow(clippy::type_complexity)]
    let mut cols: (
        Vec<i64>,
        Vec<String>,
        Vec<String>,
        Vec<String>,
        Vec<String>,
        Vec<String>,
        Vec<Vec<u8>>,
        Vec<Vec<u8>>,
    ) = Default::default();
    for e in entries {
        seq += 1;
        let hash = row_hash(&prev, seq, at, e);
        cols.0.push(seq);
        cols.1.push(e.actor.clone());
        cols.2.push(e.actor_unit.clone());
        cols.3.push(e.action.to_string());
        cols.4.push(e.ticket_no.clone());
        cols.5.push(e.detail.clone());
        cols.6.push(prev);
        cols.7.push(hash.clone());
        prev = hash;
    }
    sqlx::query(
        "INSERT INTO audit_log (seq, actor, actor_unit, action, ticket_no, detail, prev_hash, hash, at) \
         SELECT *, $9 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])",
    )
    .bind(&cols.0)
    .bind(&cols.1)
    .bind(&cols.2)
    .bind(&cols.3)
    .bind(&cols.4)
    .bind(&cols.5)
    .bind(&cols.6)
    .bind(&cols.7)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records entries in a transaction of their own (reads of personal data).
pub async fn record(pool: &PgPool, entries: &[Entry]) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    append(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub rows: u64,
    /// The first broken row and why.
    pub broken: Option<(i64, String)>,
}

/// Walks the whole chain: contiguous sequence, each row's link to the one
/// before, each row's own hash.
pub async fn verify(pool: &PgPool) -> Result<Verification, ApiError> {
    let mut rows = 0u64;
    let mut expected_seq = 1i64;
    let mut prev = vec![0u8; 32];
    loop {
        let page = sqlx::query(
            "SELECT seq, at, actor, actor_unit, action, ticket_no, detail, prev_hash, hash \
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 10000",
        )
        .bind(expected_seq)
        .fetch_all(pool)
        .await?;
        if page.is_empty() {
            return Ok(Verification { rows, broken: None });
        }
        for r in &page {
            let seq: i64 = r.get("seq");
            let broken = |why: &str| {
                Ok(Verification {
                    rows,
                    broken: Some((seq, why.to_string())),
                })
            };
            if seq != expected_seq {
                return Ok(Verification {
                    rows,
                    broken: Some((expected_seq, format!("row {expected_seq} is missing"))),
                });
            }
            let action: String = r.get("action");
            let entry = Entry {
                actor: r.get("actor"),
                actor_unit: r.get("actor_unit"),
                action: "",
                ticket_no: r.get("ticket_no"),
                detail: r.get("detail"),
            };
            let stored_prev: Vec<u8> = r.get("prev_hash");
            let stored: Vec<u8> = r.get("hash");
            if stored_prev != prev {
                return broken("does not link to the row before");
            }
            let at: DateTime<Utc> = r.get("at");
            if row_hash_with_action(&prev, seq, at, &entry, &action) != stored {
                return broken("its content does not match its hash");
            }
            prev = stored;
            expected_seq += 1;
            rows += 1;
        }
    }
}

/// [`row_hash`] with the action given apart: writers name actions with
/// constants, a reader has the stored text.
fn row_hash_with_action(
    prev: &[u8],
    seq: i64,
    at: DateTime<Utc>,
    e: &Entry,
    action: &str,
) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at.timestamp_micros().to_be_bytes());
    for field in [
        e.actor.as_str(),
        e.actor_unit.as_str(),
        action,
        e.ticket_no.as_str(),
        e.detail.as_str(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().to_vec()
}

/// The `AuditService` every service serves over its own trail.
pub struct AuditApi {
    pub pool: PgPool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        req: tonic::Request<pb::ListAuditEntriesRequest>,
    ) -> Result<tonic::Response<pb::ListAuditEntriesResponse>, tonic::Status> {
        let r = req.into_inner();
        let mut f = crate::validate::Fields::new();
        let ticket = if r.ticket_no.trim().is_empty() {
            None
        } else {
            f.id::<crate::ids::TicketNo>("ticket_no", &r.ticket_no)
        };
        let size = crate::paging::Page::parse(&mut f, r.page_size, "", &[]).size;
        if r.after_seq < 0 {
            f.add("after_seq", "must not be negative");
        }
        f.finish()?;
        let rows = sqlx::query(
            "SELECT seq, at, actor, actor_unit, action, ticket_no, detail, hash FROM audit_log \
             WHERE seq > $1 AND ($2::text IS NULL OR ticket_no = $2) ORDER BY seq LIMIT $3",
        )
        .bind(r.after_seq)
        .bind(ticket)
        .bind(size)
        .fetch_all(&self.pool)
        .await
        .map_err(ApiError::from)?;
        let entries = rows
            .iter()
            .map(|r| pb::AuditEntry {
                seq: r.get("seq"),
                at: Some(crate::time::to_proto(r.get("at"))),
                actor: r.get("actor"),
                actor_unit: r.get("actor_unit"),
                action: r.get("action"),
                ticket_no: r.get("ticket_no"),
                detail: r.get("detail"),
                hash: hex(&r.get::<Vec<u8>, _>("hash")),
            })
            .collect();
        Ok(tonic::Response::new(pb::ListAuditEntriesResponse {
            entries,
        }))
    }

    async fn verify_audit(
        &self,
        _req: tonic::Request<pb::VerifyAuditRequest>,
    ) -> Result<tonic::Response<pb::VerifyAuditResponse>, tonic::Status> {
        let v = verify(&self.pool).await?;
        let (broken_at, reason) = v.broken.unwrap_or((0, String::new()));
        Ok(tonic::Response::new(pb::VerifyAuditResponse {
            intact: broken_at == 0,
            entries: v.rows as i64,
            broken_at,
            reason,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(detail: &str) -> Entry {
        Entry {
            actor: "op".into(),
            actor_unit: String::new(),
            action: "ticket.accepted",
            ticket_no: "BJ1".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn hashes_cover_every_field_and_the_link() {
        let at = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let a = row_hash(&[0; 32], 1, at, &e("x"));
        assert_ne!(a, row_hash(&[0; 32], 1, at, &e("y")));
        assert_ne!(a, row_hash(&[1; 32], 1, at, &e("x")));
        assert_ne!(a, row_hash(&[0; 32], 2, at, &e("x")));
        // Field boundaries matter: ("ab", "") is not ("a", "b").
        let mut shifted = e("");
        shifted.actor = "opB".into();
        let mut orig = e("");
        orig.actor = "op".into();
        orig.ticket_no = "BBJ1".into();
        assert_ne!(
            row_hash(&[0; 32], 1, at, &shifted),
            row_hash(&[0; 32], 1, at, &orig)
        );
        // Reader and writer hash alike.
        assert_eq!(
            a,
            row_hash_with_action(&[0; 32], 1, at, &e("x"), "ticket.accepted")
        );
    }
}
