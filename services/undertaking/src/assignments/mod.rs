//! Assignments (派单到承办单位): the units of each routing hop, recorded
//! from dispatch, listed, and signed for (签收) within the limit.

pub mod rules;
pub mod store;

use std::collections::HashMap;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{AssignmentId, ReturnId, TicketNo, UnitId};
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::common::v1::TicketStatus;
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::{
    AssignmentState, CreateAssignmentsRequest, CreateAssignmentsResponse, ListAssignmentsRequest,
    ListAssignmentsResponse, ListTicketAssignmentsRequest, ListTicketAssignmentsResponse,
    SignAssignmentRequest, SignAssignmentResponse,
};

use crate::context::Ctx;
use crate::hops::rules::{Step, step};
use crate::hops::{self, store as hop_store};
use crate::returns::store as returns;
use crate::scope::{self, By, hold};
use crate::{lifecycle, watch, window};
use rules::{Action, RawAssignment, State, transition};
use sqlx::PgConnection;

/// Records the assignments of a ticket's routing hop (from dispatch's
/// relay), idempotently. A later hop than the one in force is put in force
/// first, as BeginHop would.
pub async fn create(
    ctx: &Ctx,
    who: Identity,
    r: CreateAssignmentsRequest,
) -> Result<CreateAssignmentsResponse, ApiError> {
    let mut f = Fields::new();
    let ticket = r.ticket.clone().unwrap_or_default();
    let ticket_no = if r.ticket.is_none() {
        f.add("ticket", "required");
        None
    } else {
        f.id::<TicketNo>("ticket.ticket_no", &ticket.ticket_no)
    };
    let dispatched_at = window::read(&mut f, "dispatched_at", r.dispatched_at.as_ref());
    if r.dispatched_at.is_none() {
        f.add("dispatched_at", "required");
    }
    let accepted_return = f.optional_id::<ReturnId>("accepted_return_id", &r.accepted_return_id);
    let hop = r.hop.max(1);
    let raw: Vec<RawAssignment<'_>> = r
        .assignments
        .iter()
        .enumerate()
        .map(|(i, a)| RawAssignment {
            unit_id: &a.unit_id,
            role: a.role,
            sign_deadline: window::read(
                &mut f,
                &format!("assignments[{i}].sign_deadline"),
                a.sign_deadline.as_ref(),
            ),
            feedback_deadline: window::read(
                &mut f,
                &format!("assignments[{i}].feedback_deadline"),
                a.feedback_deadline.as_ref(),
            ),
        })
        .collect();
    let at = now();
    let new = rules::check_hop(
        &mut f,
        hop,
        dispatched_at,
        rules::accepted_at(&ticket),
        &raw,
        at,
    );
    f.finish()?;
    let (ticket_no, dispatched_at) = (ticket_no.expect("checked"), dispatched_at.expect("checked"));

    let mut tx = ctx.pool.begin().await?;
    let mut entries = Vec::new();
    // A hop without units sends the ticket to dispatch's manual queue.
    let manual_queue = new.is_empty();
    let in_force = hop_store::lock_or_begin(&mut tx, &ticket_no, hop, manual_queue, at).await?;
    match step(in_force, hop) {
        // A hop older than the one in force changes nothing.
        Step::Older(_) => {
            drop(tx);
            let mut conn = ctx.pool.acquire().await?;
            let all = store::by_ticket(&mut conn, &ticket_no).await?;
            return Ok(CreateAssignmentsResponse {
                assignments: protos(&mut conn, &all).await?,
            });
        }
        Step::First => {}
        Step::Same(_) => {
            hop_store::set_manual_queue(&mut tx, &ticket_no, hop, manual_queue).await?;
        }
        Step::Newer(from) => {
            let to = hops::NewHop { hop, manual_queue };
            hops::advance(&mut tx, &who, &ticket_no, from, to, at, &mut entries).await?;
        }
    }
    let round = in_force.map_or(1, |f| f.round);
    if let Some(id) = accepted_return
        && let Some(ret) = returns::accept_for_hop(&mut tx, id, hop, at).await?
    {
        watch::store::return_decided(&mut tx, &ret).await?;
        lifecycle::record_return_decided(&mut tx, &ret, at, Some(hop)).await?;
        entries.push(Entry::by(
            &who,
            "return.accepted",
            &ticket_no,
            format!("return={id} hop={hop}"),
        ));
    }
    let mut created = Vec::new();
    for a in &new {
        if store::insert(
            &mut tx,
            &ctx.policy,
            &ticket,
            &ticket_no,
            hop,
            round,
            dispatched_at,
            a,
        )
        .await?
        {
            created.push(&a.unit_id);
            entries.push(Entry::by(
                &who,
                "assignment.created",
                &ticket_no,
                format!(
                    "unit={} lead={} hop={hop}",
                    a.unit_id,
                    a.role == rules::Role::Lead
                ),
            ));
        }
    }
    audit::append(&mut tx, &entries).await?;
    let all = store::by_ticket(&mut tx, &ticket_no).await?;
    for a in all
        .iter()
        .filter(|a| a.hop == hop && created.contains(&&a.unit_id))
    {
        watch::store::assignment_created(&mut tx, a).await?;
        lifecycle::record(&mut tx, a.ticket_no.as_str(), at, lifecycle::assigned(a)).await?;
    }
    let assignments = protos(&mut tx, &all).await?;
    tx.commit().await?;
    if !created.is_empty() {
        tracing::info!(ticket_no = %ticket_no, hop, created = created.len(), "assignments recorded");
    }
    Ok(CreateAssignmentsResponse { assignments })
}

