//! Supervision seen from the tests: a system on the policy of seconds,
//! requests whose clocks run out, the urges and cases they get, deadline
//! events as a clock owner would publish them, and waits that prove what
//! did not happen by a later event rather than by sleeping.

use std::time::Duration;

use hotline_proto::common::v1::{
    DeadlineEvent, DeadlineEventKind, Location, Requester, Stage, UrgencyTier,
};
use hotline_proto::intake::v1::SubmitRequest;
use hotline_proto::supervision::v1::{ListCasesRequest, ListUrgesRequest, SupervisionCase, Urge};
use hotline_proto::undertaking::v1::Assignment;

use crate::{FAST_POLICY, Options, System, eventually};

/// An emergency request the catalogue places with the district government
/// of 海淀区 alone: on the policy of seconds, sign-off in 3 s (urged at
/// 1.5 s), feedback in 6 s (urged at 3 s).
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
            ..Default::default()
        }),
        // No rule for this category: the district government alone holds it.
        category_code: "other".into(),
        tier: UrgencyTier::Emergency as i32,
        complex: false,
        attachments: vec![],
        ..Default::default()
    }
}

/// A system on the policy of seconds ([`FAST_POLICY`]).
pub async fn fast_system() -> System {
    System::start(Options {
        policy: Some(FAST_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

/// Submits an [`emergency`] request and returns its ticket number.
pub async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(emergency(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

/// The ticket's assignments, once undertaking has them.
pub async fn assignments(sys: &System, ticket_no: &str) -> Vec<Assignment> {
    crate::assignments_of(sys, ticket_no).await
}

/// The ticket's urges, newest first.
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

/// The ticket's cases, newest first.
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

/// Waits for the sign-off and feedback urges and cases of a one-unit ticket.
pub async fn urged_and_supervised(sys: &System, no: &str, what: &str) {
    eventually(Duration::from_secs(20), what, || async {
        (urges(sys, no).await.len() == 2 && cases(sys, no).await.len() == 2).then_some(())
    })
    .await;
}

/// How many of `items` concern `stage`.
pub fn of_stage<T>(items: &[T], stage: Stage, get: impl Fn(&T) -> i32) -> usize {
    items.iter().filter(|x| get(x) == stage as i32).count()
}

/// Waits for a later event of undertaking's scheduler to be acted on: a
/// fresh emergency ticket's sign-off case. The scheduler fires timers in
/// the order they fall due and supervision consumes them in that order, so
/// once the case is there every event that fell due before this call (an
/// event caused by the last step of a test, say) has been acted on.
pub async fn later_sentinel(sys: &System) {
    let no = submit(sys, &format!("sentinel-{}", uuid::Uuid::new_v4())).await;
    eventually(Duration::from_secs(30), "the sentinel's case", || async {
        (of_stage(&cases(sys, &no).await, Stage::SignOff, |c| c.stage) == 1).then_some(())
    })
    .await;
}

/// A deadline event for a clock of `a`, as its owner would publish it.
pub fn event_for(
    a: &Assignment,
    stage: Stage,
    kind: DeadlineEventKind,
    kind_name: &str,
) -> DeadlineEvent {
    let clock_id = match stage {
        Stage::SignOff => format!("{}/sign_off/{}", a.ticket_no, a.unit_id),
        Stage::Feedback => format!("{}/feedback/{}", a.ticket_no, a.unit_id),
        other => panic!("no clock of an assignment for {other:?}"),
    };
    let deadline = match stage {
        Stage::SignOff => a.sign_deadline,
        _ => a.feedback_deadline,
    };
    DeadlineEvent {
        event_id: format!("{clock_id}#1#{kind_name}"),
        kind: kind as i32,
        clock_id,
        clock_version: 1,
        ticket_no: a.ticket_no.clone(),
        stage: stage as i32,
        unit_id: a.unit_id.clone(),
        deadline,
        fire_at: Some(ts(chrono::Utc::now())),
    }
}

/// A protobuf timestamp.
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf timestamp that must be set, in chrono.
pub fn time(t: &Option<prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    let t = t.as_ref().expect("timestamp");
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap()
}

/// Sleeps until `t` has passed by half a second.
pub async fn until_past(t: &Option<prost_types::Timestamp>) {
    let wait = (time(t) - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(500)).await;
}

/// An `emergency` request of the basic-livelihood tier: sign-off in 10 s
/// (urged at 5 s), feedback in 20 s (urged at 10 s) on the policy of
/// seconds; time enough to act before a deadline on a loaded machine.
pub fn basic_livelihood(key: &str) -> SubmitRequest {
    SubmitRequest {
        tier: UrgencyTier::BasicLivelihood as i32,
        ..emergency(key)
    }
}

/// Submits a request and returns its ticket number.
pub async fn submit_request(sys: &System, req: SubmitRequest) -> String {
    sys.intake()
        .await
        .submit(req)
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

/// Starts an on-site division as a supervisor once supervision knows its
/// ticket and units (their events may still be on their way): NOT_FOUND
/// and "unknown to the evaluation" are waited out, anything else fails.
pub async fn start_division_when_known(
    sys: &System,
    req: hotline_proto::supervision::v1::StartOnSiteDivisionRequest,
) -> hotline_proto::supervision::v1::OnSiteDivision {
    let sup = sys
        .supervision_as(&[hotline_common::auth::Role::Supervisor], None)
        .await;
    eventually(
        Duration::from_secs(30),
        "the division, once supervision knows the ticket and units",
        || {
            let (mut sup, req) = (sup.clone(), req.clone());
            async move {
                match sup.start_on_site_division(req).await {
                    Ok(r) => r.into_inner().division,
                    Err(e) if e.code() == tonic::Code::NotFound => None,
                    Err(e)
                        if e.code() == tonic::Code::InvalidArgument
                            && e.message().contains("unknown to the evaluation") =>
                    {
                        None
                    }
                    Err(e) => panic!("start: {e:?}"),
                }
            }
        },
    )
    .await
}
