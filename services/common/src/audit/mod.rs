//! The audit trail: who did what, to which ticket, when; every state change
//! and every read of personal data. Recorded, then sealed into a hash chain
//! (`migrations/audit/`); [`verify`] walks the chain.
//!
//! Recording and sealing are two steps, as in a transparency log:
//!
//! - [`append`] records entries with a plain INSERT into `audit_pending`,
//!   in the transaction of the change they record: no lock, no read of the
//!   chain, so unrelated changes never wait on one another.
//! - [`run_sealer`], a background task of every service, moves committed
//!   entries into `audit_log` every [`DEFAULT_SEAL_INTERVAL`]: each gets its
//!   chain position `seq` and its hash (over its fields and the hash before)
//!   then, and the head `audit_seal` moves in the same transaction. One
//!   sealer per schema works at a time (a transaction-scoped advisory lock
//!   only sealers take, and the head row locked). An entry whose id was
//!   handed out early but committed late is sealed by a later step: the
//!   chain orders entries by sealing and never skips one.
//!
//! [`verify`] checks every sealed entry (contiguous, linked, hashed), the
//! head against the chain's end, and optionally a seal exported earlier
//! ([`AuditApi::get_audit_seal`]), which catches a cut tail or a rewritten
//! chain. Unsealed entries are counted, not checked: docs/SECURITY.md says
//! what that leaves open.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::auth::Identity;
use crate::error::ApiError;
use crate::outbox::Tx;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/audit");

/// The variable setting how often the sealer runs, in seconds.
pub const ENV_SEAL_INTERVAL: &str = "HOTLINE_AUDIT_SEAL_INTERVAL_SECONDS";
/// How often the sealer runs unless configured: an entry is sealed within
/// about this long of its commit.
pub const DEFAULT_SEAL_INTERVAL: Duration = Duration::from_millis(200);
/// Entries sealed per transaction: a backlog is sealed in steps this big,
/// one after the other, so that no step holds its locks for long.
pub const SEAL_BATCH: i64 = 2_000;
/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

mod api;
pub mod rules;
mod seal;

pub use api::AuditApi;
pub use rules::{Check, Head, Link, Recorded, Seal, Verification, chain, entry_hash};
pub use seal::{Step, run_sealer, seal_all, seal_step, verify};

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

/// Records entries inside the caller's transaction: they commit or roll
/// back with the change they record, and are sealed after the commit.
pub async fn append(tx: &mut Tx, entries: &[Entry]) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Ok(());
    }
    let at = crate::time::now();
    let column = |f: fn(&Entry) -> &str| entries.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO audit_pending (at, actor, actor_unit, action, ticket_no, detail) \
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])",
    )
    .bind(at)
    .bind(column(|e| &e.actor))
    .bind(column(|e| &e.actor_unit))
    .bind(column(|e| e.action))
    .bind(column(|e| &e.ticket_no))
    .bind(column(|e| &e.detail))
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
