//! Return visits (回访) of answered tickets.
//!
//! Intake consumes undertaking's `answered` events (its own queue, each
//! event acted on once) and decides, in the event's transaction, whether
//! the answered round enters the return-visit queue: never when the
//! requester refused return visits; then every ticket, or a reproducible
//! sample by tier (`rules::decide`), the seed and rate stored with the
//! decision. A queued visit gets a clock (stage `return_visit`) to the
//! policy's limit. Return-visit staff take the oldest due visit
//! (`TakeReturnVisit`, `FOR UPDATE SKIP LOCKED`), with the requester's
//! contact in full (on the record) and the policy's neutral questions,
//! and record each attempt (`RecordVisitAttempt`): reached (raw answers
//! and a RETURN_VISIT contact, rateable once), refused, or unreachable
//! (again after the retry interval, closed after the policy's attempts).
//! A closed visit stops its clock and publishes the `visited` fact.
//!
//! Intake also closes the ticket (办结, `closure`): with the answer when the
//! round is not queued, when its visit ends without calling for handling
//! again, or, when it does call for it, once undertaking's `not_reopened`
//! says the policy's rounds are used up (a `superseded` one leaves the
//! closing to the later hop or round); each publishes the `closed` fact.

pub mod closure;
pub mod rules;
pub mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, CENTRE_UNIT, ClockSpec};
use hotline_common::events::{self, consume};
use hotline_common::ids::Id;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::time::{from_proto, now, to_proto};
use hotline_proto::events::v1::{self as ev, LifecycleEvent, Source, lifecycle_event::Fact};
use hotline_proto::intake::v1::*;
use hotline_sla::{Policy, Stage, Tier};

use crate::app::App;
use rules::{Step, Visit, VisitId};

/// The consumer's name (its rows in `consumed_events`) and queue.
pub const CONSUMER: &str = "intake-return-visits";
pub const QUEUE: &str = "hotline.intake.return-visits";

/// What intake's consumer binds to: undertaking's answered rounds, lead
/// assignments and decisions not to reopen, supervision's cases (a lead's
/// feedback limit passed).
pub fn subscription() -> consume::Subscription {
    consume::Subscription {
        consumer: CONSUMER.into(),
        queue: QUEUE.into(),
        bindings: vec![
            (
                "hotline.undertaking.events".into(),
                "undertaking.answered".into(),
            ),
            (
                "hotline.undertaking.events".into(),
                "undertaking.assigned".into(),
            ),
            (
                "hotline.undertaking.events".into(),
                "undertaking.not_reopened".into(),
            ),
            (
                "hotline.supervision.events".into(),
                "supervision.case_opened".into(),
            ),
        ],
        prefetch: 32,
    }
}

/// The handler of the consumer: decides on each answered or overdue round
/// once.
pub fn handler(policy: Arc<Policy>) -> consume::Handler {
    Arc::new(move |tx, e| on_event(policy.clone(), tx, e))
}

type Acted<'t> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 't>>;

fn at_of(
    t: Option<&prost_types::Timestamp>,
    field: &'static str,
) -> Result<DateTime<Utc>, ApiError> {
    t.and_then(|t| from_proto(t, field).ok())
        .ok_or_else(|| ApiError::invalid(field, "missing"))
}

