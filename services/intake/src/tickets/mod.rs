//! Tickets (工单): a request accepted 7×24 from any channel, stored durably
//! before the reply, handed to dispatch, and read back by those who may.

pub mod codes;
pub mod holding;
#[cfg(test)]
mod hostile_input;
pub mod rules;
pub mod store;

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::{Identity, Role};
use hotline_common::ids::{Id, TicketNo};
use hotline_common::privacy;
use hotline_common::time::{now, to_proto};
use hotline_proto::common::v1 as pb;
use hotline_proto::intake::v1::*;
use hotline_proto::undertaking::v1::Assignment;

use crate::app::App;
use rules::{AtOnce, Holding, holding, parse_submit, request_hash};
use store::{Acceptance, Inserted, StoredTicket};

/// Submit: checked, stored with its outbox row and dispatch clock, then
/// answered. A repeated idempotency key returns the stored ticket.
pub async fn submit(
    app: &App,
    who: Identity,
    req: SubmitRequest,
) -> Result<SubmitResponse, ApiError> {
    let known = app.codes.get(true).await?;
    let mut ticket = match parse_submit(&req, &known) {
        Ok(t) => t,
        Err(first) => {
            // The codes may have changed since they were read.
            let fresh = app.codes.get(false).await?;
            if Arc::ptr_eq(&fresh, &known) {
                return Err(first);
            }
            parse_submit(&req, &fresh)?
        }
    };
    let at_once = match (&req.direct_answer, &req.referral) {
        _ if !req.repeat_of.is_empty() => Some(AtOnce::Repeat(crate::repeats::rules::parse_link(
            &req.repeat_of,
            req.direct_answer.is_some() || req.referral.is_some(),
        )?)),
        (Some(d), None) => Some(AtOnce::Direct(crate::knowledge::rules::parse_direct(
            d,
            ticket.class.kind == hotline_sla::RequestType::Consultation,
            ticket.category_code.is_some(),
        )?)),
        (direct, Some(r)) => Some(AtOnce::Referred(crate::diversion::rules::parse_referral(
            r,
            direct.is_some(),
        )?)),
        (None, None) => None,
    };
    ticket.held_media = crate::media::resolve(app, &mut ticket.attachments).await?;
    let marked = crate::diversion::is_marked(
        app,
        ticket
            .requester
            .phone
            .as_deref()
            .filter(|_| !ticket.requester.anonymous),
    )
    .await?;
    let hash = request_hash(&req);
    let accepted_at = now();
    let surge = app.surge.get().await?.on;
    let dispatch_deadline = app
        .policy
        .dispatch_deadline(ticket.class, accepted_at, surge);
    let review_until = crate::acceptance::rules::review_until(
        &app.policy.acceptance,
        ticket.channel,
        at_once.is_some(),
        accepted_at,
    );
    let when = Acceptance {
        accepted_at,
        dispatch_deadline,
        surge,
        review_until,
    };
    match app
        .tickets
        .insert(&ticket, &hash, &when, &app.policy, &who, at_once.as_ref())
        .await?
    {
        Inserted::New(t) if at_once.as_ref().is_some_and(|a| !a.closes()) => {
            tracing::info!(ticket_no = %t.summary.ticket_no, repeat_of = %req.repeat_of, "request linked as a repeat");
            Ok(response(
                &t,
                false,
                (pb::TicketStatus::Accepted, None),
                marked,
            ))
        }
        Inserted::New(t) if at_once.is_some() => {
            tracing::info!(
                ticket_no = %t.summary.ticket_no,
                closed_as = match &at_once {
                    Some(AtOnce::Direct(_)) => "direct_answer",
                    _ => "referred",
                },
                "request closed at acceptance"
            );
            Ok(response(
                &t,
                false,
                (pb::TicketStatus::Closed, None),
                marked,
            ))
        }
        Inserted::New(t) if review_until.is_some() => {
            tracing::info!(ticket_no = %t.summary.ticket_no, channel = crate::acceptance::rules::channel_name(ticket.channel), "request received, awaiting acceptance");
            Ok(response(
                &t,
                false,
                (pb::TicketStatus::AwaitingAcceptance, None),
                marked,
            ))
        }
        // The reply comes before dispatch routes it: accepted.
        Inserted::New(t) => {
            app.relay_wake.notify_one();
            tracing::info!(
                ticket_no = %t.summary.ticket_no,
                tier = %ticket.class.tier,
                category = ticket.category_code.as_ref().map_or("(open)", |c| c.as_str()),
                request_type = ticket.class.kind.as_str(),
                surge,
                "request accepted"
            );
            Ok(response(
                &t,
                false,
                (pb::TicketStatus::Accepted, None),
                marked,
            ))
        }
        Inserted::Existing(t) if t.request_hash == hash => {
            let no = TicketNo::parse_field("ticket_no", &t.summary.ticket_no)?;
            let now = standing(app, &no, None).await?;
            Ok(response(&t, true, now, marked))
        }
        Inserted::Existing(t) => Err(ApiError::invalid(
            "idempotency_key",
            &format!(
                "already used for ticket {} with a different request",
                t.summary.ticket_no
            ),
        )),
    }
}

