//! Clocks over RabbitMQ, with a policy of seconds: urges (催办) and
//! supervision cases (督办) that are never lost and never doubled.

use std::time::Duration;

use hotline_proto::common::v1::{Location, Requester, Stage, UrgencyTier};
use hotline_proto::intake::v1::SubmitRequest;
use hotline_proto::supervision::v1::{
    CaseState, ListCasesRequest, ListUrgesRequest, SupervisionCase, Urge,
};
use hotline_proto::undertaking::v1::{
    Assignment, ListTicketAssignmentsRequest, SignAssignmentRequest,
};
use hotline_tests::{FAST_POLICY, Options, System, eventually};

pub fn emergency(key: &str) -> SubmitRequest {
    SubmitRequest {
        idempotency_key: key.to_string(),
        channel: hotline_proto::common::v1::Channel::App as i32,
        requester: Some(Requester {
            anonymous: true,
            ..Default::default()
        }),
        content: "路口井盖缺失，有行人跌落危险。".into(),
        location: Some(Location {
            district_code: "110108".into(),
            street_code: String::new(),
            address: "中关村大街某路口".into(),
        }),
        // No rule for this category: the district government alone holds it.
        category_code: "other".into(),
        tier: UrgencyTier::Emergency as i32,
        complex: false,
        attachments: vec![],
    }
}

pub async fn fast_system() -> System {
    System::start(Options {
        policy: Some(FAST_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

pub async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(emergency(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

pub async fn assignments(sys: &System, ticket_no: &str) -> Vec<Assignment> {
    let u = sys.undertaking().await;
    eventually(Duration::from_secs(20), "assignments", || {
        let mut u = u.clone();
        let no = ticket_no.to_string();
        async move {
            let a = u
                .list_ticket_assignments(ListTicketAssignmentsRequest { ticket_no: no })
                .await
                .ok()?
                .into_inner()
                .assignments;
            (!a.is_empty()).then_some(a)
        }
    })
    .await
}

pub async fn urges(sys: &System, ticket_no: &str) -> Vec<Urge> {
    sys.supervision()
        .await
        .list_urges(ListUrgesRequest {
            ticket_no: ticket_no.into(),
            ..Default::default()
        })
        .await
        .expect("list urges")
        .into_inner()
        .urges
}

pub async fn cases(sys: &System, ticket_no: &str) -> Vec<SupervisionCase> {
    sys.supervision()
        .await
        .list_cases(ListCasesRequest {
            ticket_no: ticket_no.into(),
            ..Default::default()
        })
        .await
        .expect("list cases")
        .into_inner()
        .cases
}

fn of_stage<T>(items: &[T], stage: Stage, get: impl Fn(&T) -> i32) -> usize {
    items.iter().filter(|x| get(x) == stage as i32).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_emergency_gets_one_urge_then_one_case() {
    let sys = fast_system().await;
    let no = submit(&sys, "unsigned").await;
    let a = assignments(&sys, &no).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].unit_id, "district-gov-110108");

    // Sign-off limit 3 s, urged at 1.5 s; feedback 6 s, urged at 3 s.
    let found = eventually(Duration::from_secs(20), "feedback case", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            let c = cases(sys, &no).await;
            (of_stage(&c, Stage::Feedback, |c| c.stage) > 0).then_some(c)
        }
    })
    .await;
    // Let any duplicate have its chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let u = urges(&sys, &no).await;
    let c = cases(&sys, &no).await;
    assert_eq!(of_stage(&u, Stage::SignOff, |x| x.stage), 1, "{u:?}");
    assert_eq!(of_stage(&u, Stage::Feedback, |x| x.stage), 1, "{u:?}");
    assert_eq!(of_stage(&c, Stage::SignOff, |x| x.stage), 1, "{c:?}");
    assert_eq!(of_stage(&c, Stage::Feedback, |x| x.stage), 1, "{c:?}");
    assert_eq!(
        of_stage(&u, Stage::Dispatch, |x| x.stage),
        0,
        "dispatched in time"
    );
    assert!(found.iter().all(|c| c.unit_id == "district-gov-110108"));
    assert!(c.iter().all(|c| c.state == CaseState::Open as i32));

    // Signing late closes the sign-off case.
    let mut und = sys.undertaking().await;
    und.sign_assignment(SignAssignmentRequest {
        assignment_id: a[0].assignment_id.clone(),
        unit_id: a[0].unit_id.clone(),
    })
    .await
    .expect("late sign");
    eventually(Duration::from_secs(10), "sign-off case closed", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            cases(sys, &no)
                .await
                .iter()
                .any(|c| c.stage == Stage::SignOff as i32 && c.state == CaseState::Closed as i32)
                .then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_in_time_gets_nothing_for_sign_off() {
    let sys = fast_system().await;
    let no = submit(&sys, "in-time").await;
    let a = assignments(&sys, &no).await;
    sys.undertaking()
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: a[0].assignment_id.clone(),
            unit_id: a[0].unit_id.clone(),
        })
        .await
        .expect("sign");
    // Past the sign-off deadline (3 s) and the feedback expiry (6 s).
    eventually(Duration::from_secs(20), "feedback case", || {
        let sys = &sys;
        let no = no.clone();
        async move {
            let c = cases(sys, &no).await;
            (of_stage(&c, Stage::Feedback, |c| c.stage) > 0).then_some(())
        }
    })
    .await;
    let u = urges(&sys, &no).await;
    let c = cases(&sys, &no).await;
    assert_eq!(of_stage(&u, Stage::SignOff, |x| x.stage), 0, "{u:?}");
    assert_eq!(of_stage(&c, Stage::SignOff, |x| x.stage), 0, "{c:?}");
}
