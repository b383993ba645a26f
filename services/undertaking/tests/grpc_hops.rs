//! The hop in force through gRPC, against undertaking's own handlers on a
//! fresh database: once BeginHop has answered, no assignment of an earlier
//! hop signs, answers, submits a part or returns; an answered round takes
//! no new hop. (The auth gate in front of the real server is left out: the
//! caller's identity is set as the gate would set it.)

mod support;

use std::time::Duration;

use hotline_common::auth::Identity;
use hotline_common::time::to_proto;
use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::undertaking_service_server::UndertakingServiceServer;
use hotline_proto::undertaking::v1::*;
use hotline_undertaking::grpc::Grpc;
use support::*;
use tonic::Code;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

/// Serves undertaking on a free port; each call runs as the identity its
/// `x-test-as` header names: `service`, `centre` or `unit:<id>`.
async fn serve(db: &TestDb) -> Channel {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).expect("a port");
    let addr = incoming.local_addr().unwrap();
    let svc = UndertakingServiceServer::with_interceptor(
        Grpc { ctx: db.ctx() },
        |mut req: tonic::Request<()>| {
            let who: Identity = match req
                .metadata()
                .get("x-test-as")
                .and_then(|v| v.to_str().ok())
            {
                Some("service") => service(),
                Some("centre") => centre(),
                Some(u) if u.starts_with("unit:") => staff(&u[5..]),
                _ => return Err(tonic::Status::unauthenticated("no identity")),
            };
            req.extensions_mut().insert(who);
            Ok(req)
        },
    );
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming),
    );
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(20))
        .connect_lazy()
}

fn call<T>(who: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("x-test-as", who.parse().unwrap());
    r
}

fn as_unit(u: &str) -> String {
    format!("unit:{u}")
}

/// Dispatch's relay records a hop: a lead and, maybe, co-units.
async fn create(
    c: &mut UndertakingServiceClient<Channel>,
    no: &str,
    hop: i32,
    units: &[&str],
) -> Vec<Assignment> {
    let at = now();
    let assignments = units
        .iter()
        .enumerate()
        .map(|(i, u)| NewAssignment {
            unit_id: u.to_string(),
            role: if i == 0 {
                AssignmentRole::Lead
            } else {
                AssignmentRole::Co
            } as i32,
            sign_deadline: Some(to_proto(at + minutes(60))),
            feedback_deadline: Some(to_proto(at + minutes(600))),
        })
        .collect();
    let all = c
        .create_assignments(call(
            "service",
            CreateAssignmentsRequest {
                ticket: Some(ticket(no, at - minutes(5))),
                dispatched_at: Some(to_proto(at)),
                assignments,
                hop,
                accepted_return_id: String::new(),
            },
        ))
        .await
        .expect("assignments recorded")
        .into_inner()
        .assignments;
    all.into_iter().filter(|a| a.hop == hop).collect()
}

async fn sign(
    c: &mut UndertakingServiceClient<Channel>,
    a: &Assignment,
) -> Result<(), tonic::Status> {
    c.sign_assignment(call(
        &as_unit(&a.unit_id),
        SignAssignmentRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            ..Default::default()
        },
    ))
    .await
    .map(drop)
}

async fn answer(
    c: &mut UndertakingServiceClient<Channel>,
    a: &Assignment,
) -> Result<(), tonic::Status> {
    c.submit_feedback(call(
        &as_unit(&a.unit_id),
        SubmitFeedbackRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Resolved as i32,
                summary: "已处理".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    ))
    .await
    .map(drop)
}