fn on_event<'t>(policy: Arc<Policy>, tx: &'t mut Tx, e: &'t LifecycleEvent) -> Acted<'t> {
    Box::pin(async move {
        let no = e.ticket_no.as_str();
        match &e.fact {
            Some(Fact::Answered(a)) => {
                let round = store::Answered {
                    ticket_no: no,
                    unit_id: &a.unit_id,
                    assignment_id: &a.assignment_id,
                    hop: a.hop,
                    round: a.round,
                    answered_at: Some(at_of(a.answered_at.as_ref(), "answered_at")?),
                };
                if let Some(visit) = store::note_late_answer(tx, &round).await? {
                    tracing::info!(ticket_no = %no, hop = a.hop, round = a.round, "late answer noted on an overdue round's visit");
                    return close_if_settled(tx, &visit, now()).await;
                }
                enter(&policy, tx, &round, now()).await
            }
            Some(Fact::Assigned(a))
                if a.role == hotline_proto::common::v1::AssignmentRole::Lead as i32 =>
            {
                let lead = store::RoundLead {
                    hop: a.hop,
                    round: a.round,
                    unit_id: a.unit_id.clone(),
                    assignment_id: a.assignment_id.clone(),
                };
                store::note_lead(
                    tx,
                    no,
                    &lead,
                    at_of(a.dispatched_at.as_ref(), "dispatched_at")?,
                )
                .await
            }
            Some(Fact::CaseOpened(c))
                if c.stage == hotline_proto::common::v1::Stage::Feedback as i32 =>
            {
                let Some(lead) = store::latest_lead(tx, no, &c.unit_id).await? else {
                    // A co-unit's part, or a lead intake was not told of.
                    tracing::debug!(ticket_no = %no, unit_id = %c.unit_id, "feedback case of no lead round intake knows");
                    return Ok(());
                };
                let round = store::Answered {
                    ticket_no: no,
                    unit_id: &lead.unit_id,
                    assignment_id: &lead.assignment_id,
                    hop: lead.hop,
                    round: lead.round,
                    answered_at: None,
                };
                enter(&policy, tx, &round, now()).await
            }
            Some(Fact::NotReopened(n)) => {
                let (Ok(visit_id), Some(decision)) =
                    (VisitId::parse(&n.visit_id), not_reopened_sql(n.decision))
                else {
                    tracing::warn!(ticket_no = %no, visit_id = %n.visit_id, decision = n.decision, "not_reopened event not acted on: malformed");
                    return Ok(());
                };
                match store::note_not_reopened(tx, visit_id, decision).await? {
                    Some(visit) => close_if_settled(tx, &visit, now()).await,
                    None => {
                        tracing::warn!(ticket_no = %no, %visit_id, "not_reopened event of a visit intake does not hold, skipped");
                        Ok(())
                    }
                }
            }
            _ => Ok(()),
        }
    })
}

/// A decision not to reopen, as `return_visits.not_reopened` keeps it.
fn not_reopened_sql(decision: i32) -> Option<&'static str> {
    use hotline_proto::undertaking::v1::RehandlingDecision as D;
    match D::try_from(decision).ok()? {
        D::LimitReached => Some("limit_reached"),
        D::Superseded => Some("superseded"),
        D::Reopened | D::Unspecified => None,
    }
}

/// Closes the visit's ticket (办结) if its round's answer now stands
/// (`closure`): once, with the `closed` fact and an audit entry.
async fn close_if_settled(tx: &mut Tx, v: &Visit, at: DateTime<Utc>) -> Result<(), ApiError> {
    // Most answered rounds are queued for their visit: nothing more to read.
    if !closure::may_close(v) {
        return Ok(());
    }
    let standing = store::closure_standing(tx, v).await?;
    let Some(cause) = closure::closure(v, standing) else {
        return Ok(());
    };
    if !store::close_ticket(tx, v, at, cause).await? {
        return Ok(());
    }
    let fact = Fact::Closed(ev::Closed {
        cause: cause.to_proto() as i32,
        hop: v.hop,
        round: v.round,
        unit_id: v.unit_id.clone(),
        visit_id: v.id.to_string(),
        not_queued_reason: v.not_queued.map_or(0, |n| n.to_proto() as i32),
        closed_at: Some(to_proto(at)),
        parent_ticket_no: String::new(),
    });
    events::record_fact(tx, Source::Intake, &v.ticket_no, at, fact).await?;
    let repeats = crate::repeats::store::close_with_parent(tx, &v.ticket_no, at).await?;
    let detail = format!(
        "cause={} visit={} hop={} round={}",
        cause.as_sql(),
        v.id,
        v.hop,
        v.round
    );
    audit::append(
        tx,
        &[Entry::system(
            "intake",
            "ticket.closed",
            &v.ticket_no,
            detail,
        )],
    )
    .await?;
    tracing::info!(ticket_no = %v.ticket_no, cause = cause.as_sql(), hop = v.hop, round = v.round, repeats, "ticket closed");
    Ok(())
}

