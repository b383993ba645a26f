//! A service's event feed (`migrations/feed`): what a unit is told about,
//! written in the same transaction as the change it announces, read back in
//! commit-safe order by cursor.
//!
//! Ordering: every row stores the id of the transaction that wrote it
//! (`pg_current_xact_id()`, xid8). A reader delivers only rows whose xid is
//! below the xmin of its snapshot (every transaction with an older xid has
//! finished, committed or not), ordered by (xid, id). A transaction still
//! running when a reader passes it has an xid at or above that xmin, so its
//! rows come later, after the cursor; none is skipped, none repeated. No
//! row lock is taken: writers never wait for each other on the feed. The
//! price: the horizon is the whole PostgreSQL server's, so a long writing
//! transaction in any database of the server (a bulk load, a migration)
//! holds delivery back, not loses it, until it ends.
//!
//! Wake-up: each write `NOTIFY`s the service's channel with the unit, so a
//! change through any replica wakes the watchers on all of them. One
//! [`Hub`] per process listens on one connection and fans the news out; a
//! poll fallback covers lost notifications.
//!
//! Retention: [`run_cleanup`] deletes rows older than the retention and
//! records per unit the newest position deleted (its floor); a cursor
//! below its floor is refused, naming the oldest cursor that still works.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::config::Env;
use crate::error::{ApiError, ErrorCode};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/feed");

/// The scope that means every unit: the whole feed, and the wake-up that
/// wakes every watcher.
pub const ALL: &str = "*";

/// Settings of the feed and its watchers.
pub const ENV_RETENTION: &str = "HOTLINE_FEED_RETENTION_SECONDS";
/// Events are kept a week by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
pub const ENV_MAX_WATCHERS: &str = "HOTLINE_WATCH_MAX_STREAMS";
pub const DEFAULT_MAX_WATCHERS: usize = 1000;
pub const ENV_POLL: &str = "HOTLINE_WATCH_POLL_SECONDS";
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);
pub const ENV_HEARTBEAT: &str = "HOTLINE_WATCH_HEARTBEAT_SECONDS";
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// How long events are kept, how many streams a process serves, how often
/// a watcher looks without being woken, and how often an idle stream hears
/// a heartbeat.
#[derive(Debug, Clone, Copy)]
pub struct FeedConfig {
    /// `HOTLINE_FEED_RETENTION_SECONDS` (default a week).
    pub retention: Duration,
    /// `HOTLINE_WATCH_MAX_STREAMS` (default 1000).
    pub max_watchers: usize,
    /// `HOTLINE_WATCH_POLL_SECONDS` (default 1).
    pub poll: Duration,
    /// `HOTLINE_WATCH_HEARTBEAT_SECONDS` (default 15).
    pub heartbeat: Duration,
}

impl FeedConfig {
    pub fn from_env(env: &mut Env) -> FeedConfig {
        let c = FeedConfig {
            retention: env.seconds(ENV_RETENTION, DEFAULT_RETENTION),
            max_watchers: env.parse(ENV_MAX_WATCHERS, DEFAULT_MAX_WATCHERS),
            poll: env.seconds(ENV_POLL, DEFAULT_POLL),
            heartbeat: env.seconds(ENV_HEARTBEAT, DEFAULT_HEARTBEAT),
        };
        if c.retention < Duration::from_secs(1) {
            env.error(format!("{ENV_RETENTION}: at least 1 second"));
        }
        if c.max_watchers == 0 {
            env.error(format!("{ENV_MAX_WATCHERS}: at least 1"));
        }
        if c.poll < Duration::from_millis(10) || c.heartbeat < Duration::from_millis(100) {
            env.error(format!(
                "{ENV_POLL} at least 0.01, {ENV_HEARTBEAT} at least 0.1"
            ));
        }
        c
    }
}

/// A place in the feed: after the row (xid, id). A position of id 0 is the
/// place before every row of transaction `xid` (a heartbeat's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub xid: i64,
    pub id: i64,
}

const CURSOR_VERSION: u8 = 1;

/// Four bytes naming the scope a cursor belongs to, so that one unit's
/// cursor is not taken for another's.
fn scope_tag(scope: &str) -> [u8; 4] {
    let d = Sha256::digest(scope.as_bytes());
    [d[0], d[1], d[2], d[3]]
}

