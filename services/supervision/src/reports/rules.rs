//! The rules of special reports (专报) and their written feedback (书面反馈):
//! the states, which move each step may make, what a draft must hold, and
//! when a report closes. Pure: no IO; `now` is passed in.
//!
//! | step | by | report from → to | each unit's feedback |
//! |---|---|---|---|
//! | draft, revise | supervisor | (new), draft, sent back → draft | not issued |
//! | submit | supervisor | draft → submitted | |
//! | send back | leader | submitted → sent back | |
//! | approve | leader | submitted → issued (the date not passed) | → awaited, clock starts |
//! | give feedback | the unit | issued | awaited, sent back → submitted, clock stops |
//! | accept | supervisor | issued → closed when every unit is accepted | submitted → accepted |
//! | send feedback back | supervisor | issued | submitted → sent back, a new date, a new clock |

use chrono::{DateTime, Duration, Utc};
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;

/// Most tickets one report is about.
pub const MAX_TICKETS: usize = 50;
/// Most units one report is issued to.
pub const MAX_UNITS: usize = 20;
pub const MAX_TITLE: usize = 200;
pub const MAX_FACTS: usize = 10_000;
pub const MAX_ASKED: usize = 2000;
pub const MAX_NOTE: usize = 2000;
pub const MAX_MEASURES: usize = 5000;
pub const MAX_RESPONSIBLE: usize = 100;
/// The latest feedback date, counted from now.
pub fn max_ahead() -> Duration {
    Duration::days(366)
}

hotline_common::sql_enum!(
    /// Where a report stands.
    ReportState, pb::ReportState, "report state", {
        Draft = "draft",
        Submitted = "submitted",
        SentBack = "sent_back",
        Issued = "issued",
        Closed = "closed",
    }
);

hotline_common::sql_enum!(
    /// Where one unit's written feedback stands.
    FeedbackState, pb::ReportFeedbackState, "feedback state", {
        NotIssued = "not_issued",
        Awaited = "awaited",
        Submitted = "submitted",
        Accepted = "accepted",
        SentBack = "sent_back",
    }
);

impl ReportState {
    /// Whether units see the report (it was issued to them).
    pub fn issued(self) -> bool {
        matches!(self, ReportState::Issued | ReportState::Closed)
    }
}

/// A draft, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub tickets: Vec<TicketNo>,
    pub title: String,
    pub facts: String,
    /// (unit, what is asked of it), in the order given.
    pub asks: Vec<(UnitId, String)>,
    pub feedback_due: DateTime<Utc>,
}

/// Checks a draft's fields, noting every problem under its field name.
pub fn draft(
    f: &mut Fields,
    r: &pb::DraftSpecialReportRequest,
    now: DateTime<Utc>,
) -> Option<Draft> {
    let mut tickets: Vec<TicketNo> = Vec::new();
    if r.ticket_nos.is_empty() {
        f.add("ticket_nos", "at least one ticket is required");
    } else if r.ticket_nos.len() > MAX_TICKETS {
        f.add("ticket_nos", format!("at most {MAX_TICKETS} tickets"));
    } else {
        for (i, raw) in r.ticket_nos.iter().enumerate() {
            if let Some(t) = f.id::<TicketNo>(&format!("ticket_nos[{i}]"), raw) {
                if tickets.contains(&t) {
                    f.add(&format!("ticket_nos[{i}]"), format!("{t} is listed twice"));
                } else {
                    tickets.push(t);
                }
            }
        }
    }
    let title = f.text("title", &r.title, MAX_TITLE);
    let facts = f.text("facts", &r.facts, MAX_FACTS);
    let mut asks: Vec<(UnitId, String)> = Vec::new();
    if r.asks.is_empty() {
        f.add("asks", "at least one unit is required");
    } else if r.asks.len() > MAX_UNITS {
        f.add("asks", format!("at most {MAX_UNITS} units"));
    } else {
        for (i, a) in r.asks.iter().enumerate() {
            let unit = f.id::<UnitId>(&format!("asks[{i}].unit_id"), &a.unit_id);
            let asked = f.text(&format!("asks[{i}].asked"), &a.asked, MAX_ASKED);
            if let Some(u) = unit {
                if asks.iter().any(|(x, _)| *x == u) {
                    f.add(
                        &format!("asks[{i}].unit_id"),
                        format!("{u} is listed twice"),
                    );
                } else {
                    asks.push((u, asked));
                }
            }
        }
    }
    let due = due_field(f, "feedback_due", r.feedback_due.as_ref(), now);
    if !f.is_ok() {
        return None;
    }
    Some(Draft {
        tickets,
        title,
        facts,
        asks,
        feedback_due: due?,
    })
}

