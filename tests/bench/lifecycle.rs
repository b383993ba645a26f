//! Lifecycle benchmark: tickets driven through their whole lifecycle over
//! the public gRPC contract (Submit → routed → every unit signs → co-units'
//! parts → the lead's answer; `hotline_tests::load`), against the four
//! release binaries on a fresh database and virtual host.
//!
//!     cargo build --release --workspace --bins
//!     target/release/lifecycle-bench                      # empty database
//!     target/release/lifecycle-bench --history 1000000    # on 1M answered tickets
//!
//! Options: `--tickets N` lifecycles in the closed-loop run (default
//! 6,000), `--in-flight C` (default 64), `--history N` answered tickets
//! loaded first (default 0), `--open-seconds S` length of the open-loop run
//! (default 15), `--poll` units poll their inboxes instead of watching
//! their event streams. `BENCH_POOL` sets every service's pool (default 8: the
//! machine's PostgreSQL is shared), `BENCH_LOG` their log filter.
//!
//! Prints, in one run: verified lifecycles/s (closed loop); p50/p99 of
//! every RPC; Submit p99 at half that rate (open loop); commits and rows
//! read per lifecycle (pg_stat_database / pg_stat_user_tables deltas over
//! the closed-loop run, read after the statistics are flushed); the top
//! wait events of the services' connections, sampled from pg_stat_activity
//! every 10 ms during the closed-loop run; peak memory per service
//! (VmHWM); and the floors measured in the same run.
//!
//! History (`--history`) is written straight into the schemas by SQL:
//! every row the services wrote for the warm-up's answered tickets (intake
//! tickets and clocks, dispatch routings and hops, undertaking assignments,
//! hops in force and clocks) cloned N times under new ticket numbers and
//! ids, spread over the past year; the feed rows past the feed's retention
//! pruned (as the running system would have); then VACUUM ANALYZE of every
//! table.
//! The audit trails are not cloned (they are hash chains).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hotline_tests::load::{
    Driver, Feed, Pace, Run, Verification, format_codes, format_latencies, percentiles_ms,
};
use hotline_tests::{Options, SERVICES, System, flag, floors, peak_memory_mib};
use sqlx::{Connection as _, PgConnection};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tickets = flag("--tickets", 6_000) as usize;
    let in_flight = flag("--in-flight", 64) as usize;
    let history = flag("--history", 0) as i64;
    let open_seconds = flag("--open-seconds", 15) as f64;
    let feed = if std::env::args().any(|a| a == "--poll") {
        Feed::Poll
    } else {
        Feed::Watch
    };
    let pool = std::env::var("BENCH_POOL").unwrap_or_else(|_| "8".into());
    println!(
        "lifecycle benchmark: {tickets} lifecycles, {in_flight} in flight, {history} answered tickets of history, pools of {pool}, units {}",
        match feed {
            Feed::Watch => "watching their streams (WatchUnitEvents)",
            Feed::Poll => "polling their inboxes (ListAssignments)",
        }
    );
    let sys = System::start(Options {
        policy: None,
        env: vec![
            (
                "HOTLINE_LOG".into(),
                std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            ),
            ("HOTLINE_DATABASE_MAX_CONNECTIONS".into(), pool),
        ],
    })
    .await?;
    let driver = Driver::with_feed(&sys, feed).await;

    // ---- warm-up (and the templates of the history)
    let warm = driver.run(220, Pace::Closed { in_flight: 16 }).await;
    anyhow::ensure!(warm.failed == 0, "warm-up failed: {:?}", warm.failures);
    if history > 0 {
        let started = Instant::now();
        load_history(&sys, history).await?;
        println!(
            "loaded {history} answered tickets of history in {:.1} s, then VACUUM ANALYZE of every table",
            started.elapsed().as_secs_f64()
        );
    }

    // ---- closed loop: the peak
    let mut db = sys.db("public").await?;
    settle_stats().await;
    let before = pg_counters(&mut db).await?;
    driver.stats.reset_latencies();
    let codes_before = driver.stats.codes();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_waits(sys.db("public").await?, sampling.clone()));
    let reads_before = table_reads(&mut db).await?;
    let closed = driver.run(tickets, Pace::Closed { in_flight }).await;
    sampling.store(false, Ordering::SeqCst);
    let waits = sampler.await??;
    let closed_latencies = driver.stats.latencies();
    let closed_codes = hotline_tests::load::codes_since(&codes_before, &driver.stats.codes());
    settle_stats().await;
    let after = pg_counters(&mut db).await?;
    let reads_after = table_reads(&mut db).await?;
    let verified = driver.verify(&closed.accepted).await;
    report_run("closed loop", &closed, &verified);
    let rate = verified.answered_once as f64 / closed.elapsed.as_secs_f64();
    println!("  verified lifecycles/s: {rate:.1}");
    println!("  latencies:");
    println!("{}", format_latencies(&closed_latencies));
    println!("  answers:");
    println!("{}", format_codes(&closed_codes));
    let n = closed.completed.max(1) as f64;
    let commits = (after.0 - before.0) / n;
    let rows = (after.1 - before.1) / n;
    println!(
        "  per lifecycle: {commits:.1} commits (pg_stat_database xact_commit, read-only ones included), {rows:.0} rows read (seq_tup_read + idx_tup_fetch), {:.1} WAL flushes",
        (after.2 - before.2) / n
    );
    let mut reads: Vec<(f64, &String)> = reads_after
        .iter()
        .map(|(t, r)| ((r - reads_before.get(t).copied().unwrap_or(0.0)) / n, t))
        .filter(|(r, _)| *r >= 0.5)
        .collect();
    reads.sort_by(|a, b| b.0.total_cmp(&a.0));
    let reads: Vec<String> = reads
        .iter()
        .take(6)
        .map(|(r, t)| format!("{t} {r:.0}"))
        .collect();
    println!("  rows read per lifecycle, by table: {}", reads.join(", "));
    let calls: u64 = closed_codes
        .iter()
        .filter(|((rpc, _), _)| *rpc != "ListAssignments")
        .map(|(_, c)| c)
        .sum();
    let polls: u64 = closed_codes
        .iter()
        .filter(|((rpc, _), _)| *rpc == "ListAssignments")
        .map(|(_, c)| c)
        .sum();
    println!(
        "  calls per lifecycle: {:.2} (and {:.2} inbox polls)",
        calls as f64 / n,
        polls as f64 / n
    );
    println!(
        "  top wait events of the services' connections (share of samples, non-idle and idle in transaction):"
    );
    let total: u64 = waits.values().sum();
    let mut top: Vec<_> = waits.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    for (what, c) in top.iter().take(14) {
        println!(
            "    {:5.1}%  {what}",
            100.0 * **c as f64 / total.max(1) as f64
        );
    }

    // ---- open loop at half the peak
    let half = (rate / 2.0).max(1.0);
    let count = ((half * open_seconds) as usize).max(100);
    driver.stats.reset_latencies();
    let open = driver.run(count, Pace::Open { per_second: half }).await;
    let open_latencies = driver.stats.latencies();
    let verified_open = driver.verify(&open.accepted).await;
    report_run(&format!("open loop at {half:.1}/s"), &open, &verified_open);
    for name in ["Submit", "Submit from its planned start", "lifecycle"] {
        if let Some(h) = open_latencies.get(name) {
            let (p50, p99, max) = percentiles_ms(h);
            println!("  {name}: p50 {p50:.2} ms  p99 {p99:.2} ms  max {max:.1} ms");
        }
    }
    println!(
        "  the starter ran at most {:.1} ms behind its plan",
        open.max_start_lag.as_secs_f64() * 1000.0
    );

    println!();
    println!("peak memory (VmHWM):");
    for name in SERVICES {
        if let Some(mib) = sys.pid(name).and_then(peak_memory_mib) {
            println!("  {name:<12} {mib:8.1} MiB");
        }
    }
    driver.stop();

    // ---- floors, in the same run
    println!();
    println!("floors on this machine, same run:");
    let pg = floors::postgres_commits(&sys).await?;
    println!("  postgresql: one-row INSERT per commit, 16 connections: {pg:.0} commits/s");
    let (rps, p50) = floors::tonic_calls(&sys, "intake").await?;
    println!(
        "  tonic: grpc.health.v1 Check against intake, 64 in flight on one connection: {rps:.0} calls/s (1 in flight p50 {p50:.3} ms)"
    );
    println!();
    println!(
        "ratios: {rate:.1} lifecycles/s × {commits:.1} commits = {:.0} commits/s, {:.1}% of the postgresql floor; × {:.1} calls (polls included) = {:.0} calls/s, {:.1}% of the tonic floor",
        rate * commits,
        100.0 * rate * commits / pg,
        (calls + polls) as f64 / n,
        rate * (calls + polls) as f64 / n,
        100.0 * rate * (calls + polls) as f64 / n / rps
    );
    println!(
        "target: 1000 verified lifecycles/s ({:.1}% reached), submit p99 < 10 ms at half that rate",
        rate / 10.0
    );
    Ok(())
}

