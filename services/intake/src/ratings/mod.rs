//! Ratings (好差评) of service contacts, the check-backs (回访核实、整改)
//! of bad ratings, and the units' appeals (申诉复核).
//!
//! Every service contact of a ticket (today the intake contact, made with
//! the ticket; return visits later) is rated once, on five levels. A bad
//! rating opens a check-back in the same transaction, closed once by the
//! centre's staff. A unit that holds or held the ticket appeals a rating; a
//! supervisor decides once, and an upheld appeal sets the rating aside
//! (`counts = false`) without deleting it.

pub mod defaults;
pub mod rules;
pub mod store;

use std::collections::HashMap;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::events;
use hotline_common::ids::{Id, TicketNo};
use hotline_common::paging::Cursor;
use hotline_common::time::now;
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use hotline_proto::intake::v1::*;

use crate::app::App;
use crate::tickets::rules::Holding;
use crate::tickets::{Visible, visible};
use rules::{AppealState, RatingQuery};

fn ticket_no_of(stored: &str) -> Result<TicketNo, ApiError> {
    TicketNo::parse(stored).map_err(|e| ApiError::internal(format!("stored ticket number: {e}")))
}

/// ListContacts: a ticket's service contacts, the intake contact first.
pub async fn list_contacts(
    app: &App,
    who: Identity,
    req: ListContactsRequest,
) -> Result<ListContactsResponse, ApiError> {
    let no = TicketNo::parse_field("ticket_no", &req.ticket_no)?;
    visible(app, &who, &no).await?;
    let contacts = store::contacts(app.tickets.pool(), &no).await?;
    Ok(ListContactsResponse {
        contacts: contacts.iter().map(|c| c.to_proto()).collect(),
    })
}

/// RateContact: one rating per contact; a bad one opens its check-back in
/// the same transaction. On the record.
pub async fn rate(
    app: &App,
    who: Identity,
    req: RateContactRequest,
) -> Result<RateContactResponse, ApiError> {
    let new = rules::parse_rate(&req)?;
    app.keys
        .once(&who, &req, async |tx| {
            let contact = store::contact(tx, &new.ticket_no, new.contact_id)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "no contact {} of ticket {}",
                        new.contact_id, new.ticket_no
                    ))
                })?;
            rules::may_rate(&who, contact.kind)?;
            let at = now();
            let rating = store::insert_rating(tx, &contact, &new, &who.subject, at).await?;
            let mut entries = vec![Entry::by(
                &who,
                "rating.given",
                &rating.ticket_no,
                format!(
                    "rating={} contact={} level={}",
                    rating.id,
                    contact.id,
                    rating.level.as_sql()
                ),
            )];
            let check_back = if rules::opens_check_back(rating.level) {
                let c = store::open_check_back(tx, &rating, at).await?;
                entries.push(Entry::by(
                    &who,
                    "check_back.opened",
                    &rating.ticket_no,
                    format!("check_back={} rating={}", c.id, rating.id),
                ));
                Some(c)
            } else {
                None
            };
            audit::append(tx, &entries).await?;
            let shown = rating.to_proto(false, None);
            let fact = Fact::Rated(ev::Rated {
                rating_id: shown.rating_id,
                contact_id: shown.contact_id,
                contact_kind: shown.contact_kind,
                level: shown.level,
                rated_at: shown.rated_at,
            });
            events::record_fact(tx, Source::Intake, &rating.ticket_no, at, fact).await?;
            tracing::info!(
                ticket_no = %rating.ticket_no,
                rating_id = %rating.id,
                level = rating.level.as_sql(),
                check_back = check_back.is_some(),
                "contact rated"
            );
            Ok(RateContactResponse {
                rating: Some(rating.to_proto(true, check_back.as_ref())),
            })
        })
        .await
}

/// ListRatings: a ticket's (as GetTicket shows it: unit staff only the
/// tickets their unit holds or held) or a period's, each with its
/// check-back; the comment as the caller may see it, every full read on
/// the record.
pub async fn list_ratings(
    app: &App,
    who: Identity,
    req: ListRatingsRequest,
) -> Result<ListRatingsResponse, ApiError> {
    let (query, page) = rules::parse_list(&who, &req)?;
    let pool = app.tickets.pool();
    let (mut rows, holding, confidential) = match &query {
        RatingQuery::ByTicket(no) => {
            let Visible {
                ticket, holding, ..
            } = visible(app, &who, no).await?;
            let confidential = ticket
                .summary
                .requester
                .as_ref()
                .is_some_and(|r| r.confidential);
            let rows =
                store::ratings_of_ticket(pool, no, page.after.as_ref(), page.fetch()).await?;
            (rows, holding, confidential)
        }
        RatingQuery::InPeriod(from, to) => {
            let rows =
                store::ratings_in_period(pool, (*from, *to), page.after.as_ref(), page.fetch())
                    .await?;
            (rows, Holding::None, false)
        }
    };
    let next_page_token = page.cut(&mut rows, |r| Cursor::new(r.rated_at, r.id.to_string()));
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let check_backs: HashMap<_, _> = store::check_backs_of(pool, &ids)
        .await?
        .into_iter()
        .map(|c| (c.rating_id, c))
        .collect();
    let shown = rules::sees_comment(&who, holding, confidential);
    let reads: Vec<Entry> = rows
        .iter()
        .filter(|r| shown && !r.comment.is_empty())
        .map(|r| {
            Entry::by(
                &who,
                "rating_comment.read",
                &r.ticket_no,
                format!("rating={}", r.id),
            )
        })
        .collect();
    audit::record(pool, &reads).await?;
    Ok(ListRatingsResponse {
        ratings: rows
            .iter()
            .map(|r| r.to_proto(shown, check_backs.get(&r.id)))
            .collect(),
        next_page_token,
    })
}

