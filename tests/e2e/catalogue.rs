//! The dispatch catalogue through gRPC: versions published and put back in
//! force by ops, read page by page; the kinds of its units; and fields
//! checked before anything is looked up.

mod support;

use hotline_common::auth::Role;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::{
    ActivateCatalogueRequest, GetCatalogueRequest, ListCatalogueVersionsRequest,
    PublishCatalogueRequest, Rule, SuggestRoutingRequest, UnitKind,
};
use hotline_tests::{Options, System, heating_request};
use support::{routing_of, submit};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_publish_a_catalogue_version_that_routing_then_uses() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    let mut cat = dispatch
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .catalogue
        .unwrap();
    assert!(cat.rules.len() > 50, "the rules are part of the catalogue");
    let first = cat.version.clone();

    // Every problem is named at once.
    let mut bad = cat.clone();
    bad.version = "beijing-2027.01".into();
    bad.rules.push(Rule {
        category_code: "ghost".into(),
        lead: "nobody".into(),
        ..Default::default()
    });
    let e = dispatch
        .publish_catalogue(PublishCatalogueRequest {
            catalogue: Some(bad),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("\"ghost\"") && e.message().contains("\"nobody\""),
        "{}",
        e.message()
    );
    // A version is published once.
    let e = dispatch
        .publish_catalogue(PublishCatalogueRequest {
            catalogue: Some(cat.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // Heating in 朝阳区 now goes to the district government.
    cat.version = "beijing-2027.01".into();
    cat.rules.push(Rule {
        category_code: "heating".into(),
        area_code: "110105".into(),
        lead: "@district".into(),
        co: vec!["bj-heating-group".into()],
    });
    let v = dispatch
        .publish_catalogue(PublishCatalogueRequest {
            catalogue: Some(cat),
            ..Default::default()
        })
        .await
        .expect("published")
        .into_inner()
        .version
        .unwrap();
    assert!(v.in_force);
    let no = submit(&sys, heating_request("new-catalogue")).await;
    let r = routing_of(&sys, &no).await;
    assert_eq!(r.catalogue_version, "beijing-2027.01");
    assert_eq!(r.units[0].unit_id, "district-gov-110105");

    // Ops roll back; the next ticket is routed by the first version.
    dispatch
        .activate_catalogue(ActivateCatalogueRequest {
            version: first.clone(),
            ..Default::default()
        })
        .await
        .expect("rolled back");
    let no = submit(&sys, heating_request("rolled-back")).await;
    let r = routing_of(&sys, &no).await;
    assert_eq!(r.catalogue_version, first);
    assert_eq!(r.units[0].unit_id, "bj-heating-group");
    let versions = dispatch
        .list_catalogue_versions(ListCatalogueVersionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().any(|v| v.version == first && v.in_force));

    // The version survives a restart: what ops put in force stays in force.
    let mut sys = sys;
    sys.restart("dispatch").await.expect("dispatch restarts");
    let mut dispatch = sys.dispatch().await;
    let now_in_force = dispatch
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .catalogue
        .unwrap()
        .version;
    assert_eq!(now_in_force, first);
    // Only ops publish.
    let mut dispatcher = DispatchServiceClient::new(
        sys.channel_with("dispatch", sys.token(&[Role::Dispatcher], None))
            .await,
    );
    let e = dispatcher
        .activate_catalogue(ActivateCatalogueRequest {
            version: first,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_say_what_kind_they_are() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    let cat = dispatch
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .catalogue
        .unwrap();
    let kind = |id: &str| {
        cat.units
            .iter()
            .find(|u| u.unit_id == id)
            .map(|u| UnitKind::try_from(u.kind).unwrap())
    };
    assert_eq!(kind("street-110105001"), Some(UnitKind::Street));
    assert_eq!(
        kind("district-gov-110105"),
        Some(UnitKind::DistrictGovernment)
    );
    assert_eq!(kind("bj-heating-group"), Some(UnitKind::Utility));
    assert_eq!(kind("bj-housing"), Some(UnitKind::Department));
    assert!(
        cat.units
            .iter()
            .all(|u| u.kind != UnitKind::Unspecified as i32),
        "every unit has a kind"
    );
    let streets = cat
        .units
        .iter()
        .filter(|u| u.kind == UnitKind::Street as i32)
        .count();
    assert_eq!(streets, 349, "one per street and township of Beijing");
    // The suggestion says it too.
    let hint = dispatch
        .suggest_routing(SuggestRoutingRequest {
            category_code: "noise".into(),
            district_code: "110105".into(),
            street_code: "110105001".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hint.units[0].unit_id, "street-110105001");
    assert_eq!(hint.units[0].kind, UnitKind::Street as i32);
    // A published catalogue keeps its kinds, and a kind it invents is named.
    let mut next = cat.clone();
    next.version = "beijing-2027.02".into();
    next.units.iter_mut().for_each(|u| {
        if u.unit_id == "bj-housing" {
            u.kind = 42;
        }
    });
    let e = dispatch
        .publish_catalogue(PublishCatalogueRequest {
            catalogue: Some(next.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("\"bj-housing\": unknown kind 42"),
        "{}",
        e.message()
    );
    next.units.iter_mut().for_each(|u| {
        if u.unit_id == "bj-housing" {
            u.kind = UnitKind::Department as i32;
        }
    });
    dispatch
        .publish_catalogue(PublishCatalogueRequest {
            catalogue: Some(next),
            ..Default::default()
        })
        .await
        .expect("published");
    let back = dispatch
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .catalogue
        .unwrap();
    assert_eq!(back.version, "beijing-2027.02");
    assert_eq!(back.units, cat.units, "kinds survive publishing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_fields_are_checked_before_anything_is_read() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    for version in ["beijing\u{0}", "a b", "\u{202e}x"] {
        let e = dispatch
            .get_catalogue(GetCatalogueRequest {
                version: version.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            Code::InvalidArgument,
            "{version:?}: {}",
            e.message()
        );
        assert!(e.message().contains("version"), "{}", e.message());
        let e = dispatch
            .activate_catalogue(ActivateCatalogueRequest {
                version: version.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            Code::InvalidArgument,
            "{version:?}: {}",
            e.message()
        );
    }
    let e = dispatch
        .get_catalogue(GetCatalogueRequest {
            version: "never-published".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // A catalogue with a NUL in its version or in a name is refused whole.
    let mut bad = dispatch
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .catalogue
        .unwrap();
    bad.version = "beijing\u{0}2027".into();
    bad.categories[0].name = "水电\u{0}气热".into();
    let e = dispatch
        .publish_catalogue(PublishCatalogueRequest {
            catalogue: Some(bad),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert!(
        e.message().contains("version:") && e.message().contains("control characters"),
        "{}",
        e.message()
    );
    assert!(!sys.log("dispatch").contains("internal error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_versions_are_listed_page_by_page() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut dispatch = sys.dispatch().await;
    let cat = dispatch
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .catalogue
        .unwrap();
    for v in ["beijing-2027.01", "beijing-2027.02"] {
        let mut next = cat.clone();
        next.version = v.into();
        dispatch
            .publish_catalogue(PublishCatalogueRequest {
                catalogue: Some(next),
                ..Default::default()
            })
            .await
            .expect("published");
    }
    let page = |token: String| {
        let mut d = dispatch.clone();
        async move {
            d.list_catalogue_versions(ListCatalogueVersionsRequest {
                page_size: 2,
                page_token: token,
            })
            .await
            .map(|r| r.into_inner())
        }
    };
    let first = page(String::new()).await.unwrap();
    let names: Vec<&str> = first.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(
        names,
        ["beijing-2027.02", "beijing-2027.01"],
        "newest first"
    );
    assert!(!first.next_page_token.is_empty());
    let second = page(first.next_page_token).await.unwrap();
    assert_eq!(second.versions.len(), 1);
    assert_eq!(second.versions[0].version, cat.version);
    assert!(second.next_page_token.is_empty(), "the last page");
    let e = page("junk".into()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("page_token"), "{}", e.message());
}
