//! What an operator can read while a service runs: whether each peer
//! service answers, and how many rows wait in each outbox. Each is a
//! Prometheus gauge (served on `HOTLINE_METRICS_ADDR` when set) and a log
//! line on every change of state, so that an outage is seen in the logs
//! and on a dashboard without asking the database.
//!
//! The service's own gRPC health stays SERVING through a peer's outage:
//! it still accepts work (an outbox holds it until the peer is back), and
//! an orchestrator restarting it would not bring the peer back.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::startup::Peer;

/// How often a peer's health is asked.
pub const PEER_PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe may take before the peer counts as down.
const PEER_PROBE_PATIENCE: Duration = Duration::from_secs(2);
/// How often an outbox is counted.
pub const OUTBOX_COUNT_EVERY: Duration = Duration::from_secs(2);
/// Outbox backlogs that are logged when crossed, up or down.
pub const BACKLOG_LEVELS: [i64; 3] = [100, 1_000, 10_000];

/// Serves the metrics in Prometheus text format on `addr` (`GET /metrics`,
/// or any path).
pub fn serve_metrics(addr: SocketAddr) -> anyhow::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .with_context(|| format!("serving metrics on {addr}"))?;
    tracing::info!(%addr, "metrics served");
    Ok(())
}

/// Asks `peer`'s grpc.health.v1 every second until `token` is cancelled:
/// gauge `hotline_peer_up{peer}` is 1 while it answers SERVING, 0
/// otherwise; each change is logged (down as a warning).
pub async fn watch_peer(name: &'static str, url: String, peer: Peer, token: CancellationToken) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let gauge = metrics::gauge!("hotline_peer_up", "peer" => name);
    let mut client = HealthClient::new(peer);
    let mut up: Option<bool> = None;
    let mut since = tokio::time::Instant::now();
    loop {
        let probe = client.check(HealthCheckRequest {
            service: String::new(),
        });
        let answer = tokio::time::timeout(PEER_PROBE_PATIENCE, probe).await;
        let (now_up, why) = match answer {
            Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32 => {
                (true, String::new())
            }
            Ok(Ok(r)) => (false, format!("health status {}", r.get_ref().status)),
            Ok(Err(s)) => (false, format!("{:?}: {}", s.code(), s.message())),
            Err(_) => (false, format!("no answer within {PEER_PROBE_PATIENCE:?}")),
        };
        gauge.set(if now_up { 1.0 } else { 0.0 });
        if up != Some(now_up) {
            let was = since.elapsed().as_secs_f64();
            match (up, now_up) {
                (_, false) => {
                    tracing::warn!(peer = name, %url, reason = %why, "peer down");
                }
                (Some(false), true) => {
                    tracing::info!(peer = name, %url, down_for_s = was, "peer up again");
                }
                (None, true) => tracing::info!(peer = name, %url, "peer up"),
                (Some(true), true) => {}
            }
            up = Some(now_up);
            since = tokio::time::Instant::now();
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(PEER_PROBE_EVERY) => {}
        }
    }
}

/// Which of [`BACKLOG_LEVELS`] a backlog has reached (0: below the first).
pub fn backlog_level(rows: i64) -> usize {
    BACKLOG_LEVELS.iter().filter(|l| rows >= **l).count()
}

/// Counts an outbox every two seconds until `token` is cancelled: gauges
/// `hotline_outbox_backlog{outbox}` (rows waiting) and
/// `hotline_outbox_oldest_seconds{outbox}` (age of the oldest); a log line
/// each time the backlog crosses one of [`BACKLOG_LEVELS`].
/// `table` is a fixed identifier of the service's own migrations.
pub async fn watch_outbox(table: &'static str, pool: PgPool, token: CancellationToken) {
    let rows_gauge = metrics::gauge!("hotline_outbox_backlog", "outbox" => table);
    let age_gauge = metrics::gauge!("hotline_outbox_oldest_seconds", "outbox" => table);
    let sql = format!(
        "SELECT count(*)::bigint, coalesce(extract(epoch FROM now() - min(enqueued_at)), 0)::float8 FROM {table}"
    );
    let mut level = 0;
    loop {
        match sqlx::query_as::<_, (i64, f64)>(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&pool)
            .await
        {
            Ok((rows, oldest)) => {
                rows_gauge.set(rows as f64);
                age_gauge.set(oldest);
                let now = backlog_level(rows);
                if now > level {
                    tracing::warn!(
                        outbox = table,
                        rows,
                        oldest_s = oldest,
                        "outbox backlog growing"
                    );
                } else if now < level {
                    tracing::info!(
                        outbox = table,
                        rows,
                        oldest_s = oldest,
                        "outbox backlog shrinking"
                    );
                }
                level = now;
            }
            Err(e) => tracing::debug!(outbox = table, error = %e, "outbox not counted"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(OUTBOX_COUNT_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backlog_level;

    #[test]
    fn levels() {
        assert_eq!(backlog_level(0), 0);
        assert_eq!(backlog_level(99), 0);
        assert_eq!(backlog_level(100), 1);
        assert_eq!(backlog_level(5_000), 2);
        assert_eq!(backlog_level(10_000), 3);
    }
}