impl Position {
    /// The opaque cursor of this position in `scope` (a unit, or [`ALL`]).
    pub fn cursor(self, scope: &str) -> String {
        let mut b = Vec::with_capacity(21);
        b.push(CURSOR_VERSION);
        b.extend_from_slice(&self.xid.to_be_bytes());
        b.extend_from_slice(&self.id.to_be_bytes());
        b.extend_from_slice(&scope_tag(scope));
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Reads a cursor of `scope`; anything else is INVALID_ARGUMENT naming
    /// `field`.
    pub fn parse(field: &str, raw: &str, scope: &str) -> Result<Position, ApiError> {
        let bad = |why: &str| ApiError::invalid(field, why);
        let b = URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| bad("not a cursor this service handed out"))?;
        if b.len() != 21 || b[0] != CURSOR_VERSION {
            return Err(bad("not a cursor this service handed out"));
        }
        if b[17..21] != scope_tag(scope) {
            return Err(bad(&format!("not a cursor of {scope}")));
        }
        let xid = i64::from_be_bytes(b[1..9].try_into().expect("8 bytes"));
        let id = i64::from_be_bytes(b[9..17].try_into().expect("8 bytes"));
        if xid < 0 || id < 0 {
            return Err(bad("not a cursor this service handed out"));
        }
        Ok(Position { xid, id })
    }
}

/// One event read from the feed.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub position: Position,
    pub unit_id: String,
    pub ticket_no: String,
    pub recorded_at: DateTime<Utc>,
    pub event: Vec<u8>,
}

/// What one read found.
#[derive(Debug, Clone)]
pub struct Batch {
    pub events: Vec<FeedEvent>,
    /// Where a reader stands once it has the events: after the last, or,
    /// when the read was not cut short, after every finished transaction.
    pub position: Position,
    /// Rows are committed beyond the reader's horizon (held back by an
    /// older transaction still running): look again soon.
    pub pending: bool,
}

/// The service's notification channel (channels are per database; the
/// schema keeps services and deployments sharing one apart).
pub fn channel(schema: &str) -> String {
    format!("{schema}_unit_events")
}

/// Records an event inside the caller's transaction, and notifies the
/// schema's [`channel`] at commit. With `source`, an event copied from
/// another feed: false when it was copied before.
pub async fn append(
    tx: &mut Transaction<'static, Postgres>,
    unit_id: &str,
    ticket_no: &str,
    event: &[u8],
    source: Option<&str>,
) -> Result<bool, ApiError> {
    // One statement: the row, and the notification only when it was added.
    // The pool's search_path is the service's schema: [`channel`].
    let added: i64 = sqlx::query_scalar(
        "WITH added AS ( \
             INSERT INTO unit_events (unit_id, ticket_no, event, source) VALUES ($1, $2, $3, $4) \
             ON CONFLICT ON CONSTRAINT unit_events_source_unique DO NOTHING RETURNING unit_id) \
         SELECT count(pg_notify(current_schema() || '_unit_events', unit_id)) FROM added",
    )
    .bind(unit_id)
    .bind(ticket_no)
    .bind(event)
    .bind(source)
    .fetch_one(&mut **tx)
    .await?;
    Ok(added > 0)
}

/// The oldest transaction still running (xmin of a fresh snapshot): every
/// row of an older xid is final.
async fn horizon(pool: &PgPool) -> Result<i64, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?,
    )
}

/// The position of "now": after every finished transaction.
pub async fn now(pool: &PgPool) -> Result<Position, ApiError> {
    Ok(Position {
        xid: horizon(pool).await?,
        id: 0,
    })
}

