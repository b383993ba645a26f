//! What the machine allows, measured in the same run as a benchmark so
//! that its figures can be read against them: PostgreSQL durable commits,
//! RabbitMQ confirms, tonic round trips.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use sqlx::{Connection as _, PgConnection};

use crate::System;

/// One-row INSERTs, one durable commit each (synchronous_commit on), from
/// 16 connections for 3 s: commits per second.
pub async fn postgres_commits(sys: &System) -> anyhow::Result<f64> {
    pg_floor(sys).await
}

/// Persistent 200 B messages to a quorum queue, 1,000 unconfirmed in
/// flight: confirmed messages per second.
pub async fn rabbitmq_confirms(sys: &System) -> anyhow::Result<f64> {
    rabbit_floor(sys).await
}

/// grpc.health.v1 Check against `service`, 64 in flight on one connection
/// for 3 s: calls per second, and the p50 (ms) of one call at a time.
pub async fn tonic_calls(sys: &System, service: &str) -> anyhow::Result<(f64, f64)> {
    tonic_floor(sys, service).await
}

async fn pg_floor(sys: &System) -> anyhow::Result<f64> {
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", sys.db_name);
    let mut c = PgConnection::connect(&url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS public.floor_rows (id bigserial PRIMARY KEY, v text)")
        .execute(&mut c)
        .await?;
    let count = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(3);
    let tasks = (0..16).map(|_| {
        let url = url.clone();
        let count = count.clone();
        async move {
            let mut c = PgConnection::connect(&url).await?;
            while Instant::now() < stop {
                sqlx::query("INSERT INTO public.floor_rows (v) VALUES ('x')")
                    .execute(&mut c)
                    .await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }
    });
    let started = Instant::now();
    for r in join_all(tasks).await {
        r?;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

async fn rabbit_floor(sys: &System) -> anyhow::Result<f64> {
    let conn = Connection::connect(&sys.amqp_url(), ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        "bench.floor".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let payload = vec![b'x'; 200];
    let n = 50_000;
    let started = Instant::now();
    let mut window = Vec::with_capacity(1000);
    for _ in 0..n {
        window.push(
            ch.basic_publish(
                "".into(),
                "bench.floor".into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?,
        );
        if window.len() == 1000 {
            for c in join_all(window.drain(..)).await {
                anyhow::ensure!(c?.is_ack(), "nack");
            }
        }
    }
    for c in join_all(window.drain(..)).await {
        anyhow::ensure!(c?.is_ack(), "nack");
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn tonic_floor(sys: &System, service: &str) -> anyhow::Result<(f64, f64)> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let client = HealthClient::new(sys.channel(service).await);
    let req = || HealthCheckRequest {
        service: String::new(),
    };
    let mut one = client.clone();
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        one.check(req()).await?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let p50 = samples[samples.len() / 2];
    let count = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    let tasks = (0..64).map(|_| {
        let mut c = client.clone();
        let count = count.clone();
        async move {
            while Instant::now() < stop {
                c.check(req()).await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }
    });
    for r in join_all(tasks).await {
        r?;
    }
    Ok((
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        p50,
    ))
}
