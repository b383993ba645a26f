//! Intake's gRPC service: one delegating call per RPC; identity, decoding
//! and error mapping are `hotline_common::grpc::unary`'s.

use std::sync::Arc;

use hotline_common::grpc::{Streamed, server_stream, unary};
use hotline_proto::intake::v1::intake_service_server::IntakeService;
use hotline_proto::intake::v1::knowledge_service_server::KnowledgeService;
use hotline_proto::intake::v1::media_service_server::MediaService;
use hotline_proto::intake::v1::*;
use tonic::{Request, Response, Status, Streaming};

use crate::app::App;
use crate::{
    acceptance, clusters, diversion, knowledge, media, own_view, ratings, repeats, surge, tickets,
    timeline, visits,
};

pub struct Grpc {
    pub app: Arc<App>,
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl IntakeService for Grpc {
    async fn submit(&self, req: Request<SubmitRequest>) -> Reply<SubmitResponse> {
        unary(req, |who, m| tickets::submit(&self.app, who, m)).await
    }

    async fn find_tickets(&self, req: Request<FindTicketsRequest>) -> Reply<FindTicketsResponse> {
        unary(req, |who, m| tickets::find_tickets(&self.app, who, m)).await
    }

    async fn view_own_ticket(
        &self,
        req: Request<ViewOwnTicketRequest>,
    ) -> Reply<ViewOwnTicketResponse> {
        unary(req, |who, m| own_view::view(&self.app, who, m)).await
    }

    async fn mark_caller(&self, req: Request<MarkCallerRequest>) -> Reply<MarkCallerResponse> {
        unary(req, |who, m| diversion::mark(&self.app, who, m)).await
    }

    async fn get_caller(&self, req: Request<GetCallerRequest>) -> Reply<GetCallerResponse> {
        unary(req, |who, m| diversion::get(&self.app, who, m)).await
    }

    async fn find_repeats(&self, req: Request<FindRepeatsRequest>) -> Reply<FindRepeatsResponse> {
        unary(req, |who, m| repeats::find(&self.app, who, m)).await
    }

    async fn accept_request(
        &self,
        req: Request<AcceptRequestRequest>,
    ) -> Reply<AcceptRequestResponse> {
        unary(req, |who, m| acceptance::accept(&self.app, who, m)).await
    }

    async fn refuse_request(
        &self,
        req: Request<RefuseRequestRequest>,
    ) -> Reply<RefuseRequestResponse> {
        unary(req, |who, m| acceptance::refuse(&self.app, who, m)).await
    }

    async fn list_awaiting_acceptance(
        &self,
        req: Request<ListAwaitingAcceptanceRequest>,
    ) -> Reply<ListAwaitingAcceptanceResponse> {
        unary(req, |who, m| acceptance::list(&self.app, who, m)).await
    }

    async fn list_clusters(
        &self,
        req: Request<ListClustersRequest>,
    ) -> Reply<ListClustersResponse> {
        unary(req, |who, m| clusters::list(&self.app, who, m)).await
    }

    async fn get_cluster(&self, req: Request<GetClusterRequest>) -> Reply<GetClusterResponse> {
        unary(req, |who, m| clusters::get(&self.app, who, m)).await
    }

    async fn get_ticket(&self, req: Request<GetTicketRequest>) -> Reply<GetTicketResponse> {
        unary(req, |who, m| tickets::get_ticket(&self.app, who, m)).await
    }

    async fn get_timeline(&self, req: Request<GetTimelineRequest>) -> Reply<GetTimelineResponse> {
        unary(req, |who, m| timeline::get_timeline(&self.app, who, m)).await
    }

    async fn set_surge_mode(
        &self,
        req: Request<SetSurgeModeRequest>,
    ) -> Reply<SetSurgeModeResponse> {
        unary(req, |who, m| surge::set(&self.app, who, m)).await
    }

    async fn get_surge_mode(
        &self,
        req: Request<GetSurgeModeRequest>,
    ) -> Reply<GetSurgeModeResponse> {
        unary(req, |who, m| surge::get(&self.app, who, m)).await
    }

    async fn list_contacts(
        &self,
        req: Request<ListContactsRequest>,
    ) -> Reply<ListContactsResponse> {
        unary(req, |who, m| ratings::list_contacts(&self.app, who, m)).await
    }

    async fn rate_contact(&self, req: Request<RateContactRequest>) -> Reply<RateContactResponse> {
        unary(req, |who, m| ratings::rate(&self.app, who, m)).await
    }

    async fn list_ratings(&self, req: Request<ListRatingsRequest>) -> Reply<ListRatingsResponse> {
        unary(req, |who, m| ratings::list_ratings(&self.app, who, m)).await
    }

    async fn record_check_back(
        &self,
        req: Request<RecordCheckBackRequest>,
    ) -> Reply<RecordCheckBackResponse> {
        unary(req, |who, m| ratings::record_check_back(&self.app, who, m)).await
    }

    async fn list_check_backs(
        &self,
        req: Request<ListCheckBacksRequest>,
    ) -> Reply<ListCheckBacksResponse> {
        unary(req, |who, m| ratings::list_check_backs(&self.app, who, m)).await
    }

    async fn appeal_rating(
        &self,
        req: Request<AppealRatingRequest>,
    ) -> Reply<AppealRatingResponse> {
        unary(req, |who, m| ratings::appeal(&self.app, who, m)).await
    }

    async fn decide_appeal(
        &self,
        req: Request<DecideAppealRequest>,
    ) -> Reply<DecideAppealResponse> {
        unary(req, |who, m| ratings::decide_appeal(&self.app, who, m)).await
    }

    async fn take_return_visit(
        &self,
        req: Request<TakeReturnVisitRequest>,
    ) -> Reply<TakeReturnVisitResponse> {
        unary(req, |who, m| visits::take(&self.app, who, m)).await
    }

    async fn record_visit_attempt(
        &self,
        req: Request<RecordVisitAttemptRequest>,
    ) -> Reply<RecordVisitAttemptResponse> {
        unary(req, |who, m| visits::record_attempt(&self.app, who, m)).await
    }

    async fn list_return_visits(
        &self,
        req: Request<ListReturnVisitsRequest>,
    ) -> Reply<ListReturnVisitsResponse> {
        unary(req, |who, m| visits::list(&self.app, who, m)).await
    }
}

#[tonic::async_trait]
impl KnowledgeService for Grpc {
    async fn propose_article(
        &self,
        req: Request<ProposeArticleRequest>,
    ) -> Reply<ProposeArticleResponse> {
        unary(req, |who, m| knowledge::propose(&self.app, who, m)).await
    }

