//! Helpers shared by the end-to-end tests of routing, the catalogue, the
//! lists and privacy: requests, and waiting for what dispatch and
//! undertaking recorded. Each test binary uses some of them.
#![allow(dead_code)]

use std::time::Duration;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{AssignmentRole, Location};
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::{GetRoutingRequest, Routing};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::{GetTicketRequest, GetTimelineRequest, TimelineEntry};
use hotline_proto::undertaking::v1::{Assignment, ReturnAssignmentRequest, ReturnReason};
use hotline_tests::{Authed, System, assignments_of, eventually, heating_request};

pub fn request(
    key: &str,
    category: &str,
    district: &str,
    street: &str,
) -> hotline_proto::intake::v1::SubmitRequest {
    let mut r = heating_request(key);
    r.category_code = category.into();
    r.location = Some(Location {
        district_code: district.into(),
        street_code: street.into(),
        address: "某小区".into(),
        ..Default::default()
    });
    r
}

pub async fn submit(sys: &System, req: hotline_proto::intake::v1::SubmitRequest) -> String {
    sys.intake()
        .await
        .submit(req)
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

/// The routing in force, once dispatch has one.
/// Asserts that dispatch never routed the ticket (NOT_FOUND): to be asked
/// once a later ticket's routing was seen, the sentinel.
pub async fn never_routed(sys: &System, no: &str) {
    let e = sys
        .dispatch()
        .await
        .get_routing(GetRoutingRequest {
            ticket_no: no.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        tonic::Code::NotFound,
        "{no} was routed: {}",
        e.message()
    );
}

pub async fn routing_of(sys: &System, no: &str) -> Routing {
    let d = sys.dispatch().await;
    eventually(Duration::from_secs(30), "the ticket's routing", || {
        let mut d = d.clone();
        let no = no.to_string();
        async move {
            d.get_routing(GetRoutingRequest { ticket_no: no })
                .await
                .ok()?
                .into_inner()
                .routing
        }
    })
    .await
}

/// The open assignments of a hop, once undertaking has recorded it.
pub async fn hop_assignments(sys: &System, no: &str, hop: i32) -> Vec<Assignment> {
    eventually(Duration::from_secs(30), "the hop's assignments", || async {
        let all = assignments_of(sys, no).await;
        let at: Vec<Assignment> = all.into_iter().filter(|a| a.hop == hop).collect();
        (!at.is_empty()).then_some(at)
    })
    .await
}

pub async fn return_lead(sys: &System, a: &Assignment) -> String {
    sys.undertaking_as(&a.unit_id)
        .await
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            reason: ReturnReason::NotOurDuty as i32,
            duty_rule: "本单位三定方案未列此项职责".into(),
            note: String::new(),
            ..Default::default()
        })
        .await
        .expect("the unit returns its assignment")
        .into_inner()
        .assignment_return
        .expect("a return")
        .return_id
}

pub async fn timeline_of(sys: &System, no: &str) -> Vec<TimelineEntry> {
    sys.intake()
        .await
        .get_timeline(GetTimelineRequest {
            ticket_no: no.to_string(),
        })
        .await
        .expect("the timeline")
        .into_inner()
        .entries
}

pub fn lead(all: &[Assignment]) -> &Assignment {
    all.iter()
        .find(|a| a.role == AssignmentRole::Lead as i32)
        .expect("a lead unit")
}

/// Dispatch as intake's own service identity (subject "intake").
pub async fn dispatch_as_intake(sys: &System) -> DispatchServiceClient<Authed> {
    let token = sys
        .auth
        .mint("intake", None, &[Role::Service], Duration::from_secs(600));
    DispatchServiceClient::new(sys.channel_with("dispatch", token).await)
}

/// The requester's (name, phone) of a ticket, as `roles` (of `unit`) see it.
pub async fn requester_seen(
    sys: &System,
    roles: &[Role],
    unit: Option<&str>,
    no: &str,
) -> Result<(String, String), tonic::Status> {
    let r = IntakeServiceClient::new(sys.channel_with("intake", sys.token(roles, unit)).await)
        .get_ticket(GetTicketRequest {
            ticket_no: no.to_string(),
        })
        .await?
        .into_inner()
        .ticket
        .and_then(|t| t.requester)
        .unwrap_or_default();
    Ok((r.name, r.phone))
}

/// The ticket as the centre reads it (GetTicket).
#[allow(dead_code)]
pub async fn ticket_of(sys: &System, no: &str) -> hotline_proto::common::v1::TicketSummary {
    sys.intake()
        .await
        .get_ticket(hotline_proto::intake::v1::GetTicketRequest {
            ticket_no: no.to_string(),
        })
        .await
        .expect("ticket read")
        .into_inner()
        .ticket
        .expect("a ticket")
}