/// A feedback date: later than `now`, at most [`max_ahead`] from it.
pub fn due_field(
    f: &mut Fields,
    field: &str,
    raw: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let t = f.time(field, raw)?;
    match hotline_common::time::within(t, field, Some(now), Some(now + max_ahead())) {
        Ok(t) if t > now => Some(t),
        Ok(_) => {
            f.add(field, "must be later than now");
            None
        }
        Err(e) => {
            for (field, problem) in e.fields {
                f.add(&field, problem);
            }
            None
        }
    }
}

fn refused(reason: Reason, id: impl std::fmt::Display, state: ReportState, what: &str) -> ApiError {
    ApiError::precondition(reason, format!("report {id} is {state}: {what}"))
        .with("report_id", id)
        .with("state", state)
}

/// Revising: only a draft or a report sent back.
pub fn may_revise(id: impl std::fmt::Display, state: ReportState) -> Result<(), ApiError> {
    match state {
        ReportState::Draft | ReportState::SentBack => Ok(()),
        s => Err(refused(
            Reason::ReportNotEditable,
            id,
            s,
            "only a draft or a report sent back is revised",
        )),
    }
}

/// Submitting: only a draft.
pub fn may_submit(id: impl std::fmt::Display, state: ReportState) -> Result<(), ApiError> {
    match state {
        ReportState::Draft => Ok(()),
        s => Err(refused(
            Reason::ReportNotDraft,
            id,
            s,
            "only a draft is submitted (revise one sent back first)",
        )),
    }
}

/// A leader's decision: only on a submitted report; approving needs a
/// feedback date still ahead.
pub fn may_decide(
    id: impl std::fmt::Display + Copy,
    state: ReportState,
    approve: bool,
    feedback_due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if state != ReportState::Submitted {
        return Err(refused(
            Reason::ReportNotSubmitted,
            id,
            state,
            "only a submitted report is decided",
        ));
    }
    if approve && feedback_due <= now {
        return Err(ApiError::precondition(
            Reason::ReportFeedbackDatePassed,
            format!(
                "report {id}'s feedback date {} has passed: send it back for a new one",
                feedback_due.to_rfc3339()
            ),
        )
        .with("report_id", id)
        .with("feedback_due", feedback_due.to_rfc3339()));
    }
    Ok(())
}

fn feedback_refused(
    reason: Reason,
    report: impl std::fmt::Display,
    unit: &UnitId,
    state: FeedbackState,
    what: &str,
) -> ApiError {
    ApiError::precondition(
        reason,
        format!("unit {unit}'s feedback to report {report} is {state}: {what}"),
    )
    .with("report_id", report)
    .with("unit_id", unit)
    .with("state", state)
}

/// A unit gives feedback: only when it is awaited (or sent back).
pub fn may_give_feedback(
    report: impl std::fmt::Display,
    unit: &UnitId,
    state: FeedbackState,
) -> Result<(), ApiError> {
    match state {
        FeedbackState::Awaited | FeedbackState::SentBack => Ok(()),
        s => Err(feedback_refused(
            Reason::ReportFeedbackNotAwaited,
            report,
            unit,
            s,
            "feedback is not awaited",
        )),
    }
}

/// The supervisor decides a unit's feedback: only a submitted one.
pub fn may_decide_feedback(
    report: impl std::fmt::Display,
    unit: &UnitId,
    state: FeedbackState,
) -> Result<(), ApiError> {
    match state {
        FeedbackState::Submitted => Ok(()),
        s => Err(feedback_refused(
            Reason::ReportFeedbackNotSubmitted,
            report,
            unit,
            s,
            "only submitted feedback is decided",
        )),
    }
}

/// A report closes when every unit's feedback is accepted.
pub fn closes(states: &[FeedbackState]) -> bool {
    !states.is_empty() && states.iter().all(|s| *s == FeedbackState::Accepted)
}

