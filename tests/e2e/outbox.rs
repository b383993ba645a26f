//! No transaction is held open while an outbox relay calls its peer.
//!
//! Each relay is pointed at a peer that accepts connections and never
//! answers, so that every call it makes hangs until the call's timeout
//! (15 s). While it hangs, with outbox rows pending, `pg_stat_activity` is
//! sampled: no session of the relaying service may sit `idle in
//! transaction` (a relay that claims rows in a transaction and keeps it
//! across the call shows there for the whole call). Then the real peer
//! comes back and the rows are delivered: nothing was lost, and intake's
//! dispatch clock stopped with its row.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hotline_proto::dispatch::v1::GetRoutingRequest;
use hotline_tests::{Options, System, assignments_of, eventually, free_port, heating_request};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A peer that reads whatever it is sent and never answers. Counts the
/// bytes received, so that the test knows a call is in flight.
async fn silent_peer() -> (String, Arc<AtomicU64>) {
    let port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), received)
}

/// What the samples of one service's sessions saw.
#[derive(Debug, Default)]
struct Samples {
    taken: usize,
    /// Samples in which a session of the service had been idle in
    /// transaction for longer than [`HELD`].
    idle_in_tx: usize,
    /// The longest a session had been idle in transaction when sampled.
    longest: Duration,
}

/// Idle in transaction for longer than this is a transaction held across
/// something other than its own statements: a hanging call holds it for
/// seconds, while the service's own short transactions (a sealing step, a
/// Submit) sit between two statements for well under a millisecond.
const HELD: Duration = Duration::from_millis(100);

/// Samples `app`'s sessions every 50 ms for `span`.
async fn sample(sys: &System, app: &str, span: Duration) -> Samples {
    let mut db = sys.db("public").await.expect("db");
    let mut s = Samples::default();
    let until = Instant::now() + span;
    while Instant::now() < until {
        let (n, secs): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), max(extract(epoch FROM now() - state_change))::float8 \
             FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 \
             AND state LIKE 'idle in transaction%' \
             AND now() - state_change > make_interval(secs => $3)",
        )
        .bind(sys.db_name())
        .bind(app)
        .bind(HELD.as_secs_f64())
        .fetch_one(&mut db)
        .await
        .expect("pg_stat_activity");
        s.taken += 1;
        if n > 0 {
            s.idle_in_tx += 1;
            s.longest = s.longest.max(Duration::from_secs_f64(secs.unwrap_or(0.0)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s
}

async fn pending(sys: &System, schema: &str, table: &str) -> i64 {
    let mut db = sys.db(schema).await.expect("db");
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut db)
        .await
        .expect("count")
}

/// Waits until the silent peer has been sent a call (beyond the HTTP/2
/// preface and settings of a new connection).
async fn call_in_flight(received: &AtomicU64) {
    eventually(
        Duration::from_secs(20),
        "a call to the silent peer",
        || async { (received.load(Ordering::SeqCst) > 200).then_some(()) },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_hold_no_transaction_across_the_peer_call() {
    let mut sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut intake = sys.intake().await;
    // A first ticket all the way through: intake has saved the catalogue
    // codes, so it starts again without dispatch.
    let first = intake
        .submit(heating_request("outbox-warm"))
        .await
        .expect("submitted")
        .into_inner()
        .ticket_no;
    assignments_of(&sys, &first).await;

    // Intake's relay against a dispatch that never answers.
    let (silent, received) = silent_peer().await;
    sys.restart_with("intake", &[("HOTLINE_DISPATCH_URL", silent)])
        .await
        .expect("intake restarts");
    let mut intake = sys.intake().await;
    let mut tickets = Vec::new();
    for i in 0..3 {
        let t = intake
            .submit(heating_request(&format!("outbox-intake-{i}")))
            .await
            .expect("submitted")
            .into_inner();
        tickets.push(t.ticket_no);
    }
    call_in_flight(&received).await;
    assert_eq!(pending(&sys, "intake", "dispatch_outbox").await, 3);
    let s = sample(&sys, "intake", Duration::from_secs(4)).await;
    println!("intake relay, calls hanging: {s:?}");
    assert!(s.taken >= 20, "{s:?}");
    assert_eq!(
        s.idle_in_tx, 0,
        "intake held a transaction open while its call to dispatch hung: {s:?}"
    );
    assert_eq!(
        pending(&sys, "intake", "dispatch_outbox").await,
        3,
        "rows still pending"
    );

    // Dispatch's relay against an undertaking that never answers; intake
    // back to the real dispatch hands the three tickets over.
    let (silent, received) = silent_peer().await;
    sys.restart_with("dispatch", &[("HOTLINE_UNDERTAKING_URL", silent)])
        .await
        .expect("dispatch restarts");
    sys.restart("intake").await.expect("intake restarts");
    let dispatch = sys.dispatch().await;
    for no in &tickets {
        let no = no.clone();
        eventually(Duration::from_secs(30), "the ticket routed", || {
            let (mut d, no) = (dispatch.clone(), no.clone());
            async move {
                d.get_routing(GetRoutingRequest { ticket_no: no })
                    .await
                    .ok()
            }
        })
        .await;
    }
    call_in_flight(&received).await;
    let s = sample(&sys, "dispatch", Duration::from_secs(4)).await;
    println!("dispatch relay, calls hanging: {s:?}");
    assert!(s.taken >= 20, "{s:?}");
    assert_eq!(
        s.idle_in_tx, 0,
        "dispatch held a transaction open while its call to undertaking hung: {s:?}"
    );
    assert_eq!(pending(&sys, "dispatch", "undertaking_outbox").await, 3);

    // The real undertaking: every ticket arrives, no outbox row is left,
    // and intake stopped each dispatch clock with the row it delivered.
    sys.restart("dispatch").await.expect("dispatch restarts");
    for no in &tickets {
        assert!(!assignments_of(&sys, no).await.is_empty(), "{no} assigned");
    }
    eventually(Duration::from_secs(30), "the outboxes emptied", || async {
        (pending(&sys, "intake", "dispatch_outbox").await == 0
            && pending(&sys, "dispatch", "undertaking_outbox").await == 0)
            .then_some(())
    })
    .await;
    let mut db = sys.db("intake").await.expect("db");
    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clocks WHERE stage = 'dispatch' AND stopped_at IS NULL \
         AND ticket_no = ANY($1)",
    )
    .bind(&tickets)
    .fetch_one(&mut db)
    .await
    .expect("clocks");
    assert_eq!(running, 0, "dispatch clocks stopped once dispatched");
}
