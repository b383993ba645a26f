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

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use hotline_proto::common::v1 as pb;

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

/// An entry as stored: what the sealer seals and the verifier re-hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_unit: String,
    pub action: String,
    pub ticket_no: String,
    pub detail: String,
}

impl Recorded {
    fn from_row(r: &sqlx::postgres::PgRow) -> Recorded {
        Recorded {
            at: r.get("at"),
            actor: r.get("actor"),
            actor_unit: r.get("actor_unit"),
            action: r.get("action"),
            ticket_no: r.get("ticket_no"),
            detail: r.get("detail"),
        }
    }
}

/// The hash of the entry at chain position `seq`: the hash before it, its
/// position, its time and its fields, each field length-prefixed so that
/// no two entries hash the same.
pub fn entry_hash(prev: &[u8], seq: i64, e: &Recorded) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(e.at.timestamp_micros().to_be_bytes());
    for field in [
        e.actor.as_str(),
        e.actor_unit.as_str(),
        e.action.as_str(),
        e.ticket_no.as_str(),
        e.detail.as_str(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// The chain's head, or a copy of it kept elsewhere: how many entries are
/// sealed and the hash of the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub entries: i64,
    pub hash: Vec<u8>,
}

impl Seal {
    /// The seal of an empty chain.
    pub fn genesis() -> Seal {
        Seal {
            entries: 0,
            hash: GENESIS.to_vec(),
        }
    }

    /// A seal as exported (`entries`, lowercase hex `hash`): the field and
    /// the problem when it is not one.
    pub fn parse(entries: i64, hash: &str) -> Result<Seal, (&'static str, String)> {
        if entries < 0 {
            return Err(("entries", "must not be negative".into()));
        }
        let bytes = match hex::decode(hash) {
            Ok(b) if b.len() == 32 && hash.bytes().all(|c| !c.is_ascii_uppercase()) => b,
            _ => {
                return Err((
                    "hash",
                    "must be 64 lowercase hex digits, as GetAuditSeal exports it".into(),
                ));
            }
        };
        if entries == 0 && bytes != GENESIS {
            return Err(("hash", "an empty chain's seal is 64 zeros".into()));
        }
        Ok(Seal {
            entries,
            hash: bytes,
        })
    }

    /// `entries:hash`, the form `--verify-audit` takes.
    pub fn display(&self) -> String {
        format!("{}:{}", self.entries, hex::encode(&self.hash))
    }
}

/// One sealed chain position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Seals `entries` after `head`, in the order given: their links and the
/// new head.
pub fn chain(head: &Seal, entries: &[Recorded]) -> (Vec<Link>, Seal) {
    let mut prev = head.hash.clone();
    let mut seq = head.entries;
    let links = entries
        .iter()
        .map(|e| {
            seq += 1;
            let hash = entry_hash(&prev, seq, e).to_vec();
            Link {
                seq,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect();
    (
        links,
        Seal {
            entries: seq,
            hash: prev,
        },
    )
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

/// What one sealing step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// This many entries sealed (0: none waiting).
    Sealed(usize),
    /// Another sealer holds the chain.
    Busy,
    /// The head does not match the chain's last entry (someone cut or
    /// extended the chain): nothing is sealed until that is looked into;
    /// entries keep waiting, none is lost.
    Halted(String),
}

/// One sealing transaction: up to `batch` committed entries, oldest id
/// first, into the chain after its head.
pub async fn seal_step(pool: &PgPool, batch: i64) -> Result<Step, ApiError> {
    let mut tx = pool.begin().await?;
    let ours: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.audit_seal'))",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !ours {
        return Ok(Step::Busy);
    }
    sqlx::query("SELECT set_config('hotline.audit_sealing', 'on', true)")
        .execute(&mut *tx)
        .await?;
    let claimed = sqlx::query(
        "DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1) \
         RETURNING id, at, actor, actor_unit, action, ticket_no, detail",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    if claimed.is_empty() {
        return Ok(Step::Sealed(0));
    }
    let mut claimed: Vec<(i64, Recorded)> = claimed
        .iter()
        .map(|r| (r.get("id"), Recorded::from_row(r)))
        .collect();
    claimed.sort_by_key(|(id, _)| *id);
    let entries: Vec<Recorded> = claimed.into_iter().map(|(_, e)| e).collect();

    let head: (i64, Vec<u8>) = sqlx::query_as("SELECT entries, hash FROM audit_seal FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    let head = Seal {
        entries: head.0,
        hash: head.1,
    };
    let last: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let last = last.map_or_else(Seal::genesis, |(entries, hash)| Seal { entries, hash });
    if last != head {
        return Ok(Step::Halted(format!(
            "the head seals {} but the chain ends at {}",
            head.display(),
            last.display()
        )));
    }

    let (links, sealed) = chain(&head, &entries);
    let text = |f: fn(&Recorded) -> &str| entries.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, actor_unit, action, ticket_no, detail, prev_hash, hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], \
                              $6::text[], $7::text[], $8::bytea[], $9::bytea[])",
    )
    .bind(links.iter().map(|l| l.seq).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
    .bind(text(|e| &e.actor))
    .bind(text(|e| &e.actor_unit))
    .bind(text(|e| &e.action))
    .bind(text(|e| &e.ticket_no))
    .bind(text(|e| &e.detail))
    .bind(links.iter().map(|l| l.prev_hash.clone()).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.hash.clone()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_seal SET entries = $1, hash = $2, sealed_at = now()")
        .bind(sealed.entries)
        .bind(&sealed.hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Step::Sealed(entries.len()))
}

/// Seals until no committed entry is waiting, in steps of [`SEAL_BATCH`];
/// stops early when cancelled.
pub async fn seal_all(pool: &PgPool, token: &CancellationToken) -> Result<Step, ApiError> {
    let mut total = 0;
    loop {
        match seal_step(pool, SEAL_BATCH).await? {
            Step::Sealed(n) => {
                total += n;
                if (n as i64) < SEAL_BATCH || token.is_cancelled() {
                    return Ok(Step::Sealed(total));
                }
            }
            other => return Ok(other),
        }
    }
}

/// The sealer every service runs: seals what was recorded every `every`,
/// and once more on the way out.
pub async fn run_sealer(pool: PgPool, every: Duration, token: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut halted: Option<String> = None;
    loop {
        let last = tokio::select! {
            _ = token.cancelled() => true,
            _ = tick.tick() => false,
        };
        match seal_all(&pool, &token).await {
            Ok(Step::Halted(why)) => {
                if halted.as_ref() != Some(&why) {
                    tracing::error!(reason = %why, "audit chain head out of step: sealing stopped, run --verify-audit");
                }
                halted = Some(why);
            }
            Ok(Step::Sealed(n)) => {
                if halted.take().is_some() {
                    tracing::warn!("audit chain head back in step: sealing again");
                }
                if n > 0 {
                    tracing::debug!(entries = n, "audit entries sealed");
                }
            }
            Ok(Step::Busy) => {}
            Err(e) => tracing::warn!(error = %e.message, "audit sealing failed, retrying"),
        }
        if last {
            return;
        }
    }
}

/// The head as stored, with when it last moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seal: Seal,
    pub sealed_at: DateTime<Utc>,
}

impl Head {
    fn to_proto(&self) -> pb::AuditSeal {
        pb::AuditSeal {
            entries: self.seal.entries,
            hash: hex::encode(&self.seal.hash),
            sealed_at: Some(crate::time::to_proto(self.sealed_at)),
        }
    }
}

/// The head and the number of entries waiting to be sealed.
async fn head_and_unsealed<'c, E>(db: E) -> Result<(Head, i64), ApiError>
where
    E: sqlx::PgExecutor<'c>,
{
    let r = sqlx::query(
        "SELECT entries, hash, sealed_at, (SELECT count(*) FROM audit_pending) AS unsealed \
         FROM audit_seal",
    )
    .fetch_one(db)
    .await?;
    Ok((
        Head {
            seal: Seal {
                entries: r.get("entries"),
                hash: r.get("hash"),
            },
            sealed_at: r.get("sealed_at"),
        },
        r.get("unsealed"),
    ))
}

/// Checks a chain fed to it entry by entry in `seq` order: contiguous from
/// 1, each linked to the one before, each matching its own hash, and, when
/// given an exported seal, still holding that seal's last entry.
#[derive(Debug, Clone)]
pub struct Check {
    expected: Option<Seal>,
    next: i64,
    prev: Vec<u8>,
    broken: Option<(i64, String)>,
}

impl Check {
    pub fn new(expected: Option<Seal>) -> Check {
        Check {
            expected,
            next: 1,
            prev: GENESIS.to_vec(),
            broken: None,
        }
    }

    /// The position expected next.
    pub fn next_seq(&self) -> i64 {
        self.next
    }

    /// Checks the next stored entry; false once the chain is found broken.
    pub fn feed(&mut self, seq: i64, e: &Recorded, prev_hash: &[u8], hash: &[u8]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let at = self.next;
        let why = if seq != at {
            Some(format!("entry {at} is missing"))
        } else if prev_hash != self.prev.as_slice() {
            Some("it does not link to the entry before".into())
        } else if entry_hash(&self.prev, seq, e).as_slice() != hash {
            Some("its content does not match its hash".into())
        } else {
            match &self.expected {
                Some(x) if x.entries == seq && x.hash != hash => Some(format!(
                    "it does not match the exported seal {}: the chain was rewritten at or before it",
                    x.display()
                )),
                _ => None,
            }
        };
        if let Some(why) = why {
            self.broken = Some((at, why));
            return false;
        }
        self.prev = hash.to_vec();
        self.next += 1;
        true
    }

    /// The outcome once every entry was fed, checked against the head.
    pub fn finish(self, head: &Seal) -> (u64, Option<(i64, String)>) {
        let rows = (self.next - 1) as u64;
        if self.broken.is_some() {
            return (rows, self.broken);
        }
        let n = self.next - 1;
        let broken = match &self.expected {
            Some(x) if x.entries > n => Some((
                n + 1,
                format!(
                    "the exported seal {} covers {} entries but the chain ends at {n}: its tail was cut",
                    x.display(),
                    x.entries
                ),
            )),
            _ if head.entries > n => Some((
                n + 1,
                format!(
                    "the head seals {} entries but the chain ends at {n}: its tail was cut",
                    head.entries
                ),
            )),
            _ if head.entries < n => Some((
                head.entries + 1,
                format!(
                    "the chain runs to {n} but the head seals {} entries",
                    head.entries
                ),
            )),
            _ if head.hash != self.prev => Some((
                n,
                "the last entry does not match the head's hash".to_string(),
            )),
            _ => None,
        };
        (rows, broken)
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Sealed entries found intact (before the first broken one).
    pub rows: u64,
    /// The first broken entry and why.
    pub broken: Option<(i64, String)>,
    /// Entries recorded but not sealed yet.
    pub unsealed: i64,
    /// The head the chain was checked against.
    pub head: Head,
}

/// Walks the whole sealed chain in one snapshot, against its head and,
/// when given, a seal exported earlier.
pub async fn verify(pool: &PgPool, expected: Option<Seal>) -> Result<Verification, ApiError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (head, unsealed) = head_and_unsealed(&mut *tx).await?;
    let mut check = Check::new(expected);
    'pages: loop {
        let page = sqlx::query(
            "SELECT seq, at, actor, actor_unit, action, ticket_no, detail, prev_hash, hash \
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 10000",
        )
        .bind(check.next_seq())
        .fetch_all(&mut *tx)
        .await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let prev: Vec<u8> = r.get("prev_hash");
            let hash: Vec<u8> = r.get("hash");
            if !check.feed(r.get("seq"), &Recorded::from_row(r), &prev, &hash) {
                break 'pages;
            }
        }
    }
    tx.commit().await?;
    let (rows, broken) = check.finish(&head.seal);
    Ok(Verification {
        rows,
        broken,
        unsealed,
        head,
    })
}