/// Up to `limit` events of `scope` (a unit, or [`ALL`]) after `after`,
/// oldest first, only of finished transactions. FAILED_PRECONDITION when
/// retention deleted events after `after` (a reader fell behind).
pub async fn read(
    pool: &PgPool,
    scope: &str,
    after: Position,
    limit: i64,
) -> Result<Batch, ApiError> {
    let all = scope == ALL;
    // The horizon first: every transaction below it has finished, so the
    // next statement's snapshot sees all of their rows.
    let (h, pending): (i64, bool) = if all {
        sqlx::query_as(
            "SELECT h::text::bigint, EXISTS (SELECT 1 FROM unit_events WHERE xid >= h) \
             FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS h) s",
        )
        .fetch_one(pool)
        .await?
    } else {
        sqlx::query_as(
            "SELECT h::text::bigint, EXISTS (SELECT 1 FROM unit_events WHERE unit_id = $1 AND xid >= h) \
             FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS h) s",
        )
        .bind(scope)
        .fetch_one(pool)
        .await?
    };
    type Row = (i64, i64, String, String, DateTime<Utc>, Vec<u8>);
    const COLS: &str = "xid::text::bigint, id, unit_id, ticket_no, recorded_at, event";
    let rows: Vec<Row> = if all {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM unit_events \
             WHERE (xid, id) > ($1::text::xid8, $2) AND xid < $3::text::xid8 \
             ORDER BY xid, id LIMIT $4"
        )))
        .bind(after.xid.to_string())
        .bind(after.id)
        .bind(h.to_string())
        .bind(limit)
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM unit_events \
             WHERE unit_id = $5 AND (xid, id) > ($1::text::xid8, $2) AND xid < $3::text::xid8 \
             ORDER BY xid, id LIMIT $4"
        )))
        .bind(after.xid.to_string())
        .bind(after.id)
        .bind(h.to_string())
        .bind(limit)
        .bind(scope)
        .fetch_all(pool)
        .await?
    };
    // Read after the rows: a prune that took rows from under this read has
    // raised the floor by now (both in one statement).
    let floor: Option<(i64, i64)> =
        sqlx::query_as("SELECT xid::text::bigint, id FROM unit_event_floors WHERE unit_id = $1")
            .bind(scope)
            .fetch_optional(pool)
            .await?;
    if let Some((xid, id)) = floor {
        let floor = Position { xid, id };
        if after < floor {
            return Err(too_old(CURSOR_FIELD, scope, floor));
        }
    }
    let full = rows.len() as i64 >= limit;
    let events: Vec<FeedEvent> = rows
        .into_iter()
        .map(
            |(xid, id, unit_id, ticket_no, recorded_at, event)| FeedEvent {
                position: Position { xid, id },
                unit_id,
                ticket_no,
                recorded_at,
                event,
            },
        )
        .collect();
    let last = events.last().map_or(after, |e| e.position);
    let position = if full {
        last
    } else {
        last.max(Position { xid: h, id: 0 })
    };
    Ok(Batch {
        events,
        position,
        pending,
    })
}

/// Refuses a resume position that cannot be honoured: one from the future
/// (INVALID_ARGUMENT naming `field`, no cursor handed out points there), or
/// one older than the events kept for `scope` (FAILED_PRECONDITION naming
/// the oldest cursor that works).
pub async fn check_resume(
    pool: &PgPool,
    field: &str,
    scope: &str,
    after: Position,
) -> Result<(), ApiError> {
    if after.xid > horizon(pool).await? {
        return Err(ApiError::invalid(
            field,
            "not a cursor this service handed out",
        ));
    }
    let floor: Option<(i64, i64)> =
        sqlx::query_as("SELECT xid::text::bigint, id FROM unit_event_floors WHERE unit_id = $1")
            .bind(scope)
            .fetch_optional(pool)
            .await?;
    if let Some((xid, id)) = floor {
        let floor = Position { xid, id };
        if after < floor {
            return Err(too_old(field, scope, floor));
        }
    }
    Ok(())
}

/// The field resume cursors come in.
pub const CURSOR_FIELD: &str = "after_cursor";

/// FAILED_PRECONDITION for a position before the `floor` of `scope`.
fn too_old(field: &str, scope: &str, floor: Position) -> ApiError {
    let oldest = floor.cursor(scope);
    ApiError::precondition(
        crate::Reason::CursorExpired,
        format!(
            "{field} is older than the events kept: events after it were deleted; \
             the oldest cursor is {oldest} (resume from it after re-reading the current state)"
        ),
    )
    .with("oldest_cursor", oldest)
}

/// Deletes events older than `retention`, at most `batch` rows, and raises
/// the floors of the units (and of [`ALL`]) they belonged to. Only rows a
/// reader could already have had (below the horizon) go, so that a floor
/// is never a position no cursor has reached. Returns the rows deleted.
/// (`id = ANY(ARRAY(…))`, not `id IN (…)`: the latter is planned as a hash
/// join over a sequential scan of the whole feed, per batch.)
pub async fn prune(pool: &PgPool, retention: Duration, batch: i64) -> Result<u64, ApiError> {
    let secs = retention.as_secs_f64();
    let deleted: i64 = sqlx::query_scalar(
        "WITH gone AS ( \
             DELETE FROM unit_events WHERE id = ANY(ARRAY( \
                 SELECT id FROM unit_events \
                 WHERE recorded_at < now() - make_interval(secs => $1) \
                 AND xid < pg_snapshot_xmin(pg_current_snapshot()) \
                 ORDER BY recorded_at LIMIT $2)) \
             RETURNING unit_id, xid, id), \
         newest AS ( \
             (SELECT DISTINCT ON (unit_id) unit_id, xid, id FROM gone ORDER BY unit_id, xid DESC, id DESC) \
             UNION ALL \
             (SELECT '*', xid, id FROM gone ORDER BY xid DESC, id DESC LIMIT 1)), \
         raised AS ( \
             INSERT INTO unit_event_floors (unit_id, xid, id) SELECT unit_id, xid, id FROM newest \
             ON CONFLICT (unit_id) DO UPDATE SET xid = EXCLUDED.xid, id = EXCLUDED.id \
             WHERE (unit_event_floors.xid, unit_event_floors.id) < (EXCLUDED.xid, EXCLUDED.id)) \
         SELECT count(*) FROM gone",
    )
    .bind(secs)
    .bind(batch)
    .fetch_one(pool)
    .await?;
    Ok(deleted as u64)
}

