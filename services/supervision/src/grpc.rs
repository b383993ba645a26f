//! Supervision's gRPC surface: one line per RPC, each delegating to its
//! feature.

use hotline_common::grpc::unary;
use hotline_proto::supervision::v1::supervision_service_server::SupervisionService;
use hotline_proto::supervision::v1::{
    ListCasesRequest, ListCasesResponse, ListFeedEventsRequest, ListFeedEventsResponse,
    ListUrgesRequest, ListUrgesResponse,
};
use tonic::{Request, Response, Status};

use crate::deadlines::{self, store::Store};

pub struct Grpc {
    pub store: Store,
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
}
