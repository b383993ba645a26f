//! Supervision's gRPC surface: one line per RPC, each delegating to its
//! feature.

use hotline_common::grpc::unary;
use hotline_proto::supervision::v1::supervision_service_server::SupervisionService;
use hotline_proto::supervision::v1::*;
use tonic::{Request, Response, Status};

use crate::deadlines::{self, store::Store};
use crate::evaluation::{self as ev, Eval};
use crate::inspections;
use crate::meetings;
use crate::notices;
use crate::onsite;
use crate::reports;
use crate::shirking;
use crate::workflows::Workflows;

pub struct Grpc {
    pub store: Store,
    pub eval: Eval,
    pub workflows: Workflows,
}

#[tonic::async_trait]
impl SupervisionService for Grpc {
    async fn list_urges(
        &self,
        req: Request<ListUrgesRequest>,
    ) -> Result<Response<ListUrgesResponse>, Status> {
        unary(req, |who, r| deadlines::list_urges(&self.store, who, r)).await
    }

    async fn list_cases(
        &self,
        req: Request<ListCasesRequest>,
    ) -> Result<Response<ListCasesResponse>, Status> {
        unary(req, |who, r| deadlines::list_cases(&self.store, who, r)).await
    }

    async fn list_feed_events(
        &self,
        req: Request<ListFeedEventsRequest>,
    ) -> Result<Response<ListFeedEventsResponse>, Status> {
        unary(req, |who, r| crate::feed::list(self.store.pool(), who, r)).await
    }

    async fn get_evaluation(
        &self,
        req: Request<GetEvaluationRequest>,
    ) -> Result<Response<GetEvaluationResponse>, Status> {
        unary(req, |who, r| ev::report::get(&self.eval, who, r)).await
    }

    async fn explain_evaluation(
        &self,
        req: Request<ExplainEvaluationRequest>,
    ) -> Result<Response<ExplainEvaluationResponse>, Status> {
        unary(req, |who, r| ev::report::explain(&self.eval, who, r)).await
    }

    async fn get_unit_trend(
        &self,
        req: Request<GetUnitTrendRequest>,
    ) -> Result<Response<GetUnitTrendResponse>, Status> {
        unary(req, |who, r| ev::report::trend(&self.eval, who, r)).await
    }

    async fn export_evaluation(
        &self,
        req: Request<ExportEvaluationRequest>,
    ) -> Result<Response<ExportEvaluationResponse>, Status> {
        unary(req, |who, r| ev::report::export(&self.eval, who, r)).await
    }

    async fn exclude_ticket(
        &self,
        req: Request<ExcludeTicketRequest>,
    ) -> Result<Response<ExcludeTicketResponse>, Status> {
        unary(req, |who, r| ev::exclusions::exclude(&self.eval, who, r)).await
    }

    async fn decide_exclusion(
        &self,
        req: Request<DecideExclusionRequest>,
    ) -> Result<Response<DecideExclusionResponse>, Status> {
        unary(req, |who, r| ev::exclusions::decide(&self.eval, who, r)).await
    }

    async fn reverse_exclusion(
        &self,
        req: Request<ReverseExclusionRequest>,
    ) -> Result<Response<ReverseExclusionResponse>, Status> {
        unary(req, |who, r| ev::exclusions::reverse(&self.eval, who, r)).await
    }

    async fn list_exclusions(
        &self,
        req: Request<ListExclusionsRequest>,
    ) -> Result<Response<ListExclusionsResponse>, Status> {
        unary(req, |who, r| ev::exclusions::list(&self.eval, who, r)).await
    }

    async fn appeal_evaluation(
        &self,
        req: Request<AppealEvaluationRequest>,
    ) -> Result<Response<AppealEvaluationResponse>, Status> {
        unary(req, |who, r| ev::appeals::appeal(&self.eval, who, r)).await
    }

    async fn decide_evaluation_appeal(
        &self,
        req: Request<DecideEvaluationAppealRequest>,
    ) -> Result<Response<DecideEvaluationAppealResponse>, Status> {
        unary(req, |who, r| ev::appeals::decide(&self.eval, who, r)).await
    }

    async fn list_evaluation_appeals(
        &self,
        req: Request<ListEvaluationAppealsRequest>,
    ) -> Result<Response<ListEvaluationAppealsResponse>, Status> {
        unary(req, |who, r| ev::appeals::list(&self.eval, who, r)).await
    }

