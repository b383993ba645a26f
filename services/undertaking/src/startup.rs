//! Wires undertaking together: database, clock scheduler, audit sealer,
//! the consumer of return visits (re-handling), gRPC server.

use std::sync::Arc;

use hotline_common::bus::Publisher;
use hotline_common::clock::{self, ClockApi};
use hotline_common::feed;
use hotline_common::idempotency::Keys;
use hotline_common::startup::{grpc_router, peer_channel, serve};
use hotline_proto::common::v1::clock_service_server::ClockServiceServer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::intake::v1::media_service_client::MediaServiceClient;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::undertaking::v1::undertaking_service_server::UndertakingServiceServer;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::Ctx;
use crate::grpc::Grpc;

pub async fn run(cfg: Config, token: CancellationToken) -> anyhow::Result<()> {
    let pool = hotline_common::db::connect_and_migrate(&cfg.common, crate::MIGRATORS).await?;
    let publisher = Arc::new(Publisher::new(&cfg.common.amqp_url, "undertaking-clocks"));
    let scheduler = tokio::spawn(clock::run_scheduler(pool.clone(), publisher, token.clone()));
    let events = tokio::spawn(hotline_common::events::publish::run(
        pool.clone(),
        cfg.common.database_schema.clone(),
        hotline_proto::events::v1::Source::Undertaking,
        cfg.common.amqp_url.clone(),
        token.clone(),
    ));
    let backlog = tokio::spawn(hotline_common::ops::watch_outbox(
        hotline_common::events::OUTBOX_TABLE,
        pool.clone(),
        token.clone(),
    ));
    let keys = Keys::new(pool.clone(), cfg.common.idempotency_retention);
    let sweeper = tokio::spawn(keys.clone().run_sweeper(token.clone()));
    let sealer = tokio::spawn(hotline_common::audit::run_sealer(
        pool.clone(),
        cfg.common.audit_seal_interval,
        token.clone(),
    ));

    let ctx = Ctx {
        pool: pool.clone(),
        keys,
        policy: Arc::new(cfg.common.policy.clone()),
        supervision: SupervisionServiceClient::new(peer_channel(
            "supervision",
            &cfg.supervision_url,
            &cfg.common,
        )?),
        dispatch: DispatchServiceClient::new(peer_channel(
            "dispatch",
            &cfg.dispatch_url,
            &cfg.common,
        )?),
        media: MediaServiceClient::new(peer_channel("intake", &cfg.intake_url, &cfg.common)?),
        hub: feed::Hub::start(
            pool.clone(),
            feed::channel(&cfg.common.database_schema),
            cfg.feed,
            token.clone(),
        ),
        shutdown: token.clone(),
    };
    let cleanup = tokio::spawn(feed::run_cleanup(
        pool.clone(),
        cfg.feed.retention,
        token.clone(),
    ));
    let rehandling = tokio::spawn(hotline_common::events::consume::run(
        cfg.common.amqp_url.clone(),
        pool.clone(),
        crate::rehandling::subscription(),
        crate::rehandling::handler(ctx.policy.clone()),
        token.clone(),
    ));
    let follower = tokio::spawn(crate::watch::follow::run(
        ctx.clone(),
        cfg.feed.poll,
        token.clone(),
    ));
    let (router, health) = grpc_router(&cfg.common, &pool, &crate::rules::SERVED)?;
    let router = router
        .add_service(UndertakingServiceServer::new(Grpc { ctx }))
        .add_service(ClockServiceServer::new(ClockApi { pool }));
    health.set_serving::<UndertakingServiceServer<Grpc>>().await;
    let served = serve(&cfg.common, router, health, token.clone()).await;
    token.cancel();
    let _ = scheduler.await;
    let _ = events.await;
    let _ = backlog.await;
    let _ = sweeper.await;
    let _ = cleanup.await;
    let _ = follower.await;
    let _ = rehandling.await;
    let _ = sealer.await;
    served
}
