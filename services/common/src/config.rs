//! Configuration from environment variables.
//!
//! Every setting has a name, a default and a line of documentation; all of
//! them are listed in `docs/CONFIGURATION.md`. [`Env`] collects every problem
//! it meets so that a misconfigured service reports them all at once.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use hotline_sla::Policy;

use crate::auth::{Authenticator, Limits};

/// Reads settings, remembering every error.
pub struct Env {
    vars: HashMap<String, String>,
    errors: Vec<String>,
}

/// All the configuration errors of one start.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration error(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Env {
    /// The process environment.
    pub fn from_process() -> Env {
        Env::from_map(std::env::vars().collect())
    }

    pub fn from_map(vars: HashMap<String, String>) -> Env {
        Env {
            vars,
            errors: Vec::new(),
        }
    }

    /// A setting's raw value; empty counts as unset.
    pub fn optional(&self, key: &str) -> Option<String> {
        self.vars
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.optional(key).unwrap_or_else(|| default.to_string())
    }

    /// A setting parsed with `FromStr`, or its default.
    pub fn parse<T>(&mut self, key: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(key) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => v,
                Err(e) => {
                    self.errors.push(format!("{key}={raw:?}: {e}"));
                    default
                }
            },
        }
    }

    /// A duration in seconds (fractions allowed).
    pub fn seconds(&mut self, key: &str, default: Duration) -> Duration {
        let secs: f64 = self.parse(key, default.as_secs_f64());
        if secs.is_finite() && secs >= 0.0 {
            Duration::from_secs_f64(secs)
        } else {
            self.errors
                .push(format!("{key}: must be a non-negative number of seconds"));
            default
        }
    }

    /// Records an error found while interpreting a setting.
    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    /// Ends reading: every error seen, or none.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.errors))
        }
    }
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected \"text\" or \"json\"".into()),
        }
    }
}

/// The four services, with their default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    Intake,
    Dispatch,
    Undertaking,
    Supervision,
}

impl ServiceName {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Intake => "intake",
            ServiceName::Dispatch => "dispatch",
            ServiceName::Undertaking => "undertaking",
            ServiceName::Supervision => "supervision",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            ServiceName::Intake => 50051,
            ServiceName::Dispatch => 50052,
            ServiceName::Undertaking => 50053,
            ServiceName::Supervision => 50054,
        }
    }

    /// The variable naming where this service is reached by the others.
    pub fn url_var(self) -> &'static str {
        match self {
            ServiceName::Intake => "HOTLINE_INTAKE_URL",
            ServiceName::Dispatch => "HOTLINE_DISPATCH_URL",
            ServiceName::Undertaking => "HOTLINE_UNDERTAKING_URL",
            ServiceName::Supervision => "HOTLINE_SUPERVISION_URL",
        }
    }
}

/// Settings every service has.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub service: ServiceName,
    /// `HOTLINE_LISTEN_ADDR`: gRPC listen address (default `0.0.0.0:<port>`).
    pub listen_addr: SocketAddr,
    /// `HOTLINE_METRICS_ADDR`: where Prometheus metrics are served over
    /// HTTP (peers up, outbox backlogs; docs/OPERATIONS.md); unset: not served.
    pub metrics_addr: Option<SocketAddr>,
    /// `HOTLINE_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/hotline`).
    pub database_url: String,
    /// `HOTLINE_DATABASE_SCHEMA`: the service's own schema (default: its name).
    pub database_schema: String,
    /// `HOTLINE_DATABASE_MAX_CONNECTIONS` (default 16).
    pub database_max_connections: u32,
    /// `HOTLINE_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`).
    pub amqp_url: String,
    /// `HOTLINE_LOG`: a tracing filter (default `info`).
    pub log_filter: String,
    /// `HOTLINE_LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// `HOTLINE_SHUTDOWN_GRACE_SECONDS`: time allowed to drain on SIGTERM
    /// (default 10).
    pub shutdown_grace: Duration,
    /// `HOTLINE_POLICY_FILE`: time-limit policy (default: Beijing's).
    pub policy: Policy,
    /// `HOTLINE_AUTH_KEYS_FILE` (required) and `HOTLINE_AUTH_ISSUER`
    /// (default `hotline`): the keys that sign and verify tokens.
    pub auth: Arc<Authenticator>,
    /// `HOTLINE_MAX_MESSAGE_BYTES` (default 1 MiB),
    /// `HOTLINE_RATE_LIMIT_PER_SECOND` (default 1000) and
    /// `HOTLINE_RATE_LIMIT_BURST` (default 2000), per identity and per
    /// replica (docs/SECURITY.md says why not across replicas).
    pub limits: Arc<Limits>,
    /// `HOTLINE_IDEMPOTENCY_RETENTION_SECONDS`: how long idempotency keys
    /// are kept (default 7 days).
    pub idempotency_retention: Duration,
    /// `HOTLINE_AUDIT_SEAL_INTERVAL_SECONDS`: how often recorded audit
    /// entries are sealed into the chain (default 0.2; more than 0, at most 1).
    pub audit_seal_interval: Duration,
}

