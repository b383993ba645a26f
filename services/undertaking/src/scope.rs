//! A unit sees and acts only on its own assignments, and an assignment
//! acts only while its routing hop is the one in force.

use hotline_common::auth::Identity;
use hotline_common::ids::{AssignmentId, TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::Page;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};

use crate::assignments::rules::Assignment;
use crate::assignments::store as assignments;
use crate::hops::rules::{InForce, check_in_force};
use crate::hops::store as hops;

/// Only a unit's own staff act for it; anyone else is told the assignment
/// does not exist, whether it does or not.
pub fn acting(who: &Identity, unit_id: &str, assignment_id: &str) -> Result<(), ApiError> {
    if who.acts_for(unit_id.trim()) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no assignment {} for unit {}",
            assignment_id.trim(),
            unit_id.trim()
        )))
    }
}

/// Unit staff list only their own unit.
pub fn scoped(who: &Identity, unit_id: &str) -> Result<(), ApiError> {
    match who.unit_scope() {
        Some(own) if own != unit_id.trim() => Err(ApiError::permission(
            Reason::OtherUnit,
            format!("{} may list only unit {own}", who.subject),
        )
        .with("unit_id", own)),
        _ => Ok(()),
    }
}

/// Whether the caller sees a row of `unit`.
pub fn sees(who: &Identity, unit: &str) -> bool {
    who.unit_scope().is_none_or(|own| own == unit)
}

/// The unit rows are narrowed to in SQL: unit staff's own, else none.
pub fn narrowed(who: &Identity) -> Option<String> {
    who.unit_scope().map(str::to_string)
}

/// A list of one ticket's rows as a caller may see them: the ticket, the
/// unit unit staff are narrowed to, and the page, its token bound to both.
pub struct TicketList {
    pub ticket_no: TicketNo,
    pub unit: Option<String>,
    pub page: Page,
}

impl TicketList {
    /// Parses `ticket_no` and the page; every problem named at once.
    pub fn parse(
        who: &Identity,
        ticket_no: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<TicketList, ApiError> {
        let mut f = Fields::new();
        let no = f.id::<TicketNo>("ticket_no", ticket_no);
        let unit = narrowed(who);
        let page = Page::parse(
            &mut f,
            page_size,
            page_token,
            &[ticket_no.trim(), unit.as_deref().unwrap_or("")],
        );
        f.finish()?;
        Ok(TicketList {
            ticket_no: no.expect("checked"),
            unit,
            page,
        })
    }
}

/// Who acts on a held assignment.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// The unit holding it: another unit's is "not found".
    Unit(&'a UnitId),
    /// The hotline centre (deciding a return, an extension).
    Centre,
}

/// An assignment locked for a change, with the ticket's hop in force held
/// (shared) in the caller's transaction.
pub struct Held {
    pub in_force: InForce,
    pub assignment: Assignment,
}

fn not_found(id: AssignmentId, by: By<'_>) -> ApiError {
    match by {
        By::Unit(u) => ApiError::not_found(format!("no assignment {id} for unit {u}")),
        By::Centre => ApiError::not_found(format!("no assignment {id}")),
    }
}

/// Locks the ticket's hop row (shared: the units of a ticket move side by
/// side, a new hop waits for them), then the assignment, and refuses an
/// assignment of a hop no longer in force. Every change to an assignment
/// starts here, so that once a new hop is in force no earlier one acts.
pub async fn hold(tx: &mut Tx, id: AssignmentId, by: By<'_>) -> Result<Held, ApiError> {
    let held = lock(tx, id, by).await?;
    check_in_force(
        held.assignment.hop,
        held.assignment.round,
        held.assignment.state,
        held.in_force,
    )?;
    Ok(held)
}

/// Locks as [`hold`] does, for a decision that stands whatever the hop (a
/// rejected extension request).
pub async fn hold_any_hop(tx: &mut Tx, id: AssignmentId, by: By<'_>) -> Result<Held, ApiError> {
    lock(tx, id, by).await
}

async fn lock(tx: &mut Tx, id: AssignmentId, by: By<'_>) -> Result<Held, ApiError> {
    let Some((_, in_force)) = hops::lock_of_assignment(tx, id).await? else {
        return Err(match assignments::ticket_of(tx, id).await? {
            None => not_found(id, by),
            Some(ticket) => ApiError::internal(format!("ticket {ticket} has no hop in force")),
        });
    };
    let assignment = assignments::lock(tx, id)
        .await?
        .ok_or_else(|| not_found(id, by))?;
    if let By::Unit(u) = by
        && &assignment.unit_id != u
    {
        return Err(not_found(id, by));
    }
    Ok(Held {
        in_force,
        assignment,
    })
}
