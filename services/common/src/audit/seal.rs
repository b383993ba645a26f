//! Sealing recorded entries into the chain, one sealer per schema at a
//! time, and verifying the chain from the database.

use std::time::Duration;

use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use super::SEAL_BATCH;
use super::rules::{Check, Head, Recorded, Seal, Verification, chain};
use crate::error::ApiError;

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
        "DELETE FROM audit_pending WHERE id = ANY(ARRAY(SELECT id FROM audit_pending ORDER BY id LIMIT $1)) \
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

/// The head and the number of entries waiting to be sealed.
pub(super) async fn head_and_unsealed<'c, E>(db: E) -> Result<(Head, i64), ApiError>
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
