//! Acceptance (受理) of requests that do not come by phone, through gRPC: on
//! Beijing's policy an app's request waits for an operator, is not sent to
//! dispatch until accepted (a phone request after it is routed first), and
//! is accepted once; on a policy of a second, a request left waiting gets
//! the centre urged and a supervision case on its acceptance stage; a
//! request refused (不予受理) is closed, never dispatched, never urged, and
//! its requester reads the ground and the explanation.

mod support;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Channel, Stage, TicketStatus, UrgencyTier};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_tests::supervision::{cases, of_stage, urges};
use hotline_tests::{Authed, FAST_POLICY, Options, System, eventually, heating_request, reason_of};
use support::{never_routed, routing_of, submit};
use tonic::Code;

async fn desk(sys: &System, role: Role) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(sys.channel_with("intake", sys.token(&[role], None)).await)
}

fn from_app(key: &str) -> SubmitRequest {
    let mut r = heating_request(key);
    r.channel = Channel::App as i32;
    r.tier = UrgencyTier::General as i32;
    r
}

fn accept(no: &str, key: &str) -> AcceptRequestRequest {
    AcceptRequestRequest {
        ticket_no: no.into(),
        idempotency_key: key.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_from_the_app_waits_for_an_operator_and_is_accepted_once() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let sent = desk(&sys, Role::Service)
        .await
        .submit(from_app("app-1"))
        .await
        .expect("received")
        .into_inner();
    assert_eq!(sent.status, TicketStatus::AwaitingAcceptance as i32);
    let no = sent.ticket_no;
    assert_eq!(
        support::ticket_of(&sys, &no).await.status,
        TicketStatus::AwaitingAcceptance as i32
    );
    let queue = desk(&sys, Role::Operator)
        .await
        .list_awaiting_acceptance(ListAwaitingAcceptanceRequest::default())
        .await
        .expect("the queue")
        .into_inner()
        .requests;
    assert_eq!(queue.len(), 1);
    let waiting = &queue[0];
    assert_eq!(waiting.ticket.as_ref().unwrap().ticket_no, no);
    let (received, by) = (
        waiting.received_at.as_ref().unwrap().seconds,
        waiting.accept_by.as_ref().unwrap().seconds,
    );
    assert_eq!(by - received, 2 * 3600, "Beijing's two hours");

    // Not sent to dispatch: a phone request after it is routed, it is not.
    let phoned = submit(&sys, heating_request("phone-1")).await;
    routing_of(&sys, &phoned).await;
    never_routed(&sys, &no).await;

    // Accepted: sent on, once; a retry with the key answers the same.
    let mut op = desk(&sys, Role::Operator).await;
    let accepted = op
        .accept_request(accept(&no, "acc-1"))
        .await
        .expect("accepted")
        .into_inner();
    assert!(accepted.accepted_at.unwrap().seconds >= received);
    let again = op
        .accept_request(accept(&no, "acc-1"))
        .await
        .expect("the same answer")
        .into_inner();
    assert_eq!(again.accepted_at, accepted.accepted_at);
    routing_of(&sys, &no).await;
    let e = op.accept_request(accept(&no, "acc-2")).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "NOT_AWAITING_ACCEPTANCE");
    let e = op
        .accept_request(accept(&phoned, "acc-3"))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "NOT_AWAITING_ACCEPTANCE");
    assert!(
        desk(&sys, Role::Operator)
            .await
            .list_awaiting_acceptance(ListAwaitingAcceptanceRequest::default())
            .await
            .expect("the queue")
            .into_inner()
            .requests
            .is_empty()
    );
    let e = desk(&sys, Role::Dispatcher)
        .await
        .accept_request(accept(&no, "acc-4"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let actions = sys.audit_actions("intake", &no).await;
    assert!(
        actions.contains(&"ticket.received".to_string())
            && actions.contains(&"ticket.accepted".to_string()),
        "{actions:?}"
    );
}

/// A system on the fast policy whose app requests wait two seconds for
/// acceptance.
async fn reviewing_the_app_for_2s() -> System {
    let policy = format!("{FAST_POLICY}\n[acceptance]\nlimit = \"2s\"\nchannels = [\"app\"]\n");
    System::start(Options {
        policy: Some(policy),
        ..Default::default()
    })
    .await
    .expect("system starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_left_waiting_gets_the_centre_urged_and_supervised() {
    let sys = reviewing_the_app_for_2s().await;
    let no = desk(&sys, Role::Service)
        .await
        .submit(from_app("late-1"))
        .await
        .expect("received")
        .into_inner()
        .ticket_no;
    eventually(
        std::time::Duration::from_secs(20),
        "the acceptance urged and supervised",
        || async {
            let u = urges(&sys, &no).await;
            let c = cases(&sys, &no).await;
            (of_stage(&u, Stage::Acceptance, |x| x.stage) == 1
                && of_stage(&c, Stage::Acceptance, |x| x.stage) == 1)
                .then_some(())
        },
    )
    .await;
    // Accepted late: it goes on to dispatch all the same.
    desk(&sys, Role::Operator)
        .await
        .accept_request(accept(&no, "late-acc"))
        .await
        .expect("accepted late");
    routing_of(&sys, &no).await;
}

fn refuse(no: &str, key: &str) -> RefuseRequestRequest {
    RefuseRequestRequest {
        ticket_no: no.into(),
        ground: RefusalGround::LawfulChannel as i32,
        explanation: "该事项已进入诉讼程序，请通过人民法院依法解决".into(),
        idempotency_key: key.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_closed_never_dispatched_nor_urged_and_its_requester_is_told() {
    let sys = reviewing_the_app_for_2s().await;
    let mut channel = desk(&sys, Role::Service).await;
    let no = channel
        .submit(from_app("refused-1"))
        .await
        .expect("received")
        .into_inner()
        .ticket_no;
    let mut op = desk(&sys, Role::Operator).await;
    let refused = op
        .refuse_request(refuse(&no, "ref-1"))
        .await
        .expect("refused")
        .into_inner();
    assert_eq!(
        refused.ticket.as_ref().unwrap().status,
        TicketStatus::Refused as i32
    );
    let refusal = refused.refusal.clone().expect("the refusal");
    assert_eq!(refusal.ground, RefusalGround::LawfulChannel as i32);
    let again = op
        .refuse_request(refuse(&no, "ref-1"))
        .await
        .expect("the same answer")
        .into_inner();
    assert_eq!(again.refusal, Some(refusal.clone()));

    // Decided once: neither accepted nor refused again.
    let e = op.accept_request(accept(&no, "acc-r")).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "NOT_AWAITING_ACCEPTANCE");
    assert!(e.message().contains("refused"), "{}", e.message());
    let e = op.refuse_request(refuse(&no, "ref-2")).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "NOT_AWAITING_ACCEPTANCE");
    let e = desk(&sys, Role::Dispatcher)
        .await
        .refuse_request(refuse(&no, "ref-3"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let mut blank = refuse(&no, "ref-4");
    blank.ground = 0;
    blank.explanation = " ".into();
    let e = op.refuse_request(blank).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("ground") && e.message().contains("explanation"),
        "{}",
        e.message()
    );

    // The ticket reads as refused; the requester is told why.
    let t = desk(&sys, Role::Operator)
        .await
        .get_ticket(GetTicketRequest {
            ticket_no: no.clone(),
        })
        .await
        .expect("the ticket")
        .into_inner();
    assert_eq!(t.ticket.unwrap().status, TicketStatus::Refused as i32);
    assert_eq!(t.refusal, Some(refusal.clone()));
    let own = channel
        .view_own_ticket(ViewOwnTicketRequest {
            ticket_no: no.clone(),
            phone: "13800138000".into(),
            ..Default::default()
        })
        .await
        .expect("the requester's view")
        .into_inner();
    assert_eq!(own.status, TicketStatus::Refused as i32);
    assert_eq!(own.refusal_ground, RefusalGround::LawfulChannel as i32);
    assert_eq!(own.answer, refusal.explanation);
    assert_eq!(own.answered_at, refusal.refused_at);

    // A request received after it and left waiting is urged and routed
    // once accepted: by then the refused one would have been urged, and
    // sent to dispatch, had its clock run or had it been handed over.
    let sentinel = channel
        .submit(from_app("sentinel-1"))
        .await
        .expect("received")
        .into_inner()
        .ticket_no;
    eventually(
        std::time::Duration::from_secs(20),
        "the later request urged",
        || async {
            (of_stage(&urges(&sys, &sentinel).await, Stage::Acceptance, |x| {
                x.stage
            }) == 1)
                .then_some(())
        },
    )
    .await;
    op.accept_request(accept(&sentinel, "acc-s"))
        .await
        .expect("accepted");
    routing_of(&sys, &sentinel).await;
    assert!(
        urges(&sys, &no).await.is_empty(),
        "the refused request was urged"
    );
    assert!(
        cases(&sys, &no).await.is_empty(),
        "the refused request was supervised"
    );
    never_routed(&sys, &no).await;
    let actions = sys.audit_actions("intake", &no).await;
    assert!(
        actions.contains(&"ticket.received".to_string())
            && actions.contains(&"ticket.refused".to_string())
            && !actions.contains(&"ticket.accepted".to_string()),
        "{actions:?}"
    );
}
