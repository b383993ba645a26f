//! Test harness: starts the four service binaries as separate processes on
//! free ports, against a fresh PostgreSQL database and a fresh RabbitMQ
//! virtual host, and hands out gRPC clients. Everything is torn down when
//! the [`System`] is dropped.
//!
//! The binaries are the ones `cargo build --workspace --bins` put next to
//! the test executable's `deps/` folder (`target/debug/`).

mod broker;
mod fixtures;
pub mod floors;
mod inbox;
pub mod load;
mod mix;
mod procs;
mod stats;
pub mod supervision;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hotline_proto::common::v1::audit_service_client::AuditServiceClient;
use hotline_proto::common::v1::clock_service_client::ClockServiceClient;
use hotline_proto::common::v1::{AuditSeal, GetAuditSealRequest};
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::knowledge_service_client::KnowledgeServiceClient;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use std::sync::Arc;

use hotline_common::auth::{Authenticator, Role};
use sqlx::Connection;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use broker::{
    DeadLetter, DeadQueue, cut_broker_access, deadline_queue_depth, publish_events, publish_raw,
    restart_rabbitmq, restore_broker_access,
};
pub use fixtures::{
    answer_as_lead, assignments_of, eventually, heating_request, lead_answers, listed_status,
    quiet_policy, reason_of, sign_as_lead, submit_co_parts, ticket_status, to_water,
};
pub use procs::{free_port, peak_memory_mib, process_alive};

/// A benchmark's numeric command-line option `name N` (underscores allowed:
/// `25_000_000`), or `default`.
pub fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name} {v}: not a number"))
        })
        .unwrap_or(default)
}

use broker::rabbitmqctl;
use procs::Running;

pub const SERVICES: [&str; 4] = ["intake", "dispatch", "undertaking", "supervision"];

/// A policy of seconds, so that deadlines can be seen to fire. Emergency:
/// sign-off in 3 s (urged at 1.5 s), feedback in 6 s (urged at 3 s).
/// Basic livelihood, for tests that must act before a deadline even on a
/// loaded machine: sign-off in 10 s, feedback in 20 s.
pub const FAST_POLICY: &str = r#"
name = "test-seconds"
feedback_counted_from = "dispatch"
[due_soon]
remaining_fraction = 0.5
max_lead = "1d"
[tiers.emergency]
dispatch = "4s"
sign_off = "3s"
feedback = "6s"
[tiers.basic_livelihood]
dispatch = "8s"
sign_off = "10s"
feedback = "20s"
[tiers.general]
dispatch = "30s"
dispatch_surge = "60s"
sign_off = "30s"
feedback = "60s"
[tiers.complex]
feedback = "120s"
"#;

pub fn postgres_admin_url() -> String {
    std::env::var("HOTLINE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Options of a test system.
#[derive(Default, Clone)]
pub struct Options {
    /// Policy file contents; `None` keeps the built-in Beijing policy.
    pub policy: Option<String>,
    /// Extra environment for every service.
    pub env: Vec<(String, String)>,
}

struct Proc {
    child: Option<Running>,
    port: u16,
    /// Where its Prometheus metrics are served (HOTLINE_METRICS_ADDR).
    metrics_port: u16,
}

/// Adds a fixed bearer token to each call.
#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if !self.0.is_empty() {
            let v = format!("Bearer {}", self.0)
                .parse()
                .map_err(|_| tonic::Status::internal("bad token"))?;
            req.metadata_mut().insert("authorization", v);
        }
        Ok(req)
    }
}

/// A channel whose calls carry a token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// The roles of the hotline centre's staff, all at once: what the default
/// clients carry.
pub const CENTRE: &[Role] = &[
    Role::Operator,
    Role::Dispatcher,
    Role::Supervisor,
    Role::Leader,
    Role::Ops,
    Role::Auditor,
];

