//! Repeats' SQL: the open tickets a request may repeat, linking a repeat
//! under its parent's lock, and closing the repeats with their parent.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::events;
use hotline_common::outbox::Tx;
use hotline_common::time::to_proto;
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use sqlx::{PgPool, Row};

use super::rules::{self, Open, PLACE_SCAN, Parent, Probe};

// Both read the newest open tickets on their partial index and stop at the
// limit; the window is applied to what they return (`rules::candidates`):
// a range on `accepted_at` here made the planner misjudge how many rows
// match and read them all to sort them.

/// The requester's open tickets (not repeats), newest first.
pub const BY_PHONE_SQL: &str = "SELECT ticket_no, accepted_at, category_code, district_code, \
     street_code, phone_digits, content, times_raised FROM tickets \
     WHERE phone_digits = $1 AND closed_at IS NULL AND repeat_of IS NULL \
     ORDER BY accepted_at DESC LIMIT $2";

/// The open tickets (not repeats) of a category in a district, newest
/// first.
pub const BY_PLACE_SQL: &str = "SELECT ticket_no, accepted_at, category_code, district_code, \
     street_code, phone_digits, content, times_raised FROM tickets \
     WHERE category_code = $1 AND district_code = $2 AND closed_at IS NULL \
     AND repeat_of IS NULL \
     ORDER BY accepted_at DESC LIMIT $3";

fn open_from(row: &sqlx::postgres::PgRow) -> Open {
    Open {
        ticket_no: row.get("ticket_no"),
        accepted_at: row.get("accepted_at"),
        category_code: row.get("category_code"),
        district_code: row.get("district_code"),
        street_code: row.get("street_code"),
        phone_digits: row.get("phone_digits"),
        content: row.get("content"),
        times_raised: row.get("times_raised"),
    }
}

/// The open tickets (not themselves repeats) the probe may repeat: the
/// requester's, then those of its category at its district.
pub async fn open_near(pool: &PgPool, p: &Probe) -> Result<Vec<Open>, ApiError> {
    let mut out = Vec::new();
    if let Some(phone) = &p.phone {
        let rows = sqlx::query(BY_PHONE_SQL)
            .bind(phone)
            .bind(i64::try_from(rules::MAX_CANDIDATES).unwrap_or(20))
            .fetch_all(pool)
            .await?;
        out.extend(rows.iter().map(open_from));
    }
    if let (Some(c), Some(d)) = (&p.category, &p.district) {
        let rows = sqlx::query(BY_PLACE_SQL)
            .bind(c.as_str())
            .bind(d.as_str())
            .bind(PLACE_SCAN)
            .fetch_all(pool)
            .await?;
        out.extend(rows.iter().map(open_from));
    }
    Ok(out)
}

/// Links `ticket_no` (just inserted) as a repeat of `named`'s first
/// ticket, under that ticket's row lock (so a closing of it either sees
/// this repeat or refuses it): counts one more raising, records the
/// `raised_again` fact on the parent and an audit entry on both. Returns
/// the parent.
pub async fn link(
    tx: &mut Tx,
    ticket_no: &str,
    named: &str,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<String, ApiError> {
    // `repeat_of` never changes once set: read without a lock, then lock
    // the first ticket alone (locking the named one too could deadlock
    // with a closing that holds the first and closes its repeats).
    let first: Option<Option<String>> =
        sqlx::query_scalar("SELECT repeat_of FROM tickets WHERE ticket_no = $1")
            .bind(named)
            .fetch_optional(&mut **tx)
            .await?;
    let root = match first {
        None => None,
        Some(of) => {
            let no = of.unwrap_or_else(|| named.to_string());
            sqlx::query(
                "SELECT ticket_no, repeat_of, closed_at FROM tickets WHERE ticket_no = $1 \
                 FOR UPDATE",
            )
            .bind(&no)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| Parent {
                ticket_no: r.get("ticket_no"),
                repeat_of: r.get("repeat_of"),
                closed_at: r.get("closed_at"),
            })
        }
    };
    let parent = rules::link_target(named, root)?;
    sqlx::query("UPDATE tickets SET repeat_of = $2 WHERE ticket_no = $1")
        .bind(ticket_no)
        .bind(&parent)
        .execute(&mut **tx)
        .await?;
    let times: i32 = sqlx::query_scalar(
        "UPDATE tickets SET times_raised = times_raised + 1 WHERE ticket_no = $1 \
         RETURNING times_raised",
    )
    .bind(&parent)
    .fetch_one(&mut **tx)
    .await?;
    let fact = Fact::RaisedAgain(ev::RaisedAgain {
        repeat_ticket_no: ticket_no.to_string(),
        times_raised: times,
        raised_at: Some(to_proto(at)),
    });
    events::record_fact(tx, Source::Intake, &parent, at, fact).await?;
    audit::append(
        tx,
        &[
            Entry::by(
                who,
                "ticket.linked_as_repeat",
                ticket_no,
                format!("parent={parent}"),
            ),
            Entry::by(
                who,
                "ticket.raised_again",
                &parent,
                format!("repeat={ticket_no} times={times}"),
            ),
        ],
    )
    .await?;
    Ok(parent)
}

/// Closes the open repeats of a ticket just closed (cause `with_parent`,
/// hop and round 0), each with its `closed` fact and an audit entry.
/// Returns how many.
pub async fn close_with_parent(
    tx: &mut Tx,
    parent: &str,
    at: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let closed: Vec<String> = sqlx::query_scalar(
        "UPDATE tickets SET closed_at = $2, closure_cause = 'with_parent', closed_hop = 0, \
         closed_round = 0 WHERE repeat_of = $1 AND closed_at IS NULL RETURNING ticket_no",
    )
    .bind(parent)
    .bind(at)
    .fetch_all(&mut **tx)
    .await?;
    for no in &closed {
        let fact = Fact::Closed(ev::Closed {
            cause: ev::ClosureCause::WithParent as i32,
            closed_at: Some(to_proto(at)),
            parent_ticket_no: parent.to_string(),
            ..Default::default()
        });
        events::record_fact(tx, Source::Intake, no, at, fact).await?;
    }
    let entries: Vec<Entry> = closed
        .iter()
        .map(|no| {
            Entry::system(
                "intake",
                "ticket.closed",
                no,
                format!("cause=with_parent parent={parent}"),
            )
        })
        .collect();
    if !entries.is_empty() {
        audit::append(tx, &entries).await?;
    }
    Ok(closed.len())
}

/// A ticket's link and count: the ticket it repeats, and how many times
/// it was raised.
pub async fn standing_of(
    pool: &PgPool,
    ticket_no: &str,
) -> Result<Option<(Option<String>, i32)>, ApiError> {
    Ok(
        sqlx::query_as("SELECT repeat_of, times_raised FROM tickets WHERE ticket_no = $1")
            .bind(ticket_no)
            .fetch_optional(pool)
            .await?,
    )
}
