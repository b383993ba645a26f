//! Whistles through gRPC (街乡吹哨、部门报到): a street office summons
//! departments, each reports in or is late, and late ones reach
//! supervision.

mod support;

use std::time::Duration;

use hotline_proto::common::v1::Stage;
use hotline_proto::intake::v1::TimelineEventKind;
use hotline_proto::supervision::v1::{CaseState, ListCasesRequest};
use hotline_proto::undertaking::v1::{
    BlowWhistleRequest, ListWhistlesRequest, ReportInRequest, SignAssignmentRequest,
};
use hotline_tests::{Options, System, eventually};
use support::{hop_assignments, lead, request, submit, timeline_of};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_street_whistle_summons_departments_and_late_ones_reach_supervision() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, request("whistle", "noise", "110105", "110105001")).await;
    let street = lead(&hop_assignments(&sys, &no, 1).await).clone();
    assert_eq!(street.unit_id, "street-110105001");
    let mut office = sys.undertaking_as(&street.unit_id).await;
    let whistle = |summoned: Vec<&str>, secs: i64| BlowWhistleRequest {
        assignment_id: street.assignment_id.clone(),
        unit_id: street.unit_id.clone(),
        summoned_unit_ids: summoned.into_iter().map(String::from).collect(),
        arrive_by: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() + secs,
            nanos: 0,
        }),
        place: "建外街道某小区南门".into(),
        matter: "夜间施工噪声扰民，现场核查".into(),
        ..Default::default()
    };
    // Only while signed.
    let e = office
        .blow_whistle(whistle(vec!["bj-urban-enforcement"], 60))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    office
        .sign_assignment(SignAssignmentRequest {
            assignment_id: street.assignment_id.clone(),
            unit_id: street.unit_id.clone(),
            ..Default::default()
        })
        .await
        .expect("signed");
    let e = office
        .blow_whistle(whistle(vec![street.unit_id.as_str(), "bj-housing"], -5))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("summoned_unit_ids[0]") && e.message().contains("arrive_by"),
        "{}",
        e.message()
    );
    let e = office
        .blow_whistle(whistle(vec!["bj-housing", "bj-nobody"], 60))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("summoned_unit_ids[1]") && e.message().contains("bj-nobody"),
        "{}",
        e.message()
    );
    let w = office
        .blow_whistle(whistle(vec!["bj-urban-enforcement", "bj-housing"], 3))
        .await
        .expect("whistle blown")
        .into_inner()
        .whistle
        .unwrap();
    assert_eq!(w.summonses.len(), 2);

    // One department reports in at once; a unit not summoned cannot.
    let report = |unit: &str| ReportInRequest {
        whistle_id: w.whistle_id.clone(),
        unit_id: unit.into(),
        ..Default::default()
    };
    let w1 = sys
        .undertaking_as("bj-urban-enforcement")
        .await
        .report_in(report("bj-urban-enforcement"))
        .await
        .expect("reported in")
        .into_inner()
        .whistle
        .unwrap();
    let s = w1
        .summonses
        .iter()
        .find(|s| s.unit_id == "bj-urban-enforcement")
        .unwrap();
    assert!(s.arrived_at.is_some() && !s.late);
    let e = sys
        .undertaking_as("bj-urban-enforcement")
        .await
        .report_in(report("bj-urban-enforcement"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = sys
        .undertaking_as("bj-cmc")
        .await
        .report_in(report("bj-cmc"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // The other misses the arrival time: supervision opens a case on it.
    let mut supervision = sys.supervision().await;
    let case = eventually(
        Duration::from_secs(30),
        "a case for the late department",
        || {
            let mut s = supervision.clone();
            let no = no.clone();
            async move {
                s.list_cases(ListCasesRequest {
                    unit_id: "bj-housing".into(),
                    ticket_no: no,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .cases
                .into_iter()
                .find(|c| c.stage == Stage::ReportIn as i32)
            }
        },
    )
    .await;
    assert_eq!(case.state, CaseState::Open as i32);
    let none = supervision
        .list_cases(ListCasesRequest {
            unit_id: "bj-urban-enforcement".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(none.is_empty(), "the department on time has no case");

    // It arrives late: recorded as late, and the case closes.
    let w2 = sys
        .undertaking_as("bj-housing")
        .await
        .report_in(report("bj-housing"))
        .await
        .expect("late report-in")
        .into_inner()
        .whistle
        .unwrap();
    assert!(
        w2.summonses
            .iter()
            .find(|s| s.unit_id == "bj-housing")
            .unwrap()
            .late
    );
    eventually(Duration::from_secs(30), "the case closed", || {
        let mut s = supervision.clone();
        let no = no.clone();
        async move {
            let cases = s
                .list_cases(ListCasesRequest {
                    unit_id: "bj-housing".into(),
                    ticket_no: no,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .cases;
            cases
                .iter()
                .all(|c| c.state == CaseState::Closed as i32)
                .then_some(())
        }
    })
    .await;
    let timeline = timeline_of(&sys, &no).await;
    let blown = timeline
        .iter()
        .find(|e| e.kind == TimelineEventKind::Whistle as i32)
        .expect("the whistle is in the timeline");
    assert!(blown.overdue);
    assert!(
        blown.detail.contains("bj-housing arrived late")
            && blown.detail.contains("bj-urban-enforcement arrived"),
        "{}",
        blown.detail
    );
    // The summoned department sees the whistle; a department not involved does not.
    let listed = sys
        .undertaking_as("bj-housing")
        .await
        .list_whistles(ListWhistlesRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .whistles;
    assert_eq!(listed.len(), 1);
    let hidden = sys
        .undertaking_as("bj-cmc")
        .await
        .list_whistles(ListWhistlesRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .whistles;
    assert!(hidden.is_empty());
    // A department does not blow the whistle.
    let mut c = sys.undertaking_as("bj-urban-enforcement").await;
    let co = hop_assignments(&sys, &no, 1)
        .await
        .into_iter()
        .find(|a| a.unit_id == "bj-urban-enforcement")
        .unwrap();
    c.sign_assignment(SignAssignmentRequest {
        assignment_id: co.assignment_id.clone(),
        unit_id: co.unit_id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let e = c
        .blow_whistle(BlowWhistleRequest {
            assignment_id: co.assignment_id.clone(),
            unit_id: co.unit_id.clone(),
            ..whistle(vec!["bj-housing"], 60)
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}
