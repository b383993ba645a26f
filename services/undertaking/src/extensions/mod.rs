//! Extensions (延期): a unit asks for more time for its sign-off or
//! feedback stage before the limit runs out; the centre decides once.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::convert::stage_from_proto;
use hotline_common::ids::{AssignmentId, ExtensionId, UnitId};
use hotline_common::paging::Cursor;
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::undertaking::v1::{
    DecideExtensionRequest, DecideExtensionResponse, ListExtensionsRequest, ListExtensionsResponse,
    RequestExtensionRequest, RequestExtensionResponse,
};

use crate::context::Ctx;
use crate::scope::{self, By, TicketList, hold, hold_any_hop};
use crate::window;
use rules::ExtensionState;

/// A unit asks for a later deadline for a stage still running.
pub async fn request(
    ctx: &Ctx,
    who: Identity,
    r: RequestExtensionRequest,
) -> Result<RequestExtensionResponse, ApiError> {
    scope::acting(&who, &r.unit_id, &r.assignment_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let id = f.id::<AssignmentId>("assignment_id", &r.assignment_id);
    let reason = f.text("reason", &r.reason, 1000);
    let stage = rules::extensible(stage_from_proto(r.stage));
    if stage.is_none() {
        f.add("stage", "sign_off or feedback");
    }
    let requested = window::read(&mut f, "requested_deadline", r.requested_deadline.as_ref());
    if r.requested_deadline.is_none() {
        f.add("requested_deadline", "required");
    }
    f.finish()?;
    let (unit, id, stage, requested) = (
        unit.expect("checked"),
        id.expect("checked"),
        stage.expect("checked"),
        requested.expect("checked"),
    );
    ctx.keys
        .once(&who, &r, async |tx| {
            let held = hold(tx, id, By::Unit(&unit)).await?;
            let a = &held.assignment;
            let current = a
                .deadline(stage)
                .ok_or_else(|| ApiError::internal("an assignment stage without a deadline"))?;
            let at = now();
            rules::check_extension(a.state, stage, at, current, requested)?;
            let ext = store::insert(tx, a, stage, &reason, current, requested, at).await?;
            let detail = format!(
                "extension={} stage={} requested={}",
                ext.id,
                stage.as_str(),
                requested.to_rfc3339()
            );
            let entry = Entry::by(&who, "extension.requested", &ext.ticket_no, detail);
            audit::append(tx, &[entry]).await?;
            tracing::info!(extension_id = %ext.id, ticket_no = %ext.ticket_no, unit_id = %unit, stage = stage.as_str(), "extension requested");
            Ok(RequestExtensionResponse {
                extension: Some(ext.to_proto()),
            })
        })
        .await
}

/// The centre approves (the deadline and its clock move) or rejects (with
/// a note) a pending request.
pub async fn decide(
    ctx: &Ctx,
    who: Identity,
    r: DecideExtensionRequest,
) -> Result<DecideExtensionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ExtensionId>("extension_id", &r.extension_id);
    let note = if r.approve {
        f.optional_text("note", &r.note, 1000)
    } else {
        f.text("note", &r.note, 1000)
    };
    f.finish()?;
    let id = id.expect("checked");
    ctx.keys
        .once(&who, &r, async |tx| {
            let found = store::get(tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no extension {id}")))?;
            // Approving moves a clock of the hop in force; a rejection
            // stands whatever the hop.
            let held = if r.approve {
                hold(tx, found.assignment_id, By::Centre).await?
            } else {
                hold_any_hop(tx, found.assignment_id, By::Centre).await?
            };
            let ext = store::lock(tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no extension {id}")))?;
            let next = rules::decide(ext.state, r.approve)?;
            let at = now();
            if next == ExtensionState::Approved {
                store::move_deadline(
                    tx,
                    &ctx.policy,
                    &held.assignment,
                    ext.stage,
                    ext.requested_deadline,
                    at,
                )
                .await?;
            }
            let ext = store::decide(tx, id, next, &note, at).await?;
            let fact = crate::lifecycle::extension_decided(&ext, at);
            crate::lifecycle::record(tx, ext.ticket_no.as_str(), at, fact).await?;
            let action = match next {
                ExtensionState::Approved => "extension.approved",
                _ => "extension.rejected",
            };
            let entry = Entry::by(&who, action, &ext.ticket_no, format!("extension={id}"));
            audit::append(tx, &[entry]).await?;
            tracing::info!(extension_id = %id, state = next.as_sql(), "extension decided");
            Ok(DecideExtensionResponse {
                extension: Some(ext.to_proto()),
            })
        })
        .await
}

/// One ticket's extensions, newest first, paged; unit staff see their own.
pub async fn list(
    ctx: &Ctx,
    who: Identity,
    r: ListExtensionsRequest,
) -> Result<ListExtensionsResponse, ApiError> {
    let TicketList {
        ticket_no,
        unit,
        page,
    } = TicketList::parse(&who, &r.ticket_no, r.page_size, &r.page_token)?;
    let mut rows = store::page(
        &ctx.pool,
        &ticket_no,
        unit.as_deref(),
        page.after.as_ref(),
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |x| Cursor::new(x.requested_at, x.id.to_string()));
    Ok(ListExtensionsResponse {
        extensions: rows.iter().map(|x| x.to_proto()).collect(),
        next_page_token,
    })
}
