//! Dispatch's gRPC service: one delegating call per RPC; identity, decoding
//! and error mapping are `hotline_common::grpc::unary`'s.

use std::sync::Arc;

use hotline_common::grpc::unary;
use hotline_proto::dispatch::v1::dispatch_service_server::DispatchService;
use hotline_proto::dispatch::v1::*;
use tonic::{Request, Response, Status};

use crate::app::App;
use crate::{catalogue, queue, routing};

pub struct Grpc {
    pub app: Arc<App>,
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl DispatchService for Grpc {
    async fn route_ticket(&self, req: Request<RouteTicketRequest>) -> Reply<RouteTicketResponse> {
        unary(req, |who, m| routing::route_ticket(&self.app, who, m)).await
    }

    async fn get_routing(&self, req: Request<GetRoutingRequest>) -> Reply<GetRoutingResponse> {
        unary(req, |who, m| routing::get_routing(&self.app, who, m)).await
    }

    async fn redispatch_ticket(
        &self,
        req: Request<RedispatchTicketRequest>,
    ) -> Reply<RedispatchTicketResponse> {
        unary(req, |who, m| routing::redispatch_ticket(&self.app, who, m)).await
    }

    async fn get_catalogue(
        &self,
        req: Request<GetCatalogueRequest>,
    ) -> Reply<GetCatalogueResponse> {
        unary(req, |who, m| catalogue::get(&self.app, who, m)).await
    }

    async fn suggest_routing(
        &self,
        req: Request<SuggestRoutingRequest>,
    ) -> Reply<SuggestRoutingResponse> {
        unary(req, |who, m| catalogue::suggest(&self.app, who, m)).await
    }

    async fn publish_catalogue(
        &self,
        req: Request<PublishCatalogueRequest>,
    ) -> Reply<PublishCatalogueResponse> {
        unary(req, |who, m| catalogue::publish(&self.app, who, m)).await
    }

    async fn activate_catalogue(
        &self,
        req: Request<ActivateCatalogueRequest>,
    ) -> Reply<ActivateCatalogueResponse> {
        unary(req, |who, m| catalogue::activate(&self.app, who, m)).await
    }

    async fn list_catalogue_versions(
        &self,
        req: Request<ListCatalogueVersionsRequest>,
    ) -> Reply<ListCatalogueVersionsResponse> {
        unary(req, |who, m| catalogue::list_versions(&self.app, who, m)).await
    }

    async fn list_manual_queue(
        &self,
        req: Request<ListManualQueueRequest>,
    ) -> Reply<ListManualQueueResponse> {
        unary(req, |who, m| queue::list_manual_queue(&self.app, who, m)).await
    }

    async fn list_transferred_tickets(
        &self,
        req: Request<ListTransferredTicketsRequest>,
    ) -> Reply<ListTransferredTicketsResponse> {
        unary(req, |who, m| {
            queue::list_transferred_tickets(&self.app, who, m)
        })
        .await
    }
}
