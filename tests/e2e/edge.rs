//! What every port does at its edge, whatever the service: reflection lists
//! exactly what the port serves (v1 and v1alpha), the bearer scheme is
//! case-insensitive, errors carry a zh-CN message and name their field,
//! rate refusals say when to retry, absurd times and bodies that are not
//! protobuf are the caller's INVALID_ARGUMENT, and log files are plain text.

use std::collections::BTreeSet;

use hotline_common::auth::Role;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::{GetSurgeModeRequest, GetTicketRequest};
use hotline_tests::{Options, SERVICES, System, heating_request};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

/// The services a port lists over one version of reflection: the two
/// versions are the same protocol in two generated packages.
macro_rules! listed {
    ($name:ident, $pb:path) => {
        async fn $name(sys: &System, name: &str) -> BTreeSet<String> {
            use pb::server_reflection_client::ServerReflectionClient;
            use pb::server_reflection_request::MessageRequest;
            use pb::server_reflection_response::MessageResponse;
            use $pb as pb;
            let mut client = ServerReflectionClient::new(sys.channel(name).await);
            let req = pb::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut stream = client
                .server_reflection_info(tokio_stream::iter([req]))
                .await
                .expect("reflection")
                .into_inner();
            let reply = stream.next().await.expect("a reply").expect("ok");
            let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
                panic!("unexpected reflection reply");
            };
            list.service.into_iter().map(|s| s.name).collect()
        }
    };
}

listed!(listed_v1, tonic_reflection::pb::v1);
listed!(listed_v1alpha, tonic_reflection::pb::v1alpha);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_exactly_what_each_port_serves_in_both_versions() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let own = [
        ("intake", "hotline.intake.v1.IntakeService", true),
        ("dispatch", "hotline.dispatch.v1.DispatchService", true),
        (
            "undertaking",
            "hotline.undertaking.v1.UndertakingService",
            true,
        ),
        (
            "supervision",
            "hotline.supervision.v1.SupervisionService",
            true,
        ),
    ];
    for (name, service, clocks) in own {
        let mut expected: BTreeSet<String> = [
            service,
            "hotline.common.v1.AuditService",
            "grpc.health.v1.Health",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        if clocks {
            expected.insert("hotline.common.v1.ClockService".into());
        }
        if name == "intake" {
            expected.insert("hotline.intake.v1.KnowledgeService".into());
            expected.insert("hotline.intake.v1.MediaService".into());
        }
        assert_eq!(listed_v1(&sys, name).await, expected, "{name} over v1");
        assert_eq!(
            listed_v1alpha(&sys, name).await,
            expected,
            "{name} over v1alpha"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_their_field_in_english_and_chinese_and_say_when_to_retry() {
    let sys = System::start(Options {
        env: vec![
            ("HOTLINE_RATE_LIMIT_PER_SECOND".into(), "1".into()),
            ("HOTLINE_RATE_LIMIT_BURST".into(), "20".into()),
        ],
        ..Options::default()
    })
    .await
    .expect("system starts");

    // The scheme in lower case is the same scheme.
    let token = sys.token(&[Role::Operator], None);
    let channel = sys.channel("intake").await;
    let mut lower =
        IntakeServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert(
                "authorization",
                format!("bearer {token}").parse().expect("header"),
            );
            Ok(r)
        });
    lower
        .get_surge_mode(GetSurgeModeRequest {})
        .await
        .expect("lower-case bearer accepted");

    // A bad field: INVALID_ARGUMENT naming it, with a zh-CN message.
    let mut intake = sys.intake().await;
    let mut bad = heating_request("edge-1");
    bad.content = "暖气\u{202E}不热".into();
    let s = intake
        .submit(bad)
        .await
        .expect_err("direction control refused");
    assert_eq!(s.code(), Code::InvalidArgument);
    assert!(s.message().contains("content"), "{}", s.message());
    let details = s.get_error_details();
    let fields: Vec<String> = details
        .bad_request()
        .expect("bad request details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, vec!["content".to_string()]);
    let zh = details.localized_message().expect("a localized message");
    assert_eq!(zh.locale, "zh-CN");
    assert!(zh.message.starts_with("请求参数有误"), "{}", zh.message);

    // A name with a zero-width space in it.
    let mut far = heating_request("edge-2");
    far.requester.as_mut().unwrap().name = "王\u{200B}女士".into();
    let s = intake.submit(far).await.expect_err("zero width refused");
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());

    // A NUL byte in a ticket number never reaches the database.
    let s = intake
        .get_ticket(GetTicketRequest {
            ticket_no: "BJ\0".into(),
        })
        .await
        .expect_err("NUL refused");
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
    assert!(s.message().contains("ticket_no"), "{}", s.message());

    // Past the rate: RESOURCE_EXHAUSTED with RetryInfo. A caller of its
    // own, so that the calls above do not count.
    let flooder = sys.auth.mint(
        "flooder",
        None,
        &[Role::Operator],
        std::time::Duration::from_secs(600),
    );
    let mut flood = IntakeServiceClient::new(sys.channel_with("intake", flooder).await);
    let mut limited = None;
    for _ in 0..40 {
        if let Err(s) = flood.get_surge_mode(GetSurgeModeRequest {}).await {
            limited = Some(s);
            break;
        }
    }
    let s = limited.expect("the rate limit was reached");
    assert_eq!(s.code(), Code::ResourceExhausted, "{}", s.message());
    let retry = s
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("a retry delay");
    assert!(
        retry > std::time::Duration::ZERO && retry <= std::time::Duration::from_secs(2),
        "{retry:?}"
    );

    // Logs are plain text, not terminal colours.
    for name in SERVICES {
        let log = sys.log(name);
        assert!(log.contains("listening"), "{name} logged its start");
        assert!(!log.contains('\u{1b}'), "{name}'s log holds ANSI escapes");
    }
}
