//! Evaluation benchmark: a year of a large city's volume loaded straight
//! into supervision's evaluation read model (what counts where, per ticket,
//! and the per unit and day counters), then, through gRPC as a supervisor:
//! the evaluation of every unit for one month and for the whole year, and
//! one unit's explain page (first and next), each timed over several runs.
//!
//!     cargo build --release --workspace --bins
//!     target/release/evaluation-bench                      # 25 M tickets
//!     target/release/evaluation-bench --tickets 1000000
//!
//! The year loaded is 2025. Its 409 units are the shape of Beijing's: 16
//! district governments, 343 streets and townships, 40 departments, 10
//! utilities. Every ticket has a lead unit whose sign-off counts (93%
//! within the limit). 30% have a co-unit whose sign-off counts too. 40% were
//! visited and answered (resolved 80%, partly 12%, unresolved 8%;
//! satisfaction 55/30/8/4/3% from 非常满意 down). 10% rated the visit.
//! Rows are written by SQL (`INSERT … SELECT` over `generate_series`,
//! indexes built after), and the counters are the facts summed per unit and
//! day.
//!
//! It checks that the counters equal a recount of the loaded facts for the
//! year. The recount from raw events (`RecountEvaluation`) is run on real
//! lifecycles driven through the services on top of the loaded year: they
//! count in the current month, which the load does not touch. The floors of
//! the same run are printed at the end.
//!
//! Options: `--tickets N` (default 25,000,000), `--chunk N` tickets per
//! INSERT (default 1,000,000), `--lifecycles N` driven on top (default
//! 200), `--runs N` timings per query (default 5).

use std::time::{Duration, Instant};

use hotline_common::auth::Role;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::supervision::v1::{
    EvaluationMetric, EvaluationSide, ExplainEvaluationRequest, GetEvaluationRequest,
    RecountEvaluationRequest,
};
use hotline_tests::load::{Driver, Feed, Pace};
use hotline_tests::{Options, System, flag, floors};
use sqlx::PgConnection;

const YEAR: i32 = 2025;

