//! The SQL of special reports and their recipients
//! (`migrations/0005_reports_and_shirking.sql`).

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::UnitId;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::time::opt_to_proto;
use hotline_common::time::to_proto;
use hotline_proto::supervision::v1 as pb;
use sqlx::{AssertSqlSafe, PgExecutor, PgPool};

use super::rules::{Draft, FeedbackState, ReportState};
use crate::ids::ReportId;

const REPORT: &str = "report_id, state, ticket_nos, title, facts, feedback_due, drafted_by, drafted_at, \
     submitted_at, decided_by, decision_note, decided_at, issued_at, closed_at, sent_back";
const RECIPIENT: &str = "report_id, unit_id, asked, state, feedback_due, round, measures, result, \
     responsible, submitted_at, late, decided_at, decision_note, sent_back";

/// A report as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Report {
    pub report_id: ReportId,
    pub state: String,
    pub ticket_nos: Vec<String>,
    pub title: String,
    pub facts: String,
    pub feedback_due: DateTime<Utc>,
    pub drafted_by: String,
    pub drafted_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_by: String,
    pub decision_note: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub sent_back: i32,
}

/// One unit a report is issued to, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recipient {
    pub report_id: ReportId,
    pub unit_id: UnitId,
    pub asked: String,
    pub state: String,
    pub feedback_due: DateTime<Utc>,
    pub round: i32,
    pub measures: String,
    pub result: String,
    pub responsible: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
    pub sent_back: i32,
}

impl Report {
    pub fn state(&self) -> Result<ReportState, ApiError> {
        ReportState::from_sql(&self.state)
    }

    /// The ticket its clocks and cases are filed under.
    pub fn first_ticket(&self) -> &str {
        self.ticket_nos.first().map(String::as_str).unwrap_or("")
    }

    pub fn to_proto(&self, recipients: &[Recipient]) -> Result<pb::SpecialReport, ApiError> {
        Ok(pb::SpecialReport {
            report_id: self.report_id.to_string(),
            state: self.state()?.to_proto() as i32,
            ticket_nos: self.ticket_nos.clone(),
            title: self.title.clone(),
            facts: self.facts.clone(),
            recipients: recipients
                .iter()
                .filter(|r| r.report_id == self.report_id)
                .map(Recipient::to_proto)
                .collect::<Result<_, _>>()?,
            feedback_due: Some(to_proto(self.feedback_due)),
            drafted_by: self.drafted_by.clone(),
            drafted_at: Some(to_proto(self.drafted_at)),
            submitted_at: opt_to_proto(self.submitted_at),
            decided_by: self.decided_by.clone(),
            decision_note: self.decision_note.clone(),
            decided_at: opt_to_proto(self.decided_at),
            issued_at: opt_to_proto(self.issued_at),
            closed_at: opt_to_proto(self.closed_at),
            sent_back: self.sent_back,
        })
    }
}

impl Recipient {
    pub fn state(&self) -> Result<FeedbackState, ApiError> {
        FeedbackState::from_sql(&self.state)
    }

    pub fn to_proto(&self) -> Result<pb::ReportRecipient, ApiError> {
        Ok(pb::ReportRecipient {
            unit_id: self.unit_id.to_string(),
            asked: self.asked.clone(),
            state: self.state()?.to_proto() as i32,
            feedback_due: Some(to_proto(self.feedback_due)),
            measures: self.measures.clone(),
            result: self.result.clone(),
            responsible: self.responsible.clone(),
            submitted_at: opt_to_proto(self.submitted_at),
            late: self.late,
            decided_at: opt_to_proto(self.decided_at),
            decision_note: self.decision_note.clone(),
            sent_back: self.sent_back,
        })
    }
}

async fn put_recipients(
    tx: &mut Tx,
    id: ReportId,
    d: &Draft,
    drafted_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let units: Vec<&str> = d.asks.iter().map(|(u, _)| u.as_str()).collect();
    let asked: Vec<&str> = d.asks.iter().map(|(_, a)| a.as_str()).collect();
    let tickets: Vec<&str> = d.tickets.iter().map(|t| t.as_str()).collect();
    sqlx::query("DELETE FROM report_recipients WHERE report_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM report_tickets WHERE report_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO report_recipients (report_id, unit_id, position, asked, state, feedback_due, drafted_at, report_state) \
         SELECT $1, u, p::int, a, 'not_issued', $4, $5, 'draft' \
         FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS t(u, a, p)",
    )
    .bind(id)
    .bind(&units)
    .bind(&asked)
    .bind(d.feedback_due)
    .bind(drafted_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO report_tickets (ticket_no, report_id, drafted_at) \
         SELECT t, $1, $3 FROM UNNEST($2::text[]) AS t",
    )
    .bind(id)
    .bind(&tickets)
    .bind(drafted_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A new draft.
pub async fn insert(
    tx: &mut Tx,
    d: &Draft,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Report, ApiError> {
    let id = ReportId::new();
    let tickets: Vec<&str> = d.tickets.iter().map(|t| t.as_str()).collect();
    let r: Report = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO special_reports (report_id, state, ticket_nos, title, facts, feedback_due, drafted_by, drafted_at) \
         VALUES ($1, 'draft', $2, $3, $4, $5, $6, $7) RETURNING {REPORT}"
    )))
    .bind(id)
    .bind(&tickets)
    .bind(&d.title)
    .bind(&d.facts)
    .bind(d.feedback_due)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    put_recipients(tx, id, d, at).await?;
    Ok(r)
}

