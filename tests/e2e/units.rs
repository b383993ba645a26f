//! Handling units at work through gRPC: handling records in the timeline,
//! and a three-unit ticket answered once by its lead.

use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::intake::v1::{GetTimelineRequest, TimelineEventKind};
use hotline_proto::undertaking::v1::{SignAssignmentRequest, SubmitFeedbackRequest};
use hotline_tests::{Options, System, assignments_of, heating_request};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_record_their_handling_and_it_shows_in_the_timeline() {
    use hotline_proto::undertaking::v1::{AddHandlingRecordRequest, HandlingRecordKind};
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = sys
        .intake()
        .await
        .submit(heating_request("records"))
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let lead = assignments_of(&sys, &no).await.remove(0);
    let mut unit = sys.undertaking_as(&lead.unit_id).await;
    let record =
        |kind: HandlingRecordKind, way: &str, result: &str, note: &str| AddHandlingRecordRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            kind: kind as i32,
            occurred_at: None,
            way: way.into(),
            result: result.into(),
            note: note.into(),
            ..Default::default()
        };
    let contact = record(
        HandlingRecordKind::Contact,
        "电话",
        "已联系诉求人，约定下午上门",
        "",
    );
    let e = unit.add_handling_record(contact.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    unit.sign_assignment(SignAssignmentRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    unit.add_handling_record(contact)
        .await
        .expect("contact recorded");
    let e = unit
        .add_handling_record(record(HandlingRecordKind::Contact, "电话", "", ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("result"), "{}", e.message());
    let e = sys
        .undertaking_as("bj-water-group")
        .await
        .add_handling_record(record(HandlingRecordKind::Progress, "", "", "x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    unit.add_handling_record(record(
        HandlingRecordKind::SiteVisit,
        "3号楼热力入口",
        "",
        "阀门开度不足，已调整",
    ))
    .await
    .expect("site visit recorded");

    let tl = sys
        .intake()
        .await
        .get_timeline(GetTimelineRequest {
            ticket_no: no.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let handling: Vec<&str> = tl
        .entries
        .iter()
        .filter(|e| e.kind == TimelineEventKind::Handling as i32)
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(
        handling,
        [
            "contact: 电话: 已联系诉求人，约定下午上门",
            "site_visit: 3号楼热力入口: 阀门开度不足，已调整"
        ]
    );

    hotline_tests::submit_co_parts(&sys, &no).await;
    unit.submit_feedback(SubmitFeedbackRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        feedback: Some(Feedback {
            outcome: FeedbackOutcome::Resolved as i32,
            summary: "已调整阀门，室温恢复。".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let e = unit
        .add_handling_record(record(HandlingRecordKind::Progress, "", "", "late note"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_unit_ticket_gets_one_answer_from_its_lead() {
    use hotline_proto::undertaking::v1::SubmitPartRequest;
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut req = heating_request("three-units");
    req.category_code = "public-health-event".into();
    req.content = "小区出现多例发热病例，疑似聚集性疫情。".into();
    let no = sys
        .intake()
        .await
        .submit(req)
        .await
        .unwrap()
        .into_inner()
        .ticket_no;
    let a = assignments_of(&sys, &no).await;
    let units: Vec<(&str, i32)> = a.iter().map(|x| (x.unit_id.as_str(), x.role)).collect();
    assert_eq!(
        units,
        [
            ("bj-health", AssignmentRole::Lead as i32),
            ("bj-cdc", AssignmentRole::Co as i32),
            ("district-gov-110105", AssignmentRole::Co as i32),
        ]
    );
    let lead = &a[0];
    let mut lead_unit = sys.undertaking_as("bj-health").await;
    lead_unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let answer = |summary: &str| SubmitFeedbackRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        feedback: Some(Feedback {
            outcome: FeedbackOutcome::Resolved as i32,
            summary: summary.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = lead_unit.submit_feedback(answer("x")).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("bj-cdc") && e.message().contains("district-gov-110105"),
        "{}",
        e.message()
    );
    // A co-unit does not answer the requester itself, nor does the lead
    // submit a part.
    let cdc = &a[1];
    let mut cdc_unit = sys.undertaking_as("bj-cdc").await;
    cdc_unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: cdc.assignment_id.clone(),
            unit_id: cdc.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = cdc_unit
        .submit_feedback(SubmitFeedbackRequest {
            assignment_id: cdc.assignment_id.clone(),
            unit_id: cdc.unit_id.clone(),
            feedback: answer("x").feedback,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    let e = lead_unit
        .submit_part(SubmitPartRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            part: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    hotline_tests::submit_co_parts(&sys, &no).await;
    lead_unit
        .submit_feedback(answer("已会同疾控中心和区政府完成流调和消杀。"))
        .await
        .expect("the lead answers");
    let after = assignments_of(&sys, &no).await;
    assert!(
        after[1..]
            .iter()
            .all(|x| !x.part.is_empty() && x.feedback.is_none())
    );
    let tl = sys
        .intake()
        .await
        .get_timeline(GetTimelineRequest { ticket_no: no })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        tl.feedback.unwrap().summary,
        "已会同疾控中心和区政府完成流调和消杀。"
    );
}
