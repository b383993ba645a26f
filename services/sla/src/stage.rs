//! The stages that run against a limit (时限), by the names policy files
//! and clocks give them.

use std::str::FromStr;

/// A stage that runs against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// 派单, counted from acceptance.
    Dispatch,
    /// 签收, counted from dispatch.
    SignOff,
    /// 反馈, counted from dispatch (or acceptance, by policy).
    Feedback,
    /// 部门报到: a summoned department's arrival, by the time the whistle
    /// (街乡吹哨) set.
    ReportIn,
    /// 人工派单: a ticket waiting in the manual queue for a dispatcher.
    ManualDispatch,
    /// 回访: a return visit, from the ticket's entry into the queue.
    ReturnVisit,
    /// 书面反馈: a unit's written feedback to a special report (专报), by
    /// the date the report set.
    WrittenFeedback,
    /// 现场核分到场: a summoned unit's arrival on site, by the time set.
    OnSiteArrival,
    /// 整改: a unit's rectification after a special inspection (专项督查).
    Rectification,
    /// 会商到会: an invited unit's arrival at a consultation meeting.
    MeetingArrival,
    /// 会商议定事项: an action a consultation meeting set for a unit.
    MeetingAction,
    /// 受理: a request that did not come by phone, waiting for an operator
    /// to accept it, from its arrival.
    Acceptance,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dispatch => "dispatch",
            Stage::SignOff => "sign_off",
            Stage::Feedback => "feedback",
            Stage::ReportIn => "report_in",
            Stage::ManualDispatch => "manual_dispatch",
            Stage::ReturnVisit => "return_visit",
            Stage::WrittenFeedback => "written_feedback",
            Stage::OnSiteArrival => "on_site_arrival",
            Stage::Rectification => "rectification",
            Stage::MeetingArrival => "meeting_arrival",
            Stage::MeetingAction => "meeting_action",
            Stage::Acceptance => "acceptance",
        }
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Stage::Dispatch,
            Stage::SignOff,
            Stage::Feedback,
            Stage::ReportIn,
            Stage::ManualDispatch,
            Stage::ReturnVisit,
            Stage::WrittenFeedback,
            Stage::OnSiteArrival,
            Stage::Rectification,
            Stage::MeetingArrival,
            Stage::MeetingAction,
            Stage::Acceptance,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| format!("unknown stage {s:?}"))
    }
}
