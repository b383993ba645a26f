//! The lists dispatchers and supervisors work from: the manual queue
//! (人工派单) and the tickets transferred many times (多次流转), page by page.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::paging::Page;
use hotline_common::status::{self, Lead, Routed};
use hotline_common::validate::Fields;
use hotline_proto::dispatch::v1::*;

use crate::app::App;

/// ListManualQueue: earliest dispatch deadline first.
pub async fn list_manual_queue(
    app: &App,
    _who: Identity,
    req: ListManualQueueRequest,
) -> Result<ListManualQueueResponse, ApiError> {
    let mut f = Fields::new();
    let page = Page::parse(&mut f, req.page_size, &req.page_token, &[rules::QUEUE_LIST]);
    let after = match page.after.as_ref().map(|c| (c.at, rules::queue_key(c))) {
        None => None,
        Some((at, Ok(no))) => Some((at, no)),
        Some((_, Err(p))) => {
            f.add("page_token", p);
            None
        }
    };
    f.finish()?;
    let mut rows = app
        .lists
        .queue(after.as_ref().map(|(at, no)| (*at, no)), page.fetch())
        .await?;
    let next_page_token = page.cut(&mut rows, |(_, r)| rules::queue_cursor(r));
    Ok(ListManualQueueResponse {
        tickets: rows
            .into_iter()
            .map(|(mut ticket, routing)| {
                // Every ticket here waits for a dispatcher.
                ticket.status = status::derive(Routed::ManualQueue, Lead::NotRecorded) as i32;
                QueuedTicket {
                    ticket: Some(ticket),
                    routing: Some(routing),
                }
            })
            .collect(),
        next_page_token,
    })
}

/// ListTransferredTickets: at the policy's threshold or more, most first.
pub async fn list_transferred_tickets(
    app: &App,
    _who: Identity,
    req: ListTransferredTicketsRequest,
) -> Result<ListTransferredTicketsResponse, ApiError> {
    let min = i32::try_from(app.policy.many_transfers).unwrap_or(i32::MAX);
    let threshold = min.to_string();
    let mut f = Fields::new();
    let page = Page::parse(
        &mut f,
        req.page_size,
        &req.page_token,
        &[rules::TRANSFERRED_LIST, &threshold],
    );
    let after = match page.after.as_ref().map(rules::transfers_key) {
        None => None,
        Some(Ok(key)) => Some(key),
        Some(Err(p)) => {
            f.add("page_token", p);
            None
        }
    };
    f.finish()?;
    let mut routings = app
        .lists
        .transferred(min, after.as_ref().map(|(n, no)| (*n, no)), page.fetch())
        .await?;
    let next_page_token = page.cut(&mut routings, rules::transfers_cursor);
    Ok(ListTransferredTicketsResponse {
        routings,
        next_page_token,
    })
}
