//! The SQL of tickets: the tickets as accepted, their idempotency keys,
//! the outbox to dispatch, and the catalogue codes last read.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, CENTRE_UNIT, ClockSpec};
use hotline_common::convert::request_type_to_proto;
use hotline_common::error::violated_constraint;
use hotline_common::events;
use hotline_common::ids::TicketNo;
use hotline_common::outbox::Outbox;
use hotline_common::time::to_proto;
use hotline_proto::common::v1 as pb;
use hotline_proto::dispatch::v1::Catalogue;
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use hotline_sla::{Policy, Stage};
use prost::Message;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::rules::AtOnce;
use super::rules::{self, NewTicket};
use crate::diversion::store as diversion;
use crate::knowledge::store as knowledge;
use crate::visits::closure::ClosureCause;

/// Tickets accepted and not yet handed to dispatch.
pub const DISPATCH_OUTBOX: Outbox = Outbox::new("dispatch_outbox");

/// A stored ticket.
#[derive(Debug, Clone)]
pub struct StoredTicket {
    pub summary: pb::TicketSummary,
    pub accepted_at: DateTime<Utc>,
    pub dispatch_deadline: DateTime<Utc>,
    pub request_hash: Vec<u8>,
    /// The ticket it repeats (重复件).
    pub repeat_of: Option<String>,
    /// It and its repeats (多次反映).
    pub times_raised: i32,
    /// Why it was not accepted (不予受理), if it was refused.
    pub refusal: Option<hotline_proto::intake::v1::Refusal>,
    /// Why intake closed it; `None` while open.
    pub closure_cause: Option<ClosureCause>,
}

/// Intake's own facts of where a ticket stands (`Tickets::own_standing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnStanding {
    /// Handed to dispatch (its outbox row is gone).
    pub handed_over: bool,
    /// Closed by intake (办结).
    pub closed: bool,
    /// The ticket it repeats.
    pub repeat_of: Option<String>,
    /// Waiting for an operator to accept it.
    pub awaiting: bool,
    /// Not accepted (不予受理).
    pub refused: bool,
}

/// When a ticket was accepted and the dispatch deadline that follows.
#[derive(Debug, Clone, Copy)]
pub struct Acceptance {
    pub accepted_at: DateTime<Utc>,
    pub dispatch_deadline: DateTime<Utc>,
    /// Surge mode was on.
    pub surge: bool,
    /// The request waits for an operator to accept it (`[acceptance]`)
    /// until this deadline: not handed to dispatch yet.
    pub review_until: Option<DateTime<Utc>>,
}

/// The `accepted` fact of a ticket as stored.
pub fn accepted_fact(
    s: &pb::TicketSummary,
    accepted_at: DateTime<Utc>,
    dispatch_deadline: DateTime<Utc>,
    surge: bool,
) -> Fact {
    let location = s.location.clone().unwrap_or_default();
    Fact::Accepted(ev::Accepted {
        channel: s.channel,
        tier: s.tier,
        complex: s.complex,
        category_code: s.category_code.clone(),
        request_type: s.request_type,
        district_code: location.district_code,
        street_code: location.street_code,
        accepted_at: Some(to_proto(accepted_at)),
        dispatch_deadline: Some(to_proto(dispatch_deadline)),
        surge,
    })
}

/// What `insert` did.
pub enum Inserted {
    New(StoredTicket),
    /// A ticket with this idempotency key existed already.
    Existing(StoredTicket),
}

#[derive(Clone)]
pub struct Tickets {
    pool: PgPool,
    ticket_prefix: String,
}

pub(crate) const TICKET_COLUMNS: &str = "ticket_no, request_hash, channel, tier, complex, category_code, content, \
     district_code, street_code, address, requester_anonymous, requester_name, requester_phone, \
     return_visit_consent, requester_confidential, attachments, accepted_at, dispatch_deadline, \
     request_type, external_ref, other_district_codes, repeat_of, times_raised, latitude, longitude, \
     refusal_ground, refusal_explanation, refused_at, closure_cause";