/// The instance of a unit's written-feedback clock for a report: one per
/// round (a sending back starts the next).
pub fn clock_instance(report: impl std::fmt::Display, round: i32) -> String {
    format!("{report}r{round}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;
    use hotline_common::ids::Id;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
        hotline_common::time::to_proto(t)
    }

    fn request() -> pb::DraftSpecialReportRequest {
        pb::DraftSpecialReportRequest {
            ticket_nos: vec!["BJ000000000001".into()],
            title: "职能空白：小区弃管".into(),
            facts: "多次协调无果".into(),
            asks: vec![pb::ReportAsk {
                unit_id: "u1".into(),
                asked: "明确管理责任".into(),
            }],
            feedback_due: Some(ts(at(3600))),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_draft_parses() {
        let mut f = Fields::new();
        let d = draft(&mut f, &request(), at(0)).unwrap();
        assert!(f.is_ok());
        assert_eq!(d.asks.len(), 1);
        assert_eq!(d.feedback_due, at(3600));
    }

    #[test]
    fn a_bad_draft_names_every_field() {
        let mut r = request();
        r.ticket_nos = vec![
            "BJ000000000001".into(),
            "BJ000000000001".into(),
            "x\0".into(),
        ];
        r.title = String::new();
        r.asks.push(pb::ReportAsk {
            unit_id: "u1".into(),
            asked: "again".into(),
        });
        r.feedback_due = Some(ts(at(-1)));
        let mut f = Fields::new();
        assert!(draft(&mut f, &r, at(0)).is_none());
        let m = f.finish().unwrap_err().message;
        for field in [
            "ticket_nos[1]",
            "ticket_nos[2]",
            "title",
            "asks[1].unit_id",
            "feedback_due",
        ] {
            assert!(m.contains(field), "{field} in {m}");
        }
        let mut r = request();
        r.feedback_due = Some(prost_types::Timestamp {
            seconds: 253_402_300_800 * 1000,
            nanos: 0,
        });
        let mut f = Fields::new();
        assert!(draft(&mut f, &r, at(0)).is_none());
        assert!(f.finish().unwrap_err().message.contains("feedback_due"));
        let mut r = request();
        r.feedback_due = Some(ts(at(0) + Duration::days(400)));
        let mut f = Fields::new();
        assert!(draft(&mut f, &r, at(0)).is_none());
    }

    #[test]
    fn each_step_moves_only_from_its_states() {
        let id = "r1";
        assert!(may_revise(id, ReportState::Draft).is_ok());
        assert!(may_revise(id, ReportState::SentBack).is_ok());
        for s in [
            ReportState::Submitted,
            ReportState::Issued,
            ReportState::Closed,
        ] {
            let e = may_revise(id, s).unwrap_err();
            assert_eq!(e.reason, Some(Reason::ReportNotEditable));
            assert!(e.message.contains(s.as_sql()), "{}", e.message);
        }
        assert!(may_submit(id, ReportState::Draft).is_ok());
        assert_eq!(
            may_submit(id, ReportState::SentBack).unwrap_err().reason,
            Some(Reason::ReportNotDraft)
        );
        assert!(may_decide(id, ReportState::Submitted, true, at(10), at(0)).is_ok());
        assert!(may_decide(id, ReportState::Submitted, false, at(-10), at(0)).is_ok());
        let passed = may_decide(id, ReportState::Submitted, true, at(-10), at(0)).unwrap_err();
        assert_eq!(passed.reason, Some(Reason::ReportFeedbackDatePassed));
        let e = may_decide(id, ReportState::Draft, true, at(10), at(0)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert_eq!(e.reason, Some(Reason::ReportNotSubmitted));
    }

    #[test]
    fn feedback_moves_and_the_report_closes_when_all_are_accepted() {
        let u = UnitId::parse("u1").unwrap();
        assert!(may_give_feedback("r", &u, FeedbackState::Awaited).is_ok());
        assert!(may_give_feedback("r", &u, FeedbackState::SentBack).is_ok());
        for s in [
            FeedbackState::NotIssued,
            FeedbackState::Submitted,
            FeedbackState::Accepted,
        ] {
            assert_eq!(
                may_give_feedback("r", &u, s).unwrap_err().reason,
                Some(Reason::ReportFeedbackNotAwaited)
            );
        }
        assert!(may_decide_feedback("r", &u, FeedbackState::Submitted).is_ok());
        assert_eq!(
            may_decide_feedback("r", &u, FeedbackState::Accepted)
                .unwrap_err()
                .reason,
            Some(Reason::ReportFeedbackNotSubmitted)
        );
        assert!(closes(&[FeedbackState::Accepted, FeedbackState::Accepted]));
        assert!(!closes(&[
            FeedbackState::Accepted,
            FeedbackState::Submitted
        ]));
        assert!(!closes(&[]));
        assert_ne!(clock_instance("r", 1), clock_instance("r", 2));
    }
}