    async fn approve_article(
        &self,
        req: Request<ApproveArticleRequest>,
    ) -> Reply<ApproveArticleResponse> {
        unary(req, |who, m| knowledge::approve(&self.app, who, m)).await
    }

    async fn expire_article(
        &self,
        req: Request<ExpireArticleRequest>,
    ) -> Reply<ExpireArticleResponse> {
        unary(req, |who, m| knowledge::expire(&self.app, who, m)).await
    }

    async fn get_article(&self, req: Request<GetArticleRequest>) -> Reply<GetArticleResponse> {
        unary(req, |who, m| knowledge::get(&self.app, who, m)).await
    }

    async fn list_articles(
        &self,
        req: Request<ListArticlesRequest>,
    ) -> Reply<ListArticlesResponse> {
        unary(req, |who, m| knowledge::list(&self.app, who, m)).await
    }

    async fn search_articles(
        &self,
        req: Request<SearchArticlesRequest>,
    ) -> Reply<SearchArticlesResponse> {
        unary(req, |who, m| knowledge::search(&self.app, who, m)).await
    }

    async fn get_direct_answer_share(
        &self,
        req: Request<GetDirectAnswerShareRequest>,
    ) -> Reply<GetDirectAnswerShareResponse> {
        unary(req, |who, m| knowledge::share(&self.app, who, m)).await
    }
}

#[tonic::async_trait]
impl MediaService for Grpc {
    async fn upload(&self, req: Request<Streaming<UploadRequest>>) -> Reply<UploadResponse> {
        unary(req, |who, m| media::upload(&self.app, who, m)).await
    }

    async fn get_upload(&self, req: Request<GetUploadRequest>) -> Reply<GetUploadResponse> {
        unary(req, |who, m| media::get_upload(&self.app, who, m)).await
    }

    async fn attach_media(&self, req: Request<AttachMediaRequest>) -> Reply<AttachMediaResponse> {
        unary(req, |who, m| media::attach(&self.app, who, m)).await
    }

    type DownloadStream = Streamed<DownloadResponse>;

    async fn download(
        &self,
        req: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        server_stream(req, |who, m| media::download(&self.app, who, m)).await
    }
}
