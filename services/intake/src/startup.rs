//! Wires intake together: database, peers, background tasks, gRPC server.

use std::sync::Arc;

use hotline_common::bus::Publisher;
use hotline_common::clock::{self, ClockApi};
use hotline_common::startup::{grpc_router, peer_channel, serve};
use hotline_proto::common::v1::clock_service_server::ClockServiceServer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::intake::v1::intake_service_server::IntakeServiceServer;
use hotline_proto::intake::v1::knowledge_service_server::KnowledgeServiceServer;
use hotline_proto::intake::v1::media_service_server::MediaServiceServer;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::MIGRATOR;
use crate::app::App;
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::grpc::Grpc;
use crate::surge::store::SurgeStore;
use crate::tickets::codes::Codes;
use crate::tickets::store::Tickets;
use crate::undertaking::Undertaking;

pub async fn run(cfg: Config, token: CancellationToken) -> anyhow::Result<()> {
    let pool = hotline_common::db::connect_and_migrate(
        &cfg.common,
        &[
            &MIGRATOR,
            &clock::MIGRATOR,
            &hotline_common::audit::MIGRATOR,
            &hotline_common::idempotency::MIGRATOR,
            &hotline_common::events::MIGRATOR,
        ],
    )
    .await?;
    let store = Tickets::new(pool.clone(), cfg.ticket_prefix.clone());
    let dispatch =
        DispatchServiceClient::new(peer_channel("dispatch", &cfg.dispatch_url, &cfg.common)?);
    let undertaking = UndertakingServiceClient::new(peer_channel(
        "undertaking",
        &cfg.undertaking_url,
        &cfg.common,
    )?);
    let codes = Codes::new(dispatch.clone(), store.clone());
    if codes.load_saved().await? {
        tracing::info!("catalogue codes loaded from the last run");
    }
    let wake = Arc::new(Notify::new());
    let publisher = Arc::new(Publisher::new(&cfg.common.amqp_url, "intake-clocks"));

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(hotline_common::audit::run_sealer(
        pool.clone(),
        cfg.common.audit_seal_interval,
        token.clone(),
    ));
    tasks.spawn(
        codes
            .clone()
            .refresh_loop(cfg.catalogue_refresh, token.clone()),
    );
    tasks.spawn(clock::run_scheduler(
        store.pool().clone(),
        publisher,
        token.clone(),
    ));
    tasks.spawn(hotline_common::ops::watch_outbox(
        "dispatch_outbox",
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
        hotline_proto::events::v1::Source::Intake,
        cfg.common.amqp_url.clone(),
        token.clone(),
    ));
    tasks.spawn(hotline_common::events::consume::run(
        cfg.common.amqp_url.clone(),
        pool.clone(),
        crate::visits::subscription(),
        crate::visits::handler(Arc::new(cfg.common.policy.clone())),
        token.clone(),
    ));
    tasks.spawn(hotline_common::events::consume::run(
        cfg.common.amqp_url.clone(),
        pool.clone(),
        crate::timeline::steps::subscription(),
        crate::timeline::steps::handler(),
        token.clone(),
    ));
    tasks.spawn(crate::ratings::defaults::run(
        pool.clone(),
        Arc::new(cfg.common.policy.clone()),
        token.clone(),
    ));
    tasks.spawn(crate::relay::run(
        store.clone(),
        dispatch.clone(),
        wake.clone(),
        token.clone(),
    ));

    let keys =
        hotline_common::idempotency::Keys::new(pool.clone(), cfg.common.idempotency_retention);
    tasks.spawn(keys.clone().run_sweeper(token.clone()));
    let clocks = ClockApi {
        pool: store.pool().clone(),
    };
    let codes_probe = codes.clone();
    let media = crate::media::objects::open(&cfg.media_store_url)
        .map_err(|e| anyhow::anyhow!("{}: {e}", crate::config::ENV_MEDIA_STORE_URL))?;
    tasks.spawn(crate::media::sweep::run(
        pool.clone(),
        media.clone(),
        cfg.upload_abandoned_after,
        token.clone(),
    ));
    let app = App {
        media,
        synonyms: cfg.synonyms.clone(),
        tickets: store,
        surge: SurgeStore::new(pool.clone()),
        policy: Arc::new(cfg.common.policy.clone()),
        codes,
        undertaking: Undertaking {
            client: undertaking,
        },
        dispatch: Dispatch { client: dispatch },
        relay_wake: wake,
        keys,
    };
    let (router, health) = grpc_router(&cfg.common, &pool, &crate::rules::SERVED)?;
    let app = Arc::new(app);
    let router = router
        .add_service(IntakeServiceServer::new(Grpc { app: app.clone() }))
        .add_service(KnowledgeServiceServer::new(Grpc { app: app.clone() }))
        .add_service(MediaServiceServer::new(Grpc { app }))
        .add_service(ClockServiceServer::new(clocks));
    // Serving once the codes requests are checked against are known: at
    // once after the first run, or when dispatch first answers.
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    {
        let (health, codes, token) = (health.clone(), codes_probe, token.clone());
        tasks.spawn(async move {
            while !codes.is_loaded().await {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                }
            }
            health.set_serving::<IntakeServiceServer<Grpc>>().await;
            health.set_serving::<KnowledgeServiceServer<Grpc>>().await;
            health.set_serving::<MediaServiceServer<Grpc>>().await;
            health
                .set_service_status("", tonic_health::ServingStatus::Serving)
                .await;
        });
    }
    let served = serve(&cfg.common, router, health, token.clone()).await;
    token.cancel();
    while tasks.join_next().await.is_some() {}
    served
}
