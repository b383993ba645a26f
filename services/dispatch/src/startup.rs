//! Wires dispatch together: database, peers, relay, audit sealer, gRPC server.

use std::sync::Arc;

use hotline_common::bus::Publisher;
use hotline_common::clock::{self, ClockApi};
use hotline_common::idempotency::{self, Keys};
use hotline_common::startup::{grpc_router, peer_channel, serve};
use hotline_proto::common::v1::clock_service_client::ClockServiceClient;
use hotline_proto::common::v1::clock_service_server::ClockServiceServer;
use hotline_proto::dispatch::v1::dispatch_service_server::DispatchServiceServer;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::MIGRATOR;
use crate::app::App;
use crate::catalogue::Loaded;
use crate::catalogue::store::Versions;
use crate::catalogue::versions::InForce;
use crate::config::Config;
use crate::grpc::Grpc;
use crate::queue::store::Lists;
use crate::routing::hops::BeginHop;
use crate::routing::peers::{Intake, Undertaking};
use crate::routing::store::Routings;

pub async fn run(cfg: Config, token: CancellationToken) -> anyhow::Result<()> {
    let pool = hotline_common::db::connect_and_migrate(
        &cfg.common,
        &[
            &MIGRATOR,
            &clock::MIGRATOR,
            &hotline_common::audit::MIGRATOR,
            &idempotency::MIGRATOR,
            &hotline_common::events::MIGRATOR,
        ],
    )
    .await?;
    let versions = Versions::new(pool.clone());
    let loaded = Loaded::new(cfg.catalogue.clone());
    versions
        .register_startup(&loaded.proto, loaded.catalogue.rule_count())
        .await?;
    tracing::info!(
        version = %cfg.catalogue.version,
        categories = cfg.catalogue.categories.len(),
        areas = cfg.catalogue.areas.len(),
        units = cfg.catalogue.units.len(),
        "dispatch catalogue file read"
    );
    let undertaking = UndertakingServiceClient::new(peer_channel(
        "undertaking",
        &cfg.undertaking_url,
        &cfg.common,
    )?);
    let intake = Intake {
        clocks: ClockServiceClient::new(peer_channel("intake", &cfg.intake_url, &cfg.common)?),
    };
    let routings = Routings::new(pool.clone());
    let wake = Arc::new(Notify::new());

    let publisher = Arc::new(Publisher::new(&cfg.common.amqp_url, "dispatch-clocks"));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(hotline_common::audit::run_sealer(
        pool.clone(),
        cfg.common.audit_seal_interval,
        token.clone(),
    ));
    tasks.spawn(clock::run_scheduler(pool.clone(), publisher, token.clone()));
    let keys = Keys::new(pool.clone(), cfg.common.idempotency_retention);
    tasks.spawn(keys.clone().run_sweeper(token.clone()));
    tasks.spawn(hotline_common::ops::watch_outbox(
        "undertaking_outbox",
        pool.clone(),
        token.clone(),
    ));
    tasks.spawn(hotline_common::ops::watch_outbox(
        hotline_common::events::OUTBOX_TABLE,
        pool.clone(),
        token.clone(),
    ));
    tasks.spawn(hotline_common::events::publish::run(
        pool.clone(),
        cfg.common.database_schema.clone(),
        hotline_proto::events::v1::Source::Dispatch,
        cfg.common.amqp_url.clone(),
        token.clone(),
    ));
    tasks.spawn(crate::relay::run(
        routings.clone(),
        undertaking.clone(),
        wake.clone(),
        token.clone(),
    ));

    let app = App {
        catalogue: InForce::new(versions, loaded),
        routings,
        lists: Lists::new(pool.clone()),
        policy: Arc::new(cfg.common.policy.clone()),
        relay_wake: wake,
        intake,
        undertaking: Undertaking {
            client: undertaking.clone(),
        },
        hops: Arc::new(BeginHop {
            client: undertaking,
        }),
        keys,
    };
    let (router, health) = grpc_router(&cfg.common, &pool, &crate::rules::SERVED)?;
    let router = router
        .add_service(DispatchServiceServer::new(Grpc { app: Arc::new(app) }))
        .add_service(ClockServiceServer::new(ClockApi { pool: pool.clone() }));
    health.set_serving::<DispatchServiceServer<Grpc>>().await;
    let served = serve(&cfg.common, router, health, token.clone()).await;
    token.cancel();
    while tasks.join_next().await.is_some() {}
    served
}