fn instance(hop: i32, round: i32) -> String {
    format!("hop{hop}-round{round}")
}

fn clock_id(v: &Visit) -> String {
    clock::instance_clock_id(
        &v.ticket_no,
        Stage::ReturnVisit,
        CENTRE_UNIT,
        Some(&instance(v.hop, v.round)),
    )
}

/// Records the decision for an answered (or overdue) round; starts the
/// visit's clock when it is queued. A ticket intake does not know is
/// skipped (logged).
async fn enter(
    policy: &Policy,
    tx: &mut Tx,
    answered: &store::Answered<'_>,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let ticket_no = answered.ticket_no;
    let Some(facts) = store::ticket_facts(tx, ticket_no).await? else {
        tracing::warn!(%ticket_no, "answered event of a ticket intake does not hold, skipped");
        return Ok(());
    };
    let tier: Tier = facts
        .tier
        .parse()
        .map_err(|e: String| ApiError::internal(format!("stored tier: {e}")))?;
    let rv = &policy.return_visits;
    let entry = rules::decide(rv, tier, facts.consent, ticket_no);
    let deadline = at + chrono::Duration::from_std(rv.limit).unwrap_or_default();
    let Some(visit) = store::enter(tx, answered, &entry, at, deadline).await? else {
        return Ok(());
    };
    let detail = format!(
        "visit={} hop={} round={} cause={} decision={} seed={} rate={}",
        visit.id,
        visit.hop,
        visit.round,
        visit.cause.as_sql(),
        entry.not_queued.map_or("queued", |n| n.as_sql()),
        entry.sample.as_ref().map_or("", |s| s.0.as_str()),
        entry.sample.as_ref().map_or(1.0, |s| s.1),
    );
    let action = if entry.not_queued.is_some() {
        "return_visit.not_queued"
    } else {
        let inst = instance(visit.hop, visit.round);
        clock::start(
            tx,
            policy,
            &ClockSpec {
                ticket_no,
                stage: Stage::ReturnVisit,
                unit_id: CENTRE_UNIT,
                instance: Some(&inst),
                started_at: at,
                deadline,
            },
        )
        .await?;
        "return_visit.queued"
    };
    audit::append(tx, &[Entry::system("intake", action, ticket_no, detail)]).await?;
    tracing::info!(
        %ticket_no,
        visit_id = %visit.id,
        decision = entry.not_queued.map_or("queued", |n| n.as_sql()),
        "return visit decided"
    );
    close_if_settled(tx, &visit, at).await
}

/// TakeReturnVisit: the oldest due visit, the caller's until the policy's
/// take lease runs out; the requester's contact in full, on the record.
pub async fn take(
    app: &App,
    who: Identity,
    req: TakeReturnVisitRequest,
) -> Result<TakeReturnVisitResponse, ApiError> {
    let rv = app.policy.return_visits.clone();
    app.keys
        .once(&who, &req, async |tx| {
            let at = now();
            let until = at + chrono::Duration::from_std(rv.take_lease).unwrap_or_default();
            let Some(visit) = store::take_due(tx, &who.subject, at, until).await? else {
                return Ok(TakeReturnVisitResponse::default());
            };
            let facts = store::ticket_facts(tx, &visit.ticket_no)
                .await?
                .ok_or_else(|| ApiError::internal("a visit of a ticket that is gone"))?;
            let entries = [
                Entry::by(
                    &who,
                    "return_visit.taken",
                    &visit.ticket_no,
                    format!("visit={}", visit.id),
                ),
                Entry::by(
                    &who,
                    "requester.read",
                    &visit.ticket_no,
                    format!("visit={}", visit.id),
                ),
            ];
            audit::append(tx, &entries).await?;
            tracing::info!(visit_id = %visit.id, ticket_no = %visit.ticket_no, "return visit taken");
            Ok(TakeReturnVisitResponse {
                visit: Some(visit.to_proto()),
                requester_name: facts.name.unwrap_or_default(),
                requester_phone: facts.phone.unwrap_or_default(),
                questions: rv.questions.clone(),
            })
        })
        .await
}

