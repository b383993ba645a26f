//! Wires supervision together: database, deadline consumer and park, its
//! own clocks' scheduler, audit sealer, gRPC server.

use std::sync::Arc;

use hotline_common::startup::{grpc_router, peer_channel, serve};
use hotline_proto::common::v1::clock_service_client::ClockServiceClient;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::intake::v1::media_service_client::MediaServiceClient;
use hotline_proto::supervision::v1::supervision_service_server::SupervisionServiceServer;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::deadlines::owners::Owners;
use crate::deadlines::store::{MIGRATOR, Store};
use crate::deadlines::{consume, parked};
use crate::evaluation::Eval;
use crate::grpc::Grpc;

pub async fn run(cfg: Config, token: CancellationToken) -> anyhow::Result<()> {
    let pool = hotline_common::db::connect_and_migrate(
        &cfg.common,
        &[
            &MIGRATOR,
            &hotline_common::clock::MIGRATOR,
            &hotline_common::audit::MIGRATOR,
            &hotline_common::feed::MIGRATOR,
            &hotline_common::events::MIGRATOR,
            &hotline_common::idempotency::MIGRATOR,
        ],
    )
    .await?;
    let store = Store::new(pool.clone());
    let dispatch_peer = peer_channel("dispatch", &cfg.dispatch_url, &cfg.common)?;
    let intake_peer = peer_channel("intake", &cfg.intake_url, &cfg.common)?;
    let owners = Owners {
        intake: ClockServiceClient::new(intake_peer.clone()),
        dispatch: ClockServiceClient::new(dispatch_peer.clone()),
        undertaking: ClockServiceClient::new(peer_channel(
            "undertaking",
            &cfg.undertaking_url,
            &cfg.common,
        )?),
        own: pool.clone(),
    };
    let publisher = Arc::new(hotline_common::bus::Publisher::new(
        &cfg.common.amqp_url,
        "supervision-clocks",
    ));
    let scheduler = tokio::spawn(hotline_common::clock::run_scheduler(
        pool.clone(),
        publisher,
        token.clone(),
    ));
    let cleanup = tokio::spawn(hotline_common::feed::run_cleanup(
        pool.clone(),
        cfg.feed_retention,
        token.clone(),
    ));
    let sealer = tokio::spawn(hotline_common::audit::run_sealer(
        pool.clone(),
        cfg.common.audit_seal_interval,
        token.clone(),
    ));
    let events = tokio::spawn(hotline_common::events::publish::run(
        pool.clone(),
        cfg.common.database_schema.clone(),
        hotline_proto::events::v1::Source::Supervision,
        cfg.common.amqp_url.clone(),
        token.clone(),
    ));
    let backlog = tokio::spawn(hotline_common::ops::watch_outbox(
        hotline_common::events::OUTBOX_TABLE,
        pool.clone(),
        token.clone(),
    ));
    let parked = tokio::spawn(parked::run(store.clone(), owners.clone(), token.clone()));
    let consumer = tokio::spawn(consume::run(
        cfg.common.amqp_url.clone(),
        cfg.prefetch,
        store.clone(),
        owners,
        token.clone(),
    ));
    let policy = Arc::new(cfg.common.policy.clone());
    let evaluation = tokio::spawn(hotline_common::events::consume::run(
        cfg.common.amqp_url.clone(),
        pool.clone(),
        crate::evaluation::consume::subscription(),
        crate::evaluation::consume::handler(Arc::new(policy.evaluation.clone())),
        token.clone(),
    ));
    let candidates = tokio::spawn(hotline_common::events::consume::run(
        cfg.common.amqp_url.clone(),
        pool.clone(),
        crate::meetings::consume::subscription(),
        crate::meetings::consume::handler(crate::meetings::rules::Thresholds::of(&policy)),
        token.clone(),
    ));
    let keys =
        hotline_common::idempotency::Keys::new(pool.clone(), cfg.common.idempotency_retention);
    let sweeper = tokio::spawn(keys.clone().run_sweeper(token.clone()));
    let eval = Eval {
        pool: pool.clone(),
        keys,
        policy,
    };
    let workflows = crate::workflows::Workflows {
        pool: pool.clone(),
        keys: eval.keys.clone(),
        policy: eval.policy.clone(),
        dispatch: DispatchServiceClient::new(dispatch_peer),
        media: MediaServiceClient::new(intake_peer),
    };
    let (router, health) = grpc_router(&cfg.common, &pool, &crate::rules::SERVED)?;
    let router = router.add_service(SupervisionServiceServer::new(Grpc {
        store,
        eval,
        workflows,
    }));
    health.set_serving::<SupervisionServiceServer<Grpc>>().await;
    let served = serve(&cfg.common, router, health, token.clone()).await;
    token.cancel();
    let _ = consumer.await;
    let _ = scheduler.await;
    let _ = evaluation.await;
    let _ = candidates.await;
    let _ = sweeper.await;
    let _ = parked.await;
    let _ = events.await;
    let _ = backlog.await;
    let _ = cleanup.await;
    let _ = sealer.await;
    served
}
