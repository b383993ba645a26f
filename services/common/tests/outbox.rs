//! The outbox's claims against a real PostgreSQL: a claim leases its rows
//! and commits, so that other relays skip them until the lease runs out; a
//! row pushed again while its claim is in flight is not deleted by that
//! claim and is claimed again; a claim handed back is due at once; a call
//! that hangs is cut at half the lease and backed off.

mod support;

use std::time::Duration;

use hotline_common::outbox::{Outbox, Tx};
use sqlx::PgPool;

const OUTBOX: Outbox = Outbox::new("test_outbox").with_lease(Duration::from_secs(2));

/// A database of its own with one outbox table of the documented shape.
struct Db {
    name: String,
    pool: PgPool,
}

impl Db {
    async fn fresh() -> Db {
        let (name, pool) = support::fresh_database("hotline_outbox").await;
        sqlx::raw_sql(
            "CREATE TABLE test_outbox ( \
               ticket_no TEXT PRIMARY KEY, \
               enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
               attempts INTEGER NOT NULL DEFAULT 0, \
               next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
               last_error TEXT, \
               pushes BIGINT NOT NULL DEFAULT 1, \
               leased_until TIMESTAMPTZ) WITH (fillfactor = 50); \
             CREATE INDEX test_outbox_due ON test_outbox (next_attempt_at);",
        )
        .execute(&pool)
        .await
        .expect("table");
        Db { name, pool }
    }

    async fn push(&self, key: &str) {
        let mut tx: Tx = self.pool.begin().await.expect("begin");
        OUTBOX.push(&mut tx, key).await.expect("push");
        tx.commit().await.expect("commit");
    }

    async fn rows(&self) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT ticket_no, pushes FROM test_outbox ORDER BY ticket_no")
            .fetch_all(&self.pool)
            .await
            .expect("rows")
    }

    async fn drop(self) {
        support::drop_database(&self.name, self.pool).await;
    }
}

#[tokio::test]
async fn a_claim_leases_and_a_row_pushed_again_in_flight_is_sent_again() {
    let db = Db::fresh().await;
    db.push("T1").await;
    db.push("T2").await;

    let first = OUTBOX.claim(&db.pool, 10).await.expect("claim");
    assert_eq!(first.len(), 2);
    // Committed and leased: another relay finds nothing to take.
    assert!(OUTBOX.claim(&db.pool, 10).await.expect("claim").is_empty());

    // T1 is pushed again (a re-dispatch) while its call is in flight.
    db.push("T1").await;
    let (tx, deleted) = OUTBOX.finish(&db.pool, &first).await.expect("finish");
    tx.commit().await.expect("commit");
    assert_eq!(
        deleted,
        vec!["T2".to_string()],
        "the earlier push's claim does not delete the row pushed again"
    );
    assert_eq!(db.rows().await, vec![("T1".to_string(), 2)]);

    // The push made it due at once, lease or not: it is claimed again, as
    // its second push, and that claim deletes it.
    let again = OUTBOX.claim(&db.pool, 10).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].ticket_no.as_str(), again[0].pushes), ("T1", 2));
    let (tx, deleted) = OUTBOX.finish(&db.pool, &again).await.expect("finish");
    tx.commit().await.expect("commit");
    assert_eq!(deleted, vec!["T1".to_string()]);
    assert!(db.rows().await.is_empty());
    db.drop().await;
}

#[tokio::test]
async fn a_dead_relays_lease_runs_out_and_a_released_claim_is_due_at_once() {
    let db = Db::fresh().await;
    db.push("T1").await;
    db.push("T2").await;

    // A relay claims T1 and T2 and dies: nobody takes them while the lease
    // runs, then another relay does.
    let dead = OUTBOX.claim(&db.pool, 10).await.expect("claim");
    assert_eq!(dead.len(), 2);
    assert!(OUTBOX.claim(&db.pool, 10).await.expect("claim").is_empty());
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let taken = OUTBOX.claim(&db.pool, 10).await.expect("claim");
    assert_eq!(taken.len(), 2, "the lease ran out");

    // The dead relay's lease is not this one: handing it back does nothing.
    assert_eq!(OUTBOX.release(&db.pool, &dead).await.expect("release"), 0);
    assert!(OUTBOX.claim(&db.pool, 10).await.expect("claim").is_empty());
    // A relay shutting down hands its own claims back: due at once.
    assert_eq!(OUTBOX.release(&db.pool, &taken).await.expect("release"), 2);
    assert_eq!(OUTBOX.claim(&db.pool, 10).await.expect("claim").len(), 2);
    db.drop().await;
}

#[tokio::test]
async fn replicas_claiming_at_once_share_the_rows() {
    let db = Db::fresh().await;
    for i in 0..200 {
        db.push(&format!("T{i:03}")).await;
    }
    let (a, b) = tokio::join!(OUTBOX.claim(&db.pool, 150), OUTBOX.claim(&db.pool, 150));
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    let mut all: Vec<&str> = a.iter().chain(&b).map(|c| c.ticket_no.as_str()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), a.len() + b.len(), "no row claimed twice");
    assert_eq!(all.len(), 200, "every row claimed by one of them");
    db.drop().await;
}

#[tokio::test]
async fn a_failed_call_backs_off_unless_pushed_again() {
    let db = Db::fresh().await;
    db.push("T1").await;
    db.push("T2").await;
    let claims = OUTBOX.claim(&db.pool, 10).await.expect("claim");
    db.push("T2").await;
    for c in &claims {
        OUTBOX
            .retry_later(&db.pool, c, "peer down")
            .await
            .expect("retry");
    }
    let due: Vec<(String, i32, bool)> = sqlx::query_as(
        "SELECT ticket_no, attempts, next_attempt_at <= now() FROM test_outbox ORDER BY ticket_no",
    )
    .fetch_all(&db.pool)
    .await
    .expect("rows");
    assert_eq!(
        due,
        vec![
            ("T1".to_string(), 1, false),
            // Pushed again: its new push is due now, with no failure yet.
            ("T2".to_string(), 0, true),
        ]
    );
    db.drop().await;
}

#[tokio::test]
async fn a_call_that_hangs_is_cut_at_half_the_lease_and_backed_off() {
    use hotline_common::outbox::nothing_along;
    use tokio_util::sync::CancellationToken;
    let db = Db::fresh().await;
    db.push("T1").await;
    db.push("T2").await;
    // T1's peer never answers, T2's at once.
    let started = std::time::Instant::now();
    let send = |key: String| async move {
        if key == "T1" {
            std::future::pending::<()>().await;
        }
        Ok(())
    };
    let claimed = OUTBOX
        .deliver(&db.pool, 10, &CancellationToken::new(), send, nothing_along)
        .await
        .expect("deliver");
    let took = started.elapsed();
    assert_eq!(claimed, 2);
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(1900),
        "the hung call is cut at half the 2 s lease, not left to the lease: {took:?}"
    );
    let left: Vec<(String, i32, Option<String>, bool)> = sqlx::query_as(
        "SELECT ticket_no, attempts, last_error, leased_until IS NULL FROM test_outbox",
    )
    .fetch_all(&db.pool)
    .await
    .expect("rows");
    assert_eq!(left.len(), 1, "T2 delivered and deleted: {left:?}");
    let (key, attempts, error, unleased) = &left[0];
    assert_eq!((key.as_str(), *attempts, *unleased), ("T1", 1, true));
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("not answered within 1000 ms")),
        "{error:?}"
    );
    db.drop().await;
}