/// The `AuditService` every service serves over its own trail.
pub struct AuditApi {
    pub pool: PgPool,
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
                hash: hex::encode(r.get::<Vec<u8>, _>("hash")),
            })
            .collect();
        Ok(tonic::Response::new(pb::ListAuditEntriesResponse {
            entries,
        }))
    }

    async fn verify_audit(
        &self,
        req: tonic::Request<pb::VerifyAuditRequest>,
    ) -> Result<tonic::Response<pb::VerifyAuditResponse>, tonic::Status> {
        let expected =
            match req.into_inner().expected {
                None => None,
                Some(x) => Some(Seal::parse(x.entries, &x.hash).map_err(|(field, why)| {
                    ApiError::invalid(&format!("expected.{field}"), &why)
                })?),
            };
        let v = verify(&self.pool, expected).await?;
        let (broken_at, reason) = v.broken.unwrap_or((0, String::new()));
        Ok(tonic::Response::new(pb::VerifyAuditResponse {
            intact: broken_at == 0,
            entries: v.rows as i64,
            broken_at,
            reason,
            unsealed: v.unsealed,
            seal: Some(v.head.to_proto()),
        }))
    }

    async fn get_audit_seal(
        &self,
        _req: tonic::Request<pb::GetAuditSealRequest>,
    ) -> Result<tonic::Response<pb::GetAuditSealResponse>, tonic::Status> {
        let (head, unsealed) = head_and_unsealed(&self.pool).await?;
        Ok(tonic::Response::new(pb::GetAuditSealResponse {
            seal: Some(head.to_proto()),
            unsealed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(detail: &str) -> Recorded {
        Recorded {
            at: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            actor: "op".into(),
            actor_unit: String::new(),
            action: "ticket.accepted".into(),
            ticket_no: "BJ1".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn hashes_cover_every_field_and_the_link() {
        let a = entry_hash(&GENESIS, 1, &e("x"));
        assert_ne!(a, entry_hash(&GENESIS, 1, &e("y")));
        assert_ne!(a, entry_hash(&[1; 32], 1, &e("x")));
        assert_ne!(a, entry_hash(&GENESIS, 2, &e("x")));
        let mut later = e("x");
        later.at += chrono::Duration::microseconds(1);
        assert_ne!(a, entry_hash(&GENESIS, 1, &later));
        // Field boundaries matter: ("opB", "BJ1") is not ("op", "BBJ1").
        let mut shifted = e("");
        shifted.actor = "opB".into();
        let mut orig = e("");
        orig.ticket_no = "BBJ1".into();
        assert_ne!(
            entry_hash(&GENESIS, 1, &shifted),
            entry_hash(&GENESIS, 1, &orig)
        );
    }

    #[test]
    fn the_hash_is_the_one_rows_written_before_sealing_carry() {
        // Rows written when entries were hashed as they were appended stay
        // valid: same fields, same order, same encoding.
        let mut h = Sha256::new();
        h.update(GENESIS);
        h.update(1i64.to_be_bytes());
        h.update(1_764_000_000_000_000i64.to_be_bytes());
        for f in ["op", "", "ticket.accepted", "BJ1", "x"] {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        let old: [u8; 32] = h.finalize().into();
        assert_eq!(entry_hash(&GENESIS, 1, &e("x")), old);
    }

    /// A sealed chain of `n` entries, as stored rows.
    fn sealed(n: usize) -> (Vec<(Link, Recorded)>, Seal) {
        let entries: Vec<Recorded> = (0..n).map(|i| e(&format!("entry {i}"))).collect();
        let (links, head) = chain(&Seal::genesis(), &entries);
        (links.into_iter().zip(entries).collect(), head)
    }

    fn check(rows: &[(Link, Recorded)], head: &Seal, expected: Option<Seal>) -> Option<i64> {
        let mut c = Check::new(expected);
        for (l, r) in rows {
            if !c.feed(l.seq, r, &l.prev_hash, &l.hash) {
                break;
            }
        }
        c.finish(head).1.map(|(seq, _)| seq)
    }

    #[test]
    fn chains_continue_from_their_head() {
        let all: Vec<Recorded> = (0..5).map(|i| e(&i.to_string())).collect();
        let (whole, end) = chain(&Seal::genesis(), &all);
        let (first, mid) = chain(&Seal::genesis(), &all[..2]);
        let (rest, end2) = chain(&mid, &all[2..]);
        assert_eq!(end, end2);
        assert_eq!(whole, [first, rest].concat());
        assert_eq!(end.entries, 5);
        assert_eq!(whole[0].prev_hash, GENESIS);
        assert_eq!(whole[4].hash, end.hash);
        // Nothing to seal: the head stays.
        assert_eq!(chain(&end, &[]), (vec![], end.clone()));
    }

    #[test]
    fn an_intact_chain_checks_and_every_tampering_names_its_entry() {
        let (rows, head) = sealed(6);
        assert_eq!(check(&rows, &head, None), None);
        assert_eq!(check(&rows, &head, Some(head.clone())), None);
        assert_eq!(check(&[], &Seal::genesis(), None), None);

        // An edited entry.
        let mut edited = rows.clone();
        edited[2].1.detail = "changed".into();
        assert_eq!(check(&edited, &head, None), Some(3));
        // An edited time.
        let mut retimed = rows.clone();
        retimed[4].1.at += chrono::Duration::seconds(1);
        assert_eq!(check(&retimed, &head, None), Some(5));
        // A deleted entry in the middle.
        let mut deleted = rows.clone();
        deleted.remove(3);
        assert_eq!(check(&deleted, &head, None), Some(4));
        // Two entries swapped: contents, or positions renumbered.
        let mut swapped = rows.clone();
        let (a, b) = (swapped[1].1.clone(), swapped[2].1.clone());
        swapped[1].1 = b;
        swapped[2].1 = a;
        assert_eq!(check(&swapped, &head, None), Some(2));
        let mut renumbered = rows.clone();
        renumbered.swap(1, 2);
        renumbered[1].0.seq = 2;
        renumbered[2].0.seq = 3;
        assert_eq!(check(&renumbered, &head, None), Some(2));
        // An entry re-hashed after an edit no longer links to the next.
        let mut rehashed = rows.clone();
        rehashed[2].1.detail = "changed".into();
        rehashed[2].0.hash = entry_hash(&rehashed[2].0.prev_hash, 3, &rehashed[2].1).to_vec();
        assert_eq!(check(&rehashed, &head, None), Some(4));
    }

    #[test]
    fn the_head_and_an_exported_seal_catch_cut_and_rewritten_tails() {
        let (rows, head) = sealed(6);
        let anchor = Seal {
            entries: 4,
            hash: rows[3].0.hash.clone(),
        };
        // The last two cut, the head left: caught by the head.
        assert_eq!(check(&rows[..4], &head, None), Some(5));
        // The head moved back too: only the anchor of 6 catches it.
        let cut_head = Seal {
            entries: 4,
            hash: rows[3].0.hash.clone(),
        };
        assert_eq!(check(&rows[..4], &cut_head, None), None);
        assert_eq!(check(&rows[..4], &cut_head, Some(head.clone())), Some(5));
        assert_eq!(check(&rows[..4], &cut_head, Some(anchor.clone())), None);
        // Entries past the head.
        assert_eq!(check(&rows, &cut_head, None), Some(5));
        // A head whose hash is not the last entry's.
        let wrong = Seal {
            entries: 6,
            hash: vec![7; 32],
        };
        assert_eq!(check(&rows, &wrong, None), Some(6));

        // The whole chain rewritten from entry 3 on, head and all: every
        // link checks, only the anchor does not.
        let mut all: Vec<Recorded> = rows.iter().map(|(_, r)| r.clone()).collect();
        all[3].detail = "rewritten".into();
        let (kept, mid) = chain(&Seal::genesis(), &all[..2]);
        let (redone, new_head) = chain(&mid, &all[2..]);
        let rewritten: Vec<(Link, Recorded)> =
            [kept, redone].concat().into_iter().zip(all).collect();
        assert_eq!(check(&rewritten, &new_head, None), None);
        assert_eq!(check(&rewritten, &new_head, Some(anchor)), Some(4));
        assert_eq!(check(&rewritten, &new_head, Some(head)), Some(6));
        // An anchor from before the rewritten part still holds.
        let early = Seal {
            entries: 2,
            hash: rows[1].0.hash.clone(),
        };
        assert_eq!(check(&rewritten, &new_head, Some(early)), None);
    }

    #[test]
    fn exported_seals_parse_back() {
        let (_, head) = sealed(3);
        let text = head.display();
        let (n, h) = text.split_once(':').unwrap();
        assert_eq!(Seal::parse(n.parse().unwrap(), h), Ok(head));
        assert_eq!(Seal::parse(0, &"0".repeat(64)), Ok(Seal::genesis()));
        assert_eq!(Seal::parse(-1, &"0".repeat(64)).unwrap_err().0, "entries");
        assert_eq!(Seal::parse(3, "abc").unwrap_err().0, "hash");
        assert_eq!(Seal::parse(3, &"A".repeat(64)).unwrap_err().0, "hash");
        assert_eq!(Seal::parse(0, &"1".repeat(64)).unwrap_err().0, "hash");
    }
}
