//! Requesters' names and phones through gRPC: a unit sees them in full
//! only while it holds an open assignment of the ticket; masked numbers
//! show at most four digits, whatever their length.

mod support;

use std::time::Duration;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Feedback, FeedbackOutcome};
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentState, SignAssignmentRequest, SubmitFeedbackRequest,
};
use hotline_tests::{Options, System, assignments_of, eventually, heating_request};
use support::{hop_assignments, lead, requester_seen, submit};

fn full() -> (String, String) {
    ("王女士".to_string(), "13800138000".to_string())
}

fn masked() -> (String, String) {
    ("王**".to_string(), "*******8000".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_whose_assignment_ended_sees_the_requester_masked() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("ended")).await;
    let first = lead(&hop_assignments(&sys, &no, 1).await).clone();
    assert_eq!(first.unit_id, "bj-heating-group");
    let unit = |id: &'static str| {
        let sys = &sys;
        let no = no.clone();
        async move { requester_seen(sys, &[Role::UnitStaff], Some(id), &no).await }
    };
    assert_eq!(unit("bj-heating-group").await.unwrap(), full());

    // Re-dispatched to the water group: the heating group's assignment is
    // withdrawn.
    sys.dispatch()
        .await
        .redispatch_ticket(hotline_tests::to_water(&no, 1))
        .await
        .expect("re-dispatched");
    eventually(Duration::from_secs(30), "hop 1 withdrawn", || async {
        let all: Vec<Assignment> = assignments_of(&sys, &no).await;
        all.iter()
            .filter(|a| a.hop == 1)
            .all(|a| a.state == AssignmentState::Withdrawn as i32)
            .then_some(())
    })
    .await;
    assert_eq!(
        unit("bj-heating-group")
            .await
            .expect("it still reads the ticket"),
        masked()
    );
    assert_eq!(unit("bj-cmc").await.unwrap(), masked(), "the co-unit too");
    // The new unit holds it once the relay has recorded hop 2.
    hop_assignments(&sys, &no, 2).await;
    assert_eq!(unit("bj-water-group").await.unwrap(), full());

    // The water group answers: nothing more is expected of it.
    let water = lead(&hop_assignments(&sys, &no, 2).await).clone();
    let mut w = sys.undertaking_as(&water.unit_id).await;
    w.sign_assignment(SignAssignmentRequest {
        assignment_id: water.assignment_id.clone(),
        unit_id: water.unit_id.clone(),
        ..Default::default()
    })
    .await
    .expect("signed");
    assert_eq!(
        unit("bj-water-group").await.unwrap(),
        full(),
        "while handling"
    );
    w.submit_feedback(SubmitFeedbackRequest {
        assignment_id: water.assignment_id.clone(),
        unit_id: water.unit_id.clone(),
        feedback: Some(Feedback {
            outcome: FeedbackOutcome::Resolved as i32,
            summary: "已抢修管线，恢复供水。".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("answered");
    assert_eq!(unit("bj-water-group").await.unwrap(), masked());
    // The operator and return-visit staff still see the requester in full.
    for role in [Role::Operator, Role::ReturnVisit] {
        assert_eq!(
            requester_seen(&sys, &[role], None, &no).await.unwrap(),
            full(),
            "{role:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_phones_show_at_most_four_digits() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    for (key, phone, shown) in [
        ("landline-8", "65123456", "****3456"),
        ("landline-7", "6512345", "****345"),
        ("mobile", "138-0013-8000", "*******8000"),
    ] {
        let mut req = heating_request(key);
        req.requester.as_mut().unwrap().phone = phone.into();
        let no = submit(&sys, req).await;
        let (name, seen) = requester_seen(&sys, &[Role::Supervisor], None, &no)
            .await
            .unwrap();
        assert_eq!((name.as_str(), seen.as_str()), ("王**", shown), "{phone}");
        let digits = seen.chars().filter(char::is_ascii_digit).count();
        assert!(digits <= 4, "{phone} → {seen}");
    }
}
