//! Process start-up shared by the four binaries: configuration, logging,
//! the gRPC server with `grpc.health.v1` and reflection, graceful shutdown
//! on SIGTERM/SIGINT, and the `--health-check` probe used by containers.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::transport::{Channel, Endpoint, Server};
use tonic_health::server::HealthReporter;

use crate::audit::AuditApi;
use std::sync::Arc;

use crate::auth::{AUDIT_SERVICE, AuthLayer, CLOCK_SERVICE, RuleTable, Served, ServiceToken};
use crate::config::{CommonConfig, Env, ServiceName};
use hotline_proto::common::v1::audit_service_server::AuditServiceServer;
use tonic::service::interceptor::InterceptedService;
use tower::layer::util::Stack;

/// A service's whole configuration.
pub trait ServiceConfig: Sized {
    const SERVICE: ServiceName;
    /// Reads every setting; problems go to `env` and are reported together.
    fn from_env(env: &mut Env) -> Self;
    fn common(&self) -> &CommonConfig;
}

/// Runs a service binary: `<name>` serves, `<name> --health-check` probes a
/// running instance. Exit codes: 0 clean stop, 1 failure, 2 bad config.
pub fn main<C, F, Fut>(run: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.first().map(String::as_str) {
        None => {}
        Some("--health-check") => return runtime.block_on(health_check(C::SERVICE)),
        Some("--verify-audit") if args.len() <= 2 => {
            return runtime.block_on(verify_audit(C::SERVICE, args.get(1).map(String::as_str)));
        }
        Some(other) => {
            eprintln!(
                "usage: {} [--health-check | --verify-audit [ENTRIES:HASH]]\nunknown argument {other:?}; settings come from HOTLINE_* environment variables (docs/CONFIGURATION.md)",
                C::SERVICE.as_str()
            );
            return ExitCode::from(2);
        }
    }
    let mut env = Env::from_process();
    let config = C::from_env(&mut env);
    if let Err(e) = env.finish() {
        eprintln!("{}: {e}", C::SERVICE.as_str());
        return ExitCode::from(2);
    }
    crate::telemetry::init(&config.common().log_filter, config.common().log_format);
    let result = runtime.block_on(async {
        if let Some(addr) = config.common().metrics_addr {
            crate::ops::serve_metrics(addr)?;
        }
        let token = shutdown_on_signals();
        run(config, token).await
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "service failed");
            ExitCode::FAILURE
        }
    }
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        t.cancel();
    });
    token
}

/// The gRPC server every service starts from: health, reflection and the
/// audit trail in place, request timeout and keep-alive set. Add the service, mark it
/// serving on the returned reporter, then [`serve`].
/// The server with its authentication layer.
pub type GrpcRouter = Router<Stack<AuthLayer, tower::layer::util::Identity>>;

/// A channel to a sibling service that carries this service's identity.
pub type Peer = InterceptedService<Channel, ServiceToken>;

/// `pool` is the service's own: its audit trail is served from it.
/// `served` names the services this port answers and their rows of the
/// rule table; reflection (v1 and v1alpha) lists exactly those, the audit
/// trail, health, and the clock service when `served.clocks`.
pub fn grpc_router(
    cfg: &CommonConfig,
    pool: &sqlx::PgPool,
    served: &Served,
) -> anyhow::Result<(GrpcRouter, HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let mut names: Vec<&str> = served.services.to_vec();
    names.push(AUDIT_SERVICE);
    if served.clocks {
        names.push(CLOCK_SERVICE);
    }
    names.push("grpc.health.v1.Health");
    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        names.iter().fold(
            b.register_encoded_file_descriptor_set(hotline_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
            |b, n| b.with_service_name(*n),
        )
    };
    let v1 = reflection(tonic_reflection::server::Builder::configure())
        .build_v1()
        .context("building the reflection service")?;
    let v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .context("building the v1alpha reflection service")?;
    let router = Server::builder()
        .layer(AuthLayer {
            auth: cfg.auth.clone(),
            limits: cfg.limits.clone(),
            rules: Arc::new(RuleTable::new(served)),
        })
        .timeout(Duration::from_secs(30))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(health)
        .add_service(v1)
        .add_service(v1alpha)
        .add_service(AuditServiceServer::new(AuditApi { pool: pool.clone() }));
    Ok((router, reporter))
}

