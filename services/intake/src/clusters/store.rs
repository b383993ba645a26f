//! Clusters' SQL: a request accepted looks for an active cluster at its
//! place under the place's advisory locks, joins it or forms one with the
//! requests gathered there, and records the `clustered` facts; the lists.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::events;
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_common::time::to_proto;
use hotline_proto::events::v1::{self as ev, Source, lifecycle_event::Fact};
use hotline_sla::Clusters;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::rules::{self, Active, Basis, ClusterId, Gathered, Place, Point, cell_of, cells_near};

/// Requests gathered at a place read at most, oldest first, to see whether
/// they form a cluster.
pub const GATHER_LIMIT: i64 = 1000;

/// A request just accepted, as clusters need it.
pub struct Joining<'a> {
    pub ticket_no: &'a str,
    pub category: &'a str,
    pub district: &'a str,
    pub street: Option<&'a str>,
    pub point: Option<Point>,
    pub phone_digits: Option<&'a str>,
}

/// The active clusters at a street ($1 category, $2 street, $3 since).
pub const ACTIVE_AT_STREET_SQL: &str = "SELECT cluster_id, centre_latitude, centre_longitude, \
     last_at FROM clusters WHERE basis = 'street' AND category_code = $1 AND street_code = $2 \
     AND last_at >= $3 ORDER BY last_at DESC LIMIT 1";
/// The active clusters whose centre lies in the cells ($2) near a point.
pub const ACTIVE_NEAR_SQL: &str = "SELECT cluster_id, centre_latitude, centre_longitude, last_at \
     FROM clusters WHERE basis = 'distance' AND category_code = $1 AND centre_cell = ANY($2) \
     AND last_at >= $3";
/// The requests of a category at a street since $3, not closed at
/// acceptance, newest first (the index holds every column read).
pub const GATHER_AT_STREET_SQL: &str = "SELECT ticket_no, phone_digits, latitude, longitude \
     FROM tickets WHERE category_code = $1 AND street_code = $2 AND accepted_at >= $3 \
     AND (closure_cause IS NULL OR closure_cause NOT IN ('direct_answer', 'referred', 'refused')) \
     ORDER BY accepted_at DESC LIMIT $4";
/// The requests of a category in the cells ($2) near a point since $3.
pub const GATHER_NEAR_SQL: &str = "SELECT ticket_no, phone_digits, latitude, longitude \
     FROM tickets WHERE category_code = $1 AND geo_cell = ANY($2) AND accepted_at >= $3 \
     AND (closure_cause IS NULL OR closure_cause NOT IN ('direct_answer', 'referred', 'refused')) \
     ORDER BY accepted_at DESC LIMIT $4";

fn point_of(row: &PgRow, lat: &str, lon: &str) -> Option<Point> {
    match (
        row.get::<Option<f64>, _>(lat),
        row.get::<Option<f64>, _>(lon),
    ) {
        (Some(latitude), Some(longitude)) => Some(Point {
            latitude,
            longitude,
        }),
        _ => None,
    }
}

/// What a request finds at its place.
enum Found {
    Join(ClusterId),
    Form(Vec<Gathered>),
    Nothing,
}

