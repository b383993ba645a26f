//! Who may do what, through the running services: identity on every call,
//! the rule table for every RPC and role, units confined to their own
//! tickets, keys rotated without a restart.

use std::time::Duration;

use hotline_common::auth::{COMMON_RULES, Claims, Role, Rule, mint_with};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::{GetTicketRequest, GetTimelineRequest};
use hotline_proto::supervision::v1::ListCasesRequest;
use hotline_proto::undertaking::v1::{
    ListAssignmentsRequest, ListTicketAssignmentsRequest, SignAssignmentRequest,
};
use hotline_tests::{Options, System, assignments_of, heating_request, key_file};
use tonic::Code;
use tonic_prost::ProstCodec;

/// Centre-wide claims of the hotline issuer.
fn claims(sub: &str, roles: &[&str], iat: u64, exp: u64) -> Claims {
    Claims {
        iss: "hotline".into(),
        sub: sub.into(),
        unit: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        iat,
        exp,
    }
}

/// Calls any method with an empty message, as `token` (empty: none).
async fn call(sys: &System, service: &str, path: &str, token: String) -> tonic::Status {
    let channel = sys.channel_with(service, token).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let codec: ProstCodec<(), ()> = ProstCodec::default();
    match grpc
        .unary(tonic::Request::new(()), path.parse().expect("path"), codec)
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}

/// Every row of every server's rule table.
fn all_rules() -> impl Iterator<Item = &'static Rule> {
    [
        hotline_intake::rules::RULES,
        hotline_dispatch::rules::RULES,
        hotline_undertaking::rules::RULES,
        hotline_supervision::rules::RULES,
        COMMON_RULES,
    ]
    .into_iter()
    .flatten()
}

