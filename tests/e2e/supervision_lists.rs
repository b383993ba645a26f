//! Supervision's lists through gRPC: pages whose tokens are bound to the
//! filters that issued them, filters applied, bad input named by field,
//! unit staff confined to their own unit.

use hotline_common::auth::Role;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::supervision::v1::{CaseState, ListCasesRequest, ListUrgesRequest};
use hotline_tests::supervision::{assignments, fast_system, submit, time, urged_and_supervised};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_filter_and_name_bad_fields() {
    let sys = fast_system().await;
    let no = submit(&sys, "listed").await;
    let a = assignments(&sys, &no).await.remove(0);
    urged_and_supervised(&sys, &no, "two urges and two cases").await;
    let s = sys.supervision().await;
    let cases = |r: ListCasesRequest| {
        let mut s = s.clone();
        async move { s.list_cases(r).await }
    };
    let mut s = s.clone();
    let by_ticket = ListCasesRequest {
        ticket_no: no.clone(),
        page_size: 1,
        ..Default::default()
    };

    // One by one, newest first, to the end.
    let first = cases(by_ticket.clone()).await.unwrap().into_inner();
    assert_eq!(first.cases.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = cases(ListCasesRequest {
        page_token: first.next_page_token.clone(),
        ..by_ticket.clone()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(second.cases.len(), 1);
    assert_ne!(second.cases[0].case_id, first.cases[0].case_id);
    assert!(time(&first.cases[0].opened_at) >= time(&second.cases[0].opened_at));
    assert!(second.next_page_token.is_empty(), "the last page");

    // A token replayed with other filters is refused.
    let e = cases(ListCasesRequest {
        state: CaseState::Open as i32,
        page_token: first.next_page_token.clone(),
        ..by_ticket.clone()
    })
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("page_token"), "{}", e.message());
    let u = s
        .list_urges(ListUrgesRequest {
            ticket_no: no.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(u.urges.len(), 1);
    let e = s
        .list_urges(ListUrgesRequest {
            unit_id: a.unit_id.clone(),
            page_size: 1,
            page_token: u.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("page_token"), "{}", e.message());

    // The filters are applied.
    let count = |unit: &str, state: CaseState| {
        let r = ListCasesRequest {
            ticket_no: no.clone(),
            unit_id: unit.to_string(),
            state: state as i32,
            ..Default::default()
        };
        async move { cases(r).await.unwrap().into_inner().cases.len() }
    };
    assert_eq!(count("", CaseState::Open).await, 2);
    assert_eq!(count("", CaseState::Closed).await, 0);
    assert_eq!(count(&a.unit_id, CaseState::Unspecified).await, 2);
    assert_eq!(count("bj-heating-group", CaseState::Unspecified).await, 0);

    // Bad input names its field.
    let bad: [(ListCasesRequest, &str); 5] = [
        (
            ListCasesRequest {
                unit_id: "a b".into(),
                ..Default::default()
            },
            "unit_id",
        ),
        (
            ListCasesRequest {
                ticket_no: "工单".into(),
                ..Default::default()
            },
            "ticket_no",
        ),
        (
            ListCasesRequest {
                state: 9,
                ..Default::default()
            },
            "state",
        ),
        (
            ListCasesRequest {
                page_size: 501,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListCasesRequest {
                page_token: "junk".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ];
    for (r, field) in bad {
        let e = cases(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {}", e.message());
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    let e = s
        .list_urges(ListUrgesRequest {
            ticket_no: " ".repeat(3) + "x y",
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("ticket_no"), "{}", e.message());

    // Unit staff see their own unit's, and may not ask for another's.
    let staff = |unit: &str| {
        let token = sys.token(&[Role::UnitStaff], Some(unit));
        let sys = &sys;
        async move { SupervisionServiceClient::new(sys.channel_with("supervision", token).await) }
    };
    let own = staff(&a.unit_id)
        .await
        .list_urges(ListUrgesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .urges;
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|x| x.unit_id == a.unit_id));
    let other = staff("bj-heating-group").await;
    let e = other
        .clone()
        .list_cases(ListCasesRequest {
            unit_id: a.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let none = other
        .clone()
        .list_cases(ListCasesRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(none.is_empty(), "{none:?}");
}
