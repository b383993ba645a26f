//! Shirking cases (推诿扯皮、敷衍塞责): what their evidence must be, and
//! which cases may be closed by hand. Pure: no IO.

use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1::{Evidence, EvidenceKind};

use crate::deadlines::model::{CaseKind, CaseRecord, CaseState};

/// Most pieces of evidence on one case.
pub const MAX_EVIDENCE: usize = 20;
/// The longest piece of evidence, or result, in characters.
pub const MAX_DETAIL: usize = 2000;

pub fn evidence_to_sql(k: EvidenceKind) -> &'static str {
    match k {
        EvidenceKind::ReturnsRejected => "returns_rejected",
        EvidenceKind::RepeatedReturns => "repeated_returns",
        EvidenceKind::AnswerDisputed => "answer_disputed",
        EvidenceKind::Other | EvidenceKind::Unspecified => "other",
    }
}

pub fn evidence_from_sql(s: &str) -> Result<EvidenceKind, ApiError> {
    match s {
        "returns_rejected" => Ok(EvidenceKind::ReturnsRejected),
        "repeated_returns" => Ok(EvidenceKind::RepeatedReturns),
        "answer_disputed" => Ok(EvidenceKind::AnswerDisputed),
        "other" => Ok(EvidenceKind::Other),
        other => Err(ApiError::internal(format!(
            "stored evidence kind {other:?}"
        ))),
    }
}

/// The evidence of a new case, checked: 1–`MAX_EVIDENCE` pieces, each of a
/// known kind with its detail. Problems are noted as `evidence[i].kind`
/// and `evidence[i].detail`.
pub fn evidence(f: &mut Fields, given: &[Evidence]) -> Vec<(EvidenceKind, String)> {
    if given.is_empty() {
        f.add("evidence", "at least one piece is required");
    }
    if given.len() > MAX_EVIDENCE {
        f.add("evidence", format!("at most {MAX_EVIDENCE} pieces"));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(given.len());
    for (i, e) in given.iter().enumerate() {
        let kind = match EvidenceKind::try_from(e.kind) {
            Ok(EvidenceKind::Unspecified) => {
                f.add(&format!("evidence[{i}].kind"), "required");
                EvidenceKind::Unspecified
            }
            Ok(k) => k,
            Err(_) => {
                f.add(
                    &format!("evidence[{i}].kind"),
                    format!("unknown evidence kind {}", e.kind),
                );
                EvidenceKind::Unspecified
            }
        };
        let detail = f.text(&format!("evidence[{i}].detail"), &e.detail, MAX_DETAIL);
        out.push((kind, detail));
    }
    out
}

/// Whether a case may be closed by hand now: only an open shirking case.
pub fn may_close(c: &CaseRecord) -> Result<(), ApiError> {
    if c.state == CaseState::Closed {
        return Err(ApiError::precondition(
            Reason::CaseAlreadyClosed,
            format!("case {} is closed already", c.case_id),
        )
        .with("case_id", c.case_id)
        .with("state", "closed"));
    }
    match c.kind {
        CaseKind::Shirking { .. } => Ok(()),
        CaseKind::Deadline { stage, .. } => Err(ApiError::precondition(
            Reason::CaseClosesWithItsStage,
            format!(
                "case {} is a deadline case of stage {}: it closes when the stage is done",
                c.case_id,
                stage.as_str()
            ),
        )
        .with("case_id", c.case_id)
        .with("kind", "deadline")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use hotline_common::ErrorCode;
    use hotline_common::ids::{Id, TicketNo, UnitId};
    use hotline_sla::Stage;

    fn case(kind: CaseKind, state: CaseState) -> CaseRecord {
        CaseRecord {
            case_id: crate::ids::CaseId::new(),
            ticket_no: TicketNo::parse("BJ000000000001").unwrap(),
            unit_id: UnitId::parse("u1").unwrap(),
            kind,
            opened_at: Utc::now(),
            state,
            closed_at: None,
        }
    }

    fn shirking() -> CaseKind {
        CaseKind::Shirking {
            opened_by: "sup".into(),
            evidence: vec![],
            closed_by: String::new(),
            result: String::new(),
        }
    }

    #[test]
    fn only_an_open_shirking_case_is_closed_by_hand() {
        assert!(may_close(&case(shirking(), CaseState::Open)).is_ok());
        let closed = may_close(&case(shirking(), CaseState::Closed)).unwrap_err();
        assert_eq!(closed.reason, Some(Reason::CaseAlreadyClosed));
        let deadline = CaseKind::Deadline {
            stage: Stage::Feedback,
            deadline: Utc::now(),
        };
        let e = may_close(&case(deadline, CaseState::Open)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert_eq!(e.reason, Some(Reason::CaseClosesWithItsStage));
        assert!(e.message.contains("feedback"), "{}", e.message);
    }

    #[test]
    fn evidence_names_each_bad_piece() {
        let mut f = Fields::new();
        evidence(&mut f, &[]);
        assert!(
            f.finish()
                .unwrap_err()
                .message
                .contains("evidence: at least one")
        );
        let mut f = Fields::new();
        let got = evidence(
            &mut f,
            &[
                Evidence {
                    kind: EvidenceKind::ReturnsRejected as i32,
                    detail: "退单被驳回三次".into(),
                },
                Evidence {
                    kind: 99,
                    detail: String::new(),
                },
            ],
        );
        assert_eq!(got[0].0, EvidenceKind::ReturnsRejected);
        let m = f.finish().unwrap_err().message;
        assert!(
            m.contains("evidence[1].kind: unknown evidence kind 99"),
            "{m}"
        );
        assert!(m.contains("evidence[1].detail"), "{m}");
        for k in [
            EvidenceKind::ReturnsRejected,
            EvidenceKind::RepeatedReturns,
            EvidenceKind::AnswerDisputed,
            EvidenceKind::Other,
        ] {
            assert_eq!(evidence_from_sql(evidence_to_sql(k)).unwrap(), k);
        }
    }
}
