//! Request types and what an operator may leave open, through gRPC: a
//! forwarded complaint found again by its system's reference, a type's own
//! limits from the policy, a category left open waiting for a dispatcher,
//! and a matter across two districts with the other district as co-unit.

mod support;

use chrono::{DateTime, Utc};
use hotline_common::auth::Role;
use hotline_common::time::from_proto;
use hotline_proto::common::v1::{Channel, RequestType, TicketStatus};
use hotline_proto::dispatch::v1::RoutingBasis;
use hotline_proto::intake::v1::{FindTicketsRequest, GetTicketRequest};
use hotline_tests::{FAST_POLICY, Options, System, ticket_status};
use support::{hop_assignments, lead, request, routing_of, submit};
use tonic::Code;

fn at(t: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    from_proto(t.as_ref().expect("a time"), "t").expect("a valid time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_complaint_keeps_its_type_and_reference() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut r = request("fwd-1", "heating", "110105", "");
    r.channel = Channel::GovernmentSystem as i32;
    r.request_type = RequestType::Complaint as i32;
    r.external_ref = "GOV-2026-0001234".into();
    let no = submit(&sys, r.clone()).await;
    let mut other = r.clone();
    other.idempotency_key = "fwd-2".into();
    other.external_ref = "GOV-2026-0009999".into();
    submit(&sys, other).await;

    let t = sys
        .intake()
        .await
        .get_ticket(GetTicketRequest {
            ticket_no: no.clone(),
        })
        .await
        .expect("ticket read")
        .into_inner()
        .ticket
        .expect("a ticket");
    assert_eq!(t.request_type, RequestType::Complaint as i32);
    assert_eq!(t.external_ref, "GOV-2026-0001234");

    let found = sys
        .intake()
        .await
        .find_tickets(FindTicketsRequest {
            external_ref: "GOV-2026-0001234".into(),
            channel: Channel::Unspecified as i32,
        })
        .await
        .expect("found")
        .into_inner()
        .tickets;
    assert_eq!(
        found
            .iter()
            .map(|f| f.ticket_no.as_str())
            .collect::<Vec<_>>(),
        [no.as_str()],
        "only the ticket filed under that reference"
    );
    assert_eq!(found[0].request_type, RequestType::Complaint as i32);
    let by_phone = sys
        .intake()
        .await
        .find_tickets(FindTicketsRequest {
            external_ref: "GOV-2026-0001234".into(),
            channel: Channel::Phone as i32,
        })
        .await
        .expect("found")
        .into_inner()
        .tickets;
    assert!(
        by_phone.is_empty(),
        "narrowed to a channel it did not come by"
    );

    // The assignment carries the type to the unit.
    let a = hop_assignments(&sys, &no, 1).await;
    let ticket = lead(&a).ticket.clone().expect("the ticket");
    assert_eq!(ticket.request_type, RequestType::Complaint as i32);
    assert_eq!(ticket.external_ref, "GOV-2026-0001234");

    // Bad input is named; unit staff do not search references.
    let mut bad = r.clone();
    bad.idempotency_key = "fwd-3".into();
    bad.request_type = 99;
    bad.channel = Channel::Phone as i32;
    let e = sys.intake().await.submit(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("request_type"), "{}", e.message());
    assert!(e.message().contains("external_ref"), "{}", e.message());
    let unit = sys
        .channel_with(
            "intake",
            sys.token(&[Role::UnitStaff], Some("bj-heating-group")),
        )
        .await;
    let e = hotline_proto::intake::v1::intake_service_client::IntakeServiceClient::new(unit)
        .find_tickets(FindTicketsRequest {
            external_ref: "GOV-2026-0001234".into(),
            channel: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_gets_its_own_limits_and_urgency_keeps_the_tiers() {
    let policy = format!("{FAST_POLICY}\n[request_types.consultation]\nfeedback = \"15s\"\n");
    let sys = System::start(Options {
        policy: Some(policy),
        ..Default::default()
    })
    .await
    .expect("system starts");
    let mut general = request("lim-1", "noise", "110105", "");
    general.tier = hotline_proto::common::v1::UrgencyTier::General as i32;
    general.request_type = RequestType::Consultation as i32;
    let mut help = general.clone();
    help.idempotency_key = "lim-2".into();
    help.request_type = RequestType::Help as i32;
    let consultation = submit(&sys, general).await;
    let help = submit(&sys, help).await;
    let span = |no: String| {
        let sys = &sys;
        async move {
            let a = hop_assignments(sys, &no, 1).await;
            let a = lead(&a);
            (at(&a.feedback_deadline) - at(&a.dispatched_at)).num_seconds()
        }
    };
    assert_eq!(span(consultation).await, 15, "the consultation's own limit");
    assert_eq!(span(help).await, 60, "help keeps the general tier's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_category_waits_for_a_dispatcher_and_a_matter_across_districts_has_both() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let open = submit(&sys, request("open-1", "", "110105", "")).await;
    let routing = routing_of(&sys, &open).await;
    assert_eq!(routing.basis, RoutingBasis::ManualQueue as i32);
    assert!(
        routing.reason.contains("category open"),
        "{}",
        routing.reason
    );
    assert_eq!(
        ticket_status(&sys, &open).await,
        TicketStatus::AwaitingManualDispatch
    );

    let mut across = request("span-1", "noise", "110105", "110105001");
    across
        .location
        .as_mut()
        .unwrap()
        .other_district_codes
        .push("110108".into());
    let across = submit(&sys, across).await;
    let a = hop_assignments(&sys, &across, 1).await;
    assert_eq!(lead(&a).unit_id, "street-110105001");
    let mut co: Vec<&str> = a
        .iter()
        .filter(|x| x.unit_id != "street-110105001")
        .map(|x| x.unit_id.as_str())
        .collect();
    co.sort();
    assert_eq!(
        co,
        ["bj-urban-enforcement", "district-gov-110108"],
        "the other district's government joins as co-unit"
    );
}