impl CommonConfig {
    pub fn from_env(env: &mut Env, service: ServiceName) -> CommonConfig {
        let metrics_addr = env.optional("HOTLINE_METRICS_ADDR").and_then(|raw| {
            raw.parse()
                .map_err(|e| env.error(format!("HOTLINE_METRICS_ADDR={raw:?}: {e}")))
                .ok()
        });
        let listen_addr = env.parse(
            "HOTLINE_LISTEN_ADDR",
            SocketAddr::from(([0, 0, 0, 0], service.default_port())),
        );
        let database_schema = env.string("HOTLINE_DATABASE_SCHEMA", service.as_str());
        if !crate::db::is_plain_identifier(&database_schema) {
            env.error(format!(
                "HOTLINE_DATABASE_SCHEMA={database_schema:?}: use lowercase letters, digits and '_'"
            ));
        }
        let policy = match env.optional("HOTLINE_POLICY_FILE") {
            None => Policy::beijing(),
            Some(path) => match std::fs::read_to_string(&path) {
                Err(e) => {
                    env.error(format!("HOTLINE_POLICY_FILE={path:?}: {e}"));
                    Policy::beijing()
                }
                Ok(text) => Policy::from_toml(&text).unwrap_or_else(|e| {
                    for m in e.0 {
                        env.error(format!("HOTLINE_POLICY_FILE={path:?}: {m}"));
                    }
                    Policy::beijing()
                }),
            },
        };
        let issuer = env.string("HOTLINE_AUTH_ISSUER", "hotline");
        let auth = match env.optional("HOTLINE_AUTH_KEYS_FILE") {
            None => {
                env.error(
                    "HOTLINE_AUTH_KEYS_FILE: required: the file of keys that sign tokens (docs/SECURITY.md)"
                        .into(),
                );
                None
            }
            Some(path) => match Authenticator::load(path.clone().into(), issuer.clone()) {
                Ok(a) => Some(a),
                Err(e) => {
                    env.error(format!("HOTLINE_AUTH_KEYS_FILE={path:?}: {e}"));
                    None
                }
            },
        };
        let auth = Arc::new(auth.unwrap_or_else(|| Authenticator::unusable(issuer)));
        let max_message_bytes = env.parse("HOTLINE_MAX_MESSAGE_BYTES", 1usize << 20);
        let per_second = env.parse("HOTLINE_RATE_LIMIT_PER_SECOND", 1000u32);
        let burst = env.parse("HOTLINE_RATE_LIMIT_BURST", 2000u32);
        if max_message_bytes < 1024 || per_second == 0 || burst == 0 {
            env.error(
                "HOTLINE_MAX_MESSAGE_BYTES must be at least 1024, the rate limits at least 1"
                    .into(),
            );
        }
        let limits = Arc::new(Limits::new(max_message_bytes, per_second, burst));
        let idempotency_retention = env.seconds(
            crate::idempotency::ENV_RETENTION,
            crate::idempotency::DEFAULT_RETENTION,
        );
        if idempotency_retention < Duration::from_secs(1) {
            env.error(format!(
                "{}: at least 1 second",
                crate::idempotency::ENV_RETENTION
            ));
        }
        let audit_seal_interval = env.seconds(
            crate::audit::ENV_SEAL_INTERVAL,
            crate::audit::DEFAULT_SEAL_INTERVAL,
        );
        if audit_seal_interval.is_zero() || audit_seal_interval > Duration::from_secs(1) {
            env.error(format!(
                "{}: must be more than 0 and at most 1 second (entries are sealed within it)",
                crate::audit::ENV_SEAL_INTERVAL
            ));
        }
        CommonConfig {
            audit_seal_interval,
            auth,
            limits,
            service,
            listen_addr,
            metrics_addr,
            database_url: env.string(
                "HOTLINE_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/hotline",
            ),
            database_schema,
            database_max_connections: env.parse("HOTLINE_DATABASE_MAX_CONNECTIONS", 16),
            amqp_url: env.string("HOTLINE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            log_filter: env.string("HOTLINE_LOG", "info"),
            log_format: env.parse("HOTLINE_LOG_FORMAT", LogFormat::Text),
            shutdown_grace: env.seconds("HOTLINE_SHUTDOWN_GRACE_SECONDS", Duration::from_secs(10)),
            policy,
            idempotency_retention,
        }
    }

    /// Where a sibling service is reached (`HOTLINE_<NAME>_URL`).
    pub fn peer_url(env: &Env, peer: ServiceName) -> String {
        env.string(
            peer.url_var(),
            &format!("http://127.0.0.1:{}", peer.default_port()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_apply() {
        let keys = std::env::temp_dir().join(format!("hotline-keys-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(
            &keys,
            "[[keys]]\nkid = \"k\"\nsecret = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n",
        )
        .unwrap();
        let mut e = env(&[("HOTLINE_AUTH_KEYS_FILE", keys.to_str().unwrap())]);
        let c = CommonConfig::from_env(&mut e, ServiceName::Dispatch);
        e.finish().unwrap();
        assert_eq!(c.listen_addr.port(), 50052);
        assert_eq!(c.database_schema, "dispatch");
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.policy.name, "beijing");
        assert_eq!(c.idempotency_retention, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(c.audit_seal_interval, crate::audit::DEFAULT_SEAL_INTERVAL);
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let mut e = env(&[
            ("HOTLINE_LISTEN_ADDR", "nowhere"),
            ("HOTLINE_LOG_FORMAT", "xml"),
            ("HOTLINE_DATABASE_SCHEMA", "Bad-Name"),
            ("HOTLINE_DATABASE_MAX_CONNECTIONS", "-1"),
            ("HOTLINE_POLICY_FILE", "/nonexistent/policy.toml"),
            ("HOTLINE_IDEMPOTENCY_RETENTION_SECONDS", "0"),
            ("HOTLINE_AUDIT_SEAL_INTERVAL_SECONDS", "0"),
        ]);
        let _ = CommonConfig::from_env(&mut e, ServiceName::Intake);
        let err = e.finish().unwrap_err();
        // The seven above, and the missing key file.
        assert_eq!(err.0.len(), 8, "{err}");
    }
}
