//! The SQL of diversion: referrals (closing the ticket at acceptance) and
//! the callers' marks.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use sqlx::{PgPool, Postgres, Transaction};

use super::rules::{EmergencyLine, Referral};

type Tx = Transaction<'static, Postgres>;

/// Records the referral in the submitting transaction and closes the
/// ticket (cause `referred`).
pub async fn refer(
    tx: &mut Tx,
    ticket_no: &str,
    r: &Referral,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO referrals (ticket_no, line, note, referred_by, referred_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ticket_no)
    .bind(r.line.as_sql())
    .bind(&r.note)
    .bind(&who.subject)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    crate::tickets::store::close_at_acceptance(
        tx,
        ticket_no,
        crate::visits::closure::ClosureCause::Referred,
        at,
    )
    .await
}

/// The referral of a ticket, if it was referred.
pub async fn referral_of(pool: &PgPool, ticket_no: &str) -> Result<Option<Referral>, ApiError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT line, note FROM referrals WHERE ticket_no = $1")
            .bind(ticket_no)
            .fetch_optional(pool)
            .await?;
    row.map(|(line, note)| {
        Ok(Referral {
            line: EmergencyLine::from_sql(&line)?,
            note,
        })
    })
    .transpose()
}

/// A phone's mark.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Mark {
    pub phone_digits: String,
    pub malicious: bool,
    pub reason: String,
    pub marked_by: String,
    pub marked_at: DateTime<Utc>,
}

/// Sets or clears a phone's mark, on the audit trail.
pub async fn mark(
    tx: &mut Tx,
    phone: &str,
    malicious: bool,
    reason: &str,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<Mark, ApiError> {
    let m: Mark = sqlx::query_as(
        "INSERT INTO caller_marks (phone_digits, malicious, reason, marked_by, marked_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (phone_digits) DO UPDATE SET \
         malicious = EXCLUDED.malicious, reason = EXCLUDED.reason, \
         marked_by = EXCLUDED.marked_by, marked_at = EXCLUDED.marked_at \
         RETURNING phone_digits, malicious, reason, marked_by, marked_at",
    )
    .bind(phone)
    .bind(malicious)
    .bind(reason)
    .bind(&who.subject)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    let action = if malicious {
        "caller.marked"
    } else {
        "caller.cleared"
    };
    let shown = crate::tickets::rules::last_digits(phone);
    let detail = format!("phone=*{shown} reason={reason}");
    audit::append(tx, &[Entry::by(who, action, "", detail)]).await?;
    Ok(m)
}

pub async fn get(pool: &PgPool, phone: &str) -> Result<Option<Mark>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT phone_digits, malicious, reason, marked_by, marked_at FROM caller_marks \
         WHERE phone_digits = $1",
    )
    .bind(phone)
    .fetch_optional(pool)
    .await?)
}
