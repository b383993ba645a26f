//! Idempotency keys and error reasons through gRPC: a retry with the same
//! key returns the first response byte for byte, even after the state has
//! moved on; the same key with another request is INVALID_ARGUMENT naming
//! `idempotency_key`; a failed first call stores nothing; concurrent calls
//! with one key act once; a real conflict is FAILED_PRECONDITION with a
//! `google.rpc.ErrorInfo` reason a client can branch on.

use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::dispatch::v1::RedispatchTicketRequest;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target;
use hotline_proto::undertaking::v1::{
    AddHandlingRecordRequest, Assignment, AssignmentState, HandlingRecordKind,
    ListHandlingRecordsRequest, RejectReturnRequest, ReturnAssignmentRequest, ReturnReason,
    SignAssignmentRequest, SubmitFeedbackRequest, SubmitPartRequest,
};
use hotline_tests::{Options, System, assignments_of, heating_request};
use prost::Message;
use tonic::{Code, Status};
use tonic_types::StatusExt;

async fn submit(sys: &System, key: &str) -> String {
    sys.intake()
        .await
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no
}

fn of_role(all: &[Assignment], role: AssignmentRole) -> Assignment {
    all.iter()
        .find(|a| a.role == role as i32 && a.hop == 1)
        .cloned()
        .unwrap_or_else(|| panic!("an assignment of role {role:?}"))
}

/// The status is `code` with an ErrorInfo of `reason` in our domain; its
/// metadata.
fn reason_of(e: &Status, code: Code, reason: &str) -> std::collections::HashMap<String, String> {
    assert_eq!(e.code(), code, "{}", e.message());
    let info = e
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {:?}: {}", e.code(), e.message()));
    assert_eq!(info.reason, reason, "{}", e.message());
    assert_eq!(info.domain, "hotline.gov.cn");
    info.metadata
}