/// Serves until `token` is cancelled, then stops accepting, marks every
/// service not serving and lets calls in flight finish within the grace.
pub async fn serve(
    cfg: &CommonConfig,
    router: GrpcRouter,
    reporter: HealthReporter,
    token: CancellationToken,
) -> anyhow::Result<()> {
    let incoming = TcpIncoming::bind(cfg.listen_addr)
        .with_context(|| format!("binding {}", cfg.listen_addr))?
        .with_nodelay(Some(true));
    tracing::info!(addr = %cfg.listen_addr, service = cfg.service.as_str(), "listening");
    tokio::spawn(cfg.auth.clone().watch(token.clone()));
    tokio::spawn(cfg.limits.clone().tidy(token.clone()));
    let grace = cfg.shutdown_grace;
    let signal = {
        let token = token.clone();
        async move {
            token.cancelled().await;
            reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
        }
    };
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => r.context("grpc server")?,
        _ = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_s = grace.as_secs_f64(), "calls still running after the grace period, stopping anyway");
        }
    }
    Ok(())
}

/// A lazily connected channel to a sibling service (`name`), each call
/// carrying this service's identity; whether the peer answers is watched
/// from now on ([`crate::ops::watch_peer`]).
pub fn peer_channel(name: &'static str, url: &str, cfg: &CommonConfig) -> anyhow::Result<Peer> {
    let channel = Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad service URL {url:?}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy();
    let peer = InterceptedService::new(
        channel,
        ServiceToken {
            auth: cfg.auth.clone(),
            service: cfg.service.as_str(),
        },
    );
    tokio::spawn(crate::ops::watch_peer(
        name,
        url.to_string(),
        peer.clone(),
        CancellationToken::new(),
    ));
    Ok(peer)
}

/// Probes the instance configured by the environment: exit 0 when its
/// health service answers SERVING.
async fn health_check(service: ServiceName) -> ExitCode {
    let env = Env::from_process();
    let default = SocketAddr::from(([127, 0, 0, 1], service.default_port()));
    let mut addr: SocketAddr = env
        .optional("HOTLINE_LISTEN_ADDR")
        .and_then(|a| a.parse().ok())
        .unwrap_or(default);
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    let probe = async {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        let reply = client
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        anyhow::Ok(reply.into_inner().status)
    };
    match tokio::time::timeout(Duration::from_secs(5), probe).await {
        Ok(Ok(s))
            if s == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 =>
        {
            println!("{} at {addr}: serving", service.as_str());
            ExitCode::SUCCESS
        }
        Ok(Ok(s)) => {
            println!("{} at {addr}: not serving (status {s})", service.as_str());
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            println!("{} at {addr}: unreachable: {e}", service.as_str());
            ExitCode::FAILURE
        }
        Err(_) => {
            println!("{} at {addr}: no answer within 5 s", service.as_str());
            ExitCode::FAILURE
        }
    }
}

/// Walks the service's audit chain (its schema in HOTLINE_DATABASE_URL),
/// against `expected` (`ENTRIES:HASH`, a seal exported by `GetAuditSeal`)
/// when given: exit 0 when intact, 1 when broken or unreadable, 2 when the
/// seal given is not one.
async fn verify_audit(service: ServiceName, expected: Option<&str>) -> ExitCode {
    let expected = match expected.map(|x| {
        let (n, hash) = x.split_once(':').unwrap_or((x, ""));
        let n = n
            .parse()
            .map_err(|_| ("entries", "not a number".to_string()))?;
        crate::audit::Seal::parse(n, hash)
    }) {
        None => None,
        Some(Ok(seal)) => Some(seal),
        Some(Err((field, why))) => {
            eprintln!(
                "{}: the expected seal ENTRIES:HASH has a bad {field}: {why}",
                service.as_str()
            );
            return ExitCode::from(2);
        }
    };
    let env = Env::from_process();
    let url = env.string(
        "HOTLINE_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/hotline",
    );
    let schema = env.string("HOTLINE_DATABASE_SCHEMA", service.as_str());
    let against = expected
        .as_ref()
        .map(|x| format!(", matching the exported seal {}", x.display()))
        .unwrap_or_default();
    let result = async {
        let pool = crate::db::connect_existing(&url, &schema).await?;
        anyhow::Ok(
            crate::audit::verify(&pool, expected)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?,
        )
    }
    .await;
    match result {
        Ok(v) => match v.broken {
            None => {
                println!(
                    "{schema}: audit trail intact, {} entries sealed{against}, {} not sealed yet; seal {} at {}",
                    v.rows,
                    v.unsealed,
                    v.head.seal.display(),
                    v.head.sealed_at.to_rfc3339(),
                );
                ExitCode::SUCCESS
            }
            Some((seq, why)) => {
                println!(
                    "{schema}: audit trail BROKEN at entry {seq}: {why} ({} entries before it intact, {} not sealed yet)",
                    v.rows, v.unsealed
                );
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            println!("{schema}: audit trail not verified: {e:#}");
            ExitCode::FAILURE
        }
    }
}