/// Assignments as the contract writes them, each ticket summary carrying
/// the ticket's status as it stands now: one query for all their tickets,
/// in the caller's transaction when it has one (so a change just made
/// shows).
pub async fn protos(
    conn: &mut PgConnection,
    all: &[rules::Assignment],
) -> Result<Vec<pb::Assignment>, ApiError> {
    let mut tickets: Vec<&str> = all.iter().map(|a| a.ticket_no.as_str()).collect();
    tickets.sort_unstable();
    tickets.dedup();
    let statuses: HashMap<TicketNo, TicketStatus> = if tickets.is_empty() {
        HashMap::new()
    } else {
        hop_store::status_facts(conn, &tickets)
            .await?
            .into_iter()
            .map(|f| {
                let status = rules::ticket_status(f.manual_queue, f.round, f.lead, f.closed);
                (f.ticket_no, status)
            })
            .collect()
    };
    Ok(all
        .iter()
        .map(|a| {
            let mut p = a.to_proto();
            if let Some(t) = p.ticket.as_mut() {
                t.status = statuses
                    .get(&a.ticket_no)
                    .copied()
                    .unwrap_or(TicketStatus::Unspecified) as i32;
            }
            p
        })
        .collect())
}

/// One assignment as the contract writes it, with its ticket's status.
pub async fn proto(
    conn: &mut PgConnection,
    a: &rules::Assignment,
) -> Result<pb::Assignment, ApiError> {
    let mut one = protos(conn, std::slice::from_ref(a)).await?;
    one.pop()
        .ok_or_else(|| ApiError::internal("an assignment without its proto"))
}

/// One unit's assignments, newest first, paged; unit staff only their own.
pub async fn list(
    ctx: &Ctx,
    who: Identity,
    r: ListAssignmentsRequest,
) -> Result<ListAssignmentsResponse, ApiError> {
    scope::scoped(&who, &r.unit_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let state = match AssignmentState::try_from(r.state) {
        Ok(AssignmentState::Unspecified) => None,
        _ => {
            let s = State::from_proto(r.state);
            if s.is_none() {
                f.add("state", format!("unknown state {}", r.state));
            }
            s
        }
    };
    let state_filter = r.state.to_string();
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[unit.as_deref().unwrap_or(""), &state_filter],
    );
    f.finish()?;
    let unit = unit.expect("checked");
    let mut rows =
        store::by_unit(&ctx.pool, &unit, state, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |a| {
        Cursor::new(a.dispatched_at, a.id.to_string())
    });
    let mut conn = ctx.pool.acquire().await?;
    Ok(ListAssignmentsResponse {
        assignments: protos(&mut conn, &rows).await?,
        next_page_token,
    })
}

/// The assignments of one ticket, hop by hop, lead unit first; unit staff
/// see their own.
pub async fn list_ticket(
    ctx: &Ctx,
    who: Identity,
    r: ListTicketAssignmentsRequest,
) -> Result<ListTicketAssignmentsResponse, ApiError> {
    let list = scope::TicketList::parse(&who, &r.ticket_no, r.page_size, &r.page_token)?;
    let page = list.page;
    let mut conn = ctx.pool.acquire().await?;
    let mut rows = store::by_ticket(&mut conn, &list.ticket_no).await?;
    rows.retain(|a| scope::sees(&who, &a.unit_id));
    let (rows, next_page_token) = page.window(rows);
    Ok(ListTicketAssignmentsResponse {
        assignments: protos(&mut conn, &rows).await?,
        next_page_token,
    })
}

/// A unit signs for (签收) its assignment: the sign-off clock stops.
pub async fn sign(
    ctx: &Ctx,
    who: Identity,
    r: SignAssignmentRequest,
) -> Result<SignAssignmentResponse, ApiError> {
    scope::acting(&who, &r.unit_id, &r.assignment_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let id = f.id::<AssignmentId>("assignment_id", &r.assignment_id);
    f.finish()?;
    let (unit, id) = (unit.expect("checked"), id.expect("checked"));
    ctx.keys
        .once(&who, &r, async |tx| {
            let held = hold(tx, id, By::Unit(&unit)).await?;
            transition(held.assignment.state, Action::Sign)?;
            let at = now();
            let a = store::mark_signed(tx, id, at).await?;
            lifecycle::record(tx, a.ticket_no.as_str(), at, lifecycle::signed(&a, at)).await?;
            let entry = Entry::by(
                &who,
                "assignment.signed",
                &a.ticket_no,
                format!("assignment={id}"),
            );
            audit::append(tx, &[entry]).await?;
            tracing::info!(assignment_id = %id, ticket_no = %a.ticket_no, unit_id = %unit, state = a.state.as_sql(), "assignment signed");
            Ok(SignAssignmentResponse {
                assignment: Some(proto(tx, &a).await?),
            })
        })
        .await
}
