//! Repeats (重复件) and repeated raising (多次反映) through gRPC: the
//! operator is offered a requester's open tickets and alike ones at the
//! same place; a request linked as a repeat goes to no unit; a ticket
//! raised three times is a meeting candidate; the parent's answer closes
//! its repeats, and a closed ticket takes no more.

mod support;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Location, TicketStatus, UrgencyTier};
use hotline_proto::dispatch::v1::GetRoutingRequest;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_proto::supervision::v1::{ListMeetingCandidatesRequest, MeetingCandidateBasis};
use hotline_tests::{
    Authed, Options, System, answer_as_lead, eventually, heating_request, reason_of, ticket_status,
};
use support::{routing_of, submit};
use tonic::Code;

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

async fn desk(sys: &System) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(
        sys.channel_with("intake", sys.token(&[Role::Operator], None))
            .await,
    )
}

/// A general-tier heating request (an emergency would be a meeting
/// candidate already) with the requester's phone and words.
fn heating(key: &str, phone: &str, content: &str) -> SubmitRequest {
    let mut r = heating_request(key);
    r.tier = UrgencyTier::General as i32;
    let who = r.requester.as_mut().unwrap();
    who.phone = phone.into();
    who.return_visit_consent = false;
    r.content = content.into();
    r
}

fn probe(phone: &str, content: &str) -> FindRepeatsRequest {
    FindRepeatsRequest {
        phone: phone.into(),
        location: Some(Location {
            district_code: "110105".into(),
            street_code: "110105001".into(),
            ..Default::default()
        }),
        category_code: "heating".into(),
        content: content.into(),
    }
}

async fn find(sys: &System, p: FindRepeatsRequest) -> Vec<RepeatCandidate> {
    desk(sys)
        .await
        .find_repeats(p)
        .await
        .expect("find repeats")
        .into_inner()
        .candidates
}

async fn get(sys: &System, no: &str) -> GetTicketResponse {
    desk(sys)
        .await
        .get_ticket(GetTicketRequest {
            ticket_no: no.into(),
        })
        .await
        .expect("get ticket")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_goes_to_no_unit_and_closes_with_its_parent() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let parent = submit(
        &sys,
        heating(
            "rep-parent",
            "13811110001",
            "我家暖气不热，室温只有十五度，已经三天了",
        ),
    )
    .await;
    routing_of(&sys, &parent).await;

    // Offered: to the same requester whatever they say, and to a
    // neighbour saying the same; not to a neighbour on another matter.
    let mine = find(&sys, probe("+86 138 1111 0001", "又打电话问一下进展")).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].ticket_no, parent);
    assert_eq!(mine[0].bases, [RepeatBasis::SameRequester as i32]);
    let alike = find(&sys, probe("13922220002", "暖气不热，家里室温才十五度左右")).await;
    assert_eq!(alike.len(), 1, "{alike:?}");
    assert_eq!(alike[0].bases, [RepeatBasis::SamePlace as i32]);
    assert!(alike[0].similarity >= 0.4, "{alike:?}");
    let other = find(&sys, probe("13922220002", "楼上邻居装修电钻声太吵")).await;
    assert!(other.is_empty(), "{other:?}");

    // Linked twice (the second to the first repeat): to the parent each time.
    let mut first = heating("rep-1", "13811110001", "暖气还是不热，第二次反映");
    first.repeat_of = parent.clone();
    let first = desk(&sys)
        .await
        .submit(first)
        .await
        .expect("first repeat")
        .into_inner();
    assert_eq!(first.status, TicketStatus::Accepted as i32);
    let mut second = heating("rep-2", "13922220002", "暖气不热，家里室温才十五度左右");
    second.repeat_of = first.ticket_no.clone();
    let second = submit(&sys, second).await;
    for no in [&first.ticket_no, &second] {
        assert_eq!(get(&sys, no).await.repeat_of, parent, "{no}");
    }
    assert_eq!(get(&sys, &parent).await.times_raised, 3);

    // Raised three times: a meeting candidate for supervision.
    let sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let candidate = eventually(PATIENCE, "the parent a meeting candidate", || {
        let mut sup = sup.clone();
        let parent = parent.clone();
        async move {
            sup.list_meeting_candidates(ListMeetingCandidatesRequest::default())
                .await
                .expect("candidates")
                .into_inner()
                .candidates
                .into_iter()
                .find(|c| c.ticket_no == parent)
        }
    })
    .await;
    assert_eq!(candidate.bases, [MeetingCandidateBasis::RaisedAgain as i32]);
    assert_eq!(candidate.times_raised, 3);

    // Bad links are refused and leave nothing behind.
    let mut with_referral = heating("rep-bad", "13811110001", "暖气不热");
    with_referral.repeat_of = parent.clone();
    with_referral.referral = Some(Referral {
        line: EmergencyLine::Fire119 as i32,
        note: String::new(),
    });
    let e = desk(&sys).await.submit(with_referral).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("repeat_of"), "{}", e.message());
    let mut missing = heating("rep-missing", "13811110001", "暖气不热");
    missing.repeat_of = "BJ999999999999".into();
    let e = desk(&sys).await.submit(missing).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());

    // A repeat is never dispatched: a request submitted after both is
    // routed, and neither repeat has a routing.
    let later = submit(&sys, heating("rep-later", "13933330003", "楼道暖气管漏水")).await;
    routing_of(&sys, &later).await;
    let mut dispatch = sys.dispatch().await;
    for no in [&first.ticket_no, &second] {
        let e = dispatch
            .get_routing(GetRoutingRequest {
                ticket_no: no.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{no}: {}", e.message());
    }

    // The parent's answer closes it (no return visit: consent refused) and
    // both repeats; the requester of a repeat reads the parent's answer.
    answer_as_lead(&sys, &parent, "已协调热力公司调整管网，室温恢复至20度。").await;
    for no in [&parent, &first.ticket_no, &second] {
        eventually(PATIENCE, "closed", || async {
            (ticket_status(&sys, no).await == TicketStatus::Closed).then_some(())
        })
        .await;
    }
    let own = IntakeServiceClient::new(
        sys.channel_with("intake", sys.token(&[Role::Service], None))
            .await,
    )
    .view_own_ticket(ViewOwnTicketRequest {
        ticket_no: second.clone(),
        phone: "13922220002".into(),
        ..Default::default()
    })
    .await
    .expect("own view of a repeat")
    .into_inner();
    assert_eq!(own.repeat_of, parent);
    assert_eq!(own.status, TicketStatus::Closed as i32);
    assert_eq!(own.answer, "已协调热力公司调整管网，室温恢复至20度。");

    // Closed: no longer offered, and no longer takes repeats.
    assert!(
        find(&sys, probe("13811110001", "暖气不热，室温低"))
            .await
            .is_empty()
    );
    let mut late = heating("rep-late", "13811110001", "暖气不热");
    late.repeat_of = parent.clone();
    let e = desk(&sys).await.submit(late).await.unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "TICKET_CLOSED");
    assert_eq!(meta.get("ticket_no"), Some(&parent));
}