/// (prefix, kind, how many) of the units loaded.
const UNITS: &[(&str, &str, usize)] = &[
    ("bench-district", "district_government", 16),
    ("bench-street", "street", 343),
    ("bench-department", "department", 40),
    ("bench-utility", "utility", 10),
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tickets = flag("--tickets", 25_000_000) as i64;
    let chunk = flag("--chunk", 1_000_000) as i64;
    let lifecycles = flag("--lifecycles", 200) as usize;
    let runs = flag("--runs", 5) as usize;
    println!(
        "evaluation benchmark: {tickets} tickets of {YEAR} in the read model, {runs} runs per query"
    );
    let sys = System::start(Options::default()).await?;
    let mut db = sys.db("supervision").await?;

    let started = Instant::now();
    let units = load_units(&mut db).await?;
    load_facts(&mut db, tickets, chunk, units).await?;
    load_counters(&mut db).await?;
    println!(
        "loaded in {:.0} s; supervision schema now {}",
        started.elapsed().as_secs_f64(),
        schema_size(&mut db).await?
    );

    // ---- the recount of the loaded year
    let t = Instant::now();
    let differing = recount_loaded_year(&mut db).await?;
    println!(
        "counters against a recount of the loaded facts, {YEAR}: {} ({:.1} s)",
        if differing == 0 {
            "equal".to_string()
        } else {
            format!("{differing} (unit, counter) pairs differ")
        },
        t.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        differing == 0,
        "the counters differ from the facts' recount"
    );

    // ---- the queries
    let sup = SupervisionServiceClient::new(
        sys.channel_with("supervision", sys.token(&[Role::Supervisor], None))
            .await,
    );
    println!();
    println!("queries through gRPC (min / p50 / max over {runs} runs):");
    let month = format!("{YEAR}-06");
    let year = format!("{YEAR}");
    for (label, period) in [("one month", &month), ("the whole year", &year)] {
        let took = time(runs, || {
            let mut sup = sup.clone();
            let period = period.clone();
            async move {
                let mut token = String::new();
                let mut n = 0;
                loop {
                    let page = sup
                        .get_evaluation(GetEvaluationRequest {
                            period: period.clone(),
                            page_size: 500,
                            page_token: token,
                            ..Default::default()
                        })
                        .await?
                        .into_inner();
                    n += page.lines.len();
                    if page.next_page_token.is_empty() {
                        return Ok(n);
                    }
                    token = page.next_page_token;
                }
            }
        })
        .await?;
        println!(
            "  GetEvaluation, every unit, {label} ({period}): {} lines, {}",
            took.1,
            show(&took.0)
        );
    }
    let unit = "bench-street-0100".to_string();
    for (label, period) in [("one month", &month), ("the whole year", &year)] {
        let took = time(runs, || {
            let mut sup = sup.clone();
            let (unit, period) = (unit.clone(), period.clone());
            async move {
                let first = sup
                    .explain_evaluation(ExplainEvaluationRequest {
                        unit_id: unit.clone(),
                        period: period.clone(),
                        metric: EvaluationMetric::Response as i32,
                        side: EvaluationSide::Denominator as i32,
                        page_size: 100,
                        page_token: String::new(),
                    })
                    .await?
                    .into_inner();
                let next = sup
                    .explain_evaluation(ExplainEvaluationRequest {
                        unit_id: unit,
                        period,
                        metric: EvaluationMetric::Response as i32,
                        side: EvaluationSide::Denominator as i32,
                        page_size: 100,
                        page_token: first.next_page_token,
                    })
                    .await?
                    .into_inner();
                Ok(first.items.len() + next.items.len())
            }
        })
        .await?;
        println!(
            "  ExplainEvaluation, {unit}, response denominator, {label}: first and next page of 100 ({} items), {}",
            took.1,
            show(&took.0)
        );
    }

    // ---- the incremental path on top, and its recount from the events
    let driver = Driver::with_feed(&sys, Feed::Watch).await;
    let run = driver.run(lifecycles, Pace::Closed { in_flight: 16 }).await;
    driver.stop();
    anyhow::ensure!(run.failed == 0, "lifecycles failed: {:?}", run.failures);
    // Beijing's evaluation days are in UTC+8.
    let now = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string();
    let recount = hotline_tests::eventually(
        Duration::from_secs(120),
        "the evaluation to count the driven lifecycles",
        || {
            let mut sup = sup.clone();
            let now = now.clone();
            async move {
                let r = sup
                    .recount_evaluation(RecountEvaluationRequest { period: now })
                    .await
                    .ok()?
                    .into_inner();
                (r.equal && r.tickets >= lifecycles as i64).then_some(r)
            }
        },
    )
    .await;
    println!();
    println!(
        "{lifecycles} lifecycles driven through the services on top: RecountEvaluation({now}) from {} raw events of {} tickets: {}",
        recount.events_read,
        recount.tickets,
        if recount.equal {
            "equal to the incremental counters"
        } else {
            "DIFFERENT"
        }
    );

    // ---- floors, in the same run
    println!();
    println!("floors on this machine, same run:");
    let pg = floors::postgres_commits(&sys).await?;
    println!("  postgresql: one-row INSERT per commit, 16 connections: {pg:.0} commits/s");
    let (rps, p50) = floors::tonic_calls(&sys, "supervision").await?;
    println!(
        "  tonic: grpc.health.v1 Check against supervision, 64 in flight: {rps:.0} calls/s (1 in flight p50 {p50:.3} ms)"
    );
    println!("target: each query under 1 s");
    Ok(())
}

/// Runs `f` `runs` times; the durations and the last count it returned.
async fn time<F, Fut>(runs: usize, mut f: F) -> anyhow::Result<(Vec<Duration>, usize)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, tonic::Status>>,
{
    let mut took = Vec::new();
    let mut n = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        n = f()
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code(), e.message()))?;
        took.push(t.elapsed());
    }
    took.sort();
    Ok((took, n))
}

fn show(took: &[Duration]) -> String {
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        ms(&took[0]),
        ms(&took[took.len() / 2]),
        ms(&took[took.len() - 1])
    )
}

async fn exec(db: &mut PgConnection, sql: &str) -> anyhow::Result<u64> {
    Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *db)
        .await?
        .rows_affected())
}

