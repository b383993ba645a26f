//! The system as ops run it: a request accepted while dispatch is down is
//! not lost; health, reflection, the container probe and graceful
//! shutdown on every service.

use std::time::Duration;

use hotline_tests::{Options, System, assignments_of, heating_request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_accepted_while_dispatch_is_down_is_not_lost() {
    let mut sys = System::start(Options::default())
        .await
        .expect("system starts");
    sys.kill("dispatch");
    let mut intake = sys.intake().await;
    let accepted = intake
        .submit(heating_request("while-down"))
        .await
        .expect("intake accepts while dispatch is down")
        .into_inner();
    // Intake itself crashes too, after the reply.
    sys.kill("intake");
    tokio::time::sleep(Duration::from_millis(500)).await;
    sys.restart("dispatch").await.unwrap();
    sys.restart("intake").await.unwrap();
    let a = assignments_of(&sys, &accepted.ticket_no).await;
    assert_eq!(a[0].ticket_no, accepted.ticket_no);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reflection_and_graceful_shutdown() {
    use hotline_tests::SERVICES;
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut sys = System::start(Options::default())
        .await
        .expect("system starts");
    let expected = [
        ("intake", "hotline.intake.v1.IntakeService"),
        ("dispatch", "hotline.dispatch.v1.DispatchService"),
        ("undertaking", "hotline.undertaking.v1.UndertakingService"),
        ("supervision", "hotline.supervision.v1.SupervisionService"),
    ];
    for (name, service) in expected {
        let mut client = ServerReflectionClient::new(sys.channel(name).await);
        let req = ServerReflectionRequest {
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
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        assert!(names.iter().any(|n| n == service), "{name}: {names:?}");
        assert!(
            names.iter().any(|n| n == "grpc.health.v1.Health"),
            "{name}: {names:?}"
        );
    }
    // The --health-check probe used by containers.
    for name in SERVICES {
        let out = std::process::Command::new(hotline_tests::bin_dir().join(name))
            .arg("--health-check")
            .env("HOTLINE_LISTEN_ADDR", format!("0.0.0.0:{}", sys.port(name)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    for name in SERVICES {
        let status = sys.terminate(name).expect("was running");
        assert!(status.success(), "{name} exited with {status} on SIGTERM");
        assert!(
            sys.log(name).contains("stopped"),
            "{name} did not log its stop"
        );
    }
}
