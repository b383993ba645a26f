//! The hop in force (当前派单轮次): per ticket, the routing hop whose
//! assignments may act. Dispatch begins a new hop before it answers a
//! re-dispatch; beginning it withdraws the earlier hops' open assignments.

pub mod rules;
pub mod store;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::TicketNo;
use hotline_common::outbox::Tx;
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::undertaking::v1::{BeginHopRequest, BeginHopResponse};

use crate::assignments::rules::Assignment;
use crate::assignments::store as assignments;
use crate::context::Ctx;
use crate::returns::store as returns;
use rules::{InForce, Step};

/// Dispatch puts a new hop in force, synchronously, before it answers a
/// re-dispatch: from then on no assignment of an earlier hop acts.
pub async fn begin_hop(
    ctx: &Ctx,
    who: Identity,
    r: BeginHopRequest,
) -> Result<BeginHopResponse, ApiError> {
    let mut f = Fields::new();
    let ticket_no = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let hop = i32::try_from(r.hop).ok().filter(|h| *h >= 1);
    if hop.is_none() {
        f.add("hop", format!("the new hop, 1 or more, not {}", r.hop));
    }
    f.finish()?;
    let (ticket_no, hop) = (ticket_no.expect("checked"), hop.expect("checked"));
    let at = now();
    let mut tx = ctx.pool.begin().await?;
    let mut entries = Vec::new();
    let manual_queue = r.manual_queue;
    let withdrawn = match rules::step(
        store::lock_or_begin(&mut tx, &ticket_no, hop, manual_queue, at).await?,
        hop,
    ) {
        Step::First => {
            entries.push(Entry::by(
                &who,
                "hop.begun",
                &ticket_no,
                format!("hop={hop}"),
            ));
            Vec::new()
        }
        Step::Same(_) => {
            store::set_manual_queue(&mut tx, &ticket_no, hop, manual_queue).await?;
            Vec::new()
        }
        Step::Older(in_force) => return Err(rules::refuse_older(&ticket_no, hop, in_force)),
        Step::Newer(in_force) => {
            let to = NewHop { hop, manual_queue };
            advance(&mut tx, &who, &ticket_no, in_force, to, at, &mut entries).await?
        }
    };
    audit::append(&mut tx, &entries).await?;
    tx.commit().await?;
    if !entries.is_empty() {
        tracing::info!(ticket_no = %ticket_no, hop, withdrawn = withdrawn.len(), "hop begun");
    }
    Ok(BeginHopResponse {
        hop: hop as u32,
        withdrawn_assignment_ids: withdrawn.iter().map(|a| a.id.to_string()).collect(),
    })
}

/// A hop to put in force: its number, and whether it sends the ticket to
/// dispatch's manual queue.
#[derive(Debug, Clone, Copy)]
pub struct NewHop {
    pub hop: i32,
    pub manual_queue: bool,
}

/// Replaces the hop in force (row locked exclusively by the caller) with
/// `to`, unless the lead unit answered the round in force: withdraws the
/// earlier hops' open assignments (clocks stopped, pending returns
/// accepted). Returns the withdrawn assignments; audit entries go to
/// `entries`.
pub async fn advance(
    tx: &mut Tx,
    who: &Identity,
    ticket_no: &TicketNo,
    in_force: InForce,
    to: NewHop,
    at: DateTime<Utc>,
    entries: &mut Vec<Entry>,
) -> Result<Vec<Assignment>, ApiError> {
    let hop = to.hop;
    let answered = store::lead_answer(tx, ticket_no, in_force.round).await?;
    rules::may_begin(ticket_no, answered.as_ref())?;
    store::advance(tx, ticket_no, hop, to.manual_queue, at).await?;
    let withdrawn = assignments::withdraw_before(tx, ticket_no, hop, at).await?;
    let ids: Vec<_> = withdrawn.iter().map(|a| a.id).collect();
    let accepted = returns::accept_pending_of(tx, &ids, at).await?;
    entries.push(Entry::by(
        who,
        "hop.begun",
        ticket_no,
        format!("hop={hop} previous={}", in_force.hop),
    ));
    for a in &withdrawn {
        entries.push(Entry::by(
            who,
            "assignment.withdrawn",
            ticket_no,
            format!(
                "assignment={} unit={} hop={} new_hop={hop}",
                a.id, a.unit_id, a.hop
            ),
        ));
    }
    for ret in accepted {
        crate::watch::store::return_decided(tx, &ret).await?;
        crate::lifecycle::record_return_decided(tx, &ret, at, Some(hop)).await?;
        entries.push(Entry::by(
            who,
            "return.accepted",
            ticket_no,
            format!("return={} hop={hop}", ret.id),
        ));
    }
    Ok(withdrawn)
}
