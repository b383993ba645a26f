//! Who may hand a ticket to dispatch, through gRPC: only intake's service
//! identity, and only for tickets intake accepted; every field is checked
//! before anything is looked up.

mod support;

use std::time::Duration;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Location, TicketSummary, UrgencyTier};
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
use hotline_proto::dispatch::v1::{GetRoutingRequest, RedispatchTicketRequest, RouteTicketRequest};
use hotline_tests::{Options, System, heating_request};
use support::{dispatch_as_intake, routing_of, submit};
use tonic::Code;

/// A ticket as intake would hand it in, with any number.
fn handed_in(no: &str) -> RouteTicketRequest {
    let now = chrono::Utc::now().timestamp();
    RouteTicketRequest {
        ticket: Some(TicketSummary {
            ticket_no: no.into(),
            category_code: "heating".into(),
            tier: UrgencyTier::Emergency as i32,
            location: Some(Location {
                district_code: "110105".into(),
                street_code: "110105001".into(),
                address: "某小区".into(),
                ..Default::default()
            }),
            accepted_at: Some(prost_types::Timestamp {
                seconds: now,
                nanos: 0,
            }),
            content: "暖气不热".into(),
            ..Default::default()
        }),
        dispatch_deadline: Some(prost_types::Timestamp {
            seconds: now + 3600,
            nanos: 0,
        }),
    }
}

async fn dispatch_as(
    sys: &System,
    subject: &str,
    roles: &[Role],
) -> DispatchServiceClient<hotline_tests::Authed> {
    let token = sys
        .auth
        .mint(subject, None, roles, Duration::from_secs(600));
    DispatchServiceClient::new(sys.channel_with("dispatch", token).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_intake_hands_in_tickets_and_only_those_it_accepted() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let invented = "BJ999999999999";
    // A dispatcher (with every centre role) cannot invent a ticket.
    let e = sys
        .dispatch()
        .await
        .route_ticket(handed_in(invented))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    // Nor can another service.
    let e = dispatch_as(&sys, "undertaking", &[Role::Service])
        .await
        .route_ticket(handed_in(invented))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    // Intake's identity with a number intake never issued: not found, and
    // nothing is stored.
    let mut intake = dispatch_as_intake(&sys).await;
    let e = intake.route_ticket(handed_in(invented)).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    assert!(e.message().contains(invented), "{}", e.message());
    let e = sys
        .dispatch()
        .await
        .get_routing(GetRoutingRequest {
            ticket_no: invented.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::NotFound,
        "the invented ticket was not routed"
    );

    // A ticket intake accepted is routed, and handing it in again returns
    // the same routing.
    let no = submit(&sys, heating_request("real")).await;
    let first = routing_of(&sys, &no).await;
    let again = intake
        .route_ticket(handed_in(&no))
        .await
        .expect("idempotent")
        .into_inner()
        .routing
        .unwrap();
    assert_eq!(again, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fields_are_named_before_anything_is_looked_up() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut intake = dispatch_as_intake(&sys).await;
    let mut req = handed_in("BJ00000\u{0}0001");
    req.ticket
        .as_mut()
        .unwrap()
        .location
        .as_mut()
        .unwrap()
        .street_code = "1101\u{0}05001".into();
    let e = intake.route_ticket(req).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    for field in ["ticket.ticket_no", "ticket.location.street_code"] {
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    let e = intake
        .route_ticket(RouteTicketRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("ticket: required"), "{}", e.message());

    // A re-dispatch naming a return that is not an id is told so.
    let no = submit(&sys, heating_request("redispatch-fields")).await;
    routing_of(&sys, &no).await;
    let e = sys
        .dispatch()
        .await
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "核实".into(),
            return_id: "r\u{0}1".into(),
            target: Some(Target::ManualQueue(true)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("return_id"), "{}", e.message());
    assert!(
        !sys.log("dispatch").contains("internal error"),
        "dispatch logged an internal error"
    );
}
