//! The rules of public notices (通报): states and steps, the period, and
//! what each cause counts. Pure: no IO.
//!
//! | step | by | from → to |
//! |---|---|---|
//! | draft (lines generated), revise (generated again) | supervisor | (new), draft, sent back → draft |
//! | submit | supervisor | draft → submitted |
//! | publish, send back | leader | submitted → published, sent back |
//!
//! | cause | counts, in the period |
//! |---|---|
//! | late | deadline cases opened at the deadline of dispatch, the manual queue, sign-off, feedback, a return visit, written feedback or a meeting's action |
//! | not arriving | report-in cases (街乡吹哨) and meeting-arrival cases (会议协商); on-site divisions recorded with the unit never there |
//! | refusing | on-site divisions recorded with the unit refusing; shirking cases opened |

use chrono::{DateTime, Duration, Utc};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;
use hotline_sla::Stage;

pub const MAX_TITLE: usize = 200;
pub const MAX_NOTE: usize = 2000;

hotline_common::sql_enum!(
    /// Where a notice stands.
    NoticeState, pb::NoticeState, "notice state", {
        Draft = "draft",
        Submitted = "submitted",
        SentBack = "sent_back",
        Published = "published",
    }
);

hotline_common::sql_enum!(
    /// What a line counts.
    NoticeCause, pb::NoticeCause, "notice cause", {
        Late = "late",
        NotArriving = "not_arriving",
        Refusing = "refusing",
    }
);

/// The stages whose deadline cases count as late.
pub const LATE_STAGES: &[Stage] = &[
    Stage::MeetingAction,
    Stage::Acceptance,
    Stage::Dispatch,
    Stage::ManualDispatch,
    Stage::SignOff,
    Stage::Feedback,
    Stage::ReturnVisit,
    Stage::WrittenFeedback,
];

/// The stages whose deadline cases count as not arriving. On-site
/// arrivals count through the recorded division instead (a unit that
/// never came is recorded so whether or not its time had passed).
pub const NOT_ARRIVING_STAGES: &[Stage] = &[Stage::ReportIn, Stage::MeetingArrival];

/// A period: from before to, to not after `now`, at most 366 days long.
pub fn period(
    f: &mut Fields,
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = (f.time("period_from", from), f.time("period_to", to));
    let (from, to) = (from?, to?);
    if to <= from {
        f.add("period_to", "must be later than period_from");
        return None;
    }
    if to > now {
        f.add(
            "period_to",
            "must not be in the future: a notice counts what happened",
        );
        return None;
    }
    if to - from > Duration::days(366) {
        f.add("period_to", "at most 366 days after period_from");
        return None;
    }
    Some((from, to))
}

fn refused(reason: Reason, id: impl std::fmt::Display, state: NoticeState, what: &str) -> ApiError {
    ApiError::precondition(reason, format!("notice {id} is {state}: {what}"))
        .with("notice_id", id)
        .with("state", state)
}

pub fn may_revise(id: impl std::fmt::Display, state: NoticeState) -> Result<(), ApiError> {
    match state {
        NoticeState::Draft | NoticeState::SentBack => Ok(()),
        s => Err(refused(
            Reason::NoticeNotEditable,
            id,
            s,
            "only a draft or a notice sent back is revised",
        )),
    }
}

pub fn may_submit(id: impl std::fmt::Display, state: NoticeState) -> Result<(), ApiError> {
    match state {
        NoticeState::Draft => Ok(()),
        s => Err(refused(
            Reason::NoticeNotDraft,
            id,
            s,
            "only a draft is submitted",
        )),
    }
}

pub fn may_decide(id: impl std::fmt::Display, state: NoticeState) -> Result<(), ApiError> {
    match state {
        NoticeState::Submitted => Ok(()),
        s => Err(refused(
            Reason::NoticeNotSubmitted,
            id,
            s,
            "only a submitted notice is decided",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
        hotline_common::time::to_proto(t)
    }

    #[test]
    fn a_period_is_past_ordered_and_bounded() {
        let now = at(0);
        let mut f = Fields::new();
        assert_eq!(
            period(&mut f, Some(&ts(at(-100))), Some(&ts(at(-1))), now),
            Some((at(-100), at(-1)))
        );
        for (from, to, field) in [
            (at(-1), at(-100), "period_to"),
            (at(-100), at(100), "period_to"),
            (at(-400 * 86_400), at(-1), "period_to"),
        ] {
            let mut f = Fields::new();
            assert!(period(&mut f, Some(&ts(from)), Some(&ts(to)), now).is_none());
            assert!(f.finish().unwrap_err().message.contains(field));
        }
        let mut f = Fields::new();
        assert!(period(&mut f, None, None, now).is_none());
        let m = f.finish().unwrap_err().message;
        assert!(m.contains("period_from") && m.contains("period_to"), "{m}");
    }

    #[test]
    fn steps_move_only_from_their_states() {
        assert!(may_revise("n", NoticeState::SentBack).is_ok());
        assert_eq!(
            may_revise("n", NoticeState::Published).unwrap_err().reason,
            Some(Reason::NoticeNotEditable)
        );
        assert!(may_submit("n", NoticeState::Draft).is_ok());
        assert_eq!(
            may_submit("n", NoticeState::Submitted).unwrap_err().reason,
            Some(Reason::NoticeNotDraft)
        );
        assert!(may_decide("n", NoticeState::Submitted).is_ok());
        assert_eq!(
            may_decide("n", NoticeState::Draft).unwrap_err().reason,
            Some(Reason::NoticeNotSubmitted)
        );
    }
}
