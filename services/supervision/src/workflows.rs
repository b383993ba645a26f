//! What the handlers of supervision's own workflows (special reports,
//! shirking cases, on-site divisions, meetings, notices, inspections)
//! share: their context, the checks that the tickets and units they name
//! are known, and re-dispatching a ticket as a division or a resolution
//! decided.

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::idempotency::Keys;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::startup::Peer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::{
    GetRoutingRequest, RedispatchTicketRequest, UnitChoice, redispatch_ticket_request::Target,
};
use hotline_proto::intake::v1::AttachMediaRequest;
use hotline_proto::intake::v1::media_service_client::MediaServiceClient;
use hotline_sla::Policy;
use sqlx::PgPool;

use crate::evaluation::known_unit;

#[derive(Clone)]
pub struct Workflows {
    pub pool: PgPool,
    pub keys: Keys,
    pub policy: Arc<Policy>,
    /// Dispatch, which re-dispatches a ticket as a division decided.
    pub dispatch: DispatchServiceClient<Peer>,
    /// Intake's media, to which a division's photos are attached.
    pub media: MediaServiceClient<Peer>,
}

/// Where a re-dispatch sends a ticket, and why.
pub struct Redispatch<'a> {
    pub ticket: &'a TicketNo,
    pub lead: &'a UnitId,
    pub co: &'a [UnitId],
    /// Written on the new hop.
    pub reason: String,
    /// Dispatch's idempotency key: one per decision and ticket.
    pub key: String,
}

impl Workflows {
    /// Attaches media intake holds to a ticket (idempotent), before any
    /// transaction of the caller's: nothing when there are none.
    pub async fn attach_media(&self, ticket: &TicketNo, media: &[String]) -> Result<(), ApiError> {
        if media.is_empty() {
            return Ok(());
        }
        self.media
            .clone()
            .attach_media(AttachMediaRequest {
                ticket_no: ticket.to_string(),
                sha256: media.to_vec(),
            })
            .await
            .map_err(|s| from_peer("intake", s))?;
        Ok(())
    }

    /// NOT_FOUND naming the first of `tickets` no event of which reached
    /// supervision.
    pub async fn check_tickets(&self, tickets: &[String]) -> Result<(), ApiError> {
        let known = crate::evaluation::store::known_tickets(&self.pool, tickets).await?;
        match tickets.iter().find(|t| !known.contains(t)) {
            None => Ok(()),
            Some(t) => Err(ApiError::not_found(format!(
                "ticket {t} is unknown to supervision (no event of it arrived)"
            ))
            .with("ticket_no", t)),
        }
    }

    /// INVALID_ARGUMENT naming `field[i]` for a unit the evaluation has not
    /// seen.
    pub async fn check_units<'u>(
        &self,
        field: &str,
        units: impl IntoIterator<Item = &'u UnitId>,
    ) -> Result<(), ApiError> {
        for (i, u) in units.into_iter().enumerate() {
            known_unit(&self.pool, &format!("{field}[{i}]"), u).await?;
        }
        Ok(())
    }

    /// Has dispatch move `r.ticket` on to the units named, with no
    /// transaction open. The hop moved on from is `planned` when a first
    /// attempt kept it, else the one in force, kept by `keep` before the
    /// call: so a retry asks dispatch the same, under the same key, and gets
    /// the same hop back. Returns the new hop.
    pub async fn redispatch(
        &self,
        r: Redispatch<'_>,
        planned: Option<i32>,
        keep: impl AsyncFnOnce(i32) -> Result<i32, ApiError>,
    ) -> Result<i32, ApiError> {
        let mut dispatch = self.dispatch.clone();
        let hop = match planned {
            Some(h) => h,
            None => {
                let current = dispatch
                    .get_routing(GetRoutingRequest {
                        ticket_no: r.ticket.to_string(),
                    })
                    .await
                    .map_err(|s| from_peer("dispatch", s))?
                    .into_inner()
                    .routing
                    .ok_or_else(|| ApiError::unavailable("dispatch sent no routing"))?
                    .hop;
                keep(current).await?
            }
        };
        Ok(dispatch
            .redispatch_ticket(RedispatchTicketRequest {
                ticket_no: r.ticket.to_string(),
                hop,
                reason: r.reason,
                return_id: String::new(),
                target: Some(Target::Units(UnitChoice {
                    lead_unit_id: r.lead.to_string(),
                    co_unit_ids: r.co.iter().map(ToString::to_string).collect(),
                })),
                idempotency_key: r.key,
            })
            .await
            .map_err(|s| from_peer("dispatch", s))?
            .into_inner()
            .routing
            .ok_or_else(|| ApiError::unavailable("dispatch sent no routing"))?
            .hop)
    }
}