/// A draft or a report sent back, revised: a draft again.
pub async fn revise(tx: &mut Tx, id: ReportId, d: &Draft) -> Result<Report, ApiError> {
    let tickets: Vec<&str> = d.tickets.iter().map(|t| t.as_str()).collect();
    let r: Report = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE special_reports SET state = 'draft', ticket_nos = $2, title = $3, facts = $4, feedback_due = $5 \
         WHERE report_id = $1 RETURNING {REPORT}"
    )))
    .bind(id)
    .bind(&tickets)
    .bind(&d.title)
    .bind(&d.facts)
    .bind(d.feedback_due)
    .fetch_one(&mut **tx)
    .await?;
    put_recipients(tx, id, d, r.drafted_at).await?;
    Ok(r)
}

/// A report, locked for a change.
pub async fn lock(tx: &mut Tx, id: ReportId) -> Result<Option<Report>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REPORT} FROM special_reports WHERE report_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// A report, read.
pub async fn get(pool: &PgPool, id: ReportId) -> Result<Option<Report>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REPORT} FROM special_reports WHERE report_id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The recipients of these reports, in each report's order.
pub async fn recipients<'e>(
    db: impl PgExecutor<'e>,
    ids: &[ReportId],
) -> Result<Vec<Recipient>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RECIPIENT} FROM report_recipients WHERE report_id = ANY($1) ORDER BY report_id, position"
    )))
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Moves a report to `state`, setting the columns of the step.
pub async fn set_state(
    tx: &mut Tx,
    id: ReportId,
    state: ReportState,
    at: DateTime<Utc>,
    decided: Option<(&str, &str)>,
) -> Result<Report, ApiError> {
    let column = match state {
        ReportState::Submitted => ", submitted_at = $3",
        ReportState::Issued => ", issued_at = $3",
        ReportState::Closed => ", closed_at = $3",
        // When it was sent back is the decision's time.
        ReportState::SentBack => "",
        ReportState::Draft => {
            return Err(ApiError::internal("a report becomes a draft by revise"));
        }
    };
    let (by, note) = decided.unwrap_or(("", ""));
    let decision = if decided.is_some() {
        ", decided_by = $4, decision_note = $5, decided_at = $3"
    } else {
        ""
    };
    let sent_back = if state == ReportState::SentBack {
        ", sent_back = sent_back + 1"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, Report>(AssertSqlSafe(format!(
        "UPDATE special_reports SET state = $2{column}{decision}{sent_back} \
         WHERE report_id = $1 RETURNING {REPORT}"
    )))
    .bind(id)
    .bind(state.as_sql())
    .bind(at);
    if decided.is_some() {
        q = q.bind(by).bind(note);
    }
    let report = q.fetch_one(&mut **tx).await?;
    sqlx::query("UPDATE report_recipients SET report_state = $2 WHERE report_id = $1")
        .bind(id)
        .bind(state.as_sql())
        .execute(&mut **tx)
        .await?;
    Ok(report)
}

/// Every unit's feedback is awaited from now.
pub async fn await_feedback(tx: &mut Tx, id: ReportId) -> Result<Vec<Recipient>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE report_recipients SET state = 'awaited' WHERE report_id = $1 RETURNING {RECIPIENT}"
    )))
    .bind(id)
    .fetch_all(&mut **tx)
    .await?)
}

/// One unit's row, locked for a change.
pub async fn lock_recipient(
    tx: &mut Tx,
    id: ReportId,
    unit: &UnitId,
) -> Result<Option<Recipient>, ApiError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RECIPIENT} FROM report_recipients WHERE report_id = $1 AND unit_id = $2 FOR UPDATE"
    )))
    .bind(id)
    .bind(unit)
    .fetch_optional(&mut **tx)
    .await?)
}

/// What a unit's written feedback says.
pub struct Written<'a> {
    pub measures: &'a str,
    pub result: &'a str,
    pub responsible: &'a str,
}

/// A unit's written feedback, given.
pub async fn give_feedback(
    tx: &mut Tx,
    id: ReportId,
    unit: &UnitId,
    w: &Written<'_>,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE report_recipients SET state = 'submitted', measures = $3, result = $4, \
         responsible = $5, submitted_at = $6, late = $6 > feedback_due \
         WHERE report_id = $1 AND unit_id = $2",
    )
    .bind(id)
    .bind(unit)
    .bind(w.measures)
    .bind(w.result)
    .bind(w.responsible)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The supervisor's decision on a unit's feedback: accepted, or sent back
