//! On-site division (现场核分): for a difficult, key, repeated, cross-area
//! or unclear-ownership request, a supervisor summons the units concerned
//! to the site by a time (the summons mechanism whistles use, with an
//! arrival clock per unit in stage `on_site_arrival`, urged and supervised
//! like every clock); each unit reports its arrival; the division made on
//! site names the lead and co-units, and dispatch re-dispatches the ticket
//! to them (a new hop). A unit that never arrived or that refused the
//! division is recorded as not cooperating. Every step is audited and on
//! the ticket's timeline.
//!
//! - `rules`: states, the division's units, who cooperated (pure)
//! - `store`: the SQL

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, CENTRE_UNIT};
use hotline_common::ids::{Id, TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::{Cursor, Page};
use hotline_common::summons::{self, is_late};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::events::v1::Workflow;
use hotline_proto::supervision::v1 as pb;

use self::rules::{DivisionState, NonCooperation};
use self::store::{Division, Filters, New, Recorded, SUMMONSES};
use crate::ids::DivisionId;
use crate::scope::{own_unit, visible_unit};
use crate::workflows::{Redispatch, Workflows};

fn not_found(id: DivisionId) -> ApiError {
    ApiError::not_found(format!("no on-site division {id}"))
}

async fn reply(tx: &mut Tx, d: &Division) -> Result<pb::OnSiteDivision, ApiError> {
    let units = store::units(&mut **tx, &[d.division_id]).await?;
    d.to_proto(&units)
}

async fn step(
    tx: &mut Tx,
    d: &Division,
    step: &'static str,
    unit: &str,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    crate::steps::publish(
        tx,
        &[d.ticket_no.to_string()],
        crate::steps::Step {
            workflow: Workflow::OnSiteDivision,
            ref_id: d.division_id.to_string(),
            step,
            unit_id: unit,
            detail,
            at,
        },
    )
    .await
}

/// StartOnSiteDivision.
pub async fn start(
    app: &Workflows,
    who: Identity,
    r: pb::StartOnSiteDivisionRequest,
) -> Result<pb::StartOnSiteDivisionResponse, ApiError> {
    let mut f = Fields::new();
    let at = now();
    let ticket = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let place = f.text("place", &r.place, rules::MAX_PLACE);
    let reason = f.text("reason", &r.reason, rules::MAX_TEXT);
    let arrive_by = f.time("arrive_by", r.arrive_by.as_ref());
    let centre = UnitId::parse(CENTRE_UNIT).map_err(ApiError::internal)?;
    let call = summons::check_call(
        &mut f,
        ("unit_ids", "arrive_by"),
        &centre,
        &r.unit_ids,
        arrive_by,
        at,
        rules::LIMITS,
    );
    f.finish()?;
    let (ticket, call) = (ticket.expect("checked"), call.expect("checked"));
    app.check_tickets(&[ticket.to_string()]).await?;
    app.check_units("unit_ids", &call.units).await?;
    let policy = app.policy.clone();
    app.keys
        .once(&who, &r, async |tx| {
            let id = store::insert(
                tx,
                &policy,
                &New {
                    ticket: &ticket,
                    place: &place,
                    reason: &reason,
                    by: &who.subject,
                    call: &call,
                    at,
                },
            )
            .await?;
            let d = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            let units: Vec<&str> = call.units.iter().map(|u| u.as_str()).collect();
            let detail = format!(
                "{} by {}: {}",
                units.join(","),
                call.arrive_by.to_rfc3339(),
                place
            );
            step(tx, &d, "summoned", "", detail, at).await?;
            for u in &call.units {
                crate::steps::call(
                    tx,
                    crate::steps::Call {
                        workflow: "on_site_division",
                        ref_id: id.to_string(),
                        step: "summoned",
                        ticket_no: ticket.as_str(),
                        unit_id: u.as_str(),
                        due: Some(call.arrive_by),
                        detail: place.clone(),
                        at,
                    },
                )
                .await?;
            }
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "onsite.summoned",
                    ticket.as_str(),
                    format!(
                        "division={id} units={} arrive_by={}",
                        units.join(","),
                        call.arrive_by.to_rfc3339()
                    ),
                )],
            )
            .await?;
            Ok(pb::StartOnSiteDivisionResponse {
                division: Some(reply(tx, &d).await?),
            })
        })
        .await
}

