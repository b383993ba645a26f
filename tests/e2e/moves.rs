//! What the handling tests share: the units' moves on an assignment, a
//! complete resolved answer, a ticket submitted and its lead assignment.

#![allow(dead_code)]

use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::undertaking::v1::{
    Assignment, ReturnAssignmentRequest, ReturnReason, SignAssignmentRequest, SubmitFeedbackRequest,
};
use hotline_tests::{System, assignments_of, heating_request};
use tonic::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Sign,
    Feedback,
    Return,
}

pub const MOVES: [Move; 3] = [Move::Sign, Move::Feedback, Move::Return];

pub fn resolved() -> Feedback {
    Feedback {
        outcome: FeedbackOutcome::Resolved as i32,
        summary: "已协调热力公司排查管线，室温恢复".into(),
        ..Default::default()
    }
}

pub async fn attempt(
    sys: &System,
    a: &Assignment,
    m: Move,
    fb: Feedback,
) -> Result<(), tonic::Status> {
    let mut unit = sys.undertaking_as(&a.unit_id).await;
    let (id, unit_id) = (a.assignment_id.clone(), a.unit_id.clone());
    match m {
        Move::Sign => unit
            .sign_assignment(SignAssignmentRequest {
                assignment_id: id,
                unit_id,
                ..Default::default()
            })
            .await
            .map(drop),
        Move::Feedback => unit
            .submit_feedback(SubmitFeedbackRequest {
                assignment_id: id,
                unit_id,
                feedback: Some(fb),
                ..Default::default()
            })
            .await
            .map(drop),
        Move::Return => unit
            .return_assignment(ReturnAssignmentRequest {
                assignment_id: id,
                unit_id,
                reason: ReturnReason::NotOurDuty as i32,
                duty_rule: "职责清单未列".into(),
                note: String::new(),
                ..Default::default()
            })
            .await
            .map(drop),
    }
}

/// The ticket's lead assignment as undertaking has it now.
pub async fn lead_of(sys: &System, no: &str, hop: i32) -> Assignment {
    assignments_of(sys, no)
        .await
        .into_iter()
        .find(|a| a.hop == hop && a.role == AssignmentRole::Lead as i32)
        .expect("a lead unit")
}

/// Tries every move the state does not allow: each is FAILED_PRECONDITION
/// and says the state.
pub async fn refused_in(sys: &System, a: &Assignment, state: &str, legal: &[Move]) {
    for m in MOVES {
        if legal.contains(&m) {
            continue;
        }
        let e = attempt(sys, a, m, resolved())
            .await
            .expect_err(&format!("{m:?} from {state}"));
        assert_eq!(
            e.code(),
            Code::FailedPrecondition,
            "{m:?} from {state}: {}",
            e.message()
        );
        assert!(
            e.message().contains(state),
            "{m:?} from {state}: {}",
            e.message()
        );
    }
}

pub async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}