pub(crate) fn ticket_from_row(row: &sqlx::postgres::PgRow) -> Result<StoredTicket, ApiError> {
    let tier: String = row.get("tier");
    let tier: hotline_sla::Tier = tier
        .parse()
        .map_err(|e: String| ApiError::internal(format!("stored tier: {e}")))?;
    let attachments: Vec<u8> = row.get("attachments");
    let attachments = AttachmentList::decode(attachments.as_slice())
        .map_err(|e| ApiError::internal(format!("stored attachments: {e}")))?
        .items;
    let accepted_at: DateTime<Utc> = row.get("accepted_at");
    let summary = pb::TicketSummary {
        ticket_no: row.get("ticket_no"),
        channel: row.get("channel"),
        category_code: row.get("category_code"),
        tier: hotline_common::convert::tier_to_proto(tier) as i32,
        complex: row.get("complex"),
        content: row.get("content"),
        location: Some(pb::Location {
            district_code: row.get("district_code"),
            street_code: row
                .get::<Option<String>, _>("street_code")
                .unwrap_or_default(),
            address: row.get("address"),
            other_district_codes: row.get("other_district_codes"),
            coordinates: match (
                row.get::<Option<f64>, _>("latitude"),
                row.get::<Option<f64>, _>("longitude"),
            ) {
                (Some(latitude), Some(longitude)) => Some(pb::Coordinates {
                    latitude,
                    longitude,
                }),
                _ => None,
            },
        }),
        requester: Some(pb::Requester {
            anonymous: row.get("requester_anonymous"),
            name: row
                .get::<Option<String>, _>("requester_name")
                .unwrap_or_default(),
            phone: row
                .get::<Option<String>, _>("requester_phone")
                .unwrap_or_default(),
            return_visit_consent: row.get("return_visit_consent"),
            confidential: row.get("requester_confidential"),
        }),
        attachments,
        accepted_at: Some(hotline_common::time::to_proto(accepted_at)),
        // Never stored: derived when the ticket is read (`tickets::standing`).
        status: pb::TicketStatus::Unspecified as i32,
        request_type: row.get("request_type"),
        external_ref: row
            .get::<Option<String>, _>("external_ref")
            .unwrap_or_default(),
    };
    Ok(StoredTicket {
        summary,
        accepted_at,
        dispatch_deadline: row.get("dispatch_deadline"),
        request_hash: row.get("request_hash"),
        repeat_of: row.get("repeat_of"),
        times_raised: row.get("times_raised"),
        refusal: refusal_from_row(row)?,
        closure_cause: row
            .get::<Option<String>, _>("closure_cause")
            .as_deref()
            .map(ClosureCause::from_sql)
            .transpose()?,
    })
}

fn refusal_from_row(
    row: &sqlx::postgres::PgRow,
) -> Result<Option<hotline_proto::intake::v1::Refusal>, ApiError> {
    use crate::acceptance::rules::RefusalGround;
    let Some(ground) = row.get::<Option<String>, _>("refusal_ground") else {
        return Ok(None);
    };
    Ok(Some(hotline_proto::intake::v1::Refusal {
        ground: RefusalGround::from_sql(&ground)?.to_proto() as i32,
        explanation: row.get("refusal_explanation"),
        refused_at: row
            .get::<Option<DateTime<Utc>>, _>("refused_at")
            .map(hotline_common::time::to_proto),
    }))
}

/// Attachments are kept as one protobuf blob: they are metadata only.
#[derive(Clone, PartialEq, prost::Message)]
struct AttachmentList {
    #[prost(message, repeated, tag = "1")]
    items: Vec<pb::Attachment>,
}

