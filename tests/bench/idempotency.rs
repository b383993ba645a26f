//! Idempotency-key overhead: the latency of AddHandlingRecord (one row, its
//! audit entry) through gRPC without a key, with a fresh key each call, and
//! replayed under one key; sequential and with concurrent callers.
//!
//!     cargo build --workspace --bins
//!     cargo run -p hotline-tests --bin idempotency-bench -- [CALLS] [CONCURRENCY]
//!
//! The services are the binaries beside this one (the profile it was built
//! with). Nothing is bulk-loaded: the tables grow by a few thousand rows.

use std::time::{Duration, Instant};

use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::undertaking::v1::{
    AddHandlingRecordRequest, HandlingRecordKind, SignAssignmentRequest,
};
use hotline_tests::{Options, System, assignments_of, heating_request};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn report(label: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<34} n={:<5} p50 {:>6.2} ms  p99 {:>6.2} ms  {:>7.0} calls/s",
        lat.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        lat.len() as f64 / wall.as_secs_f64()
    );
}

/// `calls` calls over `concurrency` callers; `key(i)` is the i-th call's key.
async fn phase(
    sys: &System,
    base: &AddHandlingRecordRequest,
    unit: &str,
    calls: usize,
    concurrency: usize,
    key: impl Fn(usize) -> String,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let mut client = sys.undertaking_as(unit).await;
        let reqs: Vec<AddHandlingRecordRequest> = (0..calls)
            .filter(|i| i % concurrency == c)
            .map(|i| AddHandlingRecordRequest {
                idempotency_key: key(i),
                ..base.clone()
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for r in reqs {
                let t = Instant::now();
                client.add_handling_record(r).await.expect("record");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("caller"));
    }
    (all, started.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let calls = arg(1, 1000);
    let concurrency = arg(2, 8);
    let sys = System::start(Options::default()).await?;
    let no = sys
        .intake()
        .await
        .submit(heating_request("idempotency-bench"))
        .await?
        .into_inner()
        .ticket_no;
    let lead = assignments_of(&sys, &no)
        .await
        .into_iter()
        .find(|a| a.role == AssignmentRole::Lead as i32)
        .expect("a lead");
    sys.undertaking_as(&lead.unit_id)
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            ..Default::default()
        })
        .await?;
    let base = AddHandlingRecordRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        kind: HandlingRecordKind::Progress as i32,
        note: "进展".into(),
        ..Default::default()
    };
    let unit = lead.unit_id.as_str();
    // Warm-up: connections, plans.
    phase(&sys, &base, unit, 100, 1, |_| String::new()).await;

    println!("AddHandlingRecord, {calls} calls per row");
    for c in [1, concurrency] {
        let (l, w) = phase(&sys, &base, unit, calls, c, |_| String::new()).await;
        report(&format!("no key, {c} caller(s)"), l, w);
        let (l, w) = phase(&sys, &base, unit, calls, c, |i| format!("fresh-{c}-{i}")).await;
        report(&format!("fresh key each call, {c} caller(s)"), l, w);
        let (l, w) = phase(&sys, &base, unit, calls, c, |_| format!("fresh-{c}-0")).await;
        report(&format!("replay of one key, {c} caller(s)"), l, w);
    }
    Ok(())
}