    async fn recount_evaluation(
        &self,
        req: Request<RecountEvaluationRequest>,
    ) -> Result<Response<RecountEvaluationResponse>, Status> {
        unary(req, |who, r| ev::recount::recount(&self.eval, who, r)).await
    }

    async fn draft_special_report(
        &self,
        req: Request<DraftSpecialReportRequest>,
    ) -> Result<Response<DraftSpecialReportResponse>, Status> {
        unary(req, |who, r| reports::draft(&self.workflows, who, r)).await
    }

    async fn submit_special_report(
        &self,
        req: Request<SubmitSpecialReportRequest>,
    ) -> Result<Response<SubmitSpecialReportResponse>, Status> {
        unary(req, |who, r| reports::submit(&self.workflows, who, r)).await
    }

    async fn decide_special_report(
        &self,
        req: Request<DecideSpecialReportRequest>,
    ) -> Result<Response<DecideSpecialReportResponse>, Status> {
        unary(req, |who, r| reports::decide(&self.workflows, who, r)).await
    }

    async fn submit_report_feedback(
        &self,
        req: Request<SubmitReportFeedbackRequest>,
    ) -> Result<Response<SubmitReportFeedbackResponse>, Status> {
        unary(req, |who, r| {
            reports::give_feedback(&self.workflows, who, r)
        })
        .await
    }

    async fn decide_report_feedback(
        &self,
        req: Request<DecideReportFeedbackRequest>,
    ) -> Result<Response<DecideReportFeedbackResponse>, Status> {
        unary(req, |who, r| {
            reports::decide_feedback(&self.workflows, who, r)
        })
        .await
    }

    async fn get_special_report(
        &self,
        req: Request<GetSpecialReportRequest>,
    ) -> Result<Response<GetSpecialReportResponse>, Status> {
        unary(req, |who, r| reports::get(&self.workflows, who, r)).await
    }

    async fn list_special_reports(
        &self,
        req: Request<ListSpecialReportsRequest>,
    ) -> Result<Response<ListSpecialReportsResponse>, Status> {
        unary(req, |who, r| reports::list(&self.workflows, who, r)).await
    }

    async fn open_shirking_case(
        &self,
        req: Request<OpenShirkingCaseRequest>,
    ) -> Result<Response<OpenShirkingCaseResponse>, Status> {
        unary(req, |who, r| shirking::open(&self.workflows, who, r)).await
    }

    async fn close_case(
        &self,
        req: Request<CloseCaseRequest>,
    ) -> Result<Response<CloseCaseResponse>, Status> {
        unary(req, |who, r| shirking::close(&self.workflows, who, r)).await
    }

    async fn start_on_site_division(
        &self,
        req: Request<StartOnSiteDivisionRequest>,
    ) -> Result<Response<StartOnSiteDivisionResponse>, Status> {
        unary(req, |who, r| onsite::start(&self.workflows, who, r)).await
    }

    async fn arrive_on_site(
        &self,
        req: Request<ArriveOnSiteRequest>,
    ) -> Result<Response<ArriveOnSiteResponse>, Status> {
        unary(req, |who, r| onsite::arrive(&self.workflows, who, r)).await
    }

    async fn record_division(
        &self,
        req: Request<RecordDivisionRequest>,
    ) -> Result<Response<RecordDivisionResponse>, Status> {
        unary(req, |who, r| onsite::record(&self.workflows, who, r)).await
    }

    async fn get_on_site_division(
        &self,
        req: Request<GetOnSiteDivisionRequest>,
    ) -> Result<Response<GetOnSiteDivisionResponse>, Status> {
        unary(req, |who, r| onsite::get(&self.workflows, who, r)).await
    }

    async fn list_on_site_divisions(
        &self,
        req: Request<ListOnSiteDivisionsRequest>,
    ) -> Result<Response<ListOnSiteDivisionsResponse>, Status> {
        unary(req, |who, r| onsite::list(&self.workflows, who, r)).await
    }

    async fn draft_notice(
        &self,
        req: Request<DraftNoticeRequest>,
    ) -> Result<Response<DraftNoticeResponse>, Status> {
        unary(req, |who, r| notices::draft(&self.workflows, who, r)).await
    }