impl Tickets {
    pub fn new(pool: PgPool, ticket_prefix: String) -> Tickets {
        Tickets {
            pool,
            ticket_prefix,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores a new ticket, its intake contact (rated later), its outbox
    /// row, its dispatch clock and its audit entry in one transaction, or returns the ticket already stored
    /// under the same idempotency key.
    pub async fn insert(
        &self,
        t: &NewTicket,
        request_hash: &[u8],
        when: &Acceptance,
        policy: &Policy,
        who: &Identity,
        at_once: Option<&AtOnce>,
    ) -> Result<Inserted, ApiError> {
        let Acceptance {
            accepted_at,
            dispatch_deadline,
            surge,
            review_until,
        } = *when;
        let mut tx = self.pool.begin().await?;
        if let Some(key) = &t.idempotency_key
            && let Some(existing) = by_key(&mut tx, key).await?
        {
            return Ok(Inserted::Existing(existing));
        }
        let seq: i64 = sqlx::query_scalar("SELECT nextval('ticket_seq')")
            .fetch_one(&mut *tx)
            .await?;
        let ticket_no = rules::ticket_no(&self.ticket_prefix, seq)?;
        let attachments = AttachmentList {
            items: t.attachments.clone(),
        }
        .encode_to_vec();
        let r = &t.requester;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO tickets (ticket_no, idempotency_key, request_hash, channel, tier, complex, \
             category_code, content, district_code, street_code, address, requester_anonymous, \
             requester_name, requester_phone, return_visit_consent, attachments, accepted_at, \
             dispatch_deadline, surge, requester_confidential, request_type, external_ref, \
             other_district_codes, phone_digits, latitude, longitude, geo_cell, \
             awaiting_acceptance, received_at, requester_account, submitted_by) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,\
             $23,$24,$25,$26,$27,$28,$17,$29,$30) RETURNING {TICKET_COLUMNS}"
        )))
        .bind(&ticket_no)
        .bind(&t.idempotency_key)
        .bind(request_hash)
        .bind(t.channel as i32)
        .bind(t.class.tier.as_str())
        .bind(t.class.complex)
        .bind(t.category_code.as_ref().map_or("", |c| c.as_str()))
        .bind(&t.content)
        .bind(t.location.district_code.as_ref().map_or("", |d| d.as_str()))
        .bind(&t.location.street_code)
        .bind(&t.location.address)
        .bind(r.anonymous)
        .bind(&r.name)
        .bind(&r.phone)
        .bind(r.return_visit_consent)
        .bind(&attachments)
        .bind(accepted_at)
        .bind(dispatch_deadline)
        .bind(surge)
        .bind(r.confidential)
        .bind(request_type_to_proto(t.class.kind) as i32)
        .bind(&t.external_ref)
        .bind(
            t.location
                .other_districts
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            r.phone
                .as_deref()
                .filter(|_| !r.anonymous)
                .map(rules::phone_digits),
        )
        .bind(t.location.point.map(|p| p.latitude))
        .bind(t.location.point.map(|p| p.longitude))
        .bind(t.location.point.map(crate::clusters::rules::cell_of))
        .bind(review_until.is_some())
        .bind(&t.requester_account)
        .bind(&who.subject)
        .fetch_one(&mut *tx)
        .await;
        let as_inserted = match inserted {
            Ok(row) => ticket_from_row(&row)?,
            Err(e) if violated_constraint(&e) == Some("tickets_idempotency_key_unique") => {
                // A concurrent call with the same key won the race.
                drop(tx);
                let mut tx = self.pool.begin().await?;
                let key = t.idempotency_key.as_deref().unwrap_or_default();
                return match by_key(&mut tx, key).await? {
                    Some(existing) => Ok(Inserted::Existing(existing)),
                    None => Err(ApiError::unavailable("concurrent submit, retry")),
                };
            }
            Err(e) => return Err(e.into()),
        };
        crate::media::store::attach(&mut tx, &ticket_no, &t.held_media).await?;
        crate::ratings::store::insert_intake_contact(
            &mut tx,
            &ticket_no,
            t.channel as i32,
            accepted_at,
        )
        .await?;
        // Closed at once (answered from the knowledge base, referred to an
        // emergency line): never handed to dispatch, no dispatch clock.
        if let Some(AtOnce::Direct(d)) = at_once {
            knowledge::answer_directly(&mut tx, &ticket_no, d, who, accepted_at).await?;
        } else if let Some(AtOnce::Referred(r)) = at_once {
            diversion::refer(&mut tx, &ticket_no, r, who, accepted_at).await?;
        } else if let Some(AtOnce::Repeat(parent)) = at_once {
            crate::repeats::store::link(&mut tx, &ticket_no, parent.as_str(), who, accepted_at)
                .await?;
        } else if let Some(deadline) = review_until {
            // Waits for an operator: the acceptance clock runs from arrival.
            clock::start(
                &mut tx,
                policy,
                &ClockSpec {
                    ticket_no: &ticket_no,
                    stage: Stage::Acceptance,
                    unit_id: CENTRE_UNIT,
                    instance: None,
                    started_at: accepted_at,
                    deadline,
                },
            )
            .await?;
        } else {
            DISPATCH_OUTBOX.push(&mut tx, &ticket_no).await?;
            clock::start(
                &mut tx,
                policy,
                &ClockSpec {
                    ticket_no: &ticket_no,
                    stage: Stage::Dispatch,
                    unit_id: CENTRE_UNIT,
                    instance: None,
                    started_at: accepted_at,
                    deadline: dispatch_deadline,
                },
            )
            .await?;
        }
        // A request the hotline still handles may be concentrated (集中反映).
        if let (None | Some(AtOnce::Repeat(_)), Some(category), Some(district)) = (
            at_once,
            t.category_code.as_ref(),
            t.location.district_code.as_ref(),
        ) {
            let digits = r
                .phone
                .as_deref()
                .filter(|_| !r.anonymous)
                .map(rules::phone_digits);
            let joining = crate::clusters::store::Joining {
                ticket_no: &ticket_no,
                category: category.as_str(),
                district: district.as_str(),
                street: t.location.street_code.as_ref().map(|s| s.as_str()),
                point: t.location.point,
                phone_digits: digits.as_deref(),
            };
            crate::clusters::store::note(&mut tx, &joining, &policy.clusters, accepted_at).await?;
        }
        // As inserted, unless acting on it at once changed its row.
        let stored = match at_once {
            None => as_inserted,
            Some(_) => get_in(&mut tx, &ticket_no)
                .await?
                .ok_or_else(|| ApiError::internal("inserted ticket vanished"))?,
        };
        let detail = format!(
            "tier={} complex={} type={} category={} district={}",
            t.class.tier,
            t.class.complex,
            t.class.kind.as_str(),
            t.category_code.as_ref().map_or("(open)", |c| c.as_str()),
            t.location.district_code.as_ref().map_or("", |d| d.as_str())
        );
        let action = if review_until.is_some() {
            "ticket.received"
        } else {
            "ticket.accepted"
        };
        audit::append(&mut tx, &[Entry::by(who, action, &ticket_no, detail)]).await?;
        // Accepted (受理) now, or once an operator accepts it.
        if review_until.is_none() {
            let fact = accepted_fact(&stored.summary, accepted_at, dispatch_deadline, surge);
            events::record_fact(&mut tx, Source::Intake, &ticket_no, accepted_at, fact).await?;
        }
        if let Some(how) = at_once.filter(|a| a.closes()) {
            let (action, detail, cause) = match how {
                AtOnce::Direct(d) => (
                    "ticket.answered_directly",
                    format!("article={} version={}", d.article_id, d.version),
                    ev::ClosureCause::DirectAnswer,
                ),
                AtOnce::Referred(r) => (
                    "ticket.referred",
                    format!("line={}", r.line),
                    ev::ClosureCause::Referred,
                ),
                AtOnce::Repeat(_) => return Err(ApiError::internal("a repeat is not closed")),
            };
            let entry = Entry::by(who, action, &ticket_no, detail);
            audit::append(&mut tx, &[entry]).await?;
            let closed = Fact::Closed(ev::Closed {
                cause: cause as i32,
                closed_at: Some(to_proto(accepted_at)),
                ..Default::default()
            });
            events::record_fact(&mut tx, Source::Intake, &ticket_no, accepted_at, closed).await?;
        }
        tx.commit().await?;
        Ok(Inserted::New(stored))
    }

    /// The tickets filed under a forwarding system's reference, newest
    /// first, at most `limit`.
    pub async fn find_by_ref(
        &self,
        external_ref: &str,
        channel: Option<i32>,
        limit: i64,
    ) -> Result<Vec<(String, i32, i32, DateTime<Utc>)>, ApiError> {
        Ok(sqlx::query_as(BY_REF_SQL)
            .bind(external_ref)
            .bind(channel)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn get(&self, ticket_no: &TicketNo) -> Result<Option<StoredTicket>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE ticket_no = $1"
        )))
        .bind(ticket_no)
        .fetch_optional(&mut *conn)
        .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    /// Intake's own facts of where the ticket stands: whether it was
    /// handed to dispatch (its outbox row is gone, deleted in the
    /// transaction that saw dispatch accept it), and whether intake closed
    /// it (办结).
    /// And the ticket it repeats, when it is a repeat (never handed to
    /// dispatch: it stands as its parent does); and whether it waits for
    /// an operator to accept it, or was refused (不予受理).
    pub async fn own_standing(&self, ticket_no: &TicketNo) -> Result<OwnStanding, ApiError> {
        let row: Option<(bool, bool, Option<String>, bool, bool)> = sqlx::query_as(
            "SELECT NOT EXISTS (SELECT 1 FROM dispatch_outbox WHERE ticket_no = $1), \
             closed_at IS NOT NULL, repeat_of, awaiting_acceptance, refused_at IS NOT NULL \
             FROM tickets WHERE ticket_no = $1",
        )
        .bind(ticket_no)
        .fetch_optional(&self.pool)
        .await?;
        let (handed_over, closed, repeat_of, awaiting, refused) =
            row.unwrap_or((true, false, None, false, false));
        Ok(OwnStanding {
            handed_over,
            closed,
            repeat_of,
            awaiting,
            refused,
        })
    }

    /// When and how intake closed the ticket (办结), if it did.
    pub async fn closure(
        &self,
        ticket_no: &TicketNo,
    ) -> Result<Option<crate::timeline::rules::Closure>, ApiError> {
        let row: Option<(DateTime<Utc>, String, i32, i32)> = sqlx::query_as(
            "SELECT closed_at, closure_cause, closed_hop, closed_round FROM tickets \
             WHERE ticket_no = $1 AND closed_at IS NOT NULL",
        )
        .bind(ticket_no)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(at, cause, hop, round)| crate::timeline::rules::Closure {
                at,
                cause,
                hop,
                round,
            }),
        )
    }

    /// The catalogue saved by the last refresh.
    pub async fn saved_catalogue(&self) -> Result<Option<Catalogue>, ApiError> {
        let bytes: Option<Vec<u8>> = sqlx::query_scalar("SELECT catalogue FROM catalogue_cache")
            .fetch_optional(&self.pool)
            .await?;
        bytes
            .map(|b| Catalogue::decode(b.as_slice()))
            .transpose()
            .map_err(|e| ApiError::internal(format!("saved catalogue: {e}")))
    }

    pub async fn save_catalogue(&self, c: &Catalogue) -> Result<(), ApiError> {
        sqlx::query(
            "INSERT INTO catalogue_cache (version, catalogue, fetched_at) VALUES ($1, $2, now()) \
             ON CONFLICT (only_row) DO UPDATE SET version = $1, catalogue = $2, fetched_at = now()",
        )
        .bind(&c.version)
        .bind(c.encode_to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Marks a ticket closed at its acceptance (hop and round 0: it was never
/// dispatched), with its cause.
pub async fn close_at_acceptance(
    tx: &mut Transaction<'_, Postgres>,
    ticket_no: &str,
    cause: ClosureCause,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE tickets SET closed_at = $2, closure_cause = $3, closed_hop = 0, \
         closed_round = 0 WHERE ticket_no = $1",
    )
    .bind(ticket_no)
    .bind(at)
    .bind(cause.as_sql())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// FindTickets: the tickets filed under a reference ($1), of a channel ($2,
/// any when NULL), newest first, at most $3.
pub const BY_REF_SQL: &str = "SELECT ticket_no, channel, request_type, accepted_at FROM tickets \
     WHERE external_ref = $1 AND ($2::INTEGER IS NULL OR channel = $2) \
     ORDER BY accepted_at DESC, ticket_no DESC LIMIT $3";

async fn by_key(
    tx: &mut Transaction<'static, Postgres>,
    key: &str,
) -> Result<Option<StoredTicket>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE idempotency_key = $1"
    )))
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

pub(crate) async fn get_in(
    tx: &mut Transaction<'static, Postgres>,
    ticket_no: &TicketNo,
) -> Result<Option<StoredTicket>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE ticket_no = $1"
    )))
    .bind(ticket_no)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(ticket_from_row).transpose()
}
