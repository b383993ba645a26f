//! Supervision's gRPC surface: one line per RPC, each delegating to its
//! feature.

use hotline_common::grpc::unary;
use hotline_proto::supervision::v1::supervision_service_server::SupervisionService;
use hotline_proto::supervision::v1::*;
use tonic::{Request, Response, Status};

use crate::deadlines::{self, store::Store};
use crate::evaluation::{self as ev, Eval};

pub struct Grpc {
    pub store: Store,
    pub eval: Eval,
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
}