    async fn submit_notice(
        &self,
        req: Request<SubmitNoticeRequest>,
    ) -> Result<Response<SubmitNoticeResponse>, Status> {
        unary(req, |who, r| notices::submit(&self.workflows, who, r)).await
    }

    async fn decide_notice(
        &self,
        req: Request<DecideNoticeRequest>,
    ) -> Result<Response<DecideNoticeResponse>, Status> {
        unary(req, |who, r| notices::decide(&self.workflows, who, r)).await
    }

    async fn get_notice(
        &self,
        req: Request<GetNoticeRequest>,
    ) -> Result<Response<GetNoticeResponse>, Status> {
        unary(req, |who, r| notices::get(&self.workflows, who, r)).await
    }

    async fn list_notices(
        &self,
        req: Request<ListNoticesRequest>,
    ) -> Result<Response<ListNoticesResponse>, Status> {
        unary(req, |who, r| notices::list(&self.workflows, who, r)).await
    }

    async fn list_inspection_candidates(
        &self,
        req: Request<ListInspectionCandidatesRequest>,
    ) -> Result<Response<ListInspectionCandidatesResponse>, Status> {
        unary(req, |who, r| {
            inspections::list_candidates(&self.workflows, who, r)
        })
        .await
    }

    async fn open_inspection(
        &self,
        req: Request<OpenInspectionRequest>,
    ) -> Result<Response<OpenInspectionResponse>, Status> {
        unary(req, |who, r| inspections::open(&self.workflows, who, r)).await
    }

    async fn report_rectification(
        &self,
        req: Request<ReportRectificationRequest>,
    ) -> Result<Response<ReportRectificationResponse>, Status> {
        unary(req, |who, r| inspections::rectify(&self.workflows, who, r)).await
    }

    async fn close_inspection(
        &self,
        req: Request<CloseInspectionRequest>,
    ) -> Result<Response<CloseInspectionResponse>, Status> {
        unary(req, |who, r| inspections::close(&self.workflows, who, r)).await
    }

    async fn get_inspection(
        &self,
        req: Request<GetInspectionRequest>,
    ) -> Result<Response<GetInspectionResponse>, Status> {
        unary(req, |who, r| inspections::get(&self.workflows, who, r)).await
    }

    async fn list_inspections(
        &self,
        req: Request<ListInspectionsRequest>,
    ) -> Result<Response<ListInspectionsResponse>, Status> {
        unary(req, |who, r| inspections::list(&self.workflows, who, r)).await
    }

    async fn list_meeting_candidates(
        &self,
        req: Request<ListMeetingCandidatesRequest>,
    ) -> Result<Response<ListMeetingCandidatesResponse>, Status> {
        unary(req, |who, r| {
            meetings::list_candidates(&self.workflows, who, r)
        })
        .await
    }

    async fn convene_meeting(
        &self,
        req: Request<ConveneMeetingRequest>,
    ) -> Result<Response<ConveneMeetingResponse>, Status> {
        unary(req, |who, r| meetings::convene(&self.workflows, who, r)).await
    }

    async fn attend_meeting(
        &self,
        req: Request<AttendMeetingRequest>,
    ) -> Result<Response<AttendMeetingResponse>, Status> {
        unary(req, |who, r| meetings::attend(&self.workflows, who, r)).await
    }

    async fn record_meeting_minutes(
        &self,
        req: Request<RecordMeetingMinutesRequest>,
    ) -> Result<Response<RecordMeetingMinutesResponse>, Status> {
        unary(req, |who, r| meetings::record(&self.workflows, who, r)).await
    }

    async fn complete_meeting_action(
        &self,
        req: Request<CompleteMeetingActionRequest>,
    ) -> Result<Response<CompleteMeetingActionResponse>, Status> {
        unary(req, |who, r| {
            meetings::complete_action(&self.workflows, who, r)
        })
        .await
    }

    async fn get_meeting(
        &self,
        req: Request<GetMeetingRequest>,
    ) -> Result<Response<GetMeetingResponse>, Status> {
        unary(req, |who, r| meetings::get(&self.workflows, who, r)).await
    }

    async fn list_meetings(
        &self,
        req: Request<ListMeetingsRequest>,
    ) -> Result<Response<ListMeetingsResponse>, Status> {
        unary(req, |who, r| meetings::list(&self.workflows, who, r)).await
    }
}
