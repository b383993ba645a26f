//! What the evaluation's end-to-end test drives the services with: its
//! seconds-long policy, the identities, the steps of a ticket, and the reads
//! of the evaluation it checks.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Days, Utc};
use hotline_common::auth::Role;
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::supervision::v1::*;
use hotline_proto::undertaking::v1::Assignment;
use hotline_tests::supervision::until_past;
use hotline_tests::{
    Authed, System, assignments_of, eventually, heating_request, lead_answers, sign_as_lead,
    submit_co_parts,
};
use tonic::Code;
use tonic_types::StatusExt;

pub const PATIENCE: Duration = Duration::from_secs(60);

/// Emergency sign-off in 10 s (time to sign at once, and to be late on
/// purpose); feedback in an hour; return visits of seconds; an evaluation
/// version from 2020 with equal weights, 基本满意 and partly resolved at 0.5.
pub const POLICY: &str = r#"
name = "test-evaluation"
[return_visits]
visit = "all"
limit = "600s"
retry_after = "1s"
max_attempts = 2
take_lease = "60s"
[evaluation]
time_zone = "Asia/Shanghai"
[[evaluation.versions]]
name = "test-2020"
from = "2020-01"
partly_resolved = 0.5
levels = { very_satisfied = 1.0, satisfied = 1.0, basically_satisfied = 0.5, dissatisfied = 0.0, very_dissatisfied = 0.0 }
weights.district_government = { response = 0.25, resolution = 0.25, satisfaction = 0.25, rating = 0.25 }
weights.street = { response = 0.25, resolution = 0.25, satisfaction = 0.25, rating = 0.25 }
weights.department = { response = 0.25, resolution = 0.25, satisfaction = 0.25, rating = 0.25 }
weights.utility = { response = 0.25, resolution = 0.25, satisfaction = 0.25, rating = 0.25 }
[tiers.emergency]
dispatch = "1h"
sign_off = "10s"
feedback = "1h"
[tiers.basic_livelihood]
dispatch = "2h"
sign_off = "2h"
feedback = "24h"
[tiers.general]
dispatch = "24h"
sign_off = "24h"
feedback = "7d"
"#;

/// The system on [`POLICY`].
pub async fn start() -> System {
    System::start(hotline_tests::Options {
        policy: Some(POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

pub async fn supervision_as(
    sys: &System,
    roles: &[Role],
    unit: Option<&str>,
) -> SupervisionServiceClient<Authed> {
    sys.supervision_as(roles, unit).await
}

pub async fn intake_as(
    sys: &System,
    roles: &[Role],
    unit: Option<&str>,
) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(sys.channel_with("intake", sys.token(roles, unit)).await)
}

/// Yesterday to tomorrow in Beijing: every fact of the test is in it,
/// whatever the hour the test runs.
pub fn period() -> String {
    let today = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    format!(
        "{}..{}",
        today.checked_sub_days(Days::new(1)).unwrap(),
        today.checked_add_days(Days::new(1)).unwrap()
    )
}

pub async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

pub fn lead_of(a: &[Assignment]) -> Assignment {
    a.iter()
        .find(|x| x.role == AssignmentRole::Lead as i32)
        .expect("a lead")
        .clone()
}

/// The lead signs (after its deadline when `late`) and answers.
pub async fn lead_signs_and_answers(sys: &System, no: &str, late: bool) {
    submit_co_parts(sys, no).await;
    if late {
        until_past(&lead_of(&assignments_of(sys, no).await).sign_deadline).await;
    }
    let lead = sign_as_lead(sys, no).await;
    lead_answers(sys, &lead, "已协调热力站调整供热参数，室温恢复。").await;
}

/// Takes the visit of each ticket in turn and records it reached with
/// the given answers; returns the contacts made, by ticket.
pub async fn visit_all(
    sys: &System,
    answers: &[(&str, Resolution, SatisfactionLevel)],
) -> Vec<(String, Contact)> {
    let mut visitor = intake_as(sys, &[Role::ReturnVisit], None).await;
    let mut contacts = Vec::new();
    while contacts.len() < answers.len() {
        let taken = eventually(PATIENCE, "a visit due", || {
            let mut v = visitor.clone();
            async move {
                v.take_return_visit(TakeReturnVisitRequest::default())
                    .await
                    .ok()?
                    .into_inner()
                    .visit
            }
        })
        .await;
        let (_, resolution, level) = answers
            .iter()
            .find(|(no, _, _)| *no == taken.ticket_no)
            .expect("a visit of one of the tickets");
        let r = visitor
            .record_visit_attempt(RecordVisitAttemptRequest {
                visit_id: taken.visit_id.clone(),
                result: VisitAttemptResult::Reached as i32,
                unit_contacted: true,
                resolution: *resolution as i32,
                satisfaction: *level as i32,
                ..Default::default()
            })
            .await
            .expect("reached")
            .into_inner();
        contacts.push((taken.ticket_no.clone(), r.contact.expect("a contact")));
    }
    contacts
}

pub async fn line(
    sup: &mut SupervisionServiceClient<Authed>,
    unit: &str,
) -> Option<EvaluationLine> {
    sup.get_evaluation(GetEvaluationRequest {
        period: period(),
        unit_id: unit.into(),
        page_size: 500,
        ..Default::default()
    })
    .await
    .expect("evaluation")
    .into_inner()
    .lines
    .into_iter()
    .find(|l| l.unit_id == unit)
}

pub fn nums(l: &EvaluationLine) -> [(f64, i64); 4] {
    let r = |x: &Option<Rate>| {
        let x = x.as_ref().expect("a rate");
        (x.numerator, x.denominator)
    };
    [
        r(&l.response),
        r(&l.resolution),
        r(&l.satisfaction),
        r(&l.rating),
    ]
}

/// Waits until the unit's numbers are these (numerator, denominator) for
/// response, resolution, satisfaction, rating.
pub async fn until_numbers(sys: &System, unit: &str, want: [(f64, i64); 4]) -> EvaluationLine {
    let sup = supervision_as(sys, &[Role::Supervisor], None).await;
    eventually(PATIENCE, &format!("{unit}'s numbers {want:?}"), || {
        let mut s = sup.clone();
        async move { line(&mut s, unit).await.filter(|l| nums(l) == want) }
    })
    .await
}

pub async fn explain(
    sys: &System,
    unit: &str,
    metric: EvaluationMetric,
    side: EvaluationSide,
) -> Vec<ExplainedItem> {
    let mut sup = supervision_as(sys, &[Role::Leader], None).await;
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = sup
            .explain_evaluation(ExplainEvaluationRequest {
                unit_id: unit.into(),
                period: period(),
                metric: metric as i32,
                side: side as i32,
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("explain")
            .into_inner();
        assert_eq!(page.policy_version, "test-2020");
        all.extend(page.items);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

/// The period's recount from the raw events, as ops runs it.
pub async fn recount(sys: &System) -> RecountEvaluationResponse {
    supervision_as(sys, &[Role::Ops], None)
        .await
        .recount_evaluation(RecountEvaluationRequest { period: period() })
        .await
        .expect("recount")
        .into_inner()
}

pub fn tickets(items: &[ExplainedItem]) -> BTreeSet<String> {
    items.iter().map(|i| i.ticket_no.clone()).collect()
}

pub fn set(t: &[&String]) -> BTreeSet<String> {
    t.iter().map(|s| s.to_string()).collect()
}

pub fn names(e: &tonic::Status, fields: &[&str]) {
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    let bad = e.get_details_bad_request().expect("BadRequest");
    let named: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(named, fields, "{}", e.message());
}

pub use hotline_tests::reason_of;
