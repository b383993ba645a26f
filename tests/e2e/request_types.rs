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
use hotline_proto::intake::v1::{AcceptRequestRequest, FindTicketsRequest, GetTicketRequest};
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

    let t = support::ticket_of(&sys, &no).await;
    assert_eq!(t.request_type, RequestType::Complaint as i32);
    assert_eq!(t.external_ref, "GOV-2026-0001234");
    // Another system's request waits for an operator (Beijing's policy).
    assert_eq!(t.status, TicketStatus::AwaitingAcceptance as i32);
    sys.intake()
        .await
        .accept_request(AcceptRequestRequest {
            ticket_no: no.clone(),
            idempotency_key: "fwd-accept".into(),
        })
        .await
        .expect("accepted");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_close_at_acceptance_and_marked_callers_are_shown() {
    use hotline_proto::intake::v1::{
        DirectAnswer, EmergencyLine, GetCallerRequest, MarkCallerRequest, Referral,
    };
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let supervisor = sys
        .channel_with("intake", sys.token(&[Role::Supervisor], None))
        .await;
    let mut centre =
        hotline_proto::intake::v1::intake_service_client::IntakeServiceClient::new(supervisor);
    let mark = centre
        .mark_caller(MarkCallerRequest {
            phone: "+86 138 0013 8000".into(),
            malicious: true,
            reason: "多次辱骂话务员，经中心研究决定".into(),
            idempotency_key: "mark-1".into(),
        })
        .await
        .expect("marked")
        .into_inner()
        .mark
        .expect("a mark");
    assert_eq!(mark.phone_digits, "13800138000");
    let operator = sys
        .channel_with("intake", sys.token(&[Role::Operator], None))
        .await;
    let mut desk =
        hotline_proto::intake::v1::intake_service_client::IntakeServiceClient::new(operator);
    let e = desk
        .mark_caller(MarkCallerRequest {
            phone: "13800138000".into(),
            malicious: false,
            reason: "x".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "only the centre marks");
    let seen = desk
        .get_caller(GetCallerRequest {
            phone: "138-0013-8000".into(),
        })
        .await
        .expect("read")
        .into_inner()
        .mark
        .expect("marked");
    assert!(seen.malicious);

    // The marked caller's request is accepted, and the operator told.
    let reply = desk
        .submit(request("marked-1", "heating", "110105", ""))
        .await
        .expect("accepted")
        .into_inner();
    assert!(reply.caller_marked_malicious);
    let mut other = request("unmarked-1", "heating", "110105", "");
    other.requester.as_mut().unwrap().phone = "13900001111".into();
    let reply = desk.submit(other).await.expect("accepted").into_inner();
    assert!(!reply.caller_marked_malicious);
    let actions = sys.audit_actions("intake", "").await;
    assert!(actions.iter().any(|a| a == "caller.marked"), "{actions:?}");

    // A fire reported to 12345: referred to 119, closed, never dispatched.
    let mut fire = request("fire-1", "fire-hazard", "110105", "");
    fire.referral = Some(Referral {
        line: EmergencyLine::Fire119 as i32,
        note: "三方通话转接119".into(),
    });
    let referred = desk
        .submit(fire.clone())
        .await
        .expect("referred")
        .into_inner();
    assert_eq!(referred.status, TicketStatus::Closed as i32);
    let sentinel = submit(&sys, request("after-fire", "heating", "110105", "")).await;
    routing_of(&sys, &sentinel).await;
    let e = sys
        .dispatch()
        .await
        .get_routing(hotline_proto::dispatch::v1::GetRoutingRequest {
            ticket_no: referred.ticket_no.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "never dispatched");
    let t = desk
        .get_ticket(GetTicketRequest {
            ticket_no: referred.ticket_no.clone(),
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(
        t.referral.map(|r| r.line),
        Some(EmergencyLine::Fire119 as i32)
    );
    let actions = sys.audit_actions("intake", &referred.ticket_no).await;
    assert!(
        actions.iter().any(|a| a == "ticket.referred"),
        "{actions:?}"
    );

    // Not referred and answered directly at once; an unknown line named.
    fire.idempotency_key = "fire-2".into();
    fire.direct_answer = Some(DirectAnswer {
        article_id: "KB000001".into(),
        article_version: 1,
        note: String::new(),
    });
    fire.referral.as_mut().unwrap().line = 99;
    let e = desk.submit(fire).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("referral.line") && e.message().contains("not both"),
        "{}",
        e.message()
    );
}