/// RecordVisitAttempt: one attempt of a visit the caller holds.
pub async fn record_attempt(
    app: &App,
    who: Identity,
    req: RecordVisitAttemptRequest,
) -> Result<RecordVisitAttemptResponse, ApiError> {
    let attempt = rules::parse_attempt(&req)?;
    let policy = app.policy.clone();
    app.keys
        .once(&who, &req, async |tx| {
            let found = store::lock(tx, attempt.visit_id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no visit {}", attempt.visit_id)))?;
            rules::check_recordable(&found, &who)?;
            let at = now();
            let n = found.attempts + 1;
            store::insert_attempt(tx, found.id, n, attempt.result, &who.subject, at).await?;
            let (visit, contact) = match rules::step(&policy.return_visits, attempt.result, n, at) {
                Step::Retry(due) => (store::requeue(tx, found.id, n, due).await?, None),
                Step::Close(outcome) => {
                    let contact = match attempt.answers {
                        Some(_) => Some(store::insert_contact(tx, &found.ticket_no, at).await?),
                        None => None,
                    };
                    let closing = store::Closing {
                        attempts: n,
                        outcome,
                        answers: attempt.answers.as_ref(),
                        contact: contact.as_ref().map(|c| c.id),
                        by: &who.subject,
                        at,
                    };
                    let visit = store::close(tx, found.id, &closing).await?;
                    clock::stop(tx, &clock_id(&visit), at).await?;
                    let fact = Fact::Visited(closure::visited_fact(&visit));
                    events::record_fact(tx, Source::Intake, &visit.ticket_no, at, fact).await?;
                    close_if_settled(tx, &visit, at).await?;
                    (visit, contact)
                }
            };
            let detail = format!(
                "visit={} attempt={} result={}{}",
                visit.id,
                n,
                attempt.result.as_sql(),
                contact
                    .as_ref()
                    .map_or(String::new(), |c| format!(" contact={}", c.id)),
            );
            let entry = Entry::by(&who, "return_visit.attempted", &visit.ticket_no, detail);
            audit::append(tx, &[entry]).await?;
            tracing::info!(
                visit_id = %visit.id,
                attempt = n,
                result = attempt.result.as_sql(),
                state = visit.state.as_sql(),
                "return visit attempt recorded"
            );
            Ok(RecordVisitAttemptResponse {
                visit: Some(visit.to_proto()),
                contact: contact.map(|c| c.to_proto()),
            })
        })
        .await
}

/// ListReturnVisits: oldest entered first, one state or all; each comment
/// read is on the record (`visit_comment.read`).
pub async fn list(
    app: &App,
    who: Identity,
    req: ListReturnVisitsRequest,
) -> Result<ListReturnVisitsResponse, ApiError> {
    let (state, page) = rules::parse_list(&req)?;
    let mut rows =
        store::list(app.tickets.pool(), state, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |v| Cursor::new(v.entered_at, v.id.to_string()));
    // The requester's own words, read in full: on the record, as a
    // rating's comment is.
    let reads: Vec<Entry> = rows
        .iter()
        .filter(|v| v.answers.as_ref().is_some_and(|a| !a.comment.is_empty()))
        .map(|v| {
            Entry::by(
                &who,
                "visit_comment.read",
                &v.ticket_no,
                format!("visit={}", v.id),
            )
        })
        .collect();
    audit::record(app.tickets.pool(), &reads).await?;
    Ok(ListReturnVisitsResponse {
        visits: rows.iter().map(|v| v.to_proto()).collect(),
        next_page_token,
    })
}
