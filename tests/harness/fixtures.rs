//! Requests and waits shared by the end-to-end tests.

use std::time::{Duration, Instant};

use crate::System;

/// Polls `probe` every 100 ms until it yields a value or `patience` runs
/// out.
pub async fn eventually<T, F, Fut>(patience: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if started.elapsed() > patience {
            panic!("timed out after {patience:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until undertaking has the ticket's assignments, lead unit first.
pub async fn assignments_of(
    sys: &System,
    ticket_no: &str,
) -> Vec<hotline_proto::undertaking::v1::Assignment> {
    let u = sys.undertaking().await;
    eventually(Duration::from_secs(30), "the ticket's assignments", || {
        let mut u = u.clone();
        let no = ticket_no.to_string();
        async move {
            let a = u
                .list_ticket_assignments(
                    hotline_proto::undertaking::v1::ListTicketAssignmentsRequest {
                        ticket_no: no,
                        ..Default::default()
                    },
                )
                .await
                .ok()?
                .into_inner()
                .assignments;
            (!a.is_empty()).then_some(a)
        }
    })
    .await
}

/// A heating request from a named caller in 朝阳区建外街道, emergency tier.
pub fn heating_request(key: &str) -> hotline_proto::intake::v1::SubmitRequest {
    hotline_proto::intake::v1::SubmitRequest {
        idempotency_key: key.to_string(),
        channel: hotline_proto::common::v1::Channel::Phone as i32,
        requester: Some(hotline_proto::common::v1::Requester {
            anonymous: false,
            name: "王女士".into(),
            phone: "13800138000".into(),
            return_visit_consent: true,
            confidential: false,
        }),
        content: "小区暖气不热，室温只有十二度，家里有老人。".into(),
        location: Some(hotline_proto::common::v1::Location {
            district_code: "110105".into(),
            street_code: "110105001".into(),
            address: "建外街道某小区3号楼".into(),
            ..Default::default()
        }),
        category_code: "heating".into(),
        tier: hotline_proto::common::v1::UrgencyTier::Emergency as i32,
        complex: false,
        attachments: vec![],
        ..Default::default()
    }
}

/// Has every co-unit of a ticket sign and submit its part to the lead unit,
/// so that the lead can answer.
pub async fn submit_co_parts(sys: &System, ticket_no: &str) {
    use hotline_proto::common::v1::AssignmentRole;
    use hotline_proto::undertaking::v1::{
        AssignmentState, SignAssignmentRequest, SubmitPartRequest,
    };
    for a in assignments_of(sys, ticket_no).await {
        if a.role != AssignmentRole::Co as i32 {
            continue;
        }
        let mut unit = sys.undertaking_as(&a.unit_id).await;
        if a.state == AssignmentState::PendingSign as i32 {
            unit.sign_assignment(SignAssignmentRequest {
                assignment_id: a.assignment_id.clone(),
                unit_id: a.unit_id.clone(),
                ..Default::default()
            })
            .await
            .expect("co-unit signs");
        }
        unit.submit_part(SubmitPartRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            part: format!("{} 已配合核查", a.unit_id),
            ..Default::default()
        })
        .await
        .expect("co-unit submits its part");
    }
}

/// Has the lead unit of a routed ticket sign; returns its assignment.
pub async fn sign_as_lead(
    sys: &System,
    ticket_no: &str,
) -> hotline_proto::undertaking::v1::Assignment {
    use hotline_proto::common::v1::AssignmentRole;
    use hotline_proto::undertaking::v1::SignAssignmentRequest;
    let lead = assignments_of(sys, ticket_no)
        .await
        .into_iter()
        .find(|a| a.role == AssignmentRole::Lead as i32)
        .expect("a lead");
    sys.undertaking_as(&lead.unit_id)
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            ..Default::default()
        })
        .await
        .expect("lead signs");
    lead
}