fn service_of(path: &str) -> &'static str {
    for name in ["intake", "dispatch", "undertaking", "supervision"] {
        if path.starts_with(&format!("/hotline.{name}.")) {
            return name;
        }
    }
    "intake" // ClockService: intake owns dispatch clocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_checks_identity_and_role() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // Signed with a secret that is not the system's.
    let forged = mint_with(
        "test-key-1",
        b"not the key, and long enough to be one",
        &claims("x", &["ops"], 1, 2),
    );
    // Signed with the system's own key, but expired a minute ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stale = mint_with(
        &sys.key.0,
        &sys.key.1,
        &claims("x", &["ops", "operator", "service"], now - 3600, now - 60),
    );
    for (path, allowed) in all_rules() {
        let service = service_of(path);
        // No identity, a forged, an expired or a garbled token:
        // UNAUTHENTICATED.
        for token in [
            String::new(),
            forged.clone(),
            stale.clone(),
            "garbage".to_string(),
        ] {
            let s = call(&sys, service, path, token).await;
            assert_eq!(s.code(), Code::Unauthenticated, "{path}: {}", s.message());
        }
        for role in Role::ALL {
            let unit = (role == Role::UnitStaff).then_some("bj-cmc");
            let s = call(&sys, service, path, sys.token(&[role], unit)).await;
            assert_ne!(
                s.code(),
                Code::Internal,
                "{path} as {role:?}: {}",
                s.message()
            );
            assert_ne!(s.code(), Code::Unauthenticated, "{path} as {role:?}");
            let refused_by_table =
                s.code() == Code::PermissionDenied && s.message().contains("may not call");
            assert_eq!(
                refused_by_table,
                !allowed.contains(&role),
                "{path} as {role:?}: {:?} {}",
                s.code(),
                s.message()
            );
        }
    }
    // Health stays open.
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(sys.channel("intake").await);
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no identity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_learns_nothing_about_tickets_it_does_not_hold() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = sys
        .intake()
        .await
        .submit(heating_request("scoped"))
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let lead = assignments_of(&sys, &no).await.remove(0);
    assert_eq!(lead.unit_id, "bj-heating-group");

    let stranger = sys.token(&[Role::UnitStaff], Some("bj-water-group"));
    let holder = sys.token(&[Role::UnitStaff], Some("bj-heating-group"));

    // The same answer for a ticket held by someone else and one that does
    // not exist.
    let mut i = IntakeServiceClient::new(sys.channel_with("intake", stranger.clone()).await);
    let held = i
        .get_timeline(GetTimelineRequest {
            ticket_no: no.clone(),
        })
        .await
        .unwrap_err();
    let missing = i
        .get_timeline(GetTimelineRequest {
            ticket_no: "BJ999999999999".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(held.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        held.message().replace(&no, "X"),
        missing.message().replace("BJ999999999999", "X")
    );
    let e = i
        .get_ticket(GetTicketRequest {
            ticket_no: no.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // The holder sees it.
    IntakeServiceClient::new(sys.channel_with("intake", holder.clone()).await)
        .get_timeline(GetTimelineRequest {
            ticket_no: no.clone(),
        })
        .await
        .expect("the holding unit reads its ticket");

    // Acting on another unit's assignment: not found, as for none at all.
    let mut water = sys.undertaking_as("bj-water-group").await;
    let e = water
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-heating-group".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e2 = water
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: "bj-water-group".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e2.code(), Code::NotFound);
    // Listing another unit's work is refused; the ticket's list shows
    // nothing of others.
    let e = water
        .list_assignments(ListAssignmentsRequest {
            unit_id: "bj-heating-group".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let seen = water
        .list_ticket_assignments(ListTicketAssignmentsRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert!(seen.is_empty(), "{seen:?}");
    let sup =
        hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient::new(
            sys.channel_with("supervision", stranger).await,
        );
    let e = sup
        .clone()
        .list_cases(ListCasesRequest {
            unit_id: "bj-heating-group".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_a_restart() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let new_secret = [7u8; 32];
    let new_token = mint_with(
        "rotated-2",
        &new_secret,
        &claims("ops-desk", &["ops"], 0, u64::MAX / 2),
    );
    let path = "/hotline.intake.v1.IntakeService/GetSurgeMode";
    let before = call(&sys, "intake", path, new_token.clone()).await;
    assert_eq!(before.code(), Code::Unauthenticated);
    // Ops adds the new key (first: it signs from now on) and keeps the old.
    let keys = sys.dir.join("keys.toml");
    let old = std::fs::read_to_string(&keys).unwrap();
    std::fs::write(&keys, key_file("rotated-2", &new_secret) + &old).unwrap();
    let started = std::time::Instant::now();
    loop {
        let s = call(&sys, "intake", path, new_token.clone()).await;
        if s.code() == Code::Ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "new key not picked up: {}",
            s.message()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Tokens of the old key still work while it is listed.
    let s = call(&sys, "intake", path, sys.token(&[Role::Ops], None)).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_phones_are_shown_only_to_those_who_need_them() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut intake = sys.intake().await;
    let plain = intake
        .submit(heating_request("plain"))
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let mut secret_req = heating_request("secret");
    secret_req.requester.as_mut().unwrap().confidential = true;
    let secret = intake
        .submit(secret_req)
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    assignments_of(&sys, &plain).await;
    assignments_of(&sys, &secret).await;

    let seen = |roles: Vec<Role>, unit: Option<&'static str>, no: String| {
        let sys = &sys;
        async move {
            let r =
                IntakeServiceClient::new(sys.channel_with("intake", sys.token(&roles, unit)).await)
                    .get_ticket(GetTicketRequest { ticket_no: no })
                    .await
                    .expect("get ticket")
                    .into_inner()
                    .ticket
                    .unwrap()
                    .requester
                    .unwrap();
            (r.name, r.phone)
        }
    };
    let full = ("王女士".to_string(), "13800138000".to_string());
    let masked = ("王**".to_string(), "*******8000".to_string());
    assert_eq!(seen(vec![Role::Operator], None, plain.clone()).await, full);
    assert_eq!(
        seen(vec![Role::ReturnVisit], None, plain.clone()).await,
        full
    );
    assert_eq!(
        seen(
            vec![Role::UnitStaff],
            Some("bj-heating-group"),
            plain.clone()
        )
        .await,
        full
    );
    for role in [
        Role::Supervisor,
        Role::Dispatcher,
        Role::Leader,
        Role::Auditor,
    ] {
        assert_eq!(
            seen(vec![role], None, plain.clone()).await,
            masked,
            "{role:?}"
        );
    }
    // 保密: masked to the holding unit too, in full to the operator.
    assert_eq!(
        seen(
            vec![Role::UnitStaff],
            Some("bj-heating-group"),
            secret.clone()
        )
        .await,
        masked
    );
    assert_eq!(seen(vec![Role::Operator], None, secret.clone()).await, full);

    // Names and phones are not copied to the other services.
    let a = assignments_of(&sys, &plain).await;
    let r = a[0].ticket.as_ref().unwrap().requester.as_ref().unwrap();
    assert!(r.name.is_empty() && r.phone.is_empty(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_records_changes_and_reads_and_detects_tampering() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = sys
        .intake()
        .await
        .submit(heating_request("audited"))
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let lead = assignments_of(&sys, &no).await.remove(0);
    sys.undertaking_as(&lead.unit_id)
        .await
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    // A read of the phone in full is recorded too.
    sys.intake()
        .await
        .get_ticket(GetTicketRequest {
            ticket_no: no.clone(),
        })
        .await
        .unwrap();

    let actions = |schema: &'static str| {
        let sys = &sys;
        let no = no.clone();
        async move {
            sys.audit_sealed(schema).await;
            let mut db = sys.db(schema).await.unwrap();
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT action, actor FROM audit_log WHERE ticket_no = $1 ORDER BY seq",
            )
            .bind(&no)
            .fetch_all(&mut db)
            .await
            .unwrap();
            rows
        }
    };
    let intake_rows = actions("intake").await;
    assert_eq!(
        intake_rows
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>(),
        ["ticket.accepted", "requester.read"]
    );
    assert!(intake_rows.iter().all(|(_, actor)| actor == "test-caller"));
    assert_eq!(
        actions("dispatch").await,
        [("ticket.routed".to_string(), "intake".to_string())]
    );
    let und: Vec<String> = actions("undertaking")
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        und,
        [
            "assignment.created",
            "assignment.created",
            "assignment.signed"
        ]
    );

    for name in hotline_tests::SERVICES {
        let (ok, out) = sys.verify_audit(name);
        assert!(ok, "{name}: {out}");
        assert!(out.contains("intact"), "{name}: {out}");
    }

    // Auditors read the trail and verify it over gRPC too.
    use hotline_proto::common::v1::audit_service_client::AuditServiceClient;
    use hotline_proto::common::v1::{ListAuditEntriesRequest, VerifyAuditRequest};
    let mut auditor = AuditServiceClient::new(
        sys.channel_with("intake", sys.token(&[Role::Auditor], None))
            .await,
    );
    let listed = auditor
        .list_audit_entries(ListAuditEntriesRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].hash.len(), 64);
    let v = auditor
        .verify_audit(VerifyAuditRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(v.intact && v.entries >= 2, "{v:?}");

    // Append-only: an ordinary edit is refused.
    let mut db = sys.db("intake").await.unwrap();
    let refused = sqlx::query("UPDATE audit_log SET detail = 'edited' WHERE seq = 1")
        .execute(&mut db)
        .await;
    assert!(refused.is_err());
    // An edit made around the triggers breaks the chain where it was made.
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET detail = 'tier=general' WHERE seq = 1")
        .execute(&mut db)
        .await
        .unwrap();
    let (ok, out) = sys.verify_audit("intake");
    assert!(!ok, "{out}");
    assert!(out.contains("BROKEN at entry 1"), "{out}");
    let v = auditor
        .verify_audit(VerifyAuditRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!v.intact && v.broken_at == 1, "{v:?}");
    // So does a deletion.
    let mut db = sys.db("undertaking").await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&mut db)
        .await
        .unwrap();
    let (ok, out) = sys.verify_audit("undertaking");
    assert!(!ok, "{out}");
    assert!(out.contains("entry 2"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_flooding_and_hostile_callers_get_clean_refusals() {
    use hotline_proto::intake::v1::GetSurgeModeRequest;
    use tonic::metadata::AsciiMetadataValue;

    let sys = System::start(Options {
        env: vec![
            ("HOTLINE_RATE_LIMIT_PER_SECOND".into(), "5".into()),
            ("HOTLINE_RATE_LIMIT_BURST".into(), "5".into()),
        ],
        ..Default::default()
    })
    .await
    .expect("system starts");
    let as_subject = |subject: &'static str| {
        let sys = &sys;
        async move {
            let token = sys.auth.mint(
                subject,
                None,
                &[Role::Ops, Role::Operator],
                Duration::from_secs(600),
            );
            IntakeServiceClient::new(sys.channel_with("intake", token).await)
        }
    };

    // A flood from one identity: refused past its burst…
    let mut flood = as_subject("flooder").await;
    let mut refused = 0;
    for _ in 0..30 {
        if let Err(s) = flood.get_surge_mode(GetSurgeModeRequest {}).await {
            assert_eq!(s.code(), Code::ResourceExhausted, "{}", s.message());
            refused += 1;
        }
    }
    assert!(refused >= 20, "only {refused} of 30 refused");
    // …while everyone else is still served.
    as_subject("bystander")
        .await
        .get_surge_mode(GetSurgeModeRequest {})
        .await
        .expect("another identity is served");

    // An oversized request is refused before it is decoded.
    let mut big = heating_request("huge");
    big.content = "长".repeat(700_000);
    let e = as_subject("big-sender")
        .await
        .submit(big)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{}", e.message());

    // Invalid UTF-8 in the authorization metadata.
    let mut req = tonic::Request::new(GetSurgeModeRequest {});
    req.metadata_mut().insert(
        "authorization",
        AsciiMetadataValue::try_from(&b"Bearer \xff\xfe\x80"[..]).expect("header bytes"),
    );
    let e = IntakeServiceClient::new(sys.channel("intake").await)
        .get_surge_mode(req)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    // Hostile text in every field: clean INVALID_ARGUMENT, never INTERNAL.
    let mut client = as_subject("hostile").await;
    for evil in [
        "'; DROP TABLE tickets; --",
        "\u{0}\u{1b}[2J",
        "\u{202e}abc",
        "1' OR '1'='1",
    ] {
        let mut r = heating_request("");
        r.category_code = evil.into();
        r.location.as_mut().unwrap().district_code = evil.into();
        r.requester.as_mut().unwrap().phone = evil.into();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let e = client.submit(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{evil:?}: {}", e.message());
    }
    assert!(!sys.log("intake").contains("internal error"));
}