/// RecordCheckBack: closes an open check-back, once. On the record.
pub async fn record_check_back(
    app: &App,
    who: Identity,
    req: RecordCheckBackRequest,
) -> Result<RecordCheckBackResponse, ApiError> {
    let record = rules::parse_record(&req, now())?;
    app.keys
        .once(&who, &req, async |tx| {
            let found = store::lock_check_back(tx, record.id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no check-back {}", record.id)))?;
            rules::check_open(&found)?;
            let closed = store::close_check_back(tx, &record, &who.subject, now()).await?;
            let detail = format!(
                "check_back={} outcome={}",
                closed.id,
                record.outcome.as_sql()
            );
            let entry = Entry::by(&who, "check_back.recorded", &closed.ticket_no, detail);
            audit::append(tx, &[entry]).await?;
            tracing::info!(check_back_id = %closed.id, ticket_no = %closed.ticket_no, outcome = record.outcome.as_sql(), "check-back recorded");
            Ok(RecordCheckBackResponse {
                check_back: Some(closed.to_proto()),
            })
        })
        .await
}

/// ListCheckBacks: oldest opened first, in one state or both.
pub async fn list_check_backs(
    app: &App,
    _who: Identity,
    req: ListCheckBacksRequest,
) -> Result<ListCheckBacksResponse, ApiError> {
    let (state, page) = rules::parse_list_check_backs(&req)?;
    let mut rows =
        store::check_backs(app.tickets.pool(), state, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |c| Cursor::new(c.opened_at, c.id.to_string()));
    Ok(ListCheckBacksResponse {
        check_backs: rows.iter().map(|c| c.to_proto()).collect(),
        next_page_token,
    })
}

/// AppealRating: a unit that holds or held the ticket appeals a rating.
/// Undertaking is asked before the key's transaction opens.
pub async fn appeal(
    app: &App,
    who: Identity,
    req: AppealRatingRequest,
) -> Result<AppealRatingResponse, ApiError> {
    let (id, reason) = rules::parse_appeal(&req)?;
    let missing = || ApiError::not_found(format!("no rating {id}"));
    app.keys
        .once_after(
            &who,
            &req,
            async || {
                let mut conn = app.tickets.pool().acquire().await?;
                let rating = store::rating(&mut conn, id).await?.ok_or_else(missing)?;
                drop(conn);
                let no = ticket_no_of(&rating.ticket_no)?;
                let assignments = app.undertaking.assignments(&no).await?;
                Ok(rules::appealing_unit(&who, &assignments)?.to_string())
            },
            async |unit, tx| {
                let rating = store::lock_rating(tx, id).await?.ok_or_else(missing)?;
                rules::check_appealable(&rating)?;
                let a = store::insert_appeal(tx, &rating, &unit, &reason, &who.subject, now())
                    .await?;
                let detail = format!("appeal={} rating={} unit={}", a.id, rating.id, unit);
                let entry = Entry::by(&who, "rating.appealed", &a.ticket_no, detail);
                audit::append(tx, &[entry]).await?;
                tracing::info!(appeal_id = %a.id, rating_id = %rating.id, unit_id = %unit, "rating appealed");
                Ok(AppealRatingResponse {
                    appeal: Some(a.to_proto()),
                })
            },
        )
        .await
}

/// DecideAppeal: a supervisor upholds (the rating is set aside) or rejects
/// a pending appeal, once. On the record.
pub async fn decide_appeal(
    app: &App,
    who: Identity,
    req: DecideAppealRequest,
) -> Result<DecideAppealResponse, ApiError> {
    let (id, note) = rules::parse_decide(&req)?;
    app.keys
        .once(&who, &req, async |tx| {
            let found = store::lock_appeal(tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no appeal {id}")))?;
            let next = rules::decide(&found, req.uphold)?;
            let at = now();
            let (appeal, rating) =
                store::decide_appeal(tx, &found, next, &note, &who.subject, at).await?;
            let fact = Fact::RatingAppealDecided(ev::RatingAppealDecided {
                rating_id: rating.id.to_string(),
                appeal_id: appeal.id.to_string(),
                unit_id: appeal.unit_id.to_string(),
                upheld: next == AppealState::Upheld,
                decided_at: Some(hotline_common::time::to_proto(at)),
            });
            events::record_fact(tx, Source::Intake, &appeal.ticket_no, at, fact).await?;
            let check_back = store::check_back_of(tx, rating.id).await?;
            let action = match next {
                AppealState::Upheld => "appeal.upheld",
                _ => "appeal.rejected",
            };
            let mut entries = vec![Entry::by(
                &who,
                action,
                &appeal.ticket_no,
                format!("appeal={} rating={}", appeal.id, rating.id),
            )];
            let shown = rules::sees_comment(&who, Holding::None, false);
            if shown && !rating.comment.is_empty() {
                entries.push(Entry::by(
                    &who,
                    "rating_comment.read",
                    &rating.ticket_no,
                    format!("rating={}", rating.id),
                ));
            }
            audit::append(tx, &entries).await?;
            tracing::info!(appeal_id = %appeal.id, state = next.as_sql(), counts = rating.counts, "appeal decided");
            Ok(DecideAppealResponse {
                appeal: Some(appeal.to_proto()),
                rating: Some(rating.to_proto(shown, check_back.as_ref())),
            })
        })
        .await
}
