//! Re-handling (重办): a return visit that finds the request unresolved
//! (or partly) or the requester unsatisfied (不满意, 非常不满意), for a
//! cause the visitor attributes to the unit, sends the ticket back to the
//! lead unit of the answered round.
//!
//! Undertaking consumes intake's `visited` facts (its own queue, each
//! event acted on once: `consumed_events`; each visit decided once:
//! `rehandlings` keyed by the visit). In the event's transaction, holding
//! the ticket's hop row exclusively, it decides (`rules::decide`):
//!
//! - reopened: the ticket moves to the next handling round of the same
//!   hop; the lead unit gets a new lead assignment of that round with
//!   fresh sign-off and feedback clocks of its tier counted from now (the
//!   clocks supervision urges and opens cases on), fed to the unit's
//!   stream as a new assignment, with `assigned` and `reopened` facts and
//!   an audit entry. Co-units are not assigned again: their parts of the
//!   round stand, and the lead asks them anew by a whistle or a re-dispatch
//!   if it needs them.
//! - not reopened: the visited round was the policy's last
//!   (`[rehandling] max_rounds`), or it is no longer the round in force or
//!   its lead answer is not the visited unit's (a re-dispatch or a
//!   reopening came first, e.g. the event redelivered): recorded, with a
//!   `not_reopened` fact and an audit entry.
//!
//! A visit that does not call for handling again records nothing. A fact
//! that is malformed, or about a ticket undertaking does not hold, is
//! logged and skipped (retrying cannot mend it). Decisions are listed by
//! `ListRehandlings` (intake's timeline shows them).

pub mod rules;
pub mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::convert::{request_type_from_proto, tier_from_proto};
use hotline_common::events::consume;
use hotline_common::outbox::Tx;
use hotline_common::time::{now, to_proto};
use hotline_proto::events::v1::{self as ev, LifecycleEvent, lifecycle_event::Fact};
use hotline_proto::undertaking::v1::{ListRehandlingsRequest, ListRehandlingsResponse};
use hotline_sla::{Policy, TicketClass};

use crate::assignments::rules::{Assignment, NewAssignment, Role};
use crate::assignments::store as assignments;
use crate::context::Ctx;
use crate::hops::store::{self as hops, Hold};
use crate::{lifecycle, scope, watch};
use rules::{Decision, Rehandling, Visited};

/// The consumer's name (its rows in `consumed_events`) and queue.
pub const CONSUMER: &str = "undertaking-rehandling";
pub const QUEUE: &str = "hotline.undertaking.rehandling";

/// What undertaking's consumer of return visits binds to: intake's ended
/// visits, and its closings (办结), which undertaking's views then show.
pub fn subscription() -> consume::Subscription {
    consume::Subscription {
        consumer: CONSUMER.into(),
        queue: QUEUE.into(),
        bindings: vec![
            ("hotline.intake.events".into(), "intake.visited".into()),
            ("hotline.intake.events".into(), "intake.closed".into()),
        ],
        prefetch: 32,
    }
}

/// The handler of the consumer: decides on each visit once.
pub fn handler(policy: Arc<Policy>) -> consume::Handler {
    Arc::new(move |tx, e| on_event(policy.clone(), tx, e))
}

type Acted<'t> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 't>>;

