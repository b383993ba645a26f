//! RabbitMQ restarted while clocks run: no deadline event is lost. Kept in
//! a test binary of its own, since it stops the broker every test uses.

use std::time::Duration;

use hotline_proto::common::v1::{Location, Requester, UrgencyTier};
use hotline_proto::intake::v1::SubmitRequest;
use hotline_proto::supervision::v1::{ListCasesRequest, ListUrgesRequest};
use hotline_tests::{DeadQueue, Options, System, assignments_of, eventually, restart_rabbitmq};

/// Emergency clocks urged early and expiring late: sign-off urged at
/// 2.5 s and expiring at 25 s, feedback urged at 3 s and expiring at 30 s.
/// The broker is down across the urges and back well before the
/// deadlines, so every urge is still due when its event gets through (an
/// urge handled after its deadline is never issued).
const BROKER_POLICY: &str = r#"
name = "test-broker-restart"
feedback_counted_from = "dispatch"
[due_soon]
remaining_fraction = 0.9
max_lead = "1d"
[tiers.emergency]
dispatch = "4s"
sign_off = "25s"
feedback = "30s"
[tiers.basic_livelihood]
dispatch = "8s"
sign_off = "30s"
feedback = "40s"
[tiers.general]
dispatch = "30s"
dispatch_surge = "60s"
sign_off = "30s"
feedback = "60s"
[tiers.complex]
feedback = "120s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_while_clocks_run_loses_nothing() {
    let sys = System::start(Options {
        policy: Some(BROKER_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts");
    let mut intake = sys.intake().await;
    let mut tickets = Vec::new();
    for i in 0..5 {
        let r = intake
            .submit(SubmitRequest {
                idempotency_key: format!("broker-{i}"),
                channel: hotline_proto::common::v1::Channel::Web as i32,
                requester: Some(Requester {
                    anonymous: true,
                    ..Default::default()
                }),
                content: "燃气泄漏气味明显".into(),
                location: Some(Location {
                    district_code: "110106".into(),
                    ..Default::default()
                }),
                category_code: "gas-supply".into(),
                tier: UrgencyTier::Emergency as i32,
                complex: false,
                attachments: vec![],
                ..Default::default()
            })
            .await
            .expect("submit")
            .into_inner();
        tickets.push(r.ticket_no);
    }
    for no in &tickets {
        assignments_of(&sys, no).await;
    }
    // Down across every urge (2.5 s and 3 s after dispatch).
    tokio::task::spawn_blocking(|| restart_rabbitmq(Duration::from_secs(8)))
        .await
        .unwrap()
        .expect("rabbitmq restarts");

    let mut supervision = sys.supervision().await;
    let count = |no: String| {
        let mut s = supervision.clone();
        async move {
            let u = s
                .list_urges(ListUrgesRequest {
                    ticket_no: no.clone(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .urges
                .len();
            let c = s
                .list_cases(ListCasesRequest {
                    ticket_no: no,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .cases
                .len();
            Some((u, c))
        }
    };
    // Each ticket: the lead and co-units each have a sign-off and a
    // feedback clock; every one of them gets one urge and one case.
    let units = assignments_of(&sys, &tickets[0]).await.len();
    eventually(
        Duration::from_secs(90),
        "every urge and case after the restart",
        || {
            let tickets = tickets.clone();
            let count = &count;
            async move {
                for no in tickets {
                    if count(no).await? != (2 * units, 2 * units) {
                        return None;
                    }
                }
                Some(())
            }
        },
    )
    .await;
    // Once a sentinel published now is refused, everything before it has
    // been acted on: no duplicate follows.
    let mut dead = DeadQueue::open(&sys).await.expect("dead-letter queue");
    dead.settled(&sys).await;
    dead.close().await;
    for no in &tickets {
        assert_eq!(
            count(no.clone()).await,
            Some((2 * units, 2 * units)),
            "{no}"
        );
    }
    let _ = &mut supervision;
}