pub struct System {
    pub db_name: String,
    /// Mints tokens with the system's key.
    pub auth: Arc<Authenticator>,
    /// The system's signing key (id, secret), for tokens `auth` would not
    /// mint (already expired, say).
    pub key: (String, Vec<u8>),
    pub vhost: String,
    pub dir: PathBuf,
    procs: HashMap<&'static str, Proc>,
    /// Second copies of services, running beside the first.
    replicas: Vec<(&'static str, Running)>,
    env: Vec<(String, String)>,
}

/// Where cargo put the service binaries: beside this executable, or one
/// level up from a test executable in `deps/`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

impl System {
    pub async fn start(opts: Options) -> anyhow::Result<System> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("hotline_test_{}", &id[..12]);
        let vhost = format!("hotline-test-{}", &id[..12]);
        let dir = bin_dir().join("e2e").join(&db_name);
        std::fs::create_dir_all(&dir)?;

        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .context("connecting to PostgreSQL as admin")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await.ok();
        let vh = vhost.clone();
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["add_vhost", &vh])?;
            rabbitmqctl(&["set_permissions", "-p", &vh, "guest", ".*", ".*", ".*"])
        })
        .await??;

        let keys_path = dir.join("keys.toml");
        let secret: Vec<u8> = (0..32).map(|_| rand_byte()).collect();
        std::fs::write(&keys_path, key_file("test-key-1", &secret))?;
        let auth = Arc::new(
            Authenticator::load(keys_path.clone(), "hotline".into()).map_err(anyhow::Error::msg)?,
        );
        let mut env = vec![
            (
                "HOTLINE_AUTH_KEYS_FILE".to_string(),
                keys_path.display().to_string(),
            ),
            (
                "HOTLINE_DATABASE_URL".to_string(),
                format!("postgres://postgres@127.0.0.1:5432/{db_name}"),
            ),
            (
                "HOTLINE_AMQP_URL".to_string(),
                format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"),
            ),
            ("HOTLINE_LOG".to_string(), "info,hotline=debug".to_string()),
            (
                "HOTLINE_SHUTDOWN_GRACE_SECONDS".to_string(),
                "2".to_string(),
            ),
            (
                "HOTLINE_DATABASE_MAX_CONNECTIONS".to_string(),
                "6".to_string(),
            ),
            // Tests poll hard; the limit itself is tested with its own.
            (
                "HOTLINE_RATE_LIMIT_PER_SECOND".to_string(),
                "100000".to_string(),
            ),
            ("HOTLINE_RATE_LIMIT_BURST".to_string(), "100000".to_string()),
            (
                "HOTLINE_MEDIA_STORE_URL".to_string(),
                format!("file://{}", dir.join("media").display()),
            ),
        ];
        if let Some(policy) = &opts.policy {
            let path = dir.join("policy.toml");
            std::fs::write(&path, policy)?;
            env.push((
                "HOTLINE_POLICY_FILE".to_string(),
                path.display().to_string(),
            ));
        }
        let mut procs = HashMap::new();
        for name in SERVICES {
            procs.insert(
                name,
                Proc {
                    child: None,
                    port: free_port(),
                    metrics_port: free_port(),
                },
            );
        }
        for name in SERVICES {
            let var = format!("HOTLINE_{}_URL", name.to_uppercase());
            env.push((var, format!("http://127.0.0.1:{}", procs[name].port)));
        }
        env.extend(opts.env.iter().cloned());
        let mut sys = System {
            db_name,
            auth,
            key: ("test-key-1".to_string(), secret),
            vhost,
            dir,
            procs,
            replicas: Vec::new(),
            env,
        };
        for name in SERVICES {
            sys.spawn(name)?;
        }
        for name in SERVICES {
            sys.wait_healthy(name, Duration::from_secs(60)).await?;
        }
        Ok(sys)
    }

    /// Starts a service in its slot; one still running there is stopped
    /// first, so that no process is ever left behind.
    fn spawn(&mut self, name: &'static str) -> anyhow::Result<()> {
        self.spawn_with(name, &[])
    }

    fn spawn_with(&mut self, name: &'static str, extra: &[(&str, String)]) -> anyhow::Result<()> {
        self.terminate(name);
        let p = &self.procs[name];
        let child = self.command(name, p.port, Some(p.metrics_port), name, extra)?;
        self.procs.get_mut(name).expect("known service").child = Some(child);
        Ok(())
    }

    /// Starts a second copy of a service against the same database and
    /// broker, on a port of its own.
    pub async fn add_replica(&mut self, name: &'static str) -> anyhow::Result<()> {
        let port = free_port();
        let child = self.command(
            name,
            port,
            None,
            &format!("{name}-replica{}", self.replicas.len() + 1),
            &[],
        )?;
        self.replicas.push((name, child));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if serving(&format!("http://127.0.0.1:{port}")).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("replica of {name} not healthy")
    }

    fn command(
        &self,
        name: &str,
        port: u16,
        metrics_port: Option<u16>,
        log_name: &str,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Running> {
        let bin = bin_dir().join(name);
        if !bin.exists() {
            bail!(
                "{} is missing: run `cargo build --workspace --bins` first (tests/run.sh does)",
                bin.display()
            );
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{log_name}.log")))?;
        let mut cmd = Command::new(&bin);
        if let Some(m) = metrics_port {
            cmd.env("HOTLINE_METRICS_ADDR", format!("127.0.0.1:{m}"));
        }
        let child = cmd
            .envs(self.env.iter().cloned())
            .env("HOTLINE_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Running(child))
    }

    /// Process id of a running service.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.procs[name].child.as_ref().map(Running::id)
    }

    /// Process ids of every process the system runs now: the services
    /// and their replicas.
    pub fn pids(&self) -> Vec<u32> {
        self.procs
            .values()
            .filter_map(|p| p.child.as_ref().map(Running::id))
            .chain(self.replicas.iter().map(|(_, r)| r.id()))
            .collect()
    }

    /// Stops a service's replicas with SIGTERM and waits for them to exit;
    /// returns how many there were.
    pub fn terminate_replicas(&mut self, name: &str) -> usize {
        let (theirs, others): (Vec<_>, Vec<_>) =
            self.replicas.drain(..).partition(|(n, _)| *n == name);
        self.replicas = others;
        for (_, r) in &theirs {
            r.ask_to_stop();
        }
        let n = theirs.len();
        for (_, r) in theirs {
            r.stop_within(Duration::from_secs(20));
        }
        n
    }

    pub fn port(&self, name: &str) -> u16 {
        self.procs[name].port
    }

    /// A service's metrics (Prometheus text), read over HTTP.
    pub async fn metrics(&self, name: &str) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s =
            tokio::net::TcpStream::connect(("127.0.0.1", self.procs[name].metrics_port)).await?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut body = String::new();
        s.read_to_string(&mut body).await?;
        Ok(body)
    }

    /// One gauge's value from a service's metrics, by its name and labels
    /// as printed (`hotline_peer_up{peer="dispatch"}`).
    pub async fn gauge(&self, name: &str, series: &str) -> Option<f64> {
        let text = self.metrics(name).await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.port(name))
    }

    pub async fn channel(&self, name: &str) -> Channel {
        Channel::from_shared(self.url(name))
            .expect("url")
            .timeout(Duration::from_secs(20))
            .connect_lazy()
    }

    /// Waits until a service answers SERVING on grpc.health.v1.
    pub async fn wait_healthy(&mut self, name: &str, patience: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(c) = self.procs.get_mut(name).and_then(|p| p.child.as_mut())
                && let Some(status) = c.exited()
            {
                bail!("{name} exited with {status}; log:\n{}", self.log(name));
            }
            if serving(&self.url(name)).await {
                return Ok(());
            }
            if started.elapsed() > patience {
                bail!(
                    "{name} not healthy after {patience:?}; log:\n{}",
                    self.log(name)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Kills a service at once (SIGKILL): a crash.
    pub fn kill(&mut self, name: &str) {
        // Dropping the handle kills the process and reaps it.
        drop(self.procs.get_mut(name).and_then(|p| p.child.take()));
    }

    /// Stops a service with SIGTERM and waits for it to exit (killing it
    /// after 20 s). `None` when it was not running.
    pub fn terminate(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        let c = self.procs.get_mut(name)?.child.take()?;
        c.ask_to_stop();
        c.stop_within(Duration::from_secs(20))
    }

    /// Starts a service again on the same port and waits for it: a stopped
    /// one starts; a running one is stopped (SIGTERM) first.
    pub async fn restart(&mut self, name: &'static str) -> anyhow::Result<()> {
        self.spawn(name)?;
        self.wait_healthy(name, Duration::from_secs(60)).await
    }

    /// Starts a service again as [`System::restart`] does, with some of its
    /// environment changed (e.g. a peer's URL) for this run only.
    pub async fn restart_with(
        &mut self,
        name: &'static str,
        extra: &[(&str, String)],
    ) -> anyhow::Result<()> {
        self.spawn_with(name, extra)?;
        self.wait_healthy(name, Duration::from_secs(60)).await
    }

    /// The name of this system's database (as `pg_stat_activity.datname`).
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    /// A token with these roles (and unit), valid for an hour.
    pub fn token(&self, roles: &[Role], unit: Option<&str>) -> String {
        self.auth
            .mint("test-caller", unit, roles, Duration::from_secs(3600))
    }

    /// A channel to a service whose calls carry `token` (empty: none).
    pub async fn channel_with(&self, name: &str, token: String) -> Authed {
        InterceptedService::new(self.channel(name).await, Bearer(token))
    }

    /// Clients acting as the hotline centre's staff.
    pub async fn intake(&self) -> IntakeServiceClient<Authed> {
        IntakeServiceClient::new(self.channel_with("intake", self.token(CENTRE, None)).await)
    }
    pub async fn dispatch(&self) -> DispatchServiceClient<Authed> {
        DispatchServiceClient::new(
            self.channel_with("dispatch", self.token(CENTRE, None))
                .await,
        )
    }
    pub async fn undertaking(&self) -> UndertakingServiceClient<Authed> {
        UndertakingServiceClient::new(
            self.channel_with("undertaking", self.token(CENTRE, None))
                .await,
        )
    }
    pub async fn supervision(&self) -> SupervisionServiceClient<Authed> {
        SupervisionServiceClient::new(
            self.channel_with("supervision", self.token(CENTRE, None))
                .await,
        )
    }
    /// Supervision with these roles (and unit).
    pub async fn supervision_as(
        &self,
        roles: &[Role],
        unit: Option<&str>,
    ) -> SupervisionServiceClient<Authed> {
        SupervisionServiceClient::new(
            self.channel_with("supervision", self.token(roles, unit))
                .await,
        )
    }
    /// The knowledge base with these roles (and unit).
    pub async fn knowledge_as(
        &self,
        roles: &[Role],
        unit: Option<&str>,
    ) -> KnowledgeServiceClient<Authed> {
        KnowledgeServiceClient::new(self.channel_with("intake", self.token(roles, unit)).await)
    }
    /// Undertaking as the staff of one handling unit.
    pub async fn undertaking_as(&self, unit: &str) -> UndertakingServiceClient<Authed> {
        UndertakingServiceClient::new(
            self.channel_with("undertaking", self.token(&[Role::UnitStaff], Some(unit)))
                .await,
        )
    }
    pub async fn clocks(&self, owner: &str) -> ClockServiceClient<Authed> {
        ClockServiceClient::new(
            self.channel_with(owner, self.token(&[Role::Service], None))
                .await,
        )
    }

    /// Runs `<service> --verify-audit` against this system's database:
    /// whether the chain is intact, and what the command printed.
    pub fn verify_audit(&self, name: &str) -> (bool, String) {
        let out = Command::new(bin_dir().join(name))
            .arg("--verify-audit")
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .expect("verify command runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Runs `<service> --verify-audit ENTRIES:HASH`: the chain against a
    /// seal exported earlier.
    pub fn verify_audit_against(&self, name: &str, seal: &AuditSeal) -> (bool, String) {
        let out = Command::new(bin_dir().join(name))
            .arg("--verify-audit")
            .arg(format!("{}:{}", seal.entries, seal.hash))
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .expect("verify command runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// A service's audit trail, as an auditor.
    pub async fn audit(&self, name: &str) -> AuditServiceClient<Authed> {
        AuditServiceClient::new(
            self.channel_with(name, self.token(&[Role::Auditor], None))
                .await,
        )
    }

    /// The actions on one ticket's audit trail at service `name`, oldest
    /// first (its first 500), once what was appended before is sealed.
    pub async fn audit_actions(&self, name: &str, ticket_no: &str) -> Vec<String> {
        self.audit_sealed(name).await;
        self.audit(name)
            .await
            .list_audit_entries(hotline_proto::common::v1::ListAuditEntriesRequest {
                ticket_no: ticket_no.into(),
                page_size: 500,
                ..Default::default()
            })
            .await
            .expect("ListAuditEntries")
            .into_inner()
            .entries
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// Waits until every audit entry `name` committed before the call is
    /// sealed (none is waiting), and returns the seal.
    pub async fn audit_sealed(&self, name: &str) -> AuditSeal {
        let client = self.audit(name).await;
        eventually(
            Duration::from_secs(10),
            &format!("{name}'s audit entries sealed"),
            || {
                let mut client = client.clone();
                async move {
                    let r = client
                        .get_audit_seal(GetAuditSealRequest {})
                        .await
                        .expect("GetAuditSeal")
                        .into_inner();
                    (r.unsealed == 0).then(|| r.seal.expect("a seal"))
                }
            },
        )
        .await
    }

    /// A connection to one service's schema in the test database.
    pub async fn db(&self, schema: &str) -> anyhow::Result<sqlx::PgConnection> {
        let mut c = sqlx::PgConnection::connect(&format!(
            "postgres://postgres@127.0.0.1:5432/{}",
            self.db_name
        ))
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
            .execute(&mut c)
            .await?;
        Ok(c)
    }

    /// A small pool on one service's schema in the test database.
    pub async fn pool(&self, schema: &str) -> anyhow::Result<sqlx::PgPool> {
        let url = format!(
            "postgres://postgres@127.0.0.1:5432/{}?options=-csearch_path%3D{schema}",
            self.db_name
        );
        Ok(sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await?)
    }

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.vhost)
    }
}

impl Drop for System {
    fn drop(&mut self) {
        // Every process still held: the services (first or restarted) and
        // the replicas. Each is asked to stop, then killed if it has not
        // within 5 s; none outlives the system.
        let running: Vec<Running> = self
            .procs
            .values_mut()
            .filter_map(|p| p.child.take())
            .chain(self.replicas.drain(..).map(|(_, r)| r))
            .collect();
        for r in &running {
            r.ask_to_stop();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for r in running {
            r.stop_within(deadline.saturating_duration_since(Instant::now()));
        }
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.vhost])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("psql")
            .args([
                &postgres_admin_url(),
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether the service at `url` answers SERVING on grpc.health.v1.
async fn serving(url: &str) -> bool {
    let Ok(endpoint) = Channel::from_shared(url.to_string()) else {
        return false;
    };
    let mut client = tonic_health::pb::health_client::HealthClient::new(endpoint.connect_lazy());
    matches!(
        client
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await,
        Ok(r) if r.get_ref().status
            == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    )
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

/// A key file of one key, as ops would write it.
pub fn key_file(kid: &str, secret: &[u8]) -> String {
    use base64::Engine;
    format!(
        "[[keys]]\nkid = \"{kid}\"\nsecret = \"{}\"\n",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}