/// ArriveOnSite: a summoned unit is there; its clock stops.
pub async fn arrive(
    app: &Workflows,
    who: Identity,
    r: pb::ArriveOnSiteRequest,
) -> Result<pb::ArriveOnSiteResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<DivisionId>("division_id", &r.division_id);
    f.finish()?;
    let id = id.expect("checked");
    let unit = own_unit(&who)?;
    let what = format!("on-site division {id}");
    app.keys
        .once(&who, &r, async |tx| {
            let d = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            let summoned = SUMMONSES.lock(tx, id.uuid()).await?;
            let s = summons::check_arrival(&summoned, &unit, &what)?;
            rules::may_change(id, d.state()?)?;
            let at = now();
            let late = is_late(at, s.arrive_by);
            SUMMONSES
                .arrive(tx, id.uuid(), &d.ticket_no, &unit, at)
                .await?;
            let detail = if late { "late" } else { "in time" };
            step(tx, &d, "arrived", unit.as_str(), detail.into(), at).await?;
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "onsite.arrived",
                    d.ticket_no.as_str(),
                    format!("division={id} unit={unit} late={late}"),
                )],
            )
            .await?;
            Ok(pb::ArriveOnSiteResponse {
                division: Some(reply(tx, &d).await?),
            })
        })
        .await
}

/// What recording a division found and had dispatch do, before the
/// division's transaction.
struct Planned {
    hop: i32,
}

/// RecordDivision: dispatch re-dispatches the ticket to the units the
/// division names (no transaction open), then the division is recorded.
pub async fn record(
    app: &Workflows,
    who: Identity,
    r: pb::RecordDivisionRequest,
) -> Result<pb::RecordDivisionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<DivisionId>("division_id", &r.division_id);
    let division = rules::division(&mut f, &r.lead_unit_id, &r.co_unit_ids, &r.refused_unit_ids);
    let result = f.text("result", &r.result, rules::MAX_TEXT);
    let media = hotline_common::validate::media_list(
        &mut f,
        "media_sha256",
        &r.media_sha256,
        rules::MAX_MEDIA,
    );
    f.finish()?;
    let (id, division) = (id.expect("checked"), division.expect("checked"));
    let prepare = async || {
        let d = store::get(&app.pool, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        rules::may_change(id, d.state()?)?;
        // Its photos go to the ticket first (attaching is idempotent).
        app.attach_media(&d.ticket_no, &media).await?;
        let units = store::units(&app.pool, &[id]).await?;
        let summoned: Vec<_> = units.iter().map(store::UnitRow::summoned).collect();
        // Checked before dispatch is asked (a refusing unit must have come);
        // recomputed under the lock.
        rules::cooperation(&summoned, &division)?;
        let hop = app
            .redispatch(
                Redispatch {
                    ticket: &d.ticket_no,
                    lead: &division.lead,
                    co: &division.co,
                    reason: format!("on-site division (现场核分) {id}"),
                    key: format!("onsite-{id}"),
                },
                d.planned_hop,
                async |current| store::plan_hop(&app.pool, id, current).await,
            )
            .await?;
        Ok(Planned { hop })
    };
    app.keys
        .once_after(&who, &r, prepare, async |planned: Planned, tx| {
            let d = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            rules::may_change(id, d.state()?)?;
            let at = now();
            // Who arrived, as it stands under the division's lock: a unit
            // may have arrived while dispatch was asked.
            let summoned = SUMMONSES.lock(tx, id.uuid()).await?;
            let cooperation = rules::cooperation(&summoned, &division)?;
            store::record(
                tx,
                id,
                &Recorded {
                    lead: &division.lead,
                    co: &division.co,
                    result: &result,
                    hop: planned.hop,
                    by: &who.subject,
                    at,
                    cooperation: &cooperation,
                    media: &media,
                },
            )
            .await?;
            // The arrival clocks still running stop: a unit that never came
            // is recorded as not cooperating, and its case (if the time
            // passed) closes with the division.
            for (unit, how) in &cooperation {
                if *how == NonCooperation::DidNotArrive {
                    clock::stop(tx, &SUMMONSES.clock_id(&d.ticket_no, unit, id.uuid()), at).await?;
                }
            }
            let co: Vec<&str> = division.co.iter().map(|u| u.as_str()).collect();
            let detail = format!(
                "lead {}{}; hop {}: {result}",
                division.lead,
                if co.is_empty() {
                    String::new()
                } else {
                    format!(", co-units {}", co.join(","))
                },
                planned.hop
            );
            step(tx, &d, "divided", "", detail, at).await?;
            let mut entries = vec![Entry::by(
                &who,
                "onsite.divided",
                d.ticket_no.as_str(),
                format!(
                    "division={id} lead={} co={} hop={} media={}",
                    division.lead,
                    co.join(","),
                    planned.hop,
                    media.len()
                ),
            )];
            for (unit, how) in &cooperation {
                if *how != NonCooperation::None {
                    step(
                        tx,
                        &d,
                        "not_cooperating",
                        unit.as_str(),
                        how.as_sql().into(),
                        at,
                    )
                    .await?;
                    entries.push(Entry::by(
                        &who,
                        "onsite.not_cooperating",
                        d.ticket_no.as_str(),
                        format!("division={id} unit={unit} why={how}"),
                    ));
                }
            }
            audit::append(tx, &entries).await?;
            let d = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            Ok(pb::RecordDivisionResponse {
                division: Some(reply(tx, &d).await?),
            })
        })
        .await
}

