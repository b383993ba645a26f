//! Audit trail benchmark: W writers (16 by default) each append one entry
//! per transaction for S seconds (5 by default), as every audited change
//! does, on a fresh database of its own. Prints appends/s, the commit
//! latency p50/p99, and the floor measured in the same run: a plain
//! one-row INSERT per commit from as many connections.
//!
//!     cargo run --release -p hotline-tests --bin audit-bench -- [WRITERS] [SECONDS]

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hotline_common::audit::{self, Entry};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn entry(writer: u64, n: u64) -> Entry {
    Entry {
        actor: format!("writer-{writer}"),
        actor_unit: "bj-heating-group".into(),
        action: "assignment.signed",
        ticket_no: format!("BJ{:012}", writer * 1_000_000 + n),
        detail: "hop=1 role=lead".into(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

/// W writers appending for `run`: appends/s and every commit's latency.
async fn writers(pool: &PgPool, w: u64, run: Duration) -> anyhow::Result<(f64, Vec<Duration>)> {
    let stop = Instant::now() + run;
    let started = Instant::now();
    let tasks = (0..w).map(|writer| {
        let pool = pool.clone();
        async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < stop {
                let t = Instant::now();
                let mut tx = pool.begin().await?;
                audit::append(&mut tx, &[entry(writer, n)]).await?;
                tx.commit().await?;
                latencies.push(t.elapsed());
                n += 1;
            }
            anyhow::Ok(latencies)
        }
    });
    let mut all = Vec::new();
    for r in join_all(tasks).await {
        all.extend(r?);
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    Ok((rate, all))
}

/// One-row INSERT per commit from `w` connections: what the database allows.
async fn floor(url: &str, w: u64, run: Duration) -> anyhow::Result<f64> {
    let mut c = PgConnection::connect(url).await?;
    sqlx::query("CREATE TABLE public.floor_rows (id bigserial PRIMARY KEY, v text)")
        .execute(&mut c)
        .await?;
    let stop = Instant::now() + run;
    let started = Instant::now();
    let tasks = (0..w).map(|_| async move {
        let mut c = PgConnection::connect(url).await?;
        let mut n = 0u64;
        while Instant::now() < stop {
            sqlx::query("INSERT INTO public.floor_rows (v) VALUES ('x')")
                .execute(&mut c)
                .await?;
            n += 1;
        }
        anyhow::Ok(n)
    });
    let mut total = 0;
    for r in join_all(tasks).await {
        total += r?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let w = arg(1, 16);
    let secs = arg(2, 5);
    let run = Duration::from_secs(secs);
    let admin_url = hotline_tests::postgres_admin_url();
    let db = format!("hotline_audit_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await?;
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let result = async {
        let pool = PgPoolOptions::new()
            .max_connections(w as u32 + 1)
            .test_before_acquire(false)
            .connect(&url)
            .await?;
        audit::MIGRATOR.run(&pool).await?;
        println!("audit benchmark: {w} writers, one entry per transaction, {secs} s");
        let (rate, lat) = writers(&pool, w, run).await?;
        println!(
            "  appends: {rate:.0}/s  commit p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0)
        );
        pool.close().await;
        let floor = floor(&url, w, run).await?;
        println!(
            "floor, same run: one-row INSERT per commit, {w} connections: {floor:.0} commits/s"
        );
        println!("appends are {:.0}% of the floor", rate / floor * 100.0);
        anyhow::Ok(())
    }
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    result
}
