//! Concentrated requests (集中反映) through gRPC: at one street, four
//! requesters (one calling twice) form no cluster and the fifth forms it,
//! with every ticket gathered; later requests join it; with coordinates,
//! only the requesters within the radius count; a cluster's tickets are
//! consultation-meeting candidates for supervision.

mod support;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Coordinates, Location, UrgencyTier};
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::intake::v1::*;
use hotline_proto::supervision::v1::{ListMeetingCandidatesRequest, MeetingCandidateBasis};
use hotline_tests::{Authed, Options, System, eventually, heating_request};
use support::submit;
use tonic::Code;

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Guomao (国贸), in 建外街道 of 朝阳区.
const GUOMAO: (f64, f64) = (39.9087, 116.4605);

fn east(metres: f64) -> Coordinates {
    Coordinates {
        latitude: GUOMAO.0,
        longitude: GUOMAO.1 + metres / (111_320.0 * GUOMAO.0.to_radians().cos()),
    }
}

/// A drainage request (a flooded street) from `phone`, at the street, or
/// at a point when given.
fn flood(key: &str, phone: &str, at: Option<Coordinates>) -> SubmitRequest {
    let mut r = heating_request(key);
    r.tier = UrgencyTier::General as i32;
    r.category_code = "drainage".into();
    r.content = "路口积水很深，车辆和行人都过不去。".into();
    r.requester.as_mut().unwrap().phone = phone.into();
    r.location = Some(Location {
        district_code: "110105".into(),
        street_code: "110105001".into(),
        address: "光华路与东三环交叉口".into(),
        coordinates: at,
        ..Default::default()
    });
    r
}

async fn desk(sys: &System, role: Role) -> IntakeServiceClient<Authed> {
    IntakeServiceClient::new(sys.channel_with("intake", sys.token(&[role], None)).await)
}

async fn clusters(sys: &System) -> Vec<Cluster> {
    desk(sys, Role::Supervisor)
        .await
        .list_clusters(ListClustersRequest {
            active_only: true,
            ..Default::default()
        })
        .await
        .expect("clusters")
        .into_inner()
        .clusters
}

async fn cluster(sys: &System, id: &str) -> GetClusterResponse {
    desk(sys, Role::Supervisor)
        .await
        .get_cluster(GetClusterRequest {
            cluster_id: id.into(),
        })
        .await
        .expect("cluster")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_requesters_at_a_street_form_a_cluster_and_four_do_not() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // Four requesters, one of them twice, and an anonymous one: no cluster.
    let mut nos = Vec::new();
    for (i, phone) in ["13700000001", "13700000002", "13700000002", "13700000003"]
        .iter()
        .enumerate()
    {
        nos.push(submit(&sys, flood(&format!("flood-{i}"), phone, None)).await);
    }
    let mut anonymous = flood("flood-anon", "", None);
    anonymous.requester = Some(hotline_proto::common::v1::Requester {
        anonymous: true,
        ..Default::default()
    });
    nos.push(submit(&sys, anonymous).await);
    // Another category at the same street does not count.
    let mut noise = flood("flood-noise", "13700000009", None);
    noise.category_code = "noise".into();
    submit(&sys, noise).await;
    assert!(clusters(&sys).await.is_empty(), "four requesters");

    // The fifth forms it, with all six tickets.
    nos.push(submit(&sys, flood("flood-5", "13700000005", None)).await);
    let formed = clusters(&sys).await;
    assert_eq!(formed.len(), 1, "{formed:?}");
    let c = &formed[0];
    assert_eq!(c.basis, ClusterBasis::Street as i32);
    assert_eq!(
        (c.category_code.as_str(), c.street_code.as_str()),
        ("drainage", "110105001")
    );
    assert_eq!((c.requesters, c.tickets), (5, 6));
    assert!(c.active);
    assert_eq!(cluster(&sys, &c.cluster_id).await.ticket_nos, nos);

    // A sixth requester joins it; a second call of a known one adds a ticket only.
    let sixth = submit(&sys, flood("flood-6", "13700000006", None)).await;
    submit(&sys, flood("flood-7", "13700000001", None)).await;
    let grown = cluster(&sys, &c.cluster_id).await;
    let g = grown.cluster.unwrap();
    assert_eq!((g.requesters, g.tickets), (6, 8));
    assert!(grown.ticket_nos.contains(&sixth));

    // Supervision is offered its tickets as meeting candidates.
    let sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let offered = eventually(PATIENCE, "the cluster's tickets as candidates", || {
        let mut sup = sup.clone();
        let id = c.cluster_id.clone();
        async move {
            let got: Vec<_> = sup
                .list_meeting_candidates(ListMeetingCandidatesRequest {
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .expect("candidates")
                .into_inner()
                .candidates
                .into_iter()
                .filter(|m| m.cluster_id == id)
                .collect();
            (got.len() == 8).then_some(got)
        }
    })
    .await;
    assert!(
        offered
            .iter()
            .all(|m| m.bases == [MeetingCandidateBasis::Clustered as i32])
    );

    // Unit staff do not list clusters; a bad id is named.
    let unit = sys
        .channel_with(
            "intake",
            sys.token(&[Role::UnitStaff], Some("bj-water-group")),
        )
        .await;
    let e = IntakeServiceClient::new(unit)
        .list_clusters(ListClustersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = desk(&sys, Role::Supervisor)
        .await
        .get_cluster(GetClusterRequest {
            cluster_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("cluster_id"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_coordinates_only_requesters_within_the_radius_count() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // Four within 300 m of each other's first, one 600 m away: no cluster.
    for (i, m) in [0.0, 80.0, 150.0, 220.0, 600.0].iter().enumerate() {
        let phone = format!("1370000010{i}");
        submit(&sys, flood(&format!("near-{i}"), &phone, Some(east(*m)))).await;
    }
    assert!(clusters(&sys).await.is_empty(), "four within the radius");
    // A fifth within the radius forms it, without the one far away.
    submit(&sys, flood("near-5", "13700000105", Some(east(120.0)))).await;
    let formed = clusters(&sys).await;
    assert_eq!(formed.len(), 1, "{formed:?}");
    let c = &formed[0];
    assert_eq!(c.basis, ClusterBasis::Distance as i32);
    assert_eq!((c.requesters, c.tickets, c.radius_m), (5, 5, 300));
    let centre = c.centre.as_ref().expect("centre");
    assert!((centre.longitude - east(120.0).longitude).abs() < 1e-9);

    // Coordinates out of range are named.
    let e = desk(&sys, Role::Operator)
        .await
        .submit(flood(
            "near-bad",
            "13700000199",
            Some(Coordinates {
                latitude: 91.0,
                longitude: f64::NAN,
            }),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    for field in [
        "location.coordinates.latitude",
        "location.coordinates.longitude",
    ] {
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
}
