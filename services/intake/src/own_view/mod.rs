//! The requester's own view (诉求人查询): a requester, through a channel
//! system, reads their own ticket with its number and the phone it was
//! filed with; wrong tries are limited per number and per phone.

pub mod rules;
pub mod store;

use hotline_common::auth::Identity;
use hotline_common::ids::{Id, TicketNo};
use hotline_common::time::{now, to_proto};
use hotline_common::{ApiError, ErrorCode, Reason};
use hotline_proto::intake::v1::*;

use crate::app::App;

/// ViewOwnTicket.
pub async fn view(
    app: &App,
    who: Identity,
    req: ViewOwnTicketRequest,
) -> Result<ViewOwnTicketResponse, ApiError> {
    let (no, proof) = rules::parse(&req, &who.subject)?;
    let phone = proof.key();
    let pool = app.tickets.pool();
    let at = now();
    let since = hotline_common::time::minus(at, rules::WINDOW);
    let (by_ticket, by_phone, oldest) =
        store::wrong_tries(pool, no.as_str(), &phone, since).await?;
    if by_ticket >= rules::MAX_WRONG_TRIES || by_phone >= rules::MAX_WRONG_TRIES {
        let reopens = oldest.map_or(at, |o| hotline_common::time::plus(o, rules::WINDOW));
        let wait = (reopens - at).num_seconds().max(1);
        tracing::warn!(ticket_no = %no, by_ticket, by_phone, "own view closed after wrong tries");
        return Err(ApiError::new(
            ErrorCode::ResourceExhausted,
            format!("too many wrong tries of this ticket number or phone; retry in {wait} s"),
        )
        .because(Reason::GuessesExhausted)
        .with("retry_after_seconds", wait));
    }
    let missing =
        || ApiError::not_found(format!("no ticket {no} filed with that phone or account"));
    let ticket = app.tickets.get(&no).await?;
    let filed = ticket.as_ref().and_then(|t| t.summary.requester.as_ref());
    let account = store::account_of(pool, no.as_str()).await?;
    let ok = filed.is_some_and(|r| {
        rules::proves(
            &proof,
            Some(&r.phone),
            r.anonymous,
            account.as_ref().map(|(by, a)| (by.as_str(), a.as_str())),
        )
    });
    let Some(ticket) = ticket.filter(|_| ok) else {
        store::record_wrong_try(pool, no.as_str(), &phone, at, since).await?;
        return Err(missing());
    };
    // A repeat is handled as the ticket it repeats.
    let handled = match &ticket.repeat_of {
        Some(p) => TicketNo::parse(p).map_err(ApiError::internal)?,
        None => no.clone(),
    };
    // A refused request never reached a unit: undertaking is not asked.
    let assignments = match ticket.refusal {
        Some(_) => Vec::new(),
        None => app.undertaking.assignments(&handled).await?,
    };
    let (status, routing) = crate::tickets::standing(app, &handled, Some(&assignments)).await?;
    let lead = routing
        .as_ref()
        .and_then(|r| rules::lead_in_force(&assignments, r.hop));
    let direct = match ticket.closure_cause {
        Some(crate::visits::closure::ClosureCause::DirectAnswer) => {
            crate::knowledge::store::direct_answer_text(pool, no.as_str()).await?
        }
        _ => None,
    };
    let (answer, answered_at) = match (direct, lead, &ticket.refusal) {
        (_, _, Some(r)) => (r.explanation.clone(), r.refused_at),
        (Some(text), _, None) => (text, Some(to_proto(ticket.accepted_at))),
        (None, Some(a), None) => (
            a.feedback
                .as_ref()
                .map(|f| f.summary.clone())
                .unwrap_or_default(),
            a.fed_back_at,
        ),
        (None, None, None) => (String::new(), None),
    };
    Ok(ViewOwnTicketResponse {
        ticket_no: no.to_string(),
        status: status as i32,
        accepted_at: Some(to_proto(ticket.accepted_at)),
        request_type: ticket.summary.request_type,
        stages: rules::stages(
            to_proto(ticket.dispatch_deadline),
            routing.as_ref().and_then(|r| r.dispatched_at),
            lead,
        ),
        answer,
        answered_at,
        repeat_of: ticket.repeat_of.unwrap_or_default(),
        refusal_ground: ticket.refusal.as_ref().map_or(0, |r| r.ground),
    })
}
