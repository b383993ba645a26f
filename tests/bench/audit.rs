//! Audit trail benchmark, on a fresh database of its own:
//!
//! - W writers (16 by default) each append one entry per transaction for S
//!   seconds (5 by default), as every audited change does, while the sealer
//!   runs as in a service (every 200 ms). Prints appends/s, the commit
//!   latency, and how long entries waited to be sealed: a probe appends a
//!   marker every 100 ms and times until it is in the chain.
//! - A backlog of B entries (200,000 by default) recorded with no sealer
//!   running, then sealed: entries/s. The backlog table is VACUUM ANALYZEd
//!   after loading (autovacuum is off on the machines this runs on).
//! - The whole chain verified: entries/s.
//! - The floor, in the same run: a plain one-row INSERT per commit from as
//!   many connections.
//!
//!     cargo run --release -p hotline-tests --bin audit-bench -- [WRITERS] [SECONDS] [BACKLOG]

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hotline_common::audit::{self, Entry, Recorded, Seal, Step};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

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

/// How entries were appended before sealing was a step of its own: under a
/// chain lock, reading the chain's last row, hashing, inserting.
async fn locked_append(tx: &mut hotline_common::outbox::Tx, e: &Entry) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.locked_log'))")
        .execute(&mut **tx)
        .await?;
    let last: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM locked_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let head = last.map_or_else(Seal::genesis, |(entries, hash)| Seal { entries, hash });
    let r = Recorded {
        at: hotline_common::time::now(),
        actor: e.actor.clone(),
        actor_unit: e.actor_unit.clone(),
        action: e.action.to_string(),
        ticket_no: e.ticket_no.clone(),
        detail: e.detail.clone(),
    };
    let (links, _) = audit::chain(&head, std::slice::from_ref(&r));
    sqlx::query(
        "INSERT INTO locked_log (seq, at, actor, actor_unit, action, ticket_no, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(links[0].seq)
    .bind(r.at)
    .bind(&r.actor)
    .bind(&r.actor_unit)
    .bind(&r.action)
    .bind(&r.ticket_no)
    .bind(&r.detail)
    .bind(&links[0].prev_hash)
    .bind(&links[0].hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// W writers appending for `run` (`locked`: the way it was before):
/// appends/s and every commit's latency.
async fn writers(
    pool: &PgPool,
    w: u64,
    run: Duration,
    locked: bool,
) -> anyhow::Result<(f64, Vec<Duration>)> {
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
                if locked {
                    locked_append(&mut tx, &entry(writer, n)).await?;
                } else {
                    audit::append(&mut tx, &[entry(writer, n)]).await?;
                }
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

/// Appends a marker every 100 ms until `stop` and times until each is in
/// the chain.
async fn seal_lag(pool: PgPool, stop: Instant) -> anyhow::Result<Vec<Duration>> {
    let mut lags = Vec::new();
    let mut n = 0u64;
    while Instant::now() < stop {
        let marker = format!("LAG{n:012}");
        let mut tx = pool.begin().await?;
        audit::append(&mut tx, &[Entry::system("bench", "lag.probe", &marker, "")]).await?;
        tx.commit().await?;
        let committed = Instant::now();
        loop {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM audit_log WHERE ticket_no = $1")
                    .bind(&marker)
                    .fetch_optional(&pool)
                    .await?;
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(committed.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lags.sort();
    Ok(lags)
}

/// Records `n` entries with no sealer running, then seals them: entries/s.
async fn backlog(pool: &PgPool, n: u64) -> anyhow::Result<f64> {
    let chunk = 10_000u64;
    let mut done = 0;
    while done < n {
        let k = chunk.min(n - done);
        let entries: Vec<Entry> = (done..done + k).map(|i| entry(99, i)).collect();
        let mut tx = pool.begin().await?;
        audit::append(&mut tx, &entries).await?;
        tx.commit().await?;
        done += k;
    }
    sqlx::query("VACUUM ANALYZE audit_pending")
        .execute(pool)
        .await?;
    let started = Instant::now();
    match audit::seal_all(pool, &CancellationToken::new()).await? {
        Step::Sealed(k) if k as u64 == n => {}
        other => anyhow::bail!("sealing the backlog: {other:?}"),
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
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
    let backlog_n = arg(3, 200_000);
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
            .max_connections(w as u32 + 3)
            .test_before_acquire(false)
            .connect(&url)
            .await?;
        audit::MIGRATOR.run(&pool).await?;
        println!(
            "audit benchmark: {w} writers, one entry per transaction, {secs} s, sealer every {} ms",
            audit::DEFAULT_SEAL_INTERVAL.as_millis()
        );
        let token = CancellationToken::new();
        let sealer = tokio::spawn(audit::run_sealer(
            pool.clone(),
            audit::DEFAULT_SEAL_INTERVAL,
            token.clone(),
        ));
        let probe = tokio::spawn(seal_lag(pool.clone(), Instant::now() + run));
        let (rate, lat) = writers(&pool, w, run, false).await?;
        let lags = probe.await??;
        println!(
            "  appends: {rate:.0}/s  commit p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0)
        );
        println!(
            "  commit to sealed ({} probes): p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
            lags.len(),
            percentile(&lags, 0.5),
            percentile(&lags, 0.99),
            percentile(&lags, 1.0)
        );
        token.cancel();
        sealer.await?;
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_pending")
            .fetch_one(&pool)
            .await?;
        anyhow::ensure!(left == 0, "{left} entries left unsealed");

        sqlx::query("CREATE TABLE locked_log (LIKE audit_log INCLUDING ALL)")
            .execute(&pool)
            .await?;
        let (locked_rate, locked_lat) = writers(&pool, w, run, true).await?;
        println!(
            "  before (append under a chain lock, hashed in the change's transaction): {locked_rate:.0}/s  commit p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&locked_lat, 0.5),
            percentile(&locked_lat, 0.99),
            percentile(&locked_lat, 1.0)
        );

        let sealed = backlog(&pool, backlog_n).await?;
        println!("  a backlog of {backlog_n} entries sealed at {sealed:.0} entries/s (steps of {})", audit::SEAL_BATCH);
        let started = Instant::now();
        let v = audit::verify(&pool, None).await?;
        anyhow::ensure!(v.broken.is_none(), "chain broken: {:?}", v.broken);
        println!(
            "  verified {} entries in {:.2} s ({:.0} entries/s)",
            v.rows,
            started.elapsed().as_secs_f64(),
            v.rows as f64 / started.elapsed().as_secs_f64()
        );
        pool.close().await;
        let floor = floor(&url, w, run).await?;
        println!(
            "floor, same run: one-row INSERT per commit, {w} connections: {floor:.0} commits/s"
        );
        println!(
            "appends are {:.0}% of the floor now, {:.0}% before",
            rate / floor * 100.0,
            locked_rate / floor * 100.0
        );
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
