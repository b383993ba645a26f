//! Dispatch's gRPC layer.

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::auth::{Identity, identity};
use hotline_common::time::now;
use hotline_proto::dispatch::v1::dispatch_service_server::DispatchService;
use hotline_proto::dispatch::v1::*;
use hotline_sla::Policy;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::catalogue::{self, Catalogue};
use crate::routing::plan;
use crate::store::Store;

pub struct Api {
    pub store: Store,
    pub catalogue: Arc<Catalogue>,
    /// The catalogue as GetCatalogue answers it, built once.
    pub catalogue_proto: hotline_proto::dispatch::v1::Catalogue,
    pub policy: Arc<Policy>,
    pub relay_wake: Arc<Notify>,
}

pub fn catalogue_to_proto(c: &Catalogue) -> hotline_proto::dispatch::v1::Catalogue {
    hotline_proto::dispatch::v1::Catalogue {
        version: c.version.clone(),
        categories: c
            .categories
            .iter()
            .map(|x| Category {
                code: x.code.clone(),
                name: x.name.clone(),
                parent_code: x.parent.clone().unwrap_or_default(),
            })
            .collect(),
        areas: c
            .areas
            .iter()
            .map(|a| Area {
                code: a.code.clone(),
                name: a.name.clone(),
                kind: match a.kind {
                    catalogue::AreaKind::District => AreaKind::District,
                    catalogue::AreaKind::Street => AreaKind::Street,
                } as i32,
                parent_code: a.parent.clone().unwrap_or_default(),
            })
            .collect(),
        units: c
            .units
            .iter()
            .map(|u| Unit {
                unit_id: u.id.clone(),
                name: u.name.clone(),
            })
            .collect(),
    }
}

impl Api {
    async fn route(&self, who: &Identity, req: RouteTicketRequest) -> Result<Routing, ApiError> {
        if let Some(t) = &req.ticket
            && let Some((_, existing)) = self.store.get(t.ticket_no.trim()).await?
        {
            return Ok(existing);
        }
        let (ticket, routing) = plan(&req, &self.catalogue, &self.policy, now())?;
        let (routing, new) = self.store.insert(&ticket, &routing, who).await?;
        if new {
            self.relay_wake.notify_one();
            tracing::info!(
                ticket_no = %routing.ticket_no,
                lead = %routing.units.first().map(|u| u.unit_id.as_str()).unwrap_or_default(),
                units = routing.units.len(),
                basis = routing.basis,
                "ticket routed"
            );
        }
        Ok(routing)
    }
}

#[tonic::async_trait]
impl DispatchService for Api {
    async fn route_ticket(
        &self,
        req: Request<RouteTicketRequest>,
    ) -> Result<Response<RouteTicketResponse>, Status> {
        let who = identity(&req)?;
        let routing = self.route(&who, req.into_inner()).await?;
        Ok(Response::new(RouteTicketResponse {
            routing: Some(routing),
        }))
    }

    async fn get_routing(
        &self,
        req: Request<GetRoutingRequest>,
    ) -> Result<Response<GetRoutingResponse>, Status> {
        let no = hotline_common::validate::ticket_no(&req.into_inner().ticket_no)?;
        let (_, routing) = self
            .store
            .get(&no)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("ticket {no} has not been routed")))?;
        Ok(Response::new(GetRoutingResponse {
            routing: Some(routing),
        }))
    }

    async fn get_catalogue(
        &self,
        _req: Request<GetCatalogueRequest>,
    ) -> Result<Response<GetCatalogueResponse>, Status> {
        Ok(Response::new(GetCatalogueResponse {
            catalogue: Some(self.catalogue_proto.clone()),
        }))
    }
}