fn on_event<'t>(policy: Arc<Policy>, tx: &'t mut Tx, e: &'t LifecycleEvent) -> Acted<'t> {
    Box::pin(async move {
        match &e.fact {
            Some(Fact::Visited(v)) => act(&policy, tx, &e.ticket_no, v, now()).await,
            // Closed at acceptance, or with the ticket it repeats: never
            // dispatched, so undertaking holds nothing of it.
            Some(Fact::Closed(c)) if never_dispatched(c.cause) => Ok(()),
            Some(Fact::Closed(c)) => {
                let at = c
                    .closed_at
                    .as_ref()
                    .and_then(|t| hotline_common::time::from_proto(t, "closed_at").ok())
                    .unwrap_or_else(now);
                if !hops::note_closed(tx, &e.ticket_no, at).await? {
                    tracing::warn!(ticket_no = %e.ticket_no, "closed event of a ticket undertaking does not hold, or closed already");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    })
}

fn never_dispatched(cause: i32) -> bool {
    use ev::ClosureCause as C;
    [C::DirectAnswer, C::Referred, C::WithParent, C::Refused]
        .iter()
        .any(|c| *c as i32 == cause)
}

/// Decides on one visit, in the caller's transaction.
pub async fn act(
    policy: &Policy,
    tx: &mut Tx,
    ticket_no: &str,
    v: &ev::Visited,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    if !rules::calls_for_rehandling(v) {
        return Ok(());
    }
    let visited = match rules::parse_visited(ticket_no, v) {
        Ok(visited) => visited,
        Err(why) => {
            tracing::warn!(%ticket_no, visit_id = %v.visit_id, %why, "visited event not acted on");
            return Ok(());
        }
    };
    let Some(in_force) = hops::lock(tx, &visited.ticket_no, Hold::Exclusive).await? else {
        tracing::warn!(%ticket_no, visit_id = %v.visit_id, "visited event of a ticket undertaking does not hold, skipped");
        return Ok(());
    };
    if store::decided(tx, visited.visit_id).await? {
        return Ok(());
    }
    let answer = store::lead_answer(tx, &visited.ticket_no, visited.hop, visited.round).await?;
    let decision = rules::decide(
        &visited,
        in_force,
        answer.as_ref().map(|a| &a.unit_id),
        &policy.rehandling,
    );
    let mut r = Rehandling {
        visit_id: visited.visit_id,
        ticket_no: visited.ticket_no.clone(),
        unit_id: visited.unit_id.clone(),
        hop: visited.hop,
        visited_round: visited.round,
        decision,
        new_round: None,
        assignment_id: None,
        max_rounds: policy.rehandling.max_rounds as i32,
        decided_at: at,
    };
    let entry = match (decision, answer) {
        (Decision::Reopened, Some(answer)) => {
            let a = reopen(policy, tx, &visited, &answer, at).await?;
            r.new_round = Some(a.round);
            r.assignment_id = Some(a.id);
            store::insert(tx, &r).await?;
            Entry::system(
                "undertaking",
                "ticket.reopened",
                ticket_no,
                format!(
                    "visit={} unit={} hop={} round={} assignment={}",
                    r.visit_id, r.unit_id, r.hop, a.round, a.id
                ),
            )
        }
        _ => {
            if r.decision == Decision::Reopened {
                r.decision = Decision::Superseded;
            }
            store::insert(tx, &r).await?;
            let fact = Fact::NotReopened(r.not_reopened()?);
            lifecycle::record(tx, ticket_no, at, fact).await?;
            Entry::system(
                "undertaking",
                "ticket.not_reopened",
                ticket_no,
                format!(
                    "visit={} unit={} hop={} round={} decision={} max_rounds={}",
                    r.visit_id,
                    r.unit_id,
                    r.hop,
                    r.visited_round,
                    r.decision.as_sql(),
                    r.max_rounds
                ),
            )
        }
    };
    audit::append(tx, &[entry]).await?;
    tracing::info!(
        %ticket_no,
        visit_id = %r.visit_id,
        round = r.visited_round,
        decision = r.decision.as_sql(),
        "return visit called for handling again"
    );
    Ok(())
}

/// The next round of the visited hop for the lead unit that answered:
/// the hop row (held exclusively) moves to it, the new lead assignment is
/// recorded with clocks from `at`, fed to the unit and told as facts.
async fn reopen(
    policy: &Policy,
    tx: &mut Tx,
    v: &Visited,
    answer: &Assignment,
    at: DateTime<Utc>,
) -> Result<Assignment, ApiError> {
    let class = TicketClass {
        tier: tier_from_proto(answer.ticket.tier, "ticket.tier")?,
        complex: answer.ticket.complex,
        kind: request_type_from_proto(answer.ticket.request_type, "ticket.request_type")?,
    };
    let new = NewAssignment {
        unit_id: answer.unit_id.clone(),
        role: Role::Lead,
        sign_deadline: policy.sign_deadline(class, at),
        // Counted from the reopening whatever `feedback_counted_from`
        // says: counted from acceptance, the limit would be gone already.
        feedback_deadline: policy.feedback_deadline(class, at, at),
    };
    let round = v.round + 1;
    hops::begin_round(tx, &v.ticket_no, round).await?;
    let a = assignments::insert_round(
        tx,
        policy,
        &answer.ticket,
        &v.ticket_no,
        v.hop,
        round,
        at,
        &new,
    )
    .await?;
    watch::store::assignment_created(tx, &a).await?;
    let ticket_no = a.ticket_no.as_str();
    lifecycle::record(tx, ticket_no, at, lifecycle::assigned(&a)).await?;
    let fact = Fact::Reopened(ev::Reopened {
        round,
        unit_id: a.unit_id.to_string(),
        visit_id: v.visit_id.to_string(),
        reopened_at: Some(to_proto(at)),
        hop: a.hop,
        assignment_id: a.id.to_string(),
        sign_deadline: Some(to_proto(a.sign_deadline)),
        feedback_deadline: Some(to_proto(a.feedback_deadline)),
    });
    lifecycle::record(tx, ticket_no, at, fact).await?;
    Ok(a)
}

/// ListRehandlings: one ticket's decisions, oldest first; unit staff see
/// their own unit's.
pub async fn list(
    ctx: &Ctx,
    who: Identity,
    r: ListRehandlingsRequest,
) -> Result<ListRehandlingsResponse, ApiError> {
    let list = scope::TicketList::parse(&who, &r.ticket_no, r.page_size, &r.page_token)?;
    let mut conn = ctx.pool.acquire().await?;
    let mut all = store::by_ticket(&mut conn, &list.ticket_no).await?;
    all.retain(|x| scope::sees(&who, &x.unit_id));
    let (rows, next_page_token) = list.page.window(all);
    Ok(ListRehandlingsResponse {
        rehandlings: rows.iter().map(|x| x.to_proto()).collect(),
        next_page_token,
    })
}
