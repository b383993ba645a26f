//! Routing and re-routing through gRPC: the catalogue across categories and
//! areas, the manual queue, dispatcher overrides, returns (退单) with their
//! rejections, and the transfer flag (多次流转).

mod support;

use std::time::Duration;

use hotline_common::auth::Role;
use hotline_proto::common::v1::Stage;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
use hotline_proto::dispatch::v1::{
    GetRoutingRequest, ListManualQueueRequest, ListTransferredTicketsRequest,
    RedispatchTicketRequest, Reroute, RoutingBasis, SuggestRoutingRequest, UnitChoice,
};
use hotline_proto::intake::v1::TimelineEventKind;
use hotline_proto::supervision::v1::{CaseState, ListCasesRequest};
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentState, GetReturnRequest, ListReturnsRequest, RejectReturnRequest,
    ReturnAssignmentRequest, ReturnReason, ReturnState, SignAssignmentRequest,
};
use hotline_tests::{FAST_POLICY, Options, System, assignments_of, eventually, heating_request};
use support::{hop_assignments, lead, request, return_lead, routing_of, submit, timeline_of};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_routed_by_category_and_area() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // (category, district, street) → lead unit, co-units.
    let cases: [(&str, &str, &str, &str, &[&str]); 6] = [
        ("heating", "110105", "", "bj-heating-group", &["bj-cmc"]),
        // A district rule beats the city-wide one.
        (
            "heating",
            "110116",
            "",
            "district-gov-110116",
            &["bj-heating-group", "bj-cmc"],
        ),
        (
            "water-supply",
            "110108",
            "",
            "bj-water-group",
            &["bj-water-authority"],
        ),
        // Street-level matters go to the street office.
        (
            "noise",
            "110105",
            "110105001",
            "street-110105001",
            &["bj-urban-enforcement"],
        ),
        // ... or, without a street, to the district government.
        (
            "noise",
            "110105",
            "",
            "district-gov-110105",
            &["bj-urban-enforcement"],
        ),
        // No rule: the district government.
        (
            "policy-consultation",
            "110101",
            "",
            "district-gov-110101",
            &[],
        ),
    ];
    for (i, (category, district, street, want_lead, want_co)) in cases.iter().enumerate() {
        let no = submit(
            &sys,
            request(&format!("route-{i}"), category, district, street),
        )
        .await;
        let r = routing_of(&sys, &no).await;
        let units: Vec<&str> = r.units.iter().map(|u| u.unit_id.as_str()).collect();
        assert_eq!(units[0], *want_lead, "{category} in {district}/{street}");
        assert_eq!(&units[1..], *want_co, "{category} in {district}/{street}");
        assert_eq!(r.catalogue_version, "beijing-2026.12.2");
        assert_eq!(r.hop, 1);
        let basis = if *want_lead == format!("district-gov-{district}") && want_co.is_empty() {
            RoutingBasis::DistrictGovernment
        } else {
            RoutingBasis::CatalogueRule
        };
        assert_eq!(r.basis, basis as i32, "{category} in {district}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_district_waits_for_a_dispatcher() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    let no = submit(&sys, request("nowhere", "heating", "", "")).await;
    let r = routing_of(&sys, &no).await;
    assert_eq!(r.basis, RoutingBasis::ManualQueue as i32);
    assert!(r.units.is_empty());
    assert!(r.reason.contains("no district"), "{}", r.reason);
    let queue = dispatch
        .list_manual_queue(ListManualQueueRequest::default())
        .await
        .expect("queue")
        .into_inner()
        .tickets;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].ticket.as_ref().unwrap().ticket_no, no);

    // A catalogue reroute without a district cannot place it.
    let e = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "诉求人补充了地址".into(),
            target: Some(Target::Reroute(Reroute {
                category_code: "heating".into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("reroute.district_code"),
        "{}",
        e.message()
    );

    // The dispatcher checks what the catalogue would suggest.
    let hint = dispatch
        .suggest_routing(SuggestRoutingRequest {
            category_code: "heating".into(),
            district_code: "110105".into(),
            street_code: "110105001".into(),
        })
        .await
        .expect("a suggestion")
        .into_inner();
    assert_eq!(hint.units[0].unit_id, "bj-heating-group");
    assert_eq!(hint.basis, RoutingBasis::CatalogueRule as i32);
    let e = dispatch
        .suggest_routing(SuggestRoutingRequest {
            category_code: "heating".into(),
            district_code: "999999".into(),
            street_code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("district_code"), "{}", e.message());

    // The dispatcher finds the district: the catalogue places it.
    let placed = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "回拨诉求人，确认位于朝阳区建外街道".into(),
            target: Some(Target::Reroute(Reroute {
                district_code: "110105".into(),
                street_code: "110105001".into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .expect("placed")
        .into_inner()
        .routing
        .unwrap();
    assert_eq!((placed.hop, placed.transfers), (2, 0));
    assert_eq!(placed.units[0].unit_id, "bj-heating-group");
    let at = hop_assignments(&sys, &no, 2).await;
    assert_eq!(lead(&at).unit_id, "bj-heating-group");
    assert_eq!(
        at[0]
            .ticket
            .as_ref()
            .unwrap()
            .location
            .as_ref()
            .unwrap()
            .district_code,
        "110105",
        "the unit sees the corrected location"
    );
    assert!(
        dispatch
            .list_manual_queue(ListManualQueueRequest::default())
            .await
            .unwrap()
            .into_inner()
            .tickets
            .is_empty()
    );
    // A second dispatcher acting on the old hop is refused.
    let e = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "重复操作".into(),
            target: Some(Target::ManualQueue(true)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("hop 2"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_travels_through_three_returns_and_is_flagged() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    let mut centre = sys.undertaking().await;
    let no = submit(&sys, heating_request("returns")).await;

    // A return needs a reason code and the duty rule relied on.
    let first = hop_assignments(&sys, &no, 1).await;
    let heat = lead(&first).clone();
    let mut unit = sys.undertaking_as(&heat.unit_id).await;
    let e = unit
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: heat.assignment_id.clone(),
            unit_id: heat.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("reason") && e.message().contains("duty_rule"),
        "{}",
        e.message()
    );

    // Rejected: back to the unit, which then signs for it.
    let rid = return_lead(&sys, &heat).await;
    let a = &hop_assignments(&sys, &no, 1).await;
    assert_eq!(lead(a).state, AssignmentState::ReturnRequested as i32);
    let e = unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: heat.assignment_id.clone(),
            unit_id: heat.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("waiting for the centre"),
        "{}",
        e.message()
    );
    let pending = centre
        .list_returns(ListReturnsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .returns;
    assert_eq!(pending.len(), 1);
    let rejected = centre
        .reject_return(RejectReturnRequest {
            return_id: rid.clone(),
            note: "供热属热力集团职责，请签收办理".into(),
            ..Default::default()
        })
        .await
        .expect("rejected")
        .into_inner()
        .assignment_return
        .unwrap();
    assert_eq!(rejected.state, ReturnState::Rejected as i32);
    let e = centre
        .reject_return(RejectReturnRequest {
            return_id: rid.clone(),
            note: "again".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(
        lead(&hop_assignments(&sys, &no, 1).await).state,
        AssignmentState::PendingSign as i32
    );
    // A rejected return cannot be accepted.
    let e = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "accept".into(),
            return_id: rid.clone(),
            target: Some(Target::ManualQueue(true)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // Three returns, each accepted by a re-dispatch: a dispatcher's choice,
    // a corrected category, and the manual queue then a dispatcher.
    let mut hop = 1;
    let targets = [
        Target::Units(UnitChoice {
            lead_unit_id: "bj-water-group".into(),
            co_unit_ids: vec!["bj-cmc".into()],
        }),
        Target::Reroute(Reroute {
            category_code: "gas-supply".into(),
            ..Default::default()
        }),
        Target::ManualQueue(true),
    ];
    for (n, target) in targets.into_iter().enumerate() {
        let current = hop_assignments(&sys, &no, hop).await;
        let rid = return_lead(&sys, lead(&current)).await;
        let routing = dispatch
            .redispatch_ticket(RedispatchTicketRequest {
                ticket_no: no.clone(),
                hop,
                reason: format!("退单核实属实 {n}"),
                return_id: rid.clone(),
                target: Some(target),
                ..Default::default()
            })
            .await
            .expect("return accepted")
            .into_inner()
            .routing
            .unwrap();
        hop += 1;
        assert_eq!(routing.hop, hop);
        assert_eq!(routing.transfers, n as i32 + 1);
        assert_eq!(routing.many_transfers, n == 2, "after {} transfers", n + 1);
        assert_eq!(routing.return_id, rid);
        // The earlier hop's assignments are withdrawn, the return accepted.
        let before = eventually(Duration::from_secs(30), "the old hop withdrawn", || async {
            let all = assignments_of(&sys, &no).await;
            let old: Vec<Assignment> = all.into_iter().filter(|a| a.hop == hop - 1).collect();
            old.iter()
                .all(|a| a.state == AssignmentState::Withdrawn as i32)
                .then_some(old)
        })
        .await;
        assert!(!before.is_empty());
        let ret = centre
            .get_return(GetReturnRequest { return_id: rid })
            .await
            .unwrap()
            .into_inner()
            .assignment_return
            .unwrap();
        assert_eq!(ret.state, ReturnState::Accepted as i32);
        match n {
            0 => assert_eq!(
                lead(&hop_assignments(&sys, &no, hop).await).unit_id,
                "bj-water-group"
            ),
            1 => {
                let at = hop_assignments(&sys, &no, hop).await;
                assert_eq!(lead(&at).unit_id, "bj-gas-group");
                assert_eq!(at[0].ticket.as_ref().unwrap().category_code, "gas-supply");
            }
            _ => assert_eq!(routing.basis, RoutingBasis::ManualQueue as i32),
        }
    }
    // Transferred three times: flagged for supervision.
    let flagged = dispatch
        .list_transferred_tickets(ListTransferredTicketsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .routings;
    assert_eq!(flagged.len(), 1);
    assert_eq!(
        (flagged[0].ticket_no.as_str(), flagged[0].transfers),
        (no.as_str(), 3)
    );
    let supervisor = sys
        .channel_with("dispatch", sys.token(&[Role::Supervisor], None))
        .await;
    let seen = DispatchServiceClient::new(supervisor)
        .list_transferred_tickets(ListTransferredTicketsRequest::default())
        .await
        .expect("supervision sees the flag")
        .into_inner()
        .routings;
    assert_eq!(seen.len(), 1);

    // From the queue a dispatcher overrides with units of their own choice.
    let placed = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop,
            reason: "多次流转，指定热力集团牵头，城管委协办".into(),
            target: Some(Target::Units(UnitChoice {
                lead_unit_id: "bj-heating-group".into(),
                co_unit_ids: vec!["bj-cmc".into(), "district-gov-110105".into()],
            })),
            ..Default::default()
        })
        .await
        .expect("dispatched from the queue")
        .into_inner()
        .routing
        .unwrap();
    assert_eq!(placed.transfers, 3, "leaving the queue is not a transfer");
    assert_eq!(placed.basis, RoutingBasis::Dispatcher as i32);
    let last = hop_assignments(&sys, &no, hop + 1).await;
    assert_eq!(last.len(), 3);
    let history = dispatch
        .get_routing(GetRoutingRequest {
            ticket_no: no.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .history;
    assert_eq!(
        history.iter().map(|r| r.hop).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    // A signed assignment is not returned.
    let heat = lead(&last).clone();
    let mut unit = sys.undertaking_as(&heat.unit_id).await;
    unit.sign_assignment(SignAssignmentRequest {
        assignment_id: heat.assignment_id.clone(),
        unit_id: heat.unit_id.clone(),
        ..Default::default()
    })
    .await
    .expect("signed");
    let e = unit
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: heat.assignment_id.clone(),
            unit_id: heat.unit_id.clone(),
            reason: ReturnReason::NotOurDuty as i32,
            duty_rule: "x".into(),
            note: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("already signed"), "{}", e.message());
    // The timeline tells the story: four returns, one rejected.
    let timeline = timeline_of(&sys, &no).await;
    let returned: Vec<&str> = timeline
        .iter()
        .filter(|e| e.kind == TimelineEventKind::Returned as i32)
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(returned.len(), 4, "{returned:?}");
    assert_eq!(
        returned.iter().filter(|d| d.contains("rejected")).count(),
        1
    );
    assert!(returned.iter().all(|d| d.contains("not_our_duty")));
    for service in ["dispatch", "undertaking"] {
        let (ok, report) = sys.verify_audit(service);
        assert!(ok, "{service}: {report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_comes_within_the_sign_off_limit() {
    let sys = System::start(Options {
        policy: Some(FAST_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts");
    let no = submit(&sys, heating_request("late-return")).await;
    let a = lead(&hop_assignments(&sys, &no, 1).await).clone();
    // Emergency sign-off is 3 s here.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let e = sys
        .undertaking_as(&a.unit_id)
        .await
        .return_assignment(ReturnAssignmentRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            reason: ReturnReason::NotOurArea as i32,
            duty_rule: "属地管理原则".into(),
            note: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("sign-off limit"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_left_in_the_manual_queue_is_supervised() {
    let sys = System::start(Options {
        policy: Some(FAST_POLICY.to_string()),
        ..Default::default()
    })
    .await
    .expect("system starts");
    // Emergency: 4 s to dispatch, and no district to route by.
    let no = submit(&sys, request("queue-late", "heating", "", "")).await;
    let r = routing_of(&sys, &no).await;
    assert_eq!(r.basis, RoutingBasis::ManualQueue as i32);
    let supervision = sys.supervision().await;
    let cases = |state: CaseState| {
        let s = supervision.clone();
        let no = no.clone();
        async move {
            let found = s
                .clone()
                .list_cases(ListCasesRequest {
                    ticket_no: no,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .cases
                .into_iter()
                .find(|c| c.stage == Stage::ManualDispatch as i32 && c.state == state as i32)?;
            Some(found)
        }
    };
    let open = eventually(Duration::from_secs(30), "a case for the queue wait", || {
        cases(CaseState::Open)
    })
    .await;
    assert_eq!(open.unit_id, "hotline-centre");
    // A dispatcher places it at last: the case closes.
    sys.dispatch()
        .await
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "补充地址后派单".into(),
            target: Some(Target::Reroute(Reroute {
                district_code: "110105".into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .expect("placed");
    eventually(Duration::from_secs(30), "the queue case closed", || {
        cases(CaseState::Closed)
    })
    .await;
}