/// The units, numbered 0.. in a table the facts' load joins on.
async fn load_units(db: &mut PgConnection) -> anyhow::Result<i64> {
    exec(
        db,
        "CREATE TEMP TABLE bench_units (n INTEGER PRIMARY KEY, unit_id TEXT NOT NULL)",
    )
    .await?;
    let mut n = 0i64;
    for (prefix, kind, count) in UNITS {
        exec(
            db,
            &format!(
                "INSERT INTO eval_units (unit_id, kind) \
                 SELECT '{prefix}-' || lpad(g::text, 4, '0'), '{kind}' FROM generate_series(1, {count}) g; \
                 INSERT INTO bench_units (n, unit_id) \
                 SELECT {n} + g - 1, '{prefix}-' || lpad(g::text, 4, '0') FROM generate_series(1, {count}) g"
            ),
        )
        .await?;
        n += *count as i64;
    }
    Ok(n)
}

/// The facts, `chunk` tickets per statement, with the table's indexes
/// dropped during the load and built after.
async fn load_facts(
    db: &mut PgConnection,
    tickets: i64,
    chunk: i64,
    units: i64,
) -> anyhow::Result<()> {
    exec(
        db,
        "ALTER TABLE eval_facts DROP CONSTRAINT eval_facts_pkey; DROP INDEX eval_facts_explain",
    )
    .await?;
    let started = Instant::now();
    let mut rows = 0;
    let mut from = 1;
    while from <= tickets {
        let to = (from + chunk - 1).min(tickets);
        // h: a well-mixed number per ticket, for the shares.
        rows += exec(
            db,
            &format!(
                "INSERT INTO eval_facts (ticket_no, unit_id, metric, item_id, day, listed_den, listed_num, \
                   level, at, deadline, exclusion_id, set_aside, why) \
                 SELECT t.no, u.unit_id, m.metric, m.item || t.g, t.day, true, m.num, m.level, \
                   t.at, CASE WHEN m.metric = 'response' THEN t.at + interval '1 hour' END, NULL, false, m.why \
                 FROM (SELECT g, 'BJ' || lpad(g::text, 12, '0') AS no, \
                         (g * 2654435761) % 1000003 AS h, \
                         DATE '{YEAR}-01-01' + (g % 365)::int AS day, \
                         (DATE '{YEAR}-01-01' + (g % 365)::int + time '09:00') AT TIME ZONE 'Asia/Shanghai' AS at \
                       FROM generate_series({from}::bigint, {to}::bigint) g) t \
                 CROSS JOIN LATERAL (VALUES \
                   ('response', 'a-', (t.g * 7919) % {units}, t.h % 100 < 93, 0, 'signed by the deadline', true), \
                   ('response', 'c-', (t.g * 7919 + 1) % {units}, t.h % 89 < 83, 0, 'co-unit signed', t.h % 10 < 3), \
                   ('resolution', 'v-', (t.g * 7919) % {units}, (t.h / 10) % 100 < 92, \
                     CASE WHEN (t.h / 10) % 100 < 80 THEN 1 WHEN (t.h / 10) % 100 < 92 THEN 2 ELSE 3 END, \
                     'visited', (t.h / 1000) % 10 < 4), \
                   ('satisfaction', 'v-', (t.g * 7919) % {units}, (t.h / 7) % 100 < 93, \
                     CASE WHEN (t.h / 7) % 100 < 55 THEN 1 WHEN (t.h / 7) % 100 < 85 THEN 2 \
                          WHEN (t.h / 7) % 100 < 93 THEN 3 WHEN (t.h / 7) % 100 < 97 THEN 4 ELSE 5 END, \
                     'visited', (t.h / 1000) % 10 < 4), \
                   ('rating', 'r-', (t.g * 7919) % {units}, (t.h / 3) % 100 < 90, \
                     1 + ((t.h / 3) % 100 >= 60)::int + ((t.h / 3) % 100 >= 85)::int \
                       + ((t.h / 3) % 100 >= 90)::int + ((t.h / 3) % 100 >= 96)::int, \
                     'rated on the visit', (t.h / 1000) % 10 = 0) \
                 ) m(metric, item, un, num, level, why, present) \
                 JOIN bench_units u ON u.n = m.un \
                 WHERE m.present"
            ),
        )
        .await?;
        println!(
            "  facts: tickets {from}–{to}: {rows} rows, {:.0} s",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    let t = Instant::now();
    exec(
        db,
        "SET maintenance_work_mem = '1GB'; \
         ALTER TABLE eval_facts ADD PRIMARY KEY (ticket_no, unit_id, metric, item_id); \
         CREATE INDEX eval_facts_explain ON eval_facts (unit_id, metric, day, ticket_no, item_id)",
    )
    .await?;
    println!(
        "  facts: {rows} rows in {:.0} s, indexes built in {:.0} s",
        started.elapsed().as_secs_f64() - t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the facts add up to per unit and day: the counters' columns, as
/// the evaluation's fold counts a fact (listed in the denominator, not
/// excluded, not set aside).
const SUMS: &str = "count(*) FILTER (WHERE metric = 'response') AS response_due, \
    count(*) FILTER (WHERE metric = 'response' AND listed_num) AS response_signed, \
    count(*) FILTER (WHERE metric = 'resolution' AND level = 1) AS resolution_yes, \
    count(*) FILTER (WHERE metric = 'resolution' AND level = 2) AS resolution_partly, \
    count(*) FILTER (WHERE metric = 'resolution' AND level = 3) AS resolution_no, \
    count(*) FILTER (WHERE metric = 'satisfaction' AND level = 1) AS satisfaction_1, \
    count(*) FILTER (WHERE metric = 'satisfaction' AND level = 2) AS satisfaction_2, \
    count(*) FILTER (WHERE metric = 'satisfaction' AND level = 3) AS satisfaction_3, \
    count(*) FILTER (WHERE metric = 'satisfaction' AND level = 4) AS satisfaction_4, \
    count(*) FILTER (WHERE metric = 'satisfaction' AND level = 5) AS satisfaction_5, \
    count(*) FILTER (WHERE metric = 'rating' AND level = 1) AS rating_1, \
    count(*) FILTER (WHERE metric = 'rating' AND level = 2) AS rating_2, \
    count(*) FILTER (WHERE metric = 'rating' AND level = 3) AS rating_3, \
    count(*) FILTER (WHERE metric = 'rating' AND level = 4) AS rating_4, \
    count(*) FILTER (WHERE metric = 'rating' AND level = 5) AS rating_5, \
    count(*) FILTER (WHERE metric = 'reopened') AS reopened";

const COUNTERS: &str = "response_due, response_signed, resolution_yes, resolution_partly, \
    resolution_no, satisfaction_1, satisfaction_2, satisfaction_3, satisfaction_4, satisfaction_5, \
    rating_1, rating_2, rating_3, rating_4, rating_5, reopened";

fn counted() -> &'static str {
    "listed_den AND exclusion_id IS NULL AND NOT set_aside"
}

async fn load_counters(db: &mut PgConnection) -> anyhow::Result<()> {
    let t = Instant::now();
    let n = exec(
        db,
        &format!(
            "INSERT INTO eval_counters (unit_id, day, {COUNTERS}) \
             SELECT unit_id, day, {SUMS} FROM eval_facts WHERE {} GROUP BY unit_id, day",
            counted()
        ),
    )
    .await?;
    for table in ["eval_facts", "eval_counters", "eval_units"] {
        exec(db, &format!("VACUUM ANALYZE {table}")).await?;
    }
    println!(
        "  counters: {n} (unit, day) rows in {:.0} s, then VACUUM ANALYZE",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// (unit, counter) pairs of the year whose counters' sum differs from the
/// facts' recount.
async fn recount_loaded_year(db: &mut PgConnection) -> anyhow::Result<i64> {
    let cols: Vec<&str> = COUNTERS.split(',').map(str::trim).collect();
    let differ = cols
        .iter()
        .map(|c| format!("(c.{c} IS DISTINCT FROM f.{c})::int"))
        .collect::<Vec<_>>()
        .join(" + ");
    let sum_cols = cols
        .iter()
        .map(|c| format!("sum({c})::bigint AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH c AS (SELECT unit_id, {sum_cols} FROM eval_counters \
           WHERE day BETWEEN DATE '{YEAR}-01-01' AND DATE '{YEAR}-12-31' GROUP BY unit_id), \
         f AS (SELECT unit_id, {SUMS} FROM eval_facts \
           WHERE day BETWEEN DATE '{YEAR}-01-01' AND DATE '{YEAR}-12-31' AND {} GROUP BY unit_id) \
         SELECT coalesce(sum({differ}), 0)::bigint FROM c FULL JOIN f USING (unit_id)",
        counted()
    )))
    .fetch_one(&mut *db)
    .await?;
    Ok(n)
}

async fn schema_size(db: &mut PgConnection) -> anyhow::Result<String> {
    let (s,): (String,) = sqlx::query_as(
        "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'supervision' AND c.relkind = 'r'",
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(s)
}