/// GetOnSiteDivision: unit staff only those they were summoned to.
pub async fn get(
    app: &Workflows,
    who: Identity,
    r: pb::GetOnSiteDivisionRequest,
) -> Result<pb::GetOnSiteDivisionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<DivisionId>("division_id", &r.division_id);
    f.finish()?;
    let id = id.expect("checked");
    let d = store::get(&app.pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let units = store::units(&app.pool, &[id]).await?;
    if let Some(own) = who.unit_scope()
        && !units.iter().any(|u| u.unit_id.as_str() == own)
    {
        return Err(not_found(id));
    }
    Ok(pb::GetOnSiteDivisionResponse {
        division: Some(d.to_proto(&units)?),
    })
}

/// ListOnSiteDivisions.
pub async fn list(
    app: &Workflows,
    who: Identity,
    r: pb::ListOnSiteDivisionsRequest,
) -> Result<pb::ListOnSiteDivisionsResponse, ApiError> {
    let mut f = Fields::new();
    let ticket = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let unit = f.optional_id::<UnitId>("unit_id", &r.unit_id);
    let state = DivisionState::filter_field(&mut f, "state", r.state);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[r.ticket_no.trim(), r.unit_id.trim(), &r.state.to_string()],
    );
    f.finish()?;
    let unit = visible_unit(&who, unit)?;
    let filters = Filters {
        unit: unit.as_ref(),
        ticket: ticket.as_ref(),
        state,
    };
    let mut rows = store::list(&app.pool, &filters, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |d| {
        Cursor::new(d.called_at, d.division_id.to_string())
    });
    let ids: Vec<DivisionId> = rows.iter().map(|d| d.division_id).collect();
    let units = store::units(&app.pool, &ids).await?;
    Ok(pb::ListOnSiteDivisionsResponse {
        divisions: rows
            .iter()
            .map(|d| d.to_proto(&units))
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}
