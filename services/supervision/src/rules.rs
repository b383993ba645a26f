//! supervision's rows of the rule table: which roles may call each of its
//! RPCs. The gate in `hotline_common::auth` enforces them, with the rows of
//! the services every server carries (audit trail).

use hotline_common::auth::Role::*;
use hotline_common::auth::{Rule, Served};

/// What supervision's port answers.
pub const SERVED: Served = Served {
    services: &["hotline.supervision.v1.SupervisionService"],
    rules: RULES,
    clocks: true,
};

pub const RULES: &[Rule] = &[
    (
        "/hotline.supervision.v1.SupervisionService/ListUrges",
        &[Supervisor, Leader, Auditor, UnitStaff, Service],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListCases",
        &[Supervisor, Leader, Auditor, UnitStaff, Service],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListFeedEvents",
        &[Service],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetEvaluation",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ExplainEvaluation",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetUnitTrend",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ExportEvaluation",
        &[Supervisor, Leader, Auditor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ExcludeTicket",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DecideExclusion",
        &[Leader],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ReverseExclusion",
        &[Leader],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListExclusions",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/AppealEvaluation",
        &[UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DecideEvaluationAppeal",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListEvaluationAppeals",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/RecountEvaluation",
        &[Supervisor, Leader, Auditor, Ops],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DraftSpecialReport",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/SubmitSpecialReport",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DecideSpecialReport",
        &[Leader],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/SubmitReportFeedback",
        &[UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DecideReportFeedback",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetSpecialReport",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListSpecialReports",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/OpenShirkingCase",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/CloseCase",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/StartOnSiteDivision",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ArriveOnSite",
        &[UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/RecordDivision",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetOnSiteDivision",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListOnSiteDivisions",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DraftNotice",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/SubmitNotice",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/DecideNotice",
        &[Leader],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetNotice",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListNotices",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListInspectionCandidates",
        &[Supervisor, Leader, Auditor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/OpenInspection",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ReportRectification",
        &[UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/CloseInspection",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetInspection",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListInspections",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListMeetingCandidates",
        &[Supervisor, Leader, Auditor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ConveneMeeting",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/AttendMeeting",
        &[UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/RecordMeetingMinutes",
        &[Supervisor],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/CompleteMeetingAction",
        &[UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/GetMeeting",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
    (
        "/hotline.supervision.v1.SupervisionService/ListMeetings",
        &[Supervisor, Leader, Auditor, UnitStaff],
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_served_method_has_exactly_one_rule() {
        super::SERVED.assert_matches_contract();
    }
}
