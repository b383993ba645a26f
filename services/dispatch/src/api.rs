//! Dispatch's gRPC layer.

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::auth::{Identity, identity};
use hotline_common::error::from_peer;
use hotline_common::paging;
use hotline_common::startup::Peer;
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::dispatch::v1::dispatch_service_server::DispatchService;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target as PbTarget;
use hotline_proto::dispatch::v1::*;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    AssignmentState, GetReturnRequest, ListTicketAssignmentsRequest, ReturnState,
};
use hotline_sla::Policy;
use tokio::sync::{Notify, RwLock};
use tonic::{Request, Response, Status};

use crate::catalogue::Catalogue;
use crate::routing::{Redispatch, Target, plan, replan, route_error};
use crate::store::Store;

/// The catalogue in force, as parsed and as the API shows it.
pub struct Loaded {
    pub catalogue: Catalogue,
    pub proto: hotline_proto::dispatch::v1::Catalogue,
}

pub struct Api {
    pub store: Store,
    /// The catalogue last read; replaced when another version is put in
    /// force (by this replica or another).
    pub catalogue: RwLock<Arc<Loaded>>,
    pub policy: Arc<Policy>,
    pub relay_wake: Arc<Notify>,
    pub undertaking: UndertakingServiceClient<Peer>,
}

impl Loaded {
    pub fn new(catalogue: Catalogue) -> Loaded {
        Loaded {
            proto: catalogue.to_proto(),
            catalogue,
        }
    }
}

impl Api {
    /// The catalogue in force now (one small read per call, so every
    /// replica routes by the same version).
    async fn catalogue(&self) -> Result<Arc<Loaded>, ApiError> {
        let version = self.store.catalogue_in_force().await?;
        self.version(&version, true)
            .await?
            .ok_or_else(|| ApiError::internal("the catalogue in force is not stored"))
    }

    /// A stored version, parsed; the one `in_force` replaces the cache.
    async fn version(
        &self,
        version: &str,
        in_force: bool,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        let cached = self.catalogue.read().await.clone();
        if cached.catalogue.version == version {
            return Ok(Some(cached));
        }
        let Some(stored) = self.store.catalogue(version).await? else {
            return Ok(None);
        };
        let parsed = Catalogue::from_proto(&stored)
            .map_err(|e| ApiError::internal(format!("stored catalogue {version}: {e}")))?;
        let loaded = Arc::new(Loaded::new(parsed));
        if in_force {
            *self.catalogue.write().await = loaded.clone();
        }
        Ok(Some(loaded))
    }

    async fn route(&self, who: &Identity, req: RouteTicketRequest) -> Result<Routing, ApiError> {
        if let Some(t) = &req.ticket
            && let Some((_, existing)) = self.store.get(t.ticket_no.trim()).await?
        {
            return Ok(existing);
        }
        let loaded = self.catalogue().await?;
        let (ticket, routing) = plan(&req, &loaded.catalogue, &self.policy, now())?;
        let (routing, new) = self
            .store
            .insert(&ticket, &routing, &self.policy, who)
            .await?;
        if new {
            self.relay_wake.notify_one();
            if routing.units.is_empty() {
                tracing::info!(ticket_no = %routing.ticket_no, reason = %routing.reason, "ticket waits in the manual queue");
            } else {
                tracing::info!(
                    ticket_no = %routing.ticket_no,
                    lead = %routing.units[0].unit_id,
                    units = routing.units.len(),
                    basis = routing.basis,
                    "ticket routed"
                );
            }
        }
        Ok(routing)
    }

