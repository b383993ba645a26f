//! Deadline benchmark: N pending clocks (1,000,000 by default), a trickle
//! of clocks expiring over 20 s, then a burst (100,000 by default) expiring
//! in the same second. Prints the lateness of the "expired" action (case
//! opened minus deadline) p50/p99/max for the trickle and the burst, the
//! time to drain the burst, the peak memory of each process, and the floors
//! measured in the same run: raw PostgreSQL commits, raw RabbitMQ confirms,
//! a raw tonic round trip.
//!
//!     cargo build --release --workspace --bins
//!     cargo run --release -p hotline-tests --bin deadline-bench -- [PENDING] [BURST]
//!
//! Clocks are written straight into undertaking's schema (as
//! `CreateAssignments` would write them, minus the assignment rows), so
//! that loading a million takes seconds; everything after that runs
//! through the services: undertaking's scheduler, RabbitMQ, supervision
//! asking undertaking for the clocks' state, supervision's store.

use std::time::{Duration, Instant};

use hotline_tests::{FAST_POLICY, Options, SERVICES, System, floors, peak_memory_mib};
use sqlx::PgConnection;

const TRICKLE: i64 = 2_000;

fn arg(n: usize, default: i64) -> i64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

async fn scalar_f64(db: &mut PgConnection, sql: &'static str) -> f64 {
    sqlx::query_scalar::<_, Option<f64>>(sql)
        .fetch_one(db)
        .await
        .expect("query")
        .unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let pending = arg(1, 1_000_000);
    let burst = arg(2, 100_000);
    println!(
        "deadline benchmark: {pending} pending clocks, trickle {TRICKLE} over 20 s, burst {burst} in one second"
    );
    let sys = System::start(Options {
        policy: Some(FAST_POLICY.to_string()),
        env: vec![(
            "HOTLINE_LOG".into(),
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )],
    })
    .await?;

    // ---- load
    let mut und = sys.db("undertaking").await?;
    let load = Instant::now();
    sqlx::query(
        "INSERT INTO clocks (clock_id, ticket_no, stage, unit_id, started_at, deadline) \
         SELECT 'P' || g || '/feedback/bench-unit', 'P' || g, 'feedback', 'bench-unit', now(), \
                now() + interval '1 hour' + (g % 1209600) * interval '1 second' \
         FROM generate_series(1, $1) g",
    )
    .bind(pending)
    .execute(&mut und)
    .await?;
    sqlx::query(
        "INSERT INTO clock_timers (fire_at, kind, clock_id, clock_version, ticket_no, stage, unit_id, deadline) \
         SELECT deadline - (deadline - started_at) / 4, 1, clock_id, 1, ticket_no, 3, unit_id, deadline FROM clocks \
         UNION ALL \
         SELECT deadline, 2, clock_id, 1, ticket_no, 3, unit_id, deadline FROM clocks",
    )
    .execute(&mut und)
    .await?;
    sqlx::query("ANALYZE clocks").execute(&mut und).await?;
    sqlx::query("ANALYZE clock_timers")
        .execute(&mut und)
        .await?;
    // Trickle: expiring uniformly over 20 s from t0 + 10 s; burst: all in
    // the second starting at t0 + 35 s.
    let t0: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut und)
        .await?;
    for (prefix, count, offset_ms, spread_ms) in [
        ("T", TRICKLE, 10_000i64, 20_000i64),
        ("B", burst, 35_000, 1_000),
    ] {
        sqlx::query(
            "WITH c AS ( \
               INSERT INTO clocks (clock_id, ticket_no, stage, unit_id, started_at, deadline) \
               SELECT $1 || g || '/sign_off/bench-unit', $1 || g, 'sign_off', 'bench-unit', $2, \
                      $2 + ($3 + (g * $4 / $5)) * interval '1 millisecond' \
               FROM generate_series(1, $5) g RETURNING *) \
             INSERT INTO clock_timers (fire_at, kind, clock_id, clock_version, ticket_no, stage, unit_id, deadline) \
             SELECT deadline, 2, clock_id, 1, ticket_no, 2, unit_id, deadline FROM c",
        )
        .bind(prefix)
        .bind(t0)
        .bind(offset_ms)
        .bind(spread_ms)
        .bind(count)
        .execute(&mut und)
        .await?;
    }
    println!(
        "loaded {} clocks and their timers in {:.1} s",
        pending + TRICKLE + burst,
        load.elapsed().as_secs_f64()
    );
    let ready = (t0 + chrono::Duration::seconds(10) - chrono::Utc::now()).num_milliseconds();
    if ready < 0 {
        println!(
            "warning: loading took past the trickle's start ({} ms late); its first clocks start late",
            -ready
        );
    }

    // ---- wait for the burst to drain
    let mut sup = sys.db("supervision").await?;
    let burst_at = t0 + chrono::Duration::milliseconds(35_000);
    let give_up = Instant::now() + Duration::from_secs(900);
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM cases WHERE ticket_no LIKE 'B%'")
            .fetch_one(&mut sup)
            .await?;
        if done >= burst {
            break;
        }
        anyhow::ensure!(
            Instant::now() < give_up,
            "burst not drained after 15 minutes ({done}/{burst})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lateness = |prefix: &'static str| -> &'static str {
        match prefix {
            "T" => {
                "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM opened_at - deadline))::float8[] || max(extract(epoch FROM opened_at - deadline))::float8 FROM cases WHERE ticket_no LIKE 'T%'"
            }
            _ => {
                "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM opened_at - deadline))::float8[] || max(extract(epoch FROM opened_at - deadline))::float8 FROM cases WHERE ticket_no LIKE 'B%'"
            }
        }
    };
    let trickle: Vec<f64> = sqlx::query_scalar(lateness("T"))
        .fetch_one(&mut sup)
        .await?;
    let burst_l: Vec<f64> = sqlx::query_scalar(lateness("B"))
        .fetch_one(&mut sup)
        .await?;
    let last: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT max(opened_at) FROM cases WHERE ticket_no LIKE 'B%'")
            .fetch_one(&mut sup)
            .await?;
    let drain = (last - burst_at).num_milliseconds() as f64 / 1000.0;
    let doubled = scalar_f64(
        &mut sup,
        "SELECT (count(*) - count(DISTINCT clock_id))::float8 FROM cases",
    )
    .await;
    let trickle_cases = scalar_f64(
        &mut sup,
        "SELECT count(*)::float8 FROM cases WHERE ticket_no LIKE 'T%'",
    )
    .await;

    println!();
    println!("expired action lateness (case opened − deadline), {pending} clocks pending:");
    println!(
        "  trickle ({trickle_cases} cases): p50 {:.3} s  p99 {:.3} s  max {:.3} s",
        trickle[0], trickle[1], trickle[2]
    );
    println!(
        "  burst   ({burst} cases):  p50 {:.3} s  p99 {:.3} s  max {:.3} s",
        burst_l[0], burst_l[1], burst_l[2]
    );
    println!(
        "burst drained in {drain:.2} s after its second began ({:.0} cases/s); doubled cases: {doubled}",
        burst as f64 / drain.max(0.001)
    );
    println!("peak memory (VmHWM):");
    for name in SERVICES {
        if let Some(mib) = sys.pid(name).and_then(peak_memory_mib) {
            println!("  {name:<12} {mib:8.1} MiB");
        }
    }

    // ---- floors, in the same run
    println!();
    println!("floors on this machine, same run:");
    let pg = floors::postgres_commits(&sys).await?;
    println!("  postgresql: one-row INSERT per commit, 16 connections: {pg:.0} commits/s");
    let mq = floors::rabbitmq_confirms(&sys).await?;
    println!(
        "  rabbitmq: persistent 200 B to a quorum queue, 1000 unconfirmed in flight: {mq:.0} confirmed msg/s"
    );
    let (rps, p50) = floors::tonic_calls(&sys, "supervision").await?;
    println!(
        "  tonic: grpc.health.v1 Check, 64 in flight on one connection: {rps:.0} req/s (1 in flight p50 {p50:.3} ms)"
    );
    println!();
    println!(
        "burst throughput is {:.0}% of the rabbitmq confirm floor; every event costs one confirm, one row deleted and one case inserted",
        100.0 * (burst as f64 / drain.max(0.001)) / mq
    );
    Ok(())
}
