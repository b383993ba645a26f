//! Acceptance (受理) of requests that do not come by phone: Submit stores a
//! request from a channel the policy reviews as AWAITING_ACCEPTANCE with
//! the acceptance clock running (`tickets::store::insert`); an operator
//! accepts it here, which hands it to dispatch; supervision urges the
//! centre when the clock runs out, as for any clock.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, CENTRE_UNIT, ClockSpec};
use hotline_common::events;
use hotline_common::ids::{Id, TicketNo};
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::{now, plus, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use hotline_proto::intake::v1::*;
use hotline_sla::Stage;

use crate::app::App;
use crate::tickets::store::{DISPATCH_OUTBOX, accepted_fact, get_in};

/// AcceptRequest.
pub async fn accept(
    app: &App,
    who: Identity,
    req: AcceptRequestRequest,
) -> Result<AcceptRequestResponse, ApiError> {
    let no = TicketNo::parse_field("ticket_no", &req.ticket_no)?;
    let surge = app.surge.get().await?.on;
    let answer = app
        .keys
        .once(&who, &req, async |tx| {
            let Some(waiting) = store::lock(tx, no.as_str()).await? else {
                return Err(ApiError::not_found(format!("no ticket {no}")));
            };
            rules::may_decide(no.as_str(), waiting)?;
            let at = now();
            let t = get_in(tx, &no)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no ticket {no}")))?;
            let class = hotline_common::convert::class_of(&t.summary, "ticket")?;
            let deadline = app.policy.dispatch_deadline(class, at, surge);
            store::mark_accepted(tx, no.as_str(), at, deadline).await?;
            let waited = clock::clock_id(no.as_str(), Stage::Acceptance, CENTRE_UNIT);
            clock::stop(tx, &waited, at).await?;
            DISPATCH_OUTBOX.push(tx, no.as_str()).await?;
            clock::start(
                tx,
                &app.policy,
                &ClockSpec {
                    ticket_no: no.as_str(),
                    stage: Stage::Dispatch,
                    unit_id: CENTRE_UNIT,
                    instance: None,
                    started_at: at,
                    deadline,
                },
            )
            .await?;
            let late = at > plus(t.accepted_at, app.policy.acceptance.limit);
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "ticket.accepted",
                    no.as_str(),
                    format!("received_at={} late={late}", t.accepted_at.to_rfc3339()),
                )],
            )
            .await?;
            let fact = accepted_fact(&t.summary, at, deadline, surge);
            events::record_fact(tx, Source::Intake, no.as_str(), at, fact).await?;
            let mut ticket = t.summary;
            ticket.accepted_at = Some(to_proto(at));
            ticket.status = hotline_proto::common::v1::TicketStatus::Accepted as i32;
            tracing::info!(ticket_no = %no, late, "request accepted");
            Ok(AcceptRequestResponse {
                ticket: Some(ticket),
                accepted_at: Some(to_proto(at)),
                dispatch_deadline: Some(to_proto(deadline)),
            })
        })
        .await?;
    app.relay_wake.notify_one();
    Ok(answer)
}

/// RefuseRequest: a waiting request is not accepted (不予受理); its
/// acceptance clock stops and it is closed, never dispatched.
pub async fn refuse(
    app: &App,
    who: Identity,
    req: RefuseRequestRequest,
) -> Result<RefuseRequestResponse, ApiError> {
    let r = rules::parse_refusal(&req)?;
    let no = &r.ticket_no;
    app.keys
        .once(&who, &req, async |tx| {
            let Some(waiting) = store::lock(tx, no.as_str()).await? else {
                return Err(ApiError::not_found(format!("no ticket {no}")));
            };
            rules::may_decide(no.as_str(), waiting)?;
            let at = now();
            store::mark_refused(tx, &r, at).await?;
            let waited = clock::clock_id(no.as_str(), Stage::Acceptance, CENTRE_UNIT);
            clock::stop(tx, &waited, at).await?;
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "ticket.refused",
                    no.as_str(),
                    format!("ground={}", r.ground.as_sql()),
                )],
            )
            .await?;
            let closed = Fact::Closed(ev::Closed {
                cause: ev::ClosureCause::Refused as i32,
                closed_at: Some(to_proto(at)),
                ..Default::default()
            });
            events::record_fact(tx, Source::Intake, no.as_str(), at, closed).await?;
            let t = get_in(tx, no)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no ticket {no}")))?;
            let mut ticket = t.summary;
            ticket.status = hotline_proto::common::v1::TicketStatus::Refused as i32;
            tracing::info!(ticket_no = %no, ground = r.ground.as_sql(), "request refused");
            Ok(RefuseRequestResponse {
                ticket: Some(ticket),
                refusal: t.refusal,
            })
        })
        .await
}

/// ListAwaitingAcceptance.
pub async fn list(
    app: &App,
    _who: Identity,
    req: ListAwaitingAcceptanceRequest,
) -> Result<ListAwaitingAcceptanceResponse, ApiError> {
    let mut f = Fields::new();
    let page = Page::parse(&mut f, req.page_size, &req.page_token, &[]);
    f.finish()?;
    let mut rows = store::awaiting(app.tickets.pool(), page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |(t, at)| {
        Cursor::new(*at, t.summary.ticket_no.clone())
    });
    let limit = app.policy.acceptance.limit;
    Ok(ListAwaitingAcceptanceResponse {
        requests: rows
            .into_iter()
            .map(|(t, at)| {
                let mut ticket = t.summary;
                ticket.status = hotline_proto::common::v1::TicketStatus::AwaitingAcceptance as i32;
                ticket.requester = None;
                AwaitingAcceptance {
                    ticket: Some(ticket),
                    received_at: Some(to_proto(at)),
                    accept_by: Some(to_proto(plus(at, limit))),
                }
            })
            .collect(),
        next_page_token,
    })
}