    async fn redispatch(
        &self,
        who: &Identity,
        req: RedispatchTicketRequest,
    ) -> Result<Routing, ApiError> {
        let mut f = Fields::new();
        let no = f.code("ticket_no", &req.ticket_no, 32);
        if req.hop < 1 {
            f.add(
                "hop",
                "the hop in force, as read from the routing (1 or more)",
            );
        }
        let reason = f.text("reason", &req.reason, 500);
        let return_id = req.return_id.trim().to_string();
        let target = match req.target {
            None => {
                f.add("target", "units, reroute or manual_queue");
                None
            }
            Some(PbTarget::Units(u)) => {
                let lead = f.code("units.lead_unit_id", &u.lead_unit_id, 64);
                let co = u
                    .co_unit_ids
                    .iter()
                    .enumerate()
                    .map(|(i, c)| f.code(&format!("units.co_unit_ids[{i}]"), c, 64))
                    .collect();
                Some(Target::Units { lead, co })
            }
            Some(PbTarget::Reroute(r)) => {
                let category = f.optional_code("reroute.category_code", &r.category_code, 64);
                let district = f.optional_code("reroute.district_code", &r.district_code, 12);
                let street = f.optional_code("reroute.street_code", &r.street_code, 12);
                if category.is_empty() && district.is_empty() && street.is_empty() {
                    f.add("reroute", "name a corrected category, district or street");
                }
                Some(Target::Reroute {
                    category,
                    district,
                    street,
                })
            }
            Some(PbTarget::ManualQueue(true)) => Some(Target::ManualQueue),
            Some(PbTarget::ManualQueue(false)) => {
                f.add("manual_queue", "true, or choose another target");
                None
            }
        };
        f.finish()?;
        let target = target.expect("checked");
        let (ticket, current) = self
            .store
            .get(&no)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("ticket {no} has not been routed")))?;
        if current.hop != req.hop {
            return Err(ApiError::precondition(format!(
                "ticket {no} is at hop {}, not {}: read its routing again",
                current.hop, req.hop
            )));
        }
        if !return_id.is_empty() {
            self.check_return(&no, current.hop, &return_id).await?;
        }
        if !current.units.is_empty() {
            self.check_not_answered(&no, current.hop).await?;
        }
        let loaded = self.catalogue().await?;
        let (ticket, routing) = replan(
            Redispatch {
                ticket: &ticket,
                current: &current,
                target,
                reason,
                return_id,
                decided_by: who.subject.clone(),
            },
            &loaded.catalogue,
            &self.policy,
            now(),
        )?;
        self.store
            .redispatch(&ticket, &routing, &current, &self.policy, who)
            .await?;
        self.relay_wake.notify_one();
        tracing::info!(
            ticket_no = %no,
            hop = routing.hop,
            transfers = routing.transfers,
            many_transfers = routing.many_transfers,
            units = routing.units.len(),
            "ticket re-dispatched"
        );
        Ok(routing)
    }

    /// A return is accepted once, while it waits, for the hop in force.
    async fn check_return(&self, no: &str, hop: i32, return_id: &str) -> Result<(), ApiError> {
        let ret = self
            .undertaking
            .clone()
            .get_return(GetReturnRequest {
                return_id: return_id.to_string(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::NotFound | tonic::Code::InvalidArgument => {
                    ApiError::not_found(format!("no return {return_id}"))
                }
                _ => from_peer("undertaking", s),
            })?
            .into_inner()
            .assignment_return
            .ok_or_else(|| ApiError::unavailable("undertaking sent no return"))?;
        if ret.ticket_no != no {
            return Err(ApiError::invalid(
                "return_id",
                &format!("return {return_id} is of ticket {}", ret.ticket_no),
            ));
        }
        if ret.state != ReturnState::Pending as i32 || ret.hop != hop {
            return Err(ApiError::precondition(format!(
                "return {return_id} is not waiting for a decision on hop {hop}"
            )));
        }
        Ok(())
    }

    /// A ticket whose lead unit has answered is not re-dispatched.
    async fn check_not_answered(&self, no: &str, hop: i32) -> Result<(), ApiError> {
        let assignments = self
            .undertaking
            .clone()
            .list_ticket_assignments(ListTicketAssignmentsRequest {
                ticket_no: no.to_string(),
            })
            .await
            .map_err(|s| from_peer("undertaking", s))?
            .into_inner()
            .assignments;
        if let Some(a) = assignments.iter().find(|a| {
            a.hop.max(1) == hop
                && a.role == AssignmentRole::Lead as i32
                && a.state == AssignmentState::FedBack as i32
        }) {
            return Err(ApiError::precondition(format!(
                "ticket {no} was answered by its lead unit {}; it is not re-dispatched",
                a.unit_id
            )));
        }
        Ok(())
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
        let history = self.store.history(&no).await?;
        Ok(Response::new(GetRoutingResponse {
            routing: Some(routing),
            history,
        }))
    }

    async fn get_catalogue(
        &self,
        req: Request<GetCatalogueRequest>,
    ) -> Result<Response<GetCatalogueResponse>, Status> {
        let version = req.into_inner().version;
        let loaded = if version.trim().is_empty() {
            self.catalogue().await?
        } else {
            self.version(version.trim(), false)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no catalogue version {version:?}")))?
        };
        Ok(Response::new(GetCatalogueResponse {
            catalogue: Some(loaded.proto.clone()),
        }))
    }

    async fn suggest_routing(
        &self,
        req: Request<SuggestRoutingRequest>,
    ) -> Result<Response<SuggestRoutingResponse>, Status> {
        let r = req.into_inner();
        let mut f = Fields::new();
        let category = f.code("category_code", &r.category_code, 64);
        let district = f.code("district_code", &r.district_code, 12);
        let street = f.optional_code("street_code", &r.street_code, 12);
        f.finish()?;
        let loaded = self.catalogue().await?;
        let route = loaded
            .catalogue
            .route(
                &category,
                &district,
                Some(street.as_str()).filter(|s| !s.is_empty()),
            )
            .map_err(|e| route_error(e, ""))?;
        let unit = |u: &crate::catalogue::Unit| Unit {
            unit_id: u.id.clone(),
            name: u.name.clone(),
        };
        Ok(Response::new(SuggestRoutingResponse {
            catalogue_version: loaded.catalogue.version.clone(),
            basis: match route.basis {
                crate::catalogue::Basis::CatalogueRule => RoutingBasis::CatalogueRule,
                crate::catalogue::Basis::DistrictGovernment => RoutingBasis::DistrictGovernment,
            } as i32,
            units: std::iter::once(&route.lead)
                .chain(&route.co)
                .map(unit)
                .collect(),
        }))
    }

    async fn list_manual_queue(
        &self,
        req: Request<ListManualQueueRequest>,
    ) -> Result<Response<ListManualQueueResponse>, Status> {
        let mut f = Fields::new();
        let size = paging::Page::parse(&mut f, req.get_ref().page_size, "", &[]).size;
        f.finish()?;
        let tickets = self
            .store
            .queue(size)
            .await?
            .into_iter()
            .map(|(ticket, routing)| QueuedTicket {
                ticket: Some(ticket),
                routing: Some(routing),
            })
            .collect();
        Ok(Response::new(ListManualQueueResponse { tickets }))
    }

    async fn redispatch_ticket(
        &self,
        req: Request<RedispatchTicketRequest>,
    ) -> Result<Response<RedispatchTicketResponse>, Status> {
        let who = identity(&req)?;
        let routing = self.redispatch(&who, req.into_inner()).await?;
        Ok(Response::new(RedispatchTicketResponse {
            routing: Some(routing),
        }))
    }

    async fn list_transferred_tickets(
        &self,
        req: Request<ListTransferredTicketsRequest>,
    ) -> Result<Response<ListTransferredTicketsResponse>, Status> {
        let mut f = Fields::new();
        let size = paging::Page::parse(&mut f, req.get_ref().page_size, "", &[]).size;
        f.finish()?;
        let min = i32::try_from(self.policy.many_transfers).unwrap_or(i32::MAX);
        let routings = self.store.transferred(min, size).await?;
        Ok(Response::new(ListTransferredTicketsResponse { routings }))
    }

    async fn publish_catalogue(
        &self,
        req: Request<PublishCatalogueRequest>,
    ) -> Result<Response<PublishCatalogueResponse>, Status> {
        let who = identity(&req)?;
        let Some(raw) = req.into_inner().catalogue else {
            return Err(ApiError::invalid("catalogue", "required").into());
        };
        let parsed = Catalogue::from_proto(&raw).map_err(|e| {
            ApiError::invalid_fields(
                e.0.into_iter()
                    .map(|p| ("catalogue".to_string(), p))
                    .collect(),
            )
        })?;
        let loaded = Loaded::new(parsed);
        let version = self
            .store
            .publish_catalogue(&loaded.proto, loaded.catalogue.rule_count(), &who)
            .await?;
        tracing::info!(version = %version.version, rules = version.rules, by = %who.subject, "catalogue published and in force");
        *self.catalogue.write().await = Arc::new(loaded);
        Ok(Response::new(PublishCatalogueResponse {
            version: Some(version),
        }))
    }

    async fn activate_catalogue(
        &self,
        req: Request<ActivateCatalogueRequest>,
    ) -> Result<Response<ActivateCatalogueResponse>, Status> {
        let who = identity(&req)?;
        let mut f = Fields::new();
        let version = f.text("version", &req.get_ref().version, 64);
        f.finish()?;
        let v = self.store.activate_catalogue(&version, &who).await?;
        tracing::info!(version = %version, by = %who.subject, "catalogue put in force");
        Ok(Response::new(ActivateCatalogueResponse {
            version: Some(v),
        }))
    }

    async fn list_catalogue_versions(
        &self,
        _req: Request<ListCatalogueVersionsRequest>,
    ) -> Result<Response<ListCatalogueVersionsResponse>, Status> {
        Ok(Response::new(ListCatalogueVersionsResponse {
            versions: self.store.catalogue_versions().await?,
        }))
    }
}
