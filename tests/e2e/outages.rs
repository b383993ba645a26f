//! A peer's outage and the outbox backlog it leaves are visible: on the
//! metrics port (`hotline_peer_up`, `hotline_outbox_backlog`) and in the
//! log, as each changes state; the service itself stays SERVING.

use std::time::Duration;

use futures_util::future::join_all;
use hotline_tests::load::{Driver, mix};
use hotline_tests::{Options, System, eventually};

const PEER: &str = "hotline_peer_up{peer=\"dispatch\"}";
const BACKLOG: &str = "hotline_outbox_backlog{outbox=\"dispatch_outbox\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_and_its_backlog_show_and_clear() {
    let mut sys = System::start(Options::default())
        .await
        .expect("system starts");
    eventually(Duration::from_secs(20), "dispatch seen up", || async {
        (sys.gauge("intake", PEER).await? == 1.0).then_some(())
    })
    .await;
    assert!(
        sys.log("intake").contains("peer up"),
        "{}",
        sys.log("intake")
    );

    sys.kill("dispatch");
    let driver = Driver::new(&sys).await;
    let kinds = mix();
    // Past the first backlog level (100 rows), 16 at a time.
    for chunk in (0..120).collect::<Vec<_>>().chunks(16) {
        let submits = chunk.iter().map(|i| {
            driver.submit(kinds[i % kinds.len()].request(&format!("{}-outage-{i}", driver.run_id)))
        });
        for r in join_all(submits).await {
            r.expect("intake accepts while dispatch is down");
        }
    }
    driver.stop();
    eventually(
        Duration::from_secs(20),
        "dispatch seen down, 120 rows waiting",
        || async {
            (sys.gauge("intake", PEER).await? == 0.0
                && sys.gauge("intake", BACKLOG).await? >= 120.0)
                .then_some(())
        },
    )
    .await;
    let log = sys.log("intake");
    assert!(log.contains("peer down"), "{log}");
    assert!(log.contains("outbox backlog growing"), "{log}");
    // The outage is a peer's: intake itself still serves.
    sys.wait_healthy("intake", Duration::from_secs(1))
        .await
        .expect("intake serving through dispatch's outage");

    sys.restart("dispatch").await.expect("dispatch restarts");
    eventually(
        Duration::from_secs(60),
        "dispatch up and the backlog drained",
        || async {
            (sys.gauge("intake", PEER).await? == 1.0 && sys.gauge("intake", BACKLOG).await? == 0.0)
                .then_some(())
        },
    )
    .await;
    let log = sys.log("intake");
    assert!(log.contains("peer up again"), "{log}");
    assert!(log.contains("outbox backlog shrinking"), "{log}");
}