async fn begin(
    c: &mut UndertakingServiceClient<Channel>,
    no: &str,
    hop: u32,
) -> Result<BeginHopResponse, tonic::Status> {
    c.begin_hop(call(
        "service",
        BeginHopRequest {
            ticket_no: no.into(),
            hop,
            manual_queue: false,
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

fn refused(r: Result<(), tonic::Status>, state: &str, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(
        e.code(),
        Code::FailedPrecondition,
        "{what}: {}",
        e.message()
    );
    assert!(e.message().contains(state), "{what}: {}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_a_new_hop_is_begun_the_old_hop_does_nothing() {
    let db = TestDb::fresh().await;
    let mut c = UndertakingServiceClient::new(serve(&db).await);

    // Signed lead and co-unit of hop 1; a second ticket not signed yet.
    let t1 = create(&mut c, "HL-G-1", 1, &["bj-heating-group", "bj-cmc"]).await;
    for a in &t1 {
        sign(&mut c, a).await.expect("signed");
    }
    let t2 = create(&mut c, "HL-G-2", 1, &["bj-heating-group"]).await;

    let begun = begin(&mut c, "HL-G-1", 2).await.expect("hop 2 begun");
    assert_eq!(begun.hop, 2);
    let mut withdrawn = begun.withdrawn_assignment_ids.clone();
    withdrawn.sort();
    let mut expected: Vec<String> = t1.iter().map(|a| a.assignment_id.clone()).collect();
    expected.sort();
    assert_eq!(withdrawn, expected);
    begin(&mut c, "HL-G-2", 2).await.expect("hop 2 begun");

    // Right after BeginHop's answer, the old hop can do nothing.
    refused(
        answer(&mut c, &t1[0]).await,
        "withdrawn",
        "the old lead's feedback",
    );
    let part = c
        .submit_part(call(
            &as_unit("bj-cmc"),
            SubmitPartRequest {
                assignment_id: t1[1].assignment_id.clone(),
                unit_id: "bj-cmc".into(),
                part: "已配合".into(),
                ..Default::default()
            },
        ))
        .await
        .map(drop);
    refused(part, "withdrawn", "the old co-unit's part");
    refused(
        sign(&mut c, &t2[0]).await,
        "withdrawn",
        "the old lead's sign-off",
    );
    let ret = c
        .return_assignment(call(
            &as_unit("bj-heating-group"),
            ReturnAssignmentRequest {
                assignment_id: t2[0].assignment_id.clone(),
                unit_id: "bj-heating-group".into(),
                reason: ReturnReason::NotOurDuty as i32,
                duty_rule: "三定方案".into(),
                note: String::new(),
                ..Default::default()
            },
        ))
        .await
        .map(drop);
    refused(ret, "withdrawn", "the old lead's return");

    // A repeat changes nothing; an older hop is a wrong state.
    let again = begin(&mut c, "HL-G-1", 2).await.expect("a repeat");
    assert_eq!(again.hop, 2);
    assert!(again.withdrawn_assignment_ids.is_empty());
    let e = begin(&mut c, "HL-G-1", 1).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("at hop 2"), "{}", e.message());

    // The new hop's units, recorded as dispatch's relay sends them, work;
    // once their lead answered, the ticket takes no new hop.
    let t1b = create(&mut c, "HL-G-1", 2, &["bj-water-group"]).await;
    sign(&mut c, &t1b[0]).await.expect("the new lead signs");
    answer(&mut c, &t1b[0]).await.expect("the new lead answers");
    let e = begin(&mut c, "HL-G-1", 3).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("answered") && e.message().contains("bj-water-group"),
        "{}",
        e.message()
    );
    let listed = c
        .list_ticket_assignments(call(
            "centre",
            ListTicketAssignmentsRequest {
                ticket_no: "HL-G-1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    let states: Vec<(i32, String, i32)> = listed
        .iter()
        .map(|a| (a.hop, a.unit_id.clone(), a.state))
        .collect();
    assert_eq!(
        states,
        [
            (
                1,
                "bj-heating-group".into(),
                AssignmentState::Withdrawn as i32
            ),
            (1, "bj-cmc".into(), AssignmentState::Withdrawn as i32),
            (2, "bj-water-group".into(), AssignmentState::FedBack as i32),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_hop_names_its_bad_fields() {
    let db = TestDb::fresh().await;
    let mut c = UndertakingServiceClient::new(serve(&db).await);
    let e = begin(&mut c, "no spaces", 0).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("ticket_no") && e.message().contains("hop"),
        "{}",
        e.message()
    );
    let e = begin(&mut c, "HL-G-9", u32::MAX).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A ticket undertaking has not seen yet (a manual-queue ticket) begins
    // at the hop named; its assignments then come at that hop.
    let first = begin(&mut c, "HL-G-9", 2).await.expect("begun");
    assert!(first.withdrawn_assignment_ids.is_empty());
    let a = create(&mut c, "HL-G-9", 2, &["bj-cmc"]).await;
    sign(&mut c, &a[0])
        .await
        .expect("signed at the hop in force");
}
