//! Undertaking's gRPC surface: one line per RPC, delegating to its
//! feature (identity, message, errors: `hotline_common::grpc::unary`).

use hotline_common::grpc::{Streamed, server_stream, unary};
use hotline_proto::undertaking::v1::undertaking_service_server::UndertakingService;
use hotline_proto::undertaking::v1::*;
use tonic::{Request, Response, Status};

use crate::context::Ctx;
use crate::{
    assignments, extensions, feedback, hops, records, rehandling, returns, unit_supervision, watch,
    whistles,
};

pub struct Grpc {
    pub ctx: Ctx,
}

#[tonic::async_trait]
impl UndertakingService for Grpc {
    type WatchUnitEventsStream = Streamed<WatchUnitEventsResponse>;

    async fn watch_unit_events(
        &self,
        req: Request<WatchUnitEventsRequest>,
    ) -> Result<Response<Self::WatchUnitEventsStream>, Status> {
        server_stream(req, |who, msg| watch::watch(&self.ctx, who, msg)).await
    }

    async fn create_assignments(
        &self,
        req: Request<CreateAssignmentsRequest>,
    ) -> Result<Response<CreateAssignmentsResponse>, Status> {
        unary(req, |who, msg| assignments::create(&self.ctx, who, msg)).await
    }

    async fn list_assignments(
        &self,
        req: Request<ListAssignmentsRequest>,
    ) -> Result<Response<ListAssignmentsResponse>, Status> {
        unary(req, |who, msg| assignments::list(&self.ctx, who, msg)).await
    }

    async fn list_ticket_assignments(
        &self,
        req: Request<ListTicketAssignmentsRequest>,
    ) -> Result<Response<ListTicketAssignmentsResponse>, Status> {
        unary(req, |who, msg| {
            assignments::list_ticket(&self.ctx, who, msg)
        })
        .await
    }

    async fn sign_assignment(
        &self,
        req: Request<SignAssignmentRequest>,
    ) -> Result<Response<SignAssignmentResponse>, Status> {
        unary(req, |who, msg| assignments::sign(&self.ctx, who, msg)).await
    }

    async fn begin_hop(
        &self,
        req: Request<BeginHopRequest>,
    ) -> Result<Response<BeginHopResponse>, Status> {
        unary(req, |who, msg| hops::begin_hop(&self.ctx, who, msg)).await
    }

    async fn submit_feedback(
        &self,
        req: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        unary(req, |who, msg| {
            feedback::submit_feedback(&self.ctx, who, msg)
        })
        .await
    }

    async fn submit_part(
        &self,
        req: Request<SubmitPartRequest>,
    ) -> Result<Response<SubmitPartResponse>, Status> {
        unary(req, |who, msg| feedback::submit_part(&self.ctx, who, msg)).await
    }

    async fn return_assignment(
        &self,
        req: Request<ReturnAssignmentRequest>,
    ) -> Result<Response<ReturnAssignmentResponse>, Status> {
        unary(req, |who, msg| {
            returns::return_assignment(&self.ctx, who, msg)
        })
        .await
    }

    async fn reject_return(
        &self,
        req: Request<RejectReturnRequest>,
    ) -> Result<Response<RejectReturnResponse>, Status> {
        unary(req, |who, msg| returns::reject_return(&self.ctx, who, msg)).await
    }

    async fn get_return(
        &self,
        req: Request<GetReturnRequest>,
    ) -> Result<Response<GetReturnResponse>, Status> {
        unary(req, |who, msg| returns::get_return(&self.ctx, who, msg)).await
    }

    async fn list_returns(
        &self,
        req: Request<ListReturnsRequest>,
    ) -> Result<Response<ListReturnsResponse>, Status> {
        unary(req, |who, msg| returns::list_returns(&self.ctx, who, msg)).await
    }

    async fn request_extension(
        &self,
        req: Request<RequestExtensionRequest>,
    ) -> Result<Response<RequestExtensionResponse>, Status> {
        unary(req, |who, msg| extensions::request(&self.ctx, who, msg)).await
    }

    async fn decide_extension(
        &self,
        req: Request<DecideExtensionRequest>,
    ) -> Result<Response<DecideExtensionResponse>, Status> {
        unary(req, |who, msg| extensions::decide(&self.ctx, who, msg)).await
    }

    async fn list_extensions(
        &self,
        req: Request<ListExtensionsRequest>,
    ) -> Result<Response<ListExtensionsResponse>, Status> {
        unary(req, |who, msg| extensions::list(&self.ctx, who, msg)).await
    }

    async fn add_handling_record(
        &self,
        req: Request<AddHandlingRecordRequest>,
    ) -> Result<Response<AddHandlingRecordResponse>, Status> {
        unary(req, |who, msg| records::add(&self.ctx, who, msg)).await
    }

    async fn list_handling_records(
        &self,
        req: Request<ListHandlingRecordsRequest>,
    ) -> Result<Response<ListHandlingRecordsResponse>, Status> {
        unary(req, |who, msg| records::list(&self.ctx, who, msg)).await
    }

    async fn blow_whistle(
        &self,
        req: Request<BlowWhistleRequest>,
    ) -> Result<Response<BlowWhistleResponse>, Status> {
        unary(req, |who, msg| whistles::blow(&self.ctx, who, msg)).await
    }

    async fn report_in(
        &self,
        req: Request<ReportInRequest>,
    ) -> Result<Response<ReportInResponse>, Status> {
        unary(req, |who, msg| whistles::report_in(&self.ctx, who, msg)).await
    }

    async fn list_rehandlings(
        &self,
        req: Request<ListRehandlingsRequest>,
    ) -> Result<Response<ListRehandlingsResponse>, Status> {
        unary(req, |who, msg| rehandling::list(&self.ctx, who, msg)).await
    }

    async fn list_whistles(
        &self,
        req: Request<ListWhistlesRequest>,
    ) -> Result<Response<ListWhistlesResponse>, Status> {
        unary(req, |who, msg| whistles::list(&self.ctx, who, msg)).await
    }

    async fn list_unit_supervision(
        &self,
        req: Request<ListUnitSupervisionRequest>,
    ) -> Result<Response<ListUnitSupervisionResponse>, Status> {
        unary(req, |who, msg| unit_supervision::list(&self.ctx, who, msg)).await
    }
}
