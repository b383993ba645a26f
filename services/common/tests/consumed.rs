//! A consumer acts on an event once, against a real PostgreSQL, alone or
//! in a batch (all or nothing), and forgets the event ids it acted on only
//! past the retention, and only its own.

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

#[tokio::test]
async fn a_batch_acts_on_each_event_once_and_commits_all_or_nothing() {
    let (name, pool) = support::fresh_database("hotline_consumed_batch").await;
    events::MIGRATOR.run(&pool).await.expect("migrate");
    let acted = Arc::new(AtomicUsize::new(0));
    let handler = counting(acted.clone());
    let (a, b, c) = (event(), event(), event());
    consume::once(&pool, "evaluation", &a, &handler)
        .await
        .expect("one on its own");
    // `a` was consumed before, `b` comes twice in the batch; what runs
    // after the batch sees b and c, in order.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let after: consume::AfterBatch = {
        let seen = seen.clone();
        Arc::new(move |_tx, events| {
            seen.lock()
                .unwrap()
                .extend(events.iter().map(|e| e.event_id.clone()));
            Box::pin(async { Ok(()) })
        })
    };
    let handling = consume::Handling {
        each: handler.clone(),
        after: Some(after),
    };
    let n = consume::once_all(
        &pool,
        "evaluation",
        &[a.clone(), b.clone(), b.clone(), c.clone()],
        &handling,
    )
    .await
    .expect("the batch");
    assert_eq!(n, 2, "b and c, once each");
    assert_eq!(acted.load(Ordering::SeqCst), 3);
    assert_eq!(
        *seen.lock().unwrap(),
        [b.event_id.clone(), c.event_id.clone()]
    );

    // A handler failing on the batch's second event: the first is not
    // marked either, so both come again.
    let (d, e) = (event(), event());
    let fail_on = e.event_id.clone();
    let failing: consume::Handler = Arc::new(move |_tx, ev| {
        let fail = ev.event_id == fail_on;
        Box::pin(async move {
            if fail {
                Err(hotline_common::ApiError::unavailable("down"))
            } else {
                Ok(())
            }
        })
    });
    assert!(
        consume::once_all(
            &pool,
            "evaluation",
            &[d.clone(), e.clone()],
            &failing.into()
        )
        .await
        .is_err()
    );
    let marked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM consumed_events WHERE event_id = ANY($1::uuid[])")
            .bind(vec![
                uuid::Uuid::parse_str(&d.event_id).unwrap(),
                uuid::Uuid::parse_str(&e.event_id).unwrap(),
            ])
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(marked, 0, "nothing of the failed batch was committed");
    assert!(
        consume::once(&pool, "evaluation", &d, &handler)
            .await
            .expect("d alone")
    );
    support::drop_database(&name, pool).await;
}