/// INVALID_ARGUMENT naming `idempotency_key` in its field violations.
fn key_reused(e: &Status) {
    reason_of(e, Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED");
    let bad = e.get_details_bad_request().expect("BadRequest");
    assert_eq!(bad.field_violations[0].field, "idempotency_key");
}

fn resolved() -> Feedback {
    Feedback {
        outcome: FeedbackOutcome::Resolved as i32,
        summary: "已协调热力公司排查管线，室温恢复".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_part_and_feedback_replay_their_first_response() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, "idem-sign").await;
    let all = assignments_of(&sys, &no).await;
    let (lead, co) = (
        of_role(&all, AssignmentRole::Lead),
        of_role(&all, AssignmentRole::Co),
    );
    let mut lead_unit = sys.undertaking_as(&lead.unit_id).await;
    let mut co_unit = sys.undertaking_as(&co.unit_id).await;

    // Sign: the first call, then its retry, byte for byte.
    let sign = SignAssignmentRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        idempotency_key: "sign-1".into(),
    };
    let first = lead_unit
        .sign_assignment(sign.clone())
        .await
        .expect("sign")
        .into_inner();
    let signed = first.assignment.clone().expect("assignment");
    assert_eq!(signed.state, AssignmentState::Signed as i32);
    let again = lead_unit
        .sign_assignment(sign.clone())
        .await
        .expect("the retried sign")
        .into_inner();
    assert_eq!(again.encode_to_vec(), first.encode_to_vec());
    // Signing again without the key is a real conflict, with its reason.
    let e = lead_unit
        .sign_assignment(SignAssignmentRequest {
            idempotency_key: String::new(),
            ..sign.clone()
        })
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "ASSIGNMENT_ALREADY_SIGNED");
    assert_eq!(meta.get("state").map(String::as_str), Some("signed"));
    // The same key for another request.
    let e = lead_unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: uuid::Uuid::new_v4().to_string(),
            ..sign.clone()
        })
        .await
        .unwrap_err();
    key_reused(&e);
    // A key is the caller's: the co-unit's "sign-1" is its own.
    co_unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: co.assignment_id.clone(),
            unit_id: co.unit_id.clone(),
            idempotency_key: "sign-1".into(),
        })
        .await
        .expect("the co-unit signs with a key of the same text");

    // Two concurrent calls with one key: one handling record.
    let record = AddHandlingRecordRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        kind: HandlingRecordKind::Progress as i32,
        note: "已派人现场查看".into(),
        idempotency_key: "record-1".into(),
        ..Default::default()
    };
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut unit = sys.undertaking_as(&lead.unit_id).await;
        let r = record.clone();
        calls.push(tokio::spawn(async move {
            unit.add_handling_record(r).await.map(|r| r.into_inner())
        }));
    }
    let mut answers = Vec::new();
    for c in calls {
        answers.push(
            c.await
                .unwrap()
                .expect("a concurrent record call")
                .encode_to_vec(),
        );
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one response");
    // A second record under another key: the list then holds exactly two.
    lead_unit
        .add_handling_record(AddHandlingRecordRequest {
            idempotency_key: "record-2".into(),
            ..record.clone()
        })
        .await
        .expect("another record");
    let records = sys
        .undertaking()
        .await
        .list_handling_records(ListHandlingRecordsRequest {
            ticket_no: no.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records.len(), 2, "{records:?}");

    // The co-unit's part.
    let part = SubmitPartRequest {
        assignment_id: co.assignment_id.clone(),
        unit_id: co.unit_id.clone(),
        part: "燃气管线已排查，无泄漏".into(),
        idempotency_key: "part-1".into(),
    };
    let first_part = co_unit
        .submit_part(part.clone())
        .await
        .expect("part")
        .into_inner();
    let again = co_unit
        .submit_part(part.clone())
        .await
        .expect("the retried part")
        .into_inner();
    assert_eq!(again.encode_to_vec(), first_part.encode_to_vec());
    let e = co_unit
        .submit_part(SubmitPartRequest {
            part: "另一份说明".into(),
            ..part.clone()
        })
        .await
        .unwrap_err();
    key_reused(&e);
    let e = co_unit
        .submit_part(SubmitPartRequest {
            idempotency_key: "part-2".into(),
            ..part.clone()
        })
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "ASSIGNMENT_ALREADY_ANSWERED");
    assert_eq!(meta.get("state").map(String::as_str), Some("fed_back"));

    // The lead's feedback.
    let feedback = SubmitFeedbackRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        feedback: Some(resolved()),
        idempotency_key: "feedback-1".into(),
    };
    let first_feedback = lead_unit
        .submit_feedback(feedback.clone())
        .await
        .expect("feedback")
        .into_inner();
    let again = lead_unit
        .submit_feedback(feedback.clone())
        .await
        .expect("the retried feedback")
        .into_inner();
    assert_eq!(again.encode_to_vec(), first_feedback.encode_to_vec());
    let e = lead_unit
        .submit_feedback(SubmitFeedbackRequest {
            idempotency_key: String::new(),
            ..feedback.clone()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "ASSIGNMENT_ALREADY_ANSWERED");

    // The state has moved on (answered); the sign's retry still answers
    // what the sign did.
    let late = lead_unit
        .sign_assignment(sign.clone())
        .await
        .expect("the sign retried after feedback")
        .into_inner();
    assert_eq!(late.encode_to_vec(), first.encode_to_vec());
    assert_eq!(
        late.assignment.unwrap().state,
        AssignmentState::Signed as i32
    );
    // An answered ticket is not re-dispatched: undertaking's reason comes
    // through dispatch.
    let e = sys
        .dispatch()
        .await
        .redispatch_ticket(RedispatchTicketRequest {
            ticket_no: no.clone(),
            hop: 1,
            reason: "改派".into(),
            target: Some(Target::ManualQueue(true)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "ROUND_ALREADY_ANSWERED");
    assert_eq!(meta.get("ticket_no"), Some(&no));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_and_redispatch_replay_and_a_failed_call_stores_nothing() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, "idem-return").await;
    let lead = of_role(&assignments_of(&sys, &no).await, AssignmentRole::Lead);
    let mut unit = sys.undertaking_as(&lead.unit_id).await;
    let centre = sys.undertaking().await;

    // A first call that fails stores nothing: the same key then works.
    let ret = ReturnAssignmentRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        reason: ReturnReason::NotOurDuty as i32,
        duty_rule: String::new(),
        note: String::new(),
        idempotency_key: "return-1".into(),
    };
    let e = unit.return_assignment(ret.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("duty_rule"), "{}", e.message());
    let ret = ReturnAssignmentRequest {
        duty_rule: "职责清单未列供热".into(),
        ..ret
    };
    let first = unit
        .return_assignment(ret.clone())
        .await
        .expect("the return runs afresh")
        .into_inner();
    let again = unit
        .return_assignment(ret.clone())
        .await
        .expect("the retried return")
        .into_inner();
    assert_eq!(again.encode_to_vec(), first.encode_to_vec());
    let e = unit
        .return_assignment(ReturnAssignmentRequest {
            note: "补充说明".into(),
            ..ret.clone()
        })
        .await
        .unwrap_err();
    key_reused(&e);
    let e = unit
        .sign_assignment(SignAssignmentRequest {
            assignment_id: lead.assignment_id.clone(),
            unit_id: lead.unit_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "RETURN_PENDING");

    // The centre rejects it, once.
    let return_id = first.assignment_return.clone().unwrap().return_id;
    let reject = RejectReturnRequest {
        return_id: return_id.clone(),
        note: "属本单位职责，请办理".into(),
        idempotency_key: "reject-1".into(),
    };
    let rejected = centre
        .clone()
        .reject_return(reject.clone())
        .await
        .expect("reject")
        .into_inner();
    let again = centre
        .clone()
        .reject_return(reject.clone())
        .await
        .expect("the retried rejection")
        .into_inner();
    assert_eq!(again.encode_to_vec(), rejected.encode_to_vec());
    let e = centre
        .clone()
        .reject_return(RejectReturnRequest {
            idempotency_key: String::new(),
            ..reject.clone()
        })
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "RETURN_ALREADY_DECIDED");
    assert_eq!(meta.get("state").map(String::as_str), Some("rejected"));
    // The return has been decided since; its retry still answers pending.
    let late = unit
        .return_assignment(ret.clone())
        .await
        .expect("the return retried after the rejection")
        .into_inner();
    assert_eq!(late.encode_to_vec(), first.encode_to_vec());

    // A re-dispatch, retried after its hop was put in force.
    let redispatch = RedispatchTicketRequest {
        ticket_no: no.clone(),
        hop: 1,
        reason: "调度员改派".into(),
        target: Some(Target::ManualQueue(true)),
        idempotency_key: "redispatch-1".into(),
        ..Default::default()
    };
    let mut dispatch = sys.dispatch().await;
    let moved = dispatch
        .redispatch_ticket(redispatch.clone())
        .await
        .expect("re-dispatch")
        .into_inner();
    assert_eq!(moved.routing.as_ref().unwrap().hop, 2);
    let again = dispatch
        .redispatch_ticket(redispatch.clone())
        .await
        .expect("the retried re-dispatch")
        .into_inner();
    assert_eq!(again.encode_to_vec(), moved.encode_to_vec());
    let e = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            idempotency_key: String::new(),
            ..redispatch.clone()
        })
        .await
        .unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "HOP_SUPERSEDED");
    assert_eq!(meta.get("hop").map(String::as_str), Some("2"));
    // A key that is not 1–128 printable ASCII characters.
    let e = dispatch
        .redispatch_ticket(RedispatchTicketRequest {
            idempotency_key: "钥匙 1".into(),
            ..redispatch.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        e.get_details_bad_request().unwrap().field_violations[0].field,
        "idempotency_key"
    );
}
