//! The feed against a real PostgreSQL: a transaction that commits late is
//! neither passed over nor repeated, a cursor from the future or from
//! before what retention kept is refused.

mod support;

use std::time::Duration;

use hotline_common::ErrorCode;
use hotline_common::feed::{self, Position};
use support::*;

async fn event(tx: &mut hotline_common::outbox::Tx, unit: &str, what: &str) {
    feed::append(tx, unit, "BJ000000000001", what.as_bytes(), None)
        .await
        .unwrap();
}

fn bodies(b: &feed::Batch) -> Vec<String> {
    b.events
        .iter()
        .map(|e| String::from_utf8(e.event.clone()).unwrap())
        .collect()
}

/// Reads from `from` until `want` events came (other transactions of the
/// server, still running, hold the horizon back while they run: on a
/// shared server a bulk load elsewhere can take a while).
async fn collect(
    pool: &sqlx::PgPool,
    scope: &str,
    from: Position,
    want: usize,
    limit: i64,
) -> (Vec<String>, Position) {
    let started = std::time::Instant::now();
    let (mut got, mut at) = (Vec::new(), from);
    while got.len() < want {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {got:?} after 120 s"
        );
        let b = feed::read(pool, scope, at, limit).await.unwrap();
        if b.events.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        got.extend(bodies(&b));
        at = b.position;
    }
    (got, at)
}

#[tokio::test]
async fn a_late_commit_is_delivered_after_the_earlier_cursor_not_lost() {
    let db = TestDb::fresh().await;
    let start = feed::now(&db.pool).await.unwrap();
    // A writes first (smaller xid and id) but commits last.
    let mut a = db.pool.begin().await.unwrap();
    event(&mut a, "U1", "a").await;
    let mut b = db.pool.begin().await.unwrap();
    event(&mut b, "U1", "b").await;
    b.commit().await.unwrap();

    // B is committed but held back behind A, still running: nothing is
    // delivered yet, and the reader is told to look again soon.
    let first = feed::read(&db.pool, "U1", start, 100).await.unwrap();
    assert!(first.events.is_empty(), "{:?}", bodies(&first));
    assert!(first.pending);

    a.commit().await.unwrap();
    let (got, second) = collect(&db.pool, "U1", first.position, 2, 100).await;
    assert_eq!(got, ["a", "b"]);

    // A third transaction's event comes after, once; nothing repeats.
    let mut c = db.pool.begin().await.unwrap();
    event(&mut c, "U1", "c").await;
    event(&mut c, "U2", "other unit").await;
    c.commit().await.unwrap();
    let (got, third) = collect(&db.pool, "U1", second, 1, 100).await;
    assert_eq!(got, ["c"]);
    let again = feed::read(&db.pool, "U1", third, 100).await.unwrap();
    assert!(again.events.is_empty());
    // The whole feed, in order, at once and one at a time.
    let (all, _) = collect(&db.pool, feed::ALL, start, 4, 100).await;
    assert_eq!(all, ["a", "b", "c", "other unit"]);
    let (one_by_one, end) = collect(&db.pool, feed::ALL, start, 4, 1).await;
    assert_eq!(one_by_one, ["a", "b", "c", "other unit"]);
    let after = feed::read(&db.pool, feed::ALL, end, 100).await.unwrap();
    assert!(after.events.is_empty());
}

#[tokio::test]
async fn cursors_from_the_future_or_before_retention_are_refused() {
    let db = TestDb::fresh().await;
    let start = feed::now(&db.pool).await.unwrap();
    let future = Position {
        xid: start.xid + 1_000_000,
        id: 1,
    };
    let e = feed::check_resume(&db.pool, "after_cursor", "U1", future)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(e.fields.iter().any(|(f, _)| f == "after_cursor"), "{e:?}");

    let mut tx = db.pool.begin().await.unwrap();
    event(&mut tx, "U1", "old").await;
    tx.commit().await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    event(&mut tx, "U1", "older than retention too").await;
    tx.commit().await.unwrap();
    feed::check_resume(&db.pool, "after_cursor", "U1", start)
        .await
        .expect("nothing deleted yet");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Rows go once they are past retention and below the horizon.
    let started = std::time::Instant::now();
    let mut deleted = 0;
    while deleted < 2 {
        assert!(started.elapsed() < Duration::from_secs(120), "not pruned");
        deleted += feed::prune(&db.pool, Duration::from_secs(1), 1000)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(deleted, 2);
    let e = feed::check_resume(&db.pool, "after_cursor", "U1", start)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::FailedPrecondition);
    // A reader that fell behind retention is told so, not skipped past.
    let behind = feed::read(&db.pool, "U1", start, 100).await.unwrap_err();
    assert_eq!(behind.code, ErrorCode::FailedPrecondition);
    let oldest = e
        .message
        .split("the oldest cursor is ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the message names the oldest cursor");
    let oldest = Position::parse("after_cursor", oldest, "U1").unwrap();
    feed::check_resume(&db.pool, "after_cursor", "U1", oldest)
        .await
        .expect("the oldest cursor resumes");
    // Another unit lost nothing: its old cursor still works.
    feed::check_resume(&db.pool, "after_cursor", "U2", start)
        .await
        .expect("no event of U2 was deleted");
}
