//! The SQL of return visits: the decision for an answered round, taking a
//! due visit (`FOR UPDATE SKIP LOCKED`), attempts, closing, the list.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_proto::common::v1::Channel;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::closure::{ClosureCause, Standing};
use super::rules::{
    Answers, AttemptResult, Cause, Entry, NotQueued, Outcome, Resolution, Visit, VisitId,
    VisitState,
};
use crate::ratings::rules::{Contact, ContactId, ContactKind, Level};

fn visit_from(row: &PgRow) -> Result<Visit, ApiError> {
    let seed: Option<String> = row.get("sample_seed");
    let rate: Option<f64> = row.get("sample_rate");
    let resolution: Option<&str> = row.get("resolution");
    let satisfaction: Option<&str> = row.get("satisfaction");
    let answers = match (resolution, satisfaction) {
        (Some(r), Some(s)) => Some(Answers {
            unit_contacted: row
                .get::<Option<bool>, _>("unit_contacted")
                .unwrap_or(false),
            resolution: Resolution::from_sql(r)?,
            satisfaction: Level::from_sql(s)?,
            unit_at_fault: row.get::<Option<bool>, _>("unit_at_fault").unwrap_or(false),
            comment: row.get::<Option<String>, _>("comment").unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Visit {
        id: row.get("visit_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        hop: row.get("hop"),
        round: row.get("round"),
        cause: Cause::from_sql(row.get("cause"))?,
        answered_at: row.get("answered_at"),
        entered_at: row.get("entered_at"),
        state: VisitState::from_sql(row.get("state"))?,
        not_queued: row
            .get::<Option<&str>, _>("not_queued_reason")
            .map(NotQueued::from_sql)
            .transpose()?,
        sample: seed.zip(rate),
        deadline: row.get("deadline"),
        due_at: row.get("due_at"),
        taken_by: row.get("taken_by"),
        attempts: row.get("attempts"),
        outcome: row
            .get::<Option<&str>, _>("outcome")
            .map(Outcome::from_sql)
            .transpose()?,
        answers,
        contact_id: row.get("contact_id"),
        closed_at: row.get("closed_at"),
    })
}

/// What a visit needs of its ticket: tier, consent, the requester's contact.
pub struct TicketFacts {
    pub tier: String,
    pub consent: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
}

pub async fn ticket_facts(tx: &mut Tx, no: &str) -> Result<Option<TicketFacts>, ApiError> {
    let row = sqlx::query(
        "SELECT tier, return_visit_consent AND NOT requester_anonymous AS consent, \
         requester_name, requester_phone FROM tickets WHERE ticket_no = $1",
    )
    .bind(no)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| TicketFacts {
        tier: r.get("tier"),
        consent: r.get("consent"),
        name: r.get("requester_name"),
        phone: r.get("requester_phone"),
    }))
}

/// The round intake decides on: answered (when), or overdue (`None`).
pub struct Answered<'a> {
    pub ticket_no: &'a str,
    pub unit_id: &'a str,
    pub assignment_id: &'a str,
    pub hop: i32,
    pub round: i32,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A round's lead unit, as undertaking assigned it.
pub struct RoundLead {
    pub hop: i32,
    pub round: i32,
    pub unit_id: String,
    pub assignment_id: String,
}

/// Notes a round's lead assignment (once per round; a repeat is ignored).
pub async fn note_lead(
    tx: &mut Tx,
    ticket_no: &str,
    lead: &RoundLead,
    assigned_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO round_leads (ticket_no, hop, round, unit_id, assignment_id, assigned_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(ticket_no)
    .bind(lead.hop)
    .bind(lead.round)
    .bind(&lead.unit_id)
    .bind(&lead.assignment_id)
    .bind(assigned_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The latest round `unit_id` leads on the ticket, if intake was told of one.
pub async fn latest_lead(
    tx: &mut Tx,
    ticket_no: &str,
    unit_id: &str,
) -> Result<Option<RoundLead>, ApiError> {
    let row = sqlx::query(
        "SELECT hop, round, unit_id, assignment_id FROM round_leads \
         WHERE ticket_no = $1 AND unit_id = $2 ORDER BY hop DESC, round DESC LIMIT 1",
    )
    .bind(ticket_no)
    .bind(unit_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| RoundLead {
        hop: r.get("hop"),
        round: r.get("round"),
        unit_id: r.get("unit_id"),
        assignment_id: r.get("assignment_id"),
    }))
}

/// A late answer of a round already visited as overdue: noted on the
/// visit. Returns that visit, if there was one without an answer.
pub async fn note_late_answer(tx: &mut Tx, a: &Answered<'_>) -> Result<Option<Visit>, ApiError> {
    let row = sqlx::query(
        "UPDATE return_visits SET answered_at = $4 \
         WHERE ticket_no = $1 AND hop = $2 AND round = $3 AND answered_at IS NULL RETURNING *",
    )
    .bind(a.ticket_no)
    .bind(a.hop)
    .bind(a.round)
    .bind(a.answered_at)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(visit_from).transpose()
}

/// Undertaking did not reopen the ticket on a visit that called for it
/// (`limit_reached` or `superseded`): noted on the visit, which is
/// returned (none when intake holds no such visit).
pub async fn note_not_reopened(
    tx: &mut Tx,
    visit_id: VisitId,
    decision: &str,
) -> Result<Option<Visit>, ApiError> {
    let row =
        sqlx::query("UPDATE return_visits SET not_reopened = $2 WHERE visit_id = $1 RETURNING *")
            .bind(visit_id)
            .bind(decision)
            .fetch_optional(&mut **tx)
            .await?;
    row.as_ref().map(visit_from).transpose()
}

/// What besides the visit decides whether it closes its ticket: whether
/// undertaking did not reopen on it for the rounds used up, and whether intake knows a later
/// round or hop of the ticket.
pub async fn closure_standing(tx: &mut Tx, v: &Visit) -> Result<Standing, ApiError> {
    let (rounds_used_up, replaced): (bool, bool) = sqlx::query_as(
        "SELECT v.not_reopened IS NOT DISTINCT FROM 'limit_reached', EXISTS (SELECT 1 FROM round_leads l \
           WHERE l.ticket_no = v.ticket_no AND (l.hop, l.round) > (v.hop, v.round)) \
         FROM return_visits v WHERE v.visit_id = $1",
    )
    .bind(v.id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Standing {
        rounds_used_up,
        replaced,
    })
}

/// Closes the visit's ticket (办结) on its round, once: false when it was
/// closed already.
pub async fn close_ticket(
    tx: &mut Tx,
    v: &Visit,
    at: DateTime<Utc>,
    cause: ClosureCause,
) -> Result<bool, ApiError> {
    Ok(sqlx::query(
        "UPDATE tickets SET closed_at = $2, closure_cause = $3, closed_hop = $4, closed_round = $5 \
         WHERE ticket_no = $1 AND closed_at IS NULL",
    )
    .bind(&v.ticket_no)
    .bind(at)
    .bind(cause.as_sql())
    .bind(v.hop)
    .bind(v.round)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Records the decision for an answered round, once per (ticket, hop,
/// round): queued (due at once, to `deadline`) or not. `None` when it was
/// recorded already.
pub async fn enter(
    tx: &mut Tx,
    a: &Answered<'_>,
    e: &Entry,
    at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<Option<Visit>, ApiError> {
    let queued = e.not_queued.is_none();
    let row = sqlx::query(
        "INSERT INTO return_visits (visit_id, ticket_no, unit_id, assignment_id, hop, round, \
         answered_at, entered_at, state, not_queued_reason, sampled, sample_seed, sample_rate, \
         deadline, due_at, cause) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT ON CONSTRAINT return_visits_one_per_round DO NOTHING RETURNING *",
    )
    .bind(VisitId::new())
    .bind(a.ticket_no)
    .bind(a.unit_id)
    .bind(a.assignment_id)
    .bind(a.hop)
    .bind(a.round)
    .bind(a.answered_at)
    .bind(at)
    .bind(if queued { "queued" } else { "not_queued" })
    .bind(e.not_queued.map(|n| n.as_sql()))
    .bind(e.sample.is_some())
    .bind(e.sample.as_ref().map(|s| s.0.as_str()))
    .bind(e.sample.as_ref().map(|s| s.1))
    .bind(queued.then_some(deadline))
    .bind(queued.then_some(at))
    .bind(
        if a.answered_at.is_some() {
            Cause::Answered
        } else {
            Cause::Overdue
        }
        .as_sql(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(visit_from).transpose()
}

/// Hands the oldest due open visit to `by` until `until`: a visit another
/// transaction is taking is skipped, so two callers never get the same.
pub async fn take_due(
    tx: &mut Tx,
    by: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<Visit>, ApiError> {
    let row = sqlx::query(
        "UPDATE return_visits SET state = 'taken', taken_by = $1, due_at = $3 \
         WHERE visit_id = (SELECT visit_id FROM return_visits \
             WHERE state IN ('queued', 'taken') AND due_at <= $2 \
             ORDER BY due_at, visit_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind(by)
    .bind(now)
    .bind(until)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(visit_from).transpose()
}

/// Locks a visit in the caller's transaction.
pub async fn lock(tx: &mut Tx, id: VisitId) -> Result<Option<Visit>, ApiError> {
    let row = sqlx::query("SELECT * FROM return_visits WHERE visit_id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(visit_from).transpose()
}

/// Records attempt number `n`.
pub async fn insert_attempt(
    tx: &mut Tx,
    id: VisitId,
    n: i32,
    result: AttemptResult,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO visit_attempts (visit_id, n, result, at, by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(n)
    .bind(result.as_sql())
    .bind(at)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Puts a visit back in the queue, due at `due_at`.
pub async fn requeue(
    tx: &mut Tx,
    id: VisitId,
    attempts: i32,
    due_at: DateTime<Utc>,
) -> Result<Visit, ApiError> {
    let row = sqlx::query(
        "UPDATE return_visits SET state = 'queued', taken_by = NULL, attempts = $2, due_at = $3 \
         WHERE visit_id = $1 RETURNING *",
    )
    .bind(id)
    .bind(attempts)
    .bind(due_at)
    .fetch_one(&mut **tx)
    .await?;
    visit_from(&row)
}

/// How a visit closes: its outcome and, when reached, the raw answers and
/// the contact made.
pub struct Closing<'a> {
    pub attempts: i32,
    pub outcome: Outcome,
    pub answers: Option<&'a Answers>,
    pub contact: Option<ContactId>,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

/// Closes a visit.
pub async fn close(tx: &mut Tx, id: VisitId, c: &Closing<'_>) -> Result<Visit, ApiError> {
    let answers = c.answers;
    let row = sqlx::query(
        "UPDATE return_visits SET state = 'closed', due_at = NULL, attempts = $2, outcome = $3, \
         unit_contacted = $4, resolution = $5, satisfaction = $6, unit_at_fault = $7, \
         comment = $8, contact_id = $9, closed_at = $10, closed_by = $11 \
         WHERE visit_id = $1 RETURNING *",
    )
    .bind(id)
    .bind(c.attempts)
    .bind(c.outcome.as_sql())
    .bind(answers.map(|a| a.unit_contacted))
    .bind(answers.map(|a| a.resolution.as_sql()))
    .bind(answers.map(|a| a.satisfaction.as_sql()))
    .bind(answers.map(|a| a.unit_at_fault))
    .bind(answers.map(|a| a.comment.as_str()))
    .bind(c.contact)
    .bind(c.at)
    .bind(c.by)
    .fetch_one(&mut **tx)
    .await?;
    visit_from(&row)
}

/// The RETURN_VISIT contact a reached visit makes (by phone), rateable once.
pub async fn insert_contact(
    tx: &mut Tx,
    ticket_no: &str,
    at: DateTime<Utc>,
) -> Result<Contact, ApiError> {
    let id = ContactId::new();
    sqlx::query(
        "INSERT INTO contacts (contact_id, ticket_no, kind, channel, at) \
         VALUES ($1, $2, 'return_visit', $3, $4)",
    )
    .bind(id)
    .bind(ticket_no)
    .bind(Channel::Phone as i32)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(Contact {
        id,
        ticket_no: ticket_no.to_string(),
        kind: ContactKind::ReturnVisit,
        channel: Channel::Phone as i32,
        at,
        default: None,
    })
}

/// Visits in one state (`$1`), oldest entered first, after (`$2`, `$3`),
/// served by `return_visits_by_state`.
pub const IN_STATE: &str = "SELECT * FROM return_visits WHERE state = $1 \
     AND (entered_at, visit_id) > (COALESCE($2::timestamptz, '-infinity'), \
          COALESCE($3::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY entered_at, visit_id LIMIT $4";

/// Every visit, oldest entered first, after (`$1`, `$2`), served by
/// `return_visits_page`.
pub const ALL: &str = "SELECT * FROM return_visits \
     WHERE (entered_at, visit_id) > (COALESCE($1::timestamptz, '-infinity'), \
          COALESCE($2::uuid, '00000000-0000-0000-0000-000000000000')) \
     ORDER BY entered_at, visit_id LIMIT $3";

pub async fn list(
    pool: &PgPool,
    state: Option<VisitState>,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Visit>, ApiError> {
    let at = after.map(|c| c.at);
    let key = after.map(|c| c.uuid());
    let rows = match state {
        Some(s) => {
            sqlx::query(IN_STATE)
                .bind(s.as_sql())
                .bind(at)
                .bind(key)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        None => {
            sqlx::query(ALL)
                .bind(at)
                .bind(key)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(visit_from).collect()
}