fn response(
    t: &StoredTicket,
    replayed: bool,
    (status, routing): (pb::TicketStatus, Option<TicketRouting>),
    caller_marked_malicious: bool,
) -> SubmitResponse {
    SubmitResponse {
        ticket_no: t.summary.ticket_no.clone(),
        replayed,
        accepted_at: Some(to_proto(t.accepted_at)),
        dispatch_deadline: Some(to_proto(t.dispatch_deadline)),
        status: status as i32,
        routing,
        caller_marked_malicious,
    }
}

/// Where a ticket stands now, and where it was routed: intake's own facts
/// first (still in its outbox: accepted, no peer asked; closed: CLOSED
/// whatever the peers say), then dispatch's routing in force, then
/// undertaking's assignments when it went to units (`assignments` when the
/// caller read them already). A peer that does not answer leaves the
/// status UNSPECIFIED (CLOSED, when closed) rather than failing the read.
pub async fn standing(
    app: &App,
    no: &TicketNo,
    assignments: Option<&[Assignment]>,
) -> Result<(pb::TicketStatus, Option<TicketRouting>), ApiError> {
    let store::OwnStanding {
        handed_over: handed,
        closed,
        repeat_of,
        awaiting,
        refused,
    } = app.tickets.own_standing(no).await?;
    if awaiting {
        return Ok((pb::TicketStatus::AwaitingAcceptance, None));
    }
    if refused {
        return Ok((pb::TicketStatus::Refused, None));
    }
    if let Some(parent) = repeat_of {
        let parent = TicketNo::parse(&parent).map_err(ApiError::internal)?;
        let (status, routing) = Box::pin(standing(app, &parent, None)).await?;
        return Ok((hotline_common::status::closed_or(closed, status), routing));
    }
    if !handed {
        return Ok(rules::standing(false, None, &[]));
    }
    let asked = async {
        let routing = app.dispatch.routing(no).await?;
        let read;
        let assignments = match (&routing, assignments) {
            (Some(r), None) if !r.units.is_empty() => {
                read = app.undertaking.assignments(no).await?;
                read.as_slice()
            }
            (_, Some(a)) => a,
            _ => &[],
        };
        Ok::<_, ApiError>(rules::standing(true, routing.as_ref(), assignments))
    };
    let (status, routing) = match asked.await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(ticket_no = %no, error = %e.message, "ticket status not known: a peer did not answer");
            (pb::TicketStatus::Unspecified, None)
        }
    };
    Ok((hotline_common::status::closed_or(closed, status), routing))
}

/// At most this many tickets are found under one reference.
pub const MAX_FOUND: i64 = 50;

