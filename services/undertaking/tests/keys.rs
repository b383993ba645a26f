//! Idempotency keys against a fresh database: a failed change stores no
//! key, a key past its retention counts as new, and the sweep deletes the
//! expired rows and only those.

mod support;

use hotline_common::ApiError;
use hotline_common::idempotency::Keys;
use hotline_proto::undertaking::v1::{SignAssignmentRequest, SignAssignmentResponse};
use support::*;

fn sign(assignment: &str, key: &str) -> SignAssignmentRequest {
    SignAssignmentRequest {
        assignment_id: assignment.into(),
        unit_id: "u1".into(),
        idempotency_key: key.into(),
    }
}

/// The change keyed: counts its runs in a table of the test's own.
async fn run(keys: &Keys, req: &SignAssignmentRequest) -> Result<SignAssignmentResponse, ApiError> {
    keys.once(&staff("u1"), req, async |tx| {
        sqlx::query("INSERT INTO runs (assignment_id) VALUES ($1)")
            .bind(&req.assignment_id)
            .execute(&mut ***tx)
            .await?;
        if req.assignment_id == "fails" {
            return Err(ApiError::unavailable("a failing change"));
        }
        Ok(SignAssignmentResponse::default())
    })
    .await
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn failures_store_nothing_and_expired_keys_are_new_and_swept() {
    let db = TestDb::fresh().await;
    sqlx::query("CREATE TABLE runs (assignment_id TEXT NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();
    let keys = Keys::new(db.pool.clone(), std::time::Duration::from_secs(3600));

    // A failed change rolls its key back with it.
    run(&keys, &sign("fails", "k-fail")).await.unwrap_err();
    assert_eq!(count(&db, "SELECT count(*) FROM idempotency_keys").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM runs").await, 0);

    run(&keys, &sign("a1", "k-1")).await.unwrap();
    run(&keys, &sign("a1", "k-1")).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM runs").await, 1);
    let e = run(&keys, &sign("a2", "k-1")).await.unwrap_err();
    assert_eq!(e.fields[0].0, "idempotency_key");

    // Past the retention, the key is new: another request may take it.
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - interval '2 hours'")
        .execute(&db.pool)
        .await
        .unwrap();
    run(&keys, &sign("a2", "k-1")).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM runs").await, 2);

    // The sweep deletes what is past the retention, and nothing else.
    run(&keys, &sign("a3", "k-old")).await.unwrap();
    sqlx::query(
        "UPDATE idempotency_keys SET created_at = created_at - interval '2 hours' \
         WHERE key = 'k-old'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert_eq!(keys.sweep().await.unwrap(), 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["k-1".to_string()]);
}