/// Prunes the feed in the background until `token` is cancelled: every
/// minute (or a quarter of the retention, if shorter), in batches.
pub async fn run_cleanup(pool: PgPool, retention: Duration, token: CancellationToken) {
    let every = (retention / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        loop {
            match prune(&pool, retention, 5000).await {
                Ok(5000) => continue,
                Ok(0) => break,
                Ok(n) => {
                    tracing::debug!(deleted = n, "feed pruned");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning the feed failed; will retry");
                    break;
                }
            }
        }
    }
}

/// One process's watchers: the notifications of the one listening
/// connection, fanned out, and the permits that bound how many watch.
#[derive(Clone)]
pub struct Hub {
    news: broadcast::Sender<Arc<str>>,
    permits: Arc<Semaphore>,
    pub config: FeedConfig,
}

impl Hub {
    /// Starts listening on `channel` until `token` is cancelled.
    pub fn start(
        pool: PgPool,
        channel: String,
        config: FeedConfig,
        token: CancellationToken,
    ) -> Hub {
        let (news, _) = broadcast::channel(1024);
        let hub = Hub {
            news: news.clone(),
            permits: Arc::new(Semaphore::new(config.max_watchers)),
            config,
        };
        tokio::spawn(listen(pool, channel, news, token));
        hub
    }

    /// Units whose feed changed ([`ALL`]: look, whoever you are).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.news.subscribe()
    }

    /// A watcher's place, held for as long as it watches; RESOURCE_EXHAUSTED
    /// when every place is taken.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "this server already serves {} watchers; retry later or on another replica",
                    self.config.max_watchers
                ),
            )
        })
    }
}

async fn listen(
    pool: PgPool,
    channel: String,
    news: broadcast::Sender<Arc<str>>,
    token: CancellationToken,
) {
    let mut backoff = crate::retry::Backoff::new();
    'connect: loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "feed listener cannot connect; watchers poll meanwhile");
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(delay) => continue 'connect,
                }
            }
        };
        if let Err(e) = listener.listen(&channel).await {
            tracing::warn!(error = %e, "feed listener cannot LISTEN; retrying");
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(backoff.next_delay()) => continue 'connect,
            }
        }
        backoff = crate::retry::Backoff::new();
        // Anything may have happened while not listening.
        let _ = news.send(Arc::from(ALL));
        loop {
            let got = tokio::select! {
                _ = token.cancelled() => return,
                got = listener.try_recv() => got,
            };
            match got {
                Ok(Some(n)) => {
                    let _ = news.send(Arc::from(n.payload()));
                }
                // The connection was lost; notifications may have been too.
                Ok(None) => {
                    let _ = news.send(Arc::from(ALL));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "feed listener failed; reconnecting");
                    let _ = news.send(Arc::from(ALL));
                    continue 'connect;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_in_their_scope_only() {
        let p = Position { xid: 812, id: 77 };
        let c = p.cursor("U1");
        assert_eq!(Position::parse("after_cursor", &c, "U1").unwrap(), p);
        let e = Position::parse("after_cursor", &c, "U2").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("after_cursor"), "{}", e.message);
        for garbled in ["", "x", "!!!", &c[..c.len() - 2], &format!("{c}AA")] {
            let e = Position::parse("after_cursor", garbled, "U1").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{garbled}");
        }
    }

    #[test]
    fn positions_order_by_transaction_then_row() {
        let a = Position { xid: 5, id: 900 };
        let b = Position { xid: 6, id: 1 };
        assert!(a < b);
        assert!(Position { xid: 6, id: 0 } < b);
    }
}