/// Places the request just inserted (in `tx`) in a cluster when the
/// policy says it is one: joins the active cluster at its place, or forms
/// one with the requests gathered there. Returns the cluster.
///
/// Most requests find neither and take no lock. One that would join or
/// form takes the place's advisory locks and looks again, so two requests
/// never form two clusters at one place; two requests arriving together
/// that each see one requester short form none, and the next request
/// there forms it.
pub async fn note(
    tx: &mut Tx,
    j: &Joining<'_>,
    policy: &Clusters,
    at: DateTime<Utc>,
) -> Result<Option<ClusterId>, ApiError> {
    let Some(place) = rules::place_of(j.point, j.street, policy.radius_m) else {
        return Ok(None);
    };
    let since = hotline_common::time::minus(at, policy.window);
    if let Found::Nothing = look(tx, j, &place, policy, since).await? {
        return Ok(None);
    }
    for key in rules::lock_keys(j.category, &place) {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    match look(tx, j, &place, policy, since).await? {
        Found::Join(id) => {
            let me = rules::requester_key(j.phone_digits, j.ticket_no);
            join(tx, id, j.ticket_no, &me, at).await?;
            Ok(Some(id))
        }
        Found::Form(members) => {
            let id = ClusterId::new();
            form(tx, id, j, &place, &members, at).await?;
            Ok(Some(id))
        }
        Found::Nothing => Ok(None),
    }
}

async fn look(
    tx: &mut Tx,
    j: &Joining<'_>,
    place: &Place,
    policy: &Clusters,
    since: DateTime<Utc>,
) -> Result<Found, ApiError> {
    let cells: Vec<i64> = match place {
        Place::Near(p, r) => cells_near(*p, *r),
        Place::Street(_) => Vec::new(),
    };
    let street = j.street.unwrap_or_default();
    let active_rows = match place {
        Place::Street(_) => sqlx::query(ACTIVE_AT_STREET_SQL)
            .bind(j.category)
            .bind(street)
            .bind(since),
        Place::Near(..) => sqlx::query(ACTIVE_NEAR_SQL)
            .bind(j.category)
            .bind(&cells)
            .bind(since),
    }
    .fetch_all(&mut **tx)
    .await?;
    let active: Vec<Active> = active_rows
        .iter()
        .map(|r| Active {
            cluster_id: r.get("cluster_id"),
            centre: point_of(r, "centre_latitude", "centre_longitude"),
            last_at: r.get("last_at"),
        })
        .collect();
    if let Some(id) = rules::to_join(place, active) {
        return Ok(Found::Join(id));
    }
    let gathered_rows = match place {
        Place::Street(_) => sqlx::query(GATHER_AT_STREET_SQL)
            .bind(j.category)
            .bind(street),
        Place::Near(..) => sqlx::query(GATHER_NEAR_SQL).bind(j.category).bind(&cells),
    }
    .bind(since)
    .bind(GATHER_LIMIT)
    .fetch_all(&mut **tx)
    .await?;
    let gathered: Vec<Gathered> = gathered_rows
        .iter()
        .map(|r| {
            let no: String = r.get("ticket_no");
            Gathered {
                requester: rules::requester_key(r.get("phone_digits"), &no),
                ticket_no: no,
                point: point_of(r, "latitude", "longitude"),
            }
        })
        .collect();
    Ok(
        match rules::forming(place, gathered, policy.min_requesters) {
            Some(members) => Found::Form(members),
            None => Found::Nothing,
        },
    )
}

async fn form(
    tx: &mut Tx,
    id: ClusterId,
    j: &Joining<'_>,
    place: &Place,
    members: &[Gathered],
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let (basis, centre, radius) = match place {
        Place::Street(_) => (Basis::Street, None, None),
        Place::Near(p, r) => (Basis::Distance, Some(*p), i32::try_from(*r).ok()),
    };
    let requesters = i32::try_from(rules::distinct_requesters(members)).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO clusters (cluster_id, basis, category_code, district_code, street_code, \
         centre_latitude, centre_longitude, centre_cell, radius_m, requesters, tickets, formed_at, \
         last_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(id)
    .bind(basis.as_sql())
    .bind(j.category)
    .bind(j.district)
    .bind(j.street)
    .bind(centre.map(|p| p.latitude))
    .bind(centre.map(|p| p.longitude))
    .bind(centre.map(cell_of))
    .bind(radius)
    .bind(requesters)
    .bind(i32::try_from(members.len()).unwrap_or(i32::MAX))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let nos: Vec<&str> = members.iter().map(|m| m.ticket_no.as_str()).collect();
    let keys: Vec<&str> = members.iter().map(|m| m.requester.as_str()).collect();
    sqlx::query(
        "INSERT INTO cluster_tickets (cluster_id, ticket_no, requester_key, joined_at) \
         SELECT $1, no, key, $4 FROM UNNEST($2::TEXT[], $3::TEXT[]) AS m (no, key)",
    )
    .bind(id)
    .bind(&nos)
    .bind(&keys)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    for no in &nos {
        clustered(tx, id, no, requesters, at).await?;
    }
    tracing::info!(cluster_id = %id, basis = basis.as_sql(), category = j.category, requesters, tickets = nos.len(), "cluster formed");
    Ok(())
}

async fn join(
    tx: &mut Tx,
    id: ClusterId,
    ticket_no: &str,
    requester: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM cluster_tickets WHERE cluster_id = $1 AND requester_key = $2)",
    )
    .bind(id)
    .bind(requester)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO cluster_tickets (cluster_id, ticket_no, requester_key, joined_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(ticket_no)
    .bind(requester)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let requesters: i32 = sqlx::query_scalar(
        "UPDATE clusters SET tickets = tickets + 1, requesters = requesters + $2, last_at = $3 \
         WHERE cluster_id = $1 RETURNING requesters",
    )
    .bind(id)
    .bind(if known { 0 } else { 1 })
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    clustered(tx, id, ticket_no, requesters, at).await
}

async fn clustered(
    tx: &mut Tx,
    id: ClusterId,
    ticket_no: &str,
    requesters: i32,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let fact = Fact::Clustered(ev::Clustered {
        cluster_id: id.to_string(),
        requesters,
        clustered_at: Some(to_proto(at)),
    });
    events::record_fact(tx, Source::Intake, ticket_no, at, fact).await?;
    audit::append(
        tx,
        &[Entry::system(
            "intake",
            "ticket.clustered",
            ticket_no,
            format!("cluster={id} requesters={requesters}"),
        )],
    )
    .await
}

/// A cluster as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub cluster_id: ClusterId,
    pub basis: Basis,
    pub category_code: String,
    pub district_code: String,
    pub street_code: Option<String>,
    pub centre: Option<Point>,
    pub radius_m: Option<i32>,
    pub requesters: i32,
    pub tickets: i32,
    pub formed_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

fn stored_from(r: &PgRow) -> Result<Stored, ApiError> {
    Ok(Stored {
        cluster_id: r.get("cluster_id"),
        basis: Basis::from_sql(r.get("basis"))?,
        category_code: r.get("category_code"),
        district_code: r.get("district_code"),
        street_code: r.get("street_code"),
        centre: point_of(r, "centre_latitude", "centre_longitude"),
        radius_m: r.get("radius_m"),
        requesters: r.get("requesters"),
        tickets: r.get("tickets"),
        formed_at: r.get("formed_at"),
        last_at: r.get("last_at"),
    })
}

/// A page of clusters, newest formed first, after the cursor ($1, $2,
/// NULL for the first page).
pub const LIST_ALL_SQL: &str = "SELECT * FROM clusters \
     WHERE ($1::TIMESTAMPTZ IS NULL OR (formed_at, cluster_id) < ($1, $2)) \
     ORDER BY formed_at DESC, cluster_id DESC LIMIT $3";
/// The same of the clusters still active (last request since $4): read
/// from those (a window's worth, whatever the history), then sorted.
pub const LIST_ACTIVE_SQL: &str = "WITH active AS MATERIALIZED \
     (SELECT * FROM clusters WHERE last_at >= $4 ORDER BY last_at DESC) \
     SELECT * FROM active \
     WHERE ($1::TIMESTAMPTZ IS NULL OR (formed_at, cluster_id) < ($1, $2)) \
     ORDER BY formed_at DESC, cluster_id DESC LIMIT $3";

pub async fn list(
    pool: &PgPool,
    active_since: Option<DateTime<Utc>>,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Stored>, ApiError> {
    let q = sqlx::query(if active_since.is_some() {
        LIST_ACTIVE_SQL
    } else {
        LIST_ALL_SQL
    })
    .bind(after.map(|c| c.at))
    .bind(after.map(|c| c.uuid()))
    .bind(limit);
    let q = match active_since {
        Some(since) => q.bind(since),
        None => q,
    };
    let rows = q.fetch_all(pool).await?;
    rows.iter().map(stored_from).collect()
}

/// One cluster and its tickets in the order they joined.
pub async fn get(pool: &PgPool, id: ClusterId) -> Result<Option<(Stored, Vec<String>)>, ApiError> {
    let Some(row) = sqlx::query("SELECT * FROM clusters WHERE cluster_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let tickets: Vec<String> = sqlx::query_scalar(
        "SELECT ticket_no FROM cluster_tickets WHERE cluster_id = $1 ORDER BY joined_at, ticket_no",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some((stored_from(&row)?, tickets)))
}
