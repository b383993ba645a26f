//! Outbox table benchmark: how a relay's claims hold up as dead tuples pile
//! up with no vacuum (autovacuum is off on these machines).
//!
//!     cargo run --release -p hotline-tests --bin outbox-bench -- [SECONDS]
//!
//! In a database of its own, one outbox table of the services' shape
//! (migrations' `*_outbox_lease.sql`). Each round pushes 64 rows in one
//! transaction (as 64 submits would, one each), then relays them as a
//! relay does with a peer that answers at once:
//!
//! - `lease` (the relay's code, `Outbox::deliver`, with a peer call that
//!   returns at once): one claiming statement that leases the rows, the
//!   calls, then the batch's rows deleted in one transaction;
//! - `locked` (the former relay, for comparison): `SELECT … FOR UPDATE SKIP
//!   LOCKED` and every delete in one transaction held across the calls.
//!
//! Prints rounds per second for each 2 s window, the dead tuples and the
//! table and index sizes at the end, then the same after one `VACUUM`.

use std::str::FromStr;
use std::time::{Duration, Instant};

use hotline_common::outbox::{Outbox, Tx, nothing_along};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

const BATCH: usize = 64;
const WINDOW: Duration = Duration::from_secs(2);

async fn round_lease(pool: &PgPool, outbox: &Outbox, n: &mut u64) -> anyhow::Result<()> {
    let mut tx: Tx = pool.begin().await?;
    for _ in 0..BATCH {
        *n += 1;
        outbox.push(&mut tx, &format!("T{n}")).await?;
    }
    tx.commit().await?;
    let token = CancellationToken::new();
    let claimed = outbox
        .deliver(
            pool,
            BATCH as i64,
            &token,
            |_| async { Ok(()) },
            nothing_along,
        )
        .await?;
    anyhow::ensure!(claimed == BATCH, "claimed {claimed}");
    Ok(())
}

async fn round_locked(pool: &PgPool, outbox: &Outbox, n: &mut u64) -> anyhow::Result<()> {
    let mut tx: Tx = pool.begin().await?;
    for _ in 0..BATCH {
        *n += 1;
        outbox.push(&mut tx, &format!("T{n}")).await?;
    }
    tx.commit().await?;
    let mut tx = pool.begin().await?;
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT ticket_no FROM bench_outbox WHERE next_attempt_at <= now() \
         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH as i64)
    .fetch_all(&mut *tx)
    .await?;
    anyhow::ensure!(keys.len() == BATCH, "claimed {}", keys.len());
    for k in &keys {
        sqlx::query("DELETE FROM bench_outbox WHERE ticket_no = $1")
            .bind(k)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn sizes(pool: &PgPool) -> anyhow::Result<String> {
    let (dead, live, table, index): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT n_dead_tup, n_live_tup, pg_relation_size('bench_outbox'), \
         pg_indexes_size('bench_outbox') FROM pg_stat_user_tables WHERE relname = 'bench_outbox'",
    )
    .fetch_one(pool)
    .await?;
    Ok(format!(
        "dead tuples {dead}, live {live}, table {} KiB, indexes {} KiB",
        table / 1024,
        index / 1024
    ))
}

async fn run(pool: &PgPool, mode: &str, seconds: u64) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_outbox; \
         CREATE TABLE bench_outbox ( \
           ticket_no TEXT PRIMARY KEY, \
           enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
           attempts INTEGER NOT NULL DEFAULT 0, \
           next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
           last_error TEXT, \
           pushes BIGINT NOT NULL DEFAULT 1, \
           leased_until TIMESTAMPTZ) WITH (fillfactor = 50, autovacuum_enabled = false); \
         CREATE INDEX bench_outbox_due ON bench_outbox (next_attempt_at);",
    )
    .execute(pool)
    .await?;
    let outbox = Outbox::new("bench_outbox");
    let mut n = 0u64;
    let mut windows = Vec::new();
    let started = Instant::now();
    let mut window_start = Instant::now();
    let mut rounds = 0u32;
    while started.elapsed() < Duration::from_secs(seconds) {
        match mode {
            "lease" => round_lease(pool, &outbox, &mut n).await?,
            _ => round_locked(pool, &outbox, &mut n).await?,
        }
        rounds += 1;
        if window_start.elapsed() >= WINDOW {
            windows.push(rounds as f64 / window_start.elapsed().as_secs_f64());
            rounds = 0;
            window_start = Instant::now();
        }
    }
    let shown: Vec<String> = windows.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "{mode:<6} rounds/s per {}s window: {}  ({} rows relayed)",
        WINDOW.as_secs(),
        shown.join(" "),
        n
    );
    // Statistics reach pg_stat_user_tables with a short delay.
    tokio::time::sleep(Duration::from_millis(700)).await;
    println!("{mode:<6} at the end: {}", sizes(pool).await?);
    let t = Instant::now();
    sqlx::raw_sql("VACUUM bench_outbox").execute(pool).await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    println!(
        "{mode:<6} after VACUUM ({} ms): {}",
        t.elapsed().as_millis(),
        sizes(pool).await?
    );
    let mut again = 0u32;
    let t = Instant::now();
    while t.elapsed() < WINDOW {
        match mode {
            "lease" => round_lease(pool, &outbox, &mut n).await?,
            _ => round_locked(pool, &outbox, &mut n).await?,
        }
        again += 1;
    }
    println!(
        "{mode:<6} rounds/s after VACUUM: {:.0}",
        again as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let name = format!(
        "hotline_outbox_bench_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let admin = PgConnectOptions::from_str(&hotline_tests::postgres_admin_url())?;
    let mut conn = PgConnection::connect_with(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(admin.clone().database(&name))
        .await?;
    println!(
        "outbox benchmark: rounds of {BATCH} rows pushed and relayed, {seconds} s each, no vacuum"
    );
    let result = async {
        run(&pool, "lease", seconds).await?;
        run(&pool, "locked", seconds).await
    }
    .await;
    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    result
}
