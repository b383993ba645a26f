//! Returns (退单): a unit sends back an assignment it was sent wrongly; the
//! centre rejects the return, or accepts it by re-dispatching (see hops).

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{AssignmentId, Id, ReturnId, TicketNo, UnitId};
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::undertaking::v1::{
    GetReturnRequest, GetReturnResponse, ListReturnsRequest, ListReturnsResponse,
    RejectReturnRequest, RejectReturnResponse, ReturnAssignmentRequest, ReturnAssignmentResponse,
};

use crate::assignments::rules::{Action, State, transition};
use crate::assignments::store as assignments;
use crate::context::Ctx;
use crate::scope::{self, By, hold};

/// A unit returns an assignment it has not signed, within the sign-off
/// limit, with a reason code and the duty rule it relies on.
pub async fn return_assignment(
    ctx: &Ctx,
    who: Identity,
    r: ReturnAssignmentRequest,
) -> Result<ReturnAssignmentResponse, ApiError> {
    scope::acting(&who, &r.unit_id, &r.assignment_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let id = f.id::<AssignmentId>("assignment_id", &r.assignment_id);
    let new = rules::parse_return(&mut f, r.reason, &r.duty_rule, &r.note);
    f.finish()?;
    let (unit, id, new) = (
        unit.expect("checked"),
        id.expect("checked"),
        new.expect("checked"),
    );
    ctx.keys
        .once(&who, &r, async |tx| {
            let held = hold(tx, id, By::Unit(&unit)).await?;
            let a = &held.assignment;
            transition(a.state, Action::Return)?;
            let at = now();
            rules::check_in_time(at, a.sign_deadline)?;
            assignments::set_state(tx, id, State::ReturnRequested).await?;
            let ret = store::insert(tx, a, &new, at).await?;
            let fact = crate::lifecycle::return_requested(&ret, a);
            crate::lifecycle::record(tx, ret.ticket_no.as_str(), at, fact).await?;
            let detail = format!(
                "return={} assignment={id} reason={} duty_rule={}",
                ret.id,
                new.reason.as_sql(),
                new.duty_rule
            );
            let entry = Entry::by(&who, "assignment.returned", &ret.ticket_no, detail);
            audit::append(tx, &[entry]).await?;
            tracing::info!(return_id = %ret.id, ticket_no = %ret.ticket_no, unit_id = %unit, reason = new.reason.as_sql(), "assignment returned");
            Ok(ReturnAssignmentResponse {
                assignment_return: Some(ret.to_proto()),
            })
        })
        .await
}

/// The centre rejects a pending return: the assignment goes back to the
/// unit, pending sign-off, its clocks still running.
pub async fn reject_return(
    ctx: &Ctx,
    who: Identity,
    r: RejectReturnRequest,
) -> Result<RejectReturnResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ReturnId>("return_id", &r.return_id);
    let note = f.text("note", &r.note, 1000);
    f.finish()?;
    let id = id.expect("checked");
    ctx.keys
        .once(&who, &r, async |tx| {
            let found = store::get(tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no return {id}")))?;
            // The hop row, the assignment, then the return: the order a new
            // hop locks in.
            let held = hold(tx, found.assignment_id, By::Centre).await?;
            let ret = store::lock(tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no return {id}")))?;
            rules::check_pending(ret.state)?;
            transition(held.assignment.state, Action::RejectReturn)?;
            assignments::set_state(tx, ret.assignment_id, State::PendingSign).await?;
            let at = now();
            let ret = store::reject(tx, id, &note, at).await?;
            crate::watch::store::return_decided(tx, &ret).await?;
            crate::lifecycle::record_return_decided(tx, &ret, at, None).await?;
            let entry = Entry::by(
                &who,
                "return.rejected",
                &ret.ticket_no,
                format!("return={id} assignment={}", ret.assignment_id),
            );
            audit::append(tx, &[entry]).await?;
            tracing::info!(return_id = %id, ticket_no = %ret.ticket_no, "return rejected");
            Ok(RejectReturnResponse {
                assignment_return: Some(ret.to_proto()),
            })
        })
        .await
}

/// Reads one return; unit staff only their unit's.
pub async fn get_return(
    ctx: &Ctx,
    who: Identity,
    r: GetReturnRequest,
) -> Result<GetReturnResponse, ApiError> {
    let id = ReturnId::parse_field("return_id", &r.return_id)?;
    let mut conn = ctx.pool.acquire().await?;
    let ret = store::get(&mut conn, id)
        .await?
        .filter(|x| scope::sees(&who, &x.unit_id))
        .ok_or_else(|| ApiError::not_found(format!("no return {id}")))?;
    Ok(GetReturnResponse {
        assignment_return: Some(ret.to_proto()),
    })
}

/// One ticket's returns, or every pending one; oldest first, paged. Unit
/// staff see only their unit's.
pub async fn list_returns(
    ctx: &Ctx,
    who: Identity,
    r: ListReturnsRequest,
) -> Result<ListReturnsResponse, ApiError> {
    let mut f = Fields::new();
    let ticket_no = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let unit = scope::narrowed(&who);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[
            ticket_no.as_deref().unwrap_or(""),
            unit.as_deref().unwrap_or(""),
        ],
    );
    f.finish()?;
    let filter = store::Filter {
        ticket_no: ticket_no.as_ref(),
        unit_id: unit.as_deref(),
    };
    let mut rows = store::page(&ctx.pool, &filter, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |x| Cursor::new(x.requested_at, x.id.to_string()));
    Ok(ListReturnsResponse {
        returns: rows.iter().map(|x| x.to_proto()).collect(),
        next_page_token,
    })
}
