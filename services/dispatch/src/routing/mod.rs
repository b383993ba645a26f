//! Routing (派单) and re-dispatch (改派): a ticket intake accepted is routed
//! by the catalogue in force; dispatchers send it on, hop by hop.

pub mod hops;
pub mod peers;
pub mod plan;
pub mod replan;
pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::ids::{Id, TicketNo};
use hotline_common::outbox::Tx;
use hotline_common::time::now;
use hotline_proto::dispatch::v1::*;

use crate::app::App;
use replan::{Redispatch, parse_redispatch, replan};

/// RouteTicket: intake hands in a ticket it accepted. Idempotent by ticket
/// number; a ticket intake never accepted is NOT_FOUND.
pub async fn route_ticket(
    app: &App,
    who: Identity,
    req: RouteTicketRequest,
) -> Result<RouteTicketResponse, ApiError> {
    rules::may_hand_in(&who)?;
    let incoming = plan::parse_route(&req)?;
    let no = &incoming.ticket_no;
    if let Some((_, existing)) = app.routings.get(no).await? {
        return Ok(RouteTicketResponse {
            routing: Some(existing),
        });
    }
    if !app.intake.accepted(no).await? {
        tracing::warn!(ticket_no = %no, by = %who.subject, "ticket handed in that intake never accepted");
        return Err(ApiError::not_found(format!(
            "intake accepted no ticket {no}"
        )));
    }
    let loaded = app.catalogue.get().await?;
    let routing = plan::plan(&incoming, &loaded.catalogue, &app.policy, now());
    let (routing, new) = app
        .routings
        .insert(no, &incoming.summary, &routing, &app.policy, &who)
        .await?;
    if new {
        app.relay_wake.notify_one();
        match routing.units.first() {
            None => {
                tracing::info!(ticket_no = %no, reason = %routing.reason, "ticket waits in the manual queue")
            }
            Some(lead) => tracing::info!(
                ticket_no = %no,
                lead = %lead.unit_id,
                units = routing.units.len(),
                basis = routing.basis,
                "ticket routed"
            ),
        }
    }
    Ok(RouteTicketResponse {
        routing: Some(routing),
    })
}

/// GetRouting: the routing in force and every hop.
pub async fn get_routing(
    app: &App,
    _who: Identity,
    req: GetRoutingRequest,
) -> Result<GetRoutingResponse, ApiError> {
    let no = TicketNo::parse_field("ticket_no", &req.ticket_no)?;
    let (_, routing) = app
        .routings
        .get(&no)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("ticket {no} has not been routed")))?;
    let history = app.routings.history(&no).await?;
    Ok(GetRoutingResponse {
        routing: Some(routing),
        history,
    })
}

/// RedispatchTicket: a new hop, elsewhere. Replies once undertaking has
/// withdrawn the earlier hops and the new hop is stored. With an
/// idempotency key, the key's row is claimed first and committed with the
/// new hop; a concurrent call with the same key waits for it.
pub async fn redispatch_ticket(
    app: &App,
    who: Identity,
    req: RedispatchTicketRequest,
) -> Result<RedispatchTicketResponse, ApiError> {
    let asked = parse_redispatch(&req)?;
    let response = app
        .keys
        .once_after(
            &who,
            &req,
            async || plan_redispatch(app, &who, asked).await,
            async |planned, tx| store_redispatch(app, &who, planned, tx).await,
        )
        .await?;
    // After the commit: the relay hands the new hop to undertaking.
    app.relay_wake.notify_one();
    Ok(response)
}

/// What a re-dispatch asked of the other services and planned, before
/// anything of dispatch's is stored.
struct Planned {
    ticket: TicketNo,
    summary: hotline_proto::common::v1::TicketSummary,
    routing: Routing,
    current: Routing,
}

/// Checks the re-dispatch against the routing in force, undertaking's
/// return and assignments and the catalogue; plans hop N+1 and has
/// undertaking put it in force (withdrawing hop N). No transaction is open:
/// every step is a read or a call idempotent by ticket and hop.
async fn plan_redispatch(
    app: &App,
    who: &Identity,
    asked: replan::Asked,
) -> Result<Planned, ApiError> {
    let no = &asked.ticket_no;
    let (ticket, current) = app
        .routings
        .get(no)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("ticket {no} has not been routed")))?;
    let in_force = crate::ids::Hop::stored(current.hop);
    rules::check_hop(no, in_force, asked.hop)?;
    if let Some(id) = &asked.return_id {
        let ret = app.undertaking.get_return(id).await?;
        rules::check_return(&ret, id, no, in_force)?;
    }
    if !current.units.is_empty() {
        let assignments = app.undertaking.assignments(no).await?;
        rules::check_not_answered(no, &assignments, in_force)?;
    }
    let loaded = app.catalogue.get().await?;
    let (ticket, routing) = replan(
        Redispatch {
            ticket: &ticket,
            current: &current,
            target: asked.target,
            reason: asked.reason,
            return_id: asked.return_id,
            decided_by: who.subject.clone(),
        },
        &loaded.catalogue,
        &app.policy,
        now(),
    )?;
    let hop = crate::ids::Hop::stored(routing.hop);

    // The earlier hops end here, before hop N+1 is stored (see `hops`).
    app.hops
        .withdraw_earlier_hops(no, hop, routing.units.is_empty())
        .await?;
    Ok(Planned {
        ticket: no.clone(),
        summary: ticket,
        routing,
        current,
    })
}

/// Stores hop N+1 in the key's transaction.
async fn store_redispatch(
    app: &App,
    who: &Identity,
    Planned {
        ticket: no,
        summary: ticket,
        routing,
        current,
    }: Planned,
    tx: &mut Tx,
) -> Result<RedispatchTicketResponse, ApiError> {
    let no = &no;
    let hop = crate::ids::Hop::stored(routing.hop);

    if let Err(e) = app
        .routings
        .redispatch(tx, no, &ticket, &routing, &current, &app.policy, who)
        .await
    {
        tracing::warn!(ticket_no = %no, hop = %hop, error = %e.message, "hop put in force in undertaking but not stored");
        return Err(e);
    }
    tracing::info!(
        ticket_no = %no,
        hop = %hop,
        transfers = routing.transfers,
        many_transfers = routing.many_transfers,
        units = routing.units.len(),
        "ticket re-dispatched"
    );
    Ok(RedispatchTicketResponse {
        routing: Some(routing),
    })
}