fn report_run(what: &str, run: &Run, v: &Verification) {
    println!();
    println!(
        "{what}: {} lifecycles in {:.1} s, {} failed; read back: {} answered exactly once, {} open, {} wrong",
        run.completed,
        run.elapsed.as_secs_f64(),
        run.failed,
        v.answered_once,
        v.open.len(),
        v.problems.len()
    );
    for f in run.failures.iter().take(5) {
        println!("  failure: {f}");
    }
    for p in v.problems.iter().take(5) {
        println!("  wrong: {p}");
    }
}

/// PostgreSQL publishes a backend's statistics at most once a second while
/// it works and within 10 s once it idles: wait that out.
async fn settle_stats() {
    tokio::time::sleep(Duration::from_secs(11)).await;
}

/// (commits, rows read, WAL syncs) of the test database so far.
async fn pg_counters(db: &mut PgConnection) -> anyhow::Result<(f64, f64, f64)> {
    let commits: f64 = sqlx::query_scalar(
        "SELECT xact_commit::float8 FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut *db)
    .await?;
    let rows: f64 = sqlx::query_scalar(
        "SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)::float8 FROM pg_stat_user_tables",
    )
    .fetch_one(&mut *db)
    .await?;
    // Cluster-wide: other databases' commits count too (say so when read).
    let syncs: f64 = sqlx::query_scalar("SELECT wal_sync::float8 FROM pg_stat_wal")
        .fetch_one(&mut *db)
        .await?;
    Ok((commits, rows, syncs))
}

/// Rows read so far (seq_tup_read + idx_tup_fetch) per table, by
/// `schema.table`.
async fn table_reads(db: &mut PgConnection) -> anyhow::Result<BTreeMap<String, f64>> {
    let rows: Vec<(String, f64)> = sqlx::query_as(
        "SELECT schemaname || '.' || relname, (seq_tup_read + coalesce(idx_tup_fetch, 0))::float8 \
         FROM pg_stat_user_tables",
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Samples the services' connections every 10 ms while `on`: counts of
/// "service: state wait_event_type/wait_event" ("CPU" when active without
/// a wait).
async fn sample_waits(
    mut db: PgConnection,
    on: Arc<AtomicBool>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    while on.load(Ordering::SeqCst) {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT application_name, state, wait_event_type, wait_event FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND state IN ('active', 'idle in transaction') AND application_name <> ''",
        )
        .fetch_all(&mut db)
        .await?;
        for (app, state, kind, event) in rows {
            let wait = match (kind, event) {
                (Some(k), Some(e)) => format!("{k}/{e}"),
                _ => "CPU (no wait)".to_string(),
            };
            *counts.entry(format!("{app}: {state}, {wait}")).or_default() += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    db.close().await.ok();
    Ok(counts)
}

/// Clones every row the services wrote for the tickets answered so far
/// (the templates) `n` times, under new ticket numbers and ids, spread over
/// the past year; then VACUUM ANALYZE.
async fn load_history(sys: &System, n: i64) -> anyhow::Result<()> {
    let mut db = sys.db("public").await?;
    sqlx::query(
        "CREATE TEMP TABLE tpl AS SELECT (row_number() OVER (ORDER BY ticket_no) - 1)::bigint AS k, ticket_no \
         FROM undertaking.ticket_hops",
    )
    .execute(&mut db)
    .await?;
    let templates: i64 = sqlx::query_scalar("SELECT count(*) FROM tpl")
        .fetch_one(&mut db)
        .await?;
    anyhow::ensure!(templates > 0, "no answered tickets to clone");
    // Rows are cloned table by table: foreign keys are not checked meanwhile
    // (they hold, as the templates' do).
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut db)
        .await?;
    sqlx::query(
        "CREATE TEMP TABLE hist AS SELECT g, 'BJ' || lpad((500000000000 + g)::text, 12, '0') AS new_no, \
         tpl.ticket_no AS old_no, g * interval '30 seconds' AS shift \
         FROM generate_series(1, $1::bigint) g JOIN tpl ON tpl.k = g % $2",
    )
    .bind(n)
    .bind(templates)
    .execute(&mut db)
    .await?;
    // Every table of the services with a ticket_no, but the audit trails
    // (hash chains), the outboxes and the pending timers (none for
    // answered tickets).
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.columns \
         WHERE column_name = 'ticket_no' AND table_schema IN ('intake', 'dispatch', 'undertaking', 'supervision') \
         AND table_name NOT IN ('audit_log', 'clock_timers') AND table_name NOT LIKE '%outbox' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut db)
    .await?;
    for (schema, table) in &tables {
        let cols: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, column_default::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(schema)
        .bind(table)
        .fetch_all(&mut db)
        .await?;
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        for (col, ty, default) in cols {
            if default.is_some_and(|d| d.starts_with("nextval")) {
                continue;
            }
            let e = match (col.as_str(), ty.as_str()) {
                ("ticket_no", _) => "h.new_no".to_string(),
                ("idempotency_key", _) => "'history-' || h.g".to_string(),
                ("clock_id", _) => "replace(t.clock_id, t.ticket_no, h.new_no)".to_string(),
                (_, "uuid") if col.ends_with("_id") => "gen_random_uuid()".to_string(),
                (_, "timestamp with time zone") => format!("t.{col} - h.shift"),
                _ => format!("t.{col}"),
            };
            names.push(col);
            exprs.push(e);
        }
        let sql = format!(
            "INSERT INTO {schema}.{table} ({}) SELECT {} FROM hist h JOIN {schema}.{table} t ON t.ticket_no = h.old_no",
            names.join(", "),
            exprs.join(", ")
        );
        let started = Instant::now();
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut db)
            .await?
            .rows_affected();
        println!(
            "  history: {schema}.{table}: {done} rows in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // The feed's retention would have pruned the history's feed rows long
    // ago in a system that ran through that year: prune them now, so that
    // the one-off clean-up is not counted against the run.
    for (schema, table) in tables.iter().filter(|(_, t)| t == "unit_events") {
        let started = Instant::now();
        let mut gone = 0;
        let pool = sys.pool(schema).await?;
        loop {
            let n =
                hotline_common::feed::prune(&pool, hotline_common::feed::DEFAULT_RETENTION, 5000)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            gone += n;
            if n == 0 {
                break;
            }
        }
        pool.close().await;
        println!(
            "  history: {schema}.{table}: {gone} rows past the feed's retention pruned in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    for (schema, table) in &tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "VACUUM ANALYZE {schema}.{table}"
        )))
        .execute(&mut db)
        .await?;
    }
    db.close().await.ok();
    Ok(())
}
