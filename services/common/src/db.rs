//! PostgreSQL: each service owns a schema of its own in the shared database
//! and runs its own migrations there at start-up.

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::CommonConfig;

/// How long a service waits for the database at start-up.
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// A schema name safe to splice into DDL.
pub fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// Connects to the service's schema (creating it when missing), waiting for
/// the database to come up, and applies the given migrations.
pub async fn connect_and_migrate(
    cfg: &CommonConfig,
    migrators: &[&Migrator],
) -> anyhow::Result<PgPool> {
    let schema = &cfg.database_schema;
    anyhow::ensure!(is_plain_identifier(schema), "bad schema name {schema:?}");
    let base: PgConnectOptions = cfg
        .database_url
        .parse()
        .context("HOTLINE_DATABASE_URL is not a PostgreSQL URL")?;
    let base = base.application_name(cfg.service.as_str());

    let started = tokio::time::Instant::now();
    let mut backoff = crate::retry::Backoff::new();
    let mut conn = loop {
        match base.connect().await {
            Ok(c) => break c,
            Err(e) if started.elapsed() < CONNECT_PATIENCE => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not reachable yet, retrying");
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(e).context("connecting to PostgreSQL"),
        }
    };
    // `schema` passed is_plain_identifier above.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&mut conn)
    .await
    .or_else(|e| {
        // Two replicas creating the schema at once: the loser sees a
        // unique violation on the catalog, and the schema exists.
        if crate::error::violated_constraint(&e).is_some() {
            Ok(Default::default())
        } else {
            Err(e)
        }
    })
    .with_context(|| format!("creating schema {schema}"))?;
    conn.close().await.ok();

    let opts = base.options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(cfg.database_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .context("opening the connection pool")?;
    // The service's own migrations and shared ones (clocks) share one
    // history table; their version ranges do not overlap.
    let mut all: Vec<_> = migrators.iter().flat_map(|m| m.iter().cloned()).collect();
    all.sort_by_key(|m| m.version);
    Migrator::with_migrations(all)
        .run(&pool)
        .await
        .with_context(|| format!("migrating schema {schema}"))?;
    tracing::info!(schema = %schema, "database ready");
    Ok(pool)
}

/// Connects to a service's schema without migrating (for commands that
/// only read, such as `--verify-audit`).
pub async fn connect_existing(url: &str, schema: &str) -> anyhow::Result<PgPool> {
    anyhow::ensure!(is_plain_identifier(schema), "bad schema name {schema:?}");
    let opts: PgConnectOptions = url
        .parse()
        .context("HOTLINE_DATABASE_URL is not a PostgreSQL URL")?;
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts.options([("search_path", schema)]))
        .await
        .context("connecting to PostgreSQL")
}

#[cfg(test)]
mod tests {
    use super::is_plain_identifier;

    #[test]
    fn identifiers() {
        assert!(is_plain_identifier("intake"));
        assert!(is_plain_identifier("t_1"));
        assert!(!is_plain_identifier("1abc"));
        assert!(!is_plain_identifier("a;drop"));
        assert!(!is_plain_identifier(""));
        assert!(!is_plain_identifier("Intake"));
    }
}