/// The lead unit answers its signed assignment "resolved" with `summary`.
pub async fn lead_answers(
    sys: &System,
    lead: &hotline_proto::undertaking::v1::Assignment,
    summary: &str,
) {
    use hotline_proto::common::v1::{Feedback, FeedbackOutcome};
    use hotline_proto::undertaking::v1::SubmitFeedbackRequest;
    sys.undertaking_as(&lead.unit_id)
        .await
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Resolved as i32,
                summary: summary.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("lead answers");
}

/// Takes a routed ticket to its answer: co-units sign and submit their
/// parts, then the lead signs and answers "resolved" with `summary`.
pub async fn answer_as_lead(sys: &System, ticket_no: &str, summary: &str) {
    submit_co_parts(sys, ticket_no).await;
    let lead = sign_as_lead(sys, ticket_no).await;
    lead_answers(sys, &lead, summary).await;
}

/// The ticket's status as intake's GetTicket gives it.
pub async fn ticket_status(
    sys: &System,
    ticket_no: &str,
) -> hotline_proto::common::v1::TicketStatus {
    sys.intake()
        .await
        .get_ticket(hotline_proto::intake::v1::GetTicketRequest {
            ticket_no: ticket_no.into(),
        })
        .await
        .expect("get ticket")
        .into_inner()
        .ticket
        .expect("ticket")
        .status()
}

/// The ticket's status on each of `unit`'s assignments of it, as
/// undertaking lists them to the unit.
pub async fn listed_status(
    sys: &System,
    unit: &str,
    ticket_no: &str,
) -> Vec<hotline_proto::common::v1::TicketStatus> {
    sys.undertaking_as(unit)
        .await
        .list_assignments(hotline_proto::undertaking::v1::ListAssignmentsRequest {
            unit_id: unit.into(),
            ..Default::default()
        })
        .await
        .expect("the unit's list")
        .into_inner()
        .assignments
        .iter()
        .filter(|a| a.ticket_no == ticket_no)
        .map(|a| a.ticket.as_ref().expect("summary").status())
        .collect()
}

/// A dispatcher's re-dispatch of the ticket's hop `hop` to the water
/// group, lead alone.
pub fn to_water(ticket_no: &str, hop: i32) -> hotline_proto::dispatch::v1::RedispatchTicketRequest {
    use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
    hotline_proto::dispatch::v1::RedispatchTicketRequest {
        ticket_no: ticket_no.to_string(),
        hop,
        reason: "改派自来水集团".into(),
        return_id: String::new(),
        target: Some(Target::Units(hotline_proto::dispatch::v1::UnitChoice {
            lead_unit_id: "bj-water-group".into(),
            co_unit_ids: vec![],
        })),
        ..Default::default()
    }
}

/// Tiers of hours (nothing expires during a test), as a policy file gives
/// them.
pub const QUIET_TIERS: &str = r#"[tiers.emergency]
dispatch = "1h"
sign_off = "1h"
feedback = "2h"
[tiers.basic_livelihood]
dispatch = "2h"
sign_off = "2h"
feedback = "24h"
[tiers.general]
dispatch = "24h"
sign_off = "24h"
feedback = "7d"
"#;

/// A policy file of `sections` (name, return visits, ratings, …) and
/// [`QUIET_TIERS`].
pub fn quiet_policy(sections: &str) -> String {
    format!("{sections}\n{QUIET_TIERS}")
}

/// The status is `code` with an ErrorInfo of `reason` in the hotline's
/// domain; its metadata.
pub fn reason_of(
    e: &tonic::Status,
    code: tonic::Code,
    reason: &str,
) -> std::collections::HashMap<String, String> {
    use tonic_types::StatusExt;
    assert_eq!(e.code(), code, "{}", e.message());
    let info = e
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {:?}: {}", e.code(), e.message()));
    assert_eq!(info.reason, reason, "{}", e.message());
    assert_eq!(info.domain, "hotline.gov.cn");
    info.metadata
}
