//! A consumer acts on an event once, against a real PostgreSQL, and
//! forgets the event ids it acted on only past the retention, and only its
//! own.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hotline_common::events::{self, consume};
use hotline_proto::events::v1::{LifecycleEvent, Source};

fn event() -> LifecycleEvent {
    LifecycleEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        ticket_no: "BJ000000000001".into(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        source: Source::Undertaking as i32,
        fact: None,
    }
}

fn counting(n: Arc<AtomicUsize>) -> consume::Handler {
    Arc::new(move |_tx, _e| {
        let n = n.clone();
        Box::pin(async move {
            n.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    })
}

#[tokio::test]
async fn an_event_is_acted_on_once_and_forgotten_only_past_the_retention() {
    let (name, pool) = support::fresh_database("hotline_consumed").await;
    events::MIGRATOR.run(&pool).await.expect("migrate");
    let acted = Arc::new(AtomicUsize::new(0));
    let handler = counting(acted.clone());
    let (old, fresh) = (event(), event());
    for e in [&old, &old, &fresh] {
        consume::once(&pool, "evaluation", e, &handler)
            .await
            .expect("consume");
    }
    consume::once(&pool, "visits", &old, &handler)
        .await
        .expect("another consumer");
    assert_eq!(
        acted.load(Ordering::SeqCst),
        3,
        "the second copy was acted on"
    );

    // Both consumers' rows of `old` age past the retention.
    sqlx::query(
        "UPDATE consumed_events SET consumed_at = now() - interval '31 days' WHERE event_id = $1",
    )
    .bind(uuid::Uuid::parse_str(&old.event_id).unwrap())
    .execute(&pool)
    .await
    .expect("age");
    let swept = consume::sweep(&pool, "evaluation", consume::CONSUMED_RETENTION)
        .await
        .expect("sweep");
    assert_eq!(swept, 1, "only the evaluation's aged row goes");
    let left: Vec<(String, String)> = sqlx::query_as(
        "SELECT consumer, event_id::text FROM consumed_events ORDER BY consumer, event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    let mut want = vec![
        ("evaluation".to_string(), fresh.event_id.clone()),
        ("visits".to_string(), old.event_id.clone()),
    ];
    want.sort();
    assert_eq!(left, want);
    // Within the retention nothing goes.
    let none = consume::sweep(&pool, "visits", Duration::from_secs(60 * 24 * 3600))
        .await
        .expect("sweep");
    assert_eq!(none, 0);
    support::drop_database(&name, pool).await;
}
