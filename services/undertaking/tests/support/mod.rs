//! A fresh database of its own per test, migrated as undertaking migrates
//! its schema, and dropped afterwards; and the rows tests start from.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hotline_common::auth::{Authenticator, Identity, Role, ServiceToken};
use hotline_common::ids::{Id, TicketNo, UnitId};
use hotline_common::time::to_proto;
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_sla::Policy;
use hotline_undertaking::context::Ctx;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Endpoint;

pub fn admin_url() -> String {
    std::env::var("HOTLINE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of one test; dropped with it.
pub struct TestDb {
    pub name: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn fresh() -> TestDb {
        let name = format!(
            "hotline_ut_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let admin = PgConnectOptions::from_str(&admin_url()).expect("admin url");
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("PostgreSQL is reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("a fresh database");
        conn.close().await.ok();
        let base = admin.database(&name);
        let mut conn = PgConnection::connect_with(&base).await.expect("connect");
        sqlx::query("CREATE SCHEMA undertaking")
            .execute(&mut conn)
            .await
            .expect("schema");
        conn.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(base.options([("search_path", "undertaking")]))
            .await
            .expect("pool");
        let mut all: Vec<_> = hotline_undertaking::MIGRATORS
            .iter()
            .flat_map(|m| m.iter().cloned())
            .collect();
        all.sort_by_key(|m| m.version);
        Migrator::with_migrations(all)
            .run(&pool)
            .await
            .expect("undertaking's migrations");
        TestDb { name, pool }
    }

    /// Everything a handler needs; the peers are never reached.
    pub fn ctx(&self) -> Ctx {
        let token = ServiceToken {
            auth: Arc::new(Authenticator::unusable("hotline".into())),
            service: "undertaking",
        };
        let nowhere = Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        Ctx {
            pool: self.pool.clone(),
            keys: hotline_common::idempotency::Keys::new(
                self.pool.clone(),
                hotline_common::idempotency::DEFAULT_RETENTION,
            ),
            policy: Arc::new(Policy::beijing()),
            supervision: SupervisionServiceClient::new(InterceptedService::new(
                nowhere.clone(),
                token.clone(),
            )),
            dispatch: DispatchServiceClient::new(InterceptedService::new(
                nowhere.clone(),
                token.clone(),
            )),
            media: hotline_proto::intake::v1::media_service_client::MediaServiceClient::new(
                InterceptedService::new(nowhere, token),
            ),
            hub: hotline_common::feed::Hub::start(
                self.pool.clone(),
                hotline_common::feed::channel("undertaking"),
                hotline_common::feed::FeedConfig {
                    retention: std::time::Duration::from_secs(3600),
                    max_watchers: 4,
                    poll: std::time::Duration::from_millis(200),
                    heartbeat: std::time::Duration::from_secs(5),
                },
                tokio_util::sync::CancellationToken::new(),
            ),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &admin_url(),
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

pub fn ticket_no(s: &str) -> TicketNo {
    TicketNo::parse(s).expect("a ticket number")
}

pub fn unit(s: &str) -> UnitId {
    UnitId::parse(s).expect("a unit id")
}

/// A ticket as dispatch sends it, accepted `ago` before now.
pub fn ticket(no: &str, accepted_at: DateTime<Utc>) -> TicketSummary {
    TicketSummary {
        ticket_no: no.to_string(),
        category_code: "heating".into(),
        content: "暖气不热".into(),
        accepted_at: Some(to_proto(accepted_at)),
        ..Default::default()
    }
}

pub fn now() -> DateTime<Utc> {
    hotline_common::time::now()
}

pub fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

/// The hotline service calling (dispatch's relay, BeginHop).
pub fn service() -> Identity {
    Identity {
        subject: "dispatch".into(),
        unit: None,
        roles: vec![Role::Service],
    }
}

/// Staff of one handling unit.
pub fn staff(unit: &str) -> Identity {
    Identity {
        subject: format!("staff-of-{unit}"),
        unit: Some(unit.into()),
        roles: vec![Role::UnitStaff],
    }
}

/// The hotline centre's dispatchers and supervisors.
pub fn centre() -> Identity {
    Identity {
        subject: "centre".into(),
        unit: None,
        roles: vec![Role::Dispatcher, Role::Supervisor],
    }
}
