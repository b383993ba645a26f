//! Wires undertaking together: database, gRPC server.

use hotline_common::startup::{grpc_router, serve};
use hotline_proto::undertaking::v1::undertaking_service_server::UndertakingServiceServer;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::config::Config;
use crate::store::{MIGRATOR, Store};

pub async fn run(cfg: Config, token: CancellationToken) -> anyhow::Result<()> {
    let pool = hotline_common::db::connect_and_migrate(&cfg.common, &MIGRATOR).await?;
    let api = Api {
        store: Store::new(pool),
    };
    let (router, health) = grpc_router()?;
    let router = router.add_service(UndertakingServiceServer::new(api));
    health.set_serving::<UndertakingServiceServer<Api>>().await;
    serve(&cfg.common, router, health, token).await
}