/// FindTickets: the tickets filed under a forwarding system's reference.
pub async fn find_tickets(
    app: &App,
    _who: Identity,
    req: FindTicketsRequest,
) -> Result<FindTicketsResponse, ApiError> {
    let (external_ref, channel) = rules::parse_find(&req)?;
    let found = app
        .tickets
        .find_by_ref(&external_ref, channel.map(|c| c as i32), MAX_FOUND)
        .await?;
    Ok(FindTicketsResponse {
        tickets: found
            .into_iter()
            .map(
                |(ticket_no, channel, request_type, accepted_at)| FoundTicket {
                    ticket_no,
                    channel,
                    external_ref: external_ref.clone(),
                    request_type,
                    accepted_at: Some(to_proto(accepted_at)),
                },
            )
            .collect(),
    })
}

/// A ticket as one caller may see it.
pub struct Visible {
    pub ticket: StoredTicket,
    /// How the caller's unit stands to it (unit staff only).
    pub holding: Holding,
    /// The ticket's assignments, when they were read to find out.
    pub assignments: Option<Vec<Assignment>>,
}

/// Loads a ticket the caller may see. Unit staff see only tickets their
/// unit was sent, and learn nothing about others: NOT_FOUND, as for a
/// ticket that does not exist.
pub async fn visible(app: &App, who: &Identity, no: &TicketNo) -> Result<Visible, ApiError> {
    let missing = || ApiError::not_found(format!("no ticket {no}"));
    let ticket = app.tickets.get(no).await?.ok_or_else(missing)?;
    let (holding, assignments) = match who.unit.as_deref() {
        Some(unit) if who.has(Role::UnitStaff) => {
            let a = app.undertaking.assignments(no).await?;
            (holding(&a, unit), Some(a))
        }
        _ => (Holding::None, None),
    };
    if who.unit_scope().is_some() && holding == Holding::None {
        return Err(missing());
    }
    Ok(Visible {
        ticket,
        holding,
        assignments,
    })
}

/// GetTicket: the ticket as accepted; the requester in full only to those
/// who need it (every such read is on the record), masked for the others.
pub async fn get_ticket(
    app: &App,
    who: Identity,
    req: GetTicketRequest,
) -> Result<GetTicketResponse, ApiError> {
    let no = TicketNo::parse_field("ticket_no", &req.ticket_no)?;
    let Visible {
        ticket: mut t,
        holding,
        assignments,
    } = visible(app, &who, &no).await?;
    let (status, routing) = standing(app, &no, assignments.as_deref()).await?;
    t.summary.status = status as i32;
    let holds_open = holding == Holding::Open;
    if let Some(r) = t.summary.requester.take() {
        if !r.anonymous && privacy::sees_in_full(&who, holds_open, &r) {
            let entry = Entry::by(&who, "requester.read", &no, "");
            audit::record(app.tickets.pool(), &[entry]).await?;
        }
        t.summary.requester = Some(privacy::requester_for(&who, holds_open, &r));
    }
    // Read only for the tickets closed that way at acceptance.
    use crate::visits::closure::ClosureCause;
    let direct_answer = match t.closure_cause {
        Some(ClosureCause::DirectAnswer) => {
            crate::knowledge::store::direct_answer_of(app.tickets.pool(), no.as_str()).await?
        }
        _ => None,
    }
    .map(|(article_id, article_version)| DirectAnswer {
        article_id,
        article_version,
        note: String::new(),
    });
    let referral = match t.closure_cause {
        Some(ClosureCause::Referred) => {
            crate::diversion::store::referral_of(app.tickets.pool(), no.as_str()).await?
        }
        _ => None,
    }
    .map(|r| Referral {
        line: r.line.to_proto() as i32,
        note: r.note,
    });
    Ok(GetTicketResponse {
        refusal: t.refusal,
        repeat_of: t.repeat_of.unwrap_or_default(),
        times_raised: t.times_raised,
        dispatch_deadline: Some(to_proto(t.dispatch_deadline)),
        ticket: Some(t.summary),
        routing,
        direct_answer,
        referral,
    })
}
