//! A database of its own for each test, on the shared PostgreSQL.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

fn admin_url() -> String {
    std::env::var("HOTLINE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates a fresh database named `<prefix>_<random>`; returns its name and
/// a small pool on it.
pub async fn fresh_database(prefix: &str) -> (String, PgPool) {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let admin = PgConnectOptions::from_str(&admin_url()).expect("admin url");
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .expect("PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("database");
    conn.close().await.ok();
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect_with(admin.database(&name))
        .await
        .expect("pool");
    (name, pool)
}

/// Closes the pool and drops the database.
pub async fn drop_database(name: &str, pool: PgPool) {
    pool.close().await;
    let mut conn = PgConnection::connect(&admin_url()).await.expect("admin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .ok();
}