/// with a note, a new date and the next round.
pub async fn decide_feedback(
    tx: &mut Tx,
    id: ReportId,
    unit: &UnitId,
    note: &str,
    sent_back_until: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<Recipient, ApiError> {
    let q = match sent_back_until {
        None => sqlx::query_as::<_, Recipient>(AssertSqlSafe(format!(
            "UPDATE report_recipients SET state = 'accepted', decided_at = $3, decision_note = $4 \
             WHERE report_id = $1 AND unit_id = $2 RETURNING {RECIPIENT}"
        )))
        .bind(id)
        .bind(unit)
        .bind(at)
        .bind(note),
        Some(due) => sqlx::query_as::<_, Recipient>(AssertSqlSafe(format!(
            "UPDATE report_recipients SET state = 'sent_back', decided_at = $3, decision_note = $4, \
             feedback_due = $5, round = round + 1, sent_back = sent_back + 1 \
             WHERE report_id = $1 AND unit_id = $2 RETURNING {RECIPIENT}"
        )))
        .bind(id)
        .bind(unit)
        .bind(at)
        .bind(note)
        .bind(due),
    };
    Ok(q.fetch_one(&mut **tx).await?)
}

/// The filters of a list.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filters<'a> {
    pub unit: Option<&'a UnitId>,
    pub state: Option<ReportState>,
    pub ticket: Option<&'a str>,
    /// Only reports issued (issued or closed): what units may see.
    pub issued_only: bool,
}

/// The SQL of a list with these filters: unit and ticket bound in that
/// order when given, then cursor time, cursor id, limit. The state is
/// written as a literal (one of [`ReportState`]'s fixed names), so that the
/// plan for any value knows it. A ticket's list starts from its few
/// `report_tickets` rows; a unit's from its recipient rows (which carry
/// the report's state, for `report_recipients_by_unit_state` and the
/// partial index of issued ones); the others from the reports. Each row
/// read is one returned, and for a unit's or a ticket's list its report.
pub fn list_sql(f: &Filters<'_>) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    let mut words: Vec<String> = Vec::new();
    let unit = f.unit.map(|_| next());
    let ticket = f.ticket.map(|_| next());
    let (from, key, state_column) = match (unit, ticket) {
        (_, Some(t)) => {
            words.push(format!("t.ticket_no = ${t}"));
            if let Some(u) = unit {
                words.push(format!(
                    "EXISTS (SELECT 1 FROM report_recipients r \
                     WHERE r.report_id = s.report_id AND r.unit_id = ${u})"
                ));
            }
            (
                "report_tickets t JOIN special_reports s ON s.report_id = t.report_id",
                "t",
                "s.state",
            )
        }
        (Some(u), None) => {
            words.push(format!("r.unit_id = ${u}"));
            (
                "report_recipients r JOIN special_reports s ON s.report_id = r.report_id",
                "r",
                "r.report_state",
            )
        }
        (None, None) => ("special_reports s", "s", "s.state"),
    };
    if let Some(s) = f.state {
        words.push(format!("{state_column} = '{}'", s.as_sql()));
    } else if f.issued_only {
        words.push(format!("{state_column} IN ('issued', 'closed')"));
    }
    let params = [next(), next(), next()];
    crate::lists::page(
        (REPORT, "s"),
        from,
        (key, "drafted_at", "report_id"),
        &words,
        params,
    )
}

/// Reports, newest first, after `cursor`.
pub async fn list(
    pool: &PgPool,
    f: &Filters<'_>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Report>, ApiError> {
    let filters: Vec<&str> = [f.unit.map(|u| u.as_str()), f.ticket]
        .into_iter()
        .flatten()
        .collect();
    crate::lists::fetch(pool, list_sql(f), &filters, cursor, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ids::Id;

    #[test]
    fn a_list_writes_only_its_filters() {
        let all = list_sql(&Filters::default());
        assert!(
            all.contains("FROM special_reports s WHERE (s.drafted_at"),
            "{all}"
        );
        assert!(all.ends_with("LIMIT $3"), "{all}");
        let u = UnitId::parse("u1").unwrap();
        let unit = list_sql(&Filters {
            unit: Some(&u),
            issued_only: true,
            ..Default::default()
        });
        assert!(
            unit.contains(
                "FROM report_recipients r JOIN special_reports s ON s.report_id = r.report_id \
                 WHERE r.unit_id = $1 AND r.report_state IN ('issued', 'closed') AND (r.drafted_at"
            ),
            "{unit}"
        );
        assert!(unit.ends_with("LIMIT $4"), "{unit}");
        let both = list_sql(&Filters {
            unit: Some(&u),
            ticket: Some("BJ1"),
            state: Some(ReportState::Issued),
            issued_only: true,
        });
        assert!(both.contains("WHERE t.ticket_no = $2 AND EXISTS"), "{both}");
        assert!(
            both.contains("r.unit_id = $1) AND s.state = 'issued' AND (t.drafted_at"),
            "{both}"
        );
        assert!(both.ends_with("LIMIT $5"), "{both}");
        let state = list_sql(&Filters {
            state: Some(ReportState::Submitted),
            ..Default::default()
        });
        assert!(
            state.contains("WHERE s.state = 'submitted' AND (s.drafted_at"),
            "{state}"
        );
    }
}
