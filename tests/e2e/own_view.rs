//! The requester's own view through gRPC: a requester (through a channel
//! system) reads their ticket's status, stages and answer with its number
//! and phone; another ticket, an anonymous one and a wrong phone are the
//! same NOT_FOUND; wrong tries close the view for a while.

mod support;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Requester, Stage, TicketStatus};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::{ViewOwnTicketRequest, ViewOwnTicketResponse};
use hotline_tests::{Authed, Options, System, answer_as_lead, heating_request, reason_of};
use support::{hop_assignments, submit};
use tonic::Code;

async fn channel(sys: &System) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(
        sys.channel_with("intake", sys.token(&[Role::Service], None))
            .await,
    )
}

async fn view(sys: &System, no: &str, phone: &str) -> Result<ViewOwnTicketResponse, tonic::Status> {
    channel(sys)
        .await
        .view_own_ticket(ViewOwnTicketRequest {
            ticket_no: no.into(),
            phone: phone.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_reads_their_own_ticket_and_nothing_else() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mine = submit(&sys, heating_request("own-1")).await;
    let mut other = heating_request("own-2");
    other.requester.as_mut().unwrap().phone = "139 0000 1111".into();
    let other = submit(&sys, other).await;
    let mut anonymous = heating_request("own-3");
    anonymous.requester = Some(Requester {
        anonymous: true,
        ..Default::default()
    });
    let anonymous = submit(&sys, anonymous).await;
    hop_assignments(&sys, &mine, 1).await;

    let seen = view(&sys, &mine, "+86 138-0013-8000")
        .await
        .expect("my ticket");
    assert_eq!(seen.ticket_no, mine);
    let stages: Vec<i32> = seen.stages.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Dispatch as i32,
            Stage::SignOff as i32,
            Stage::Feedback as i32
        ]
    );
    assert!(
        seen.stages.iter().all(|s| s.expected_by.is_some()),
        "{seen:?}"
    );
    assert!(seen.answer.is_empty());

    answer_as_lead(&sys, &mine, "已协调供热单位排查，室温恢复至20度。").await;
    let seen = view(&sys, &mine, "13800138000").await.expect("my ticket");
    assert_eq!(seen.status, TicketStatus::Answered as i32);
    assert_eq!(seen.answer, "已协调供热单位排查，室温恢复至20度。");
    assert!(seen.stages[2].done_at.is_some(), "feedback given");

    // Another's ticket, an anonymous one, a ticket that does not exist:
    // all the same NOT_FOUND.
    for no in [other.as_str(), anonymous.as_str(), "BJ999999999999"] {
        let e = view(&sys, no, "13800138000").await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{no}: {}", e.message());
    }
    // Unit staff have no such view.
    let unit = sys
        .channel_with(
            "intake",
            sys.token(&[Role::UnitStaff], Some("bj-heating-group")),
        )
        .await;
    let e = IntakeServiceClient::new(unit)
        .view_own_ticket(ViewOwnTicketRequest {
            ticket_no: mine.clone(),
            phone: "13800138000".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tries_close_the_view_to_that_number() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mine = submit(&sys, heating_request("guess-1")).await;
    let second = submit(&sys, heating_request("guess-2")).await;
    for i in 0..5 {
        let e = view(&sys, &mine, &format!("1390000000{i}"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
    }
    // The right phone too, now: the number is closed for a while.
    let e = view(&sys, &mine, "13800138000").await.unwrap_err();
    reason_of(&e, Code::ResourceExhausted, "GUESSES_EXHAUSTED");
    // Another ticket of the same requester is not closed by them.
    view(&sys, &second, "13800138000")
        .await
        .expect("another number is open");
    // Bad input is named, not counted.
    let e = view(&sys, "BJ1", "").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("phone"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_reads_its_user_s_ticket_by_the_account_it_gave() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let app = |subject: &str| {
        sys.auth.mint(
            subject,
            None,
            &[Role::Service],
            std::time::Duration::from_secs(600),
        )
    };
    let mut from_app = heating_request("acct-1");
    from_app.channel = hotline_proto::common::v1::Channel::App as i32;
    from_app.requester_account = "app-user-42".into();
    let mut ours = IntakeServiceClient::new(sys.channel_with("intake", app("beijing-app")).await);
    let no = ours
        .submit(from_app.clone())
        .await
        .expect("submitted by the app")
        .into_inner()
        .ticket_no;
    let by_account = |account: &str| ViewOwnTicketRequest {
        ticket_no: no.clone(),
        phone: String::new(),
        requester_account: account.into(),
    };
    let seen = ours
        .view_own_ticket(by_account("app-user-42"))
        .await
        .expect("its user's ticket")
        .into_inner();
    assert_eq!(seen.status, TicketStatus::AwaitingAcceptance as i32);
    // Another account, or the same account asked by another system: as a
    // ticket that does not exist.
    let e = ours
        .view_own_ticket(by_account("app-user-43"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let mut theirs =
        IntakeServiceClient::new(sys.channel_with("intake", app("other-portal")).await);
    let e = theirs
        .view_own_ticket(by_account("app-user-42"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // A phone call has no account.
    let mut phoned = heating_request("acct-2");
    phoned.requester_account = "app-user-42".into();
    let e = ours.submit(phoned).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("requester_account"), "{}", e.message());
}
