//! Whistles (街乡吹哨、部门报到): a street or township unit holding a signed
//! assignment summons departments to the site by a time; each reports in,
//! late or not. A report-in records a fact, so it stands whatever hop the
//! ticket is at.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::error::from_peer;
use hotline_common::ids::{AssignmentId, UnitId, WhistleId};
use hotline_common::summons::{self, is_late};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::dispatch::v1::GetCatalogueRequest;
use hotline_proto::undertaking::v1::{
    BlowWhistleRequest, BlowWhistleResponse, ListWhistlesRequest, ListWhistlesResponse,
    ReportInRequest, ReportInResponse,
};

use crate::assignments::rules::while_signed;
use crate::context::Ctx;
use crate::scope::{self, By, hold};
use crate::window;
use rules::Units;
use store::SUMMONSES;

/// The units of the dispatch catalogue in force.
async fn catalogue_units(ctx: &Ctx) -> Result<Units, ApiError> {
    Ok(ctx
        .dispatch
        .clone()
        .get_catalogue(GetCatalogueRequest::default())
        .await
        .map_err(|s| from_peer("dispatch", s))?
        .into_inner()
        .catalogue
        .ok_or_else(|| ApiError::unavailable("dispatch sent no catalogue"))?
        .units
        .into_iter()
        .map(|u| (u.unit_id.clone(), u))
        .collect())
}

/// A street or township unit blows the whistle on its signed assignment.
pub async fn blow(
    ctx: &Ctx,
    who: Identity,
    r: BlowWhistleRequest,
) -> Result<BlowWhistleResponse, ApiError> {
    scope::acting(&who, &r.unit_id, &r.assignment_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let id = f.id::<AssignmentId>("assignment_id", &r.assignment_id);
    let arrive_by = window::read(&mut f, "arrive_by", r.arrive_by.as_ref());
    let at = now();
    let whistle = unit.as_ref().and_then(|u| {
        rules::parse_whistle(
            &mut f,
            u,
            &r.summoned_unit_ids,
            arrive_by,
            at,
            (&r.place, &r.matter),
        )
    });
    f.finish()?;
    let (unit, id, whistle) = (
        unit.expect("checked"),
        id.expect("checked"),
        whistle.expect("checked"),
    );
    // The catalogue is read before the key's transaction opens (no
    // transaction spans a network call); a replay answers even when the
    // catalogue has changed since.
    let prepare = async || {
        let units = catalogue_units(ctx).await?;
        rules::check_in_catalogue(&units, &r.summoned_unit_ids)?;
        rules::may_blow_whistle(&units, &unit)?;
        Ok(())
    };
    ctx.keys
        .once_after(&who, &r, prepare, async |(), tx| {
            let held = hold(tx, id, By::Unit(&unit)).await?;
            while_signed(held.assignment.state)?;
            let wid = store::insert(tx, &ctx.policy, &held.assignment, &whistle, at).await?;
            let summoned: Vec<&str> = whistle.call.units.iter().map(UnitId::as_str).collect();
            let detail = format!(
                "whistle={wid} summoned={} arrive_by={}",
                summoned.join(","),
                whistle.call.arrive_by.to_rfc3339()
            );
            let ticket_no = held.assignment.ticket_no.clone();
            audit::append(tx, &[Entry::by(&who, "whistle.blown", &ticket_no, detail)]).await?;
            let blown = store::get(tx, wid)
                .await?
                .ok_or_else(|| ApiError::internal("a whistle just recorded"))?;
            tracing::info!(whistle_id = %wid, ticket_no = %ticket_no, unit_id = %unit, summoned = summoned.len(), "whistle blown");
            Ok(BlowWhistleResponse {
                whistle: Some(blown.to_proto()),
            })
        })
        .await
}

/// A summoned department reports in (报到): its arrival clock stops; after
/// the arrival time it is recorded as late.
pub async fn report_in(
    ctx: &Ctx,
    who: Identity,
    r: ReportInRequest,
) -> Result<ReportInResponse, ApiError> {
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let id = f.id::<WhistleId>("whistle_id", &r.whistle_id);
    f.finish()?;
    let (unit, id) = (unit.expect("checked"), id.expect("checked"));
    let what = format!("whistle {id}");
    let not_summoned = || ApiError::not_found(format!("unit {unit} is not summoned by {what}"));
    if !who.acts_for(&unit) {
        return Err(not_summoned());
    }
    ctx.keys
        .once(&who, &r, async |tx| {
            let w = store::get(tx, id).await?.ok_or_else(not_summoned)?;
            let summoned = SUMMONSES.lock(tx, id.uuid()).await?;
            let s = summons::check_arrival(&summoned, &unit, &what)?;
            let at = now();
            let late = is_late(at, s.arrive_by);
            SUMMONSES
                .arrive(tx, id.uuid(), &w.ticket_no, &unit, at)
                .await?;
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "whistle.reported_in",
                    &w.ticket_no,
                    format!("whistle={id} unit={unit} late={late}"),
                )],
            )
            .await?;
            let w = store::get(tx, id)
                .await?
                .ok_or_else(|| ApiError::internal("the whistle went away"))?;
            tracing::info!(whistle_id = %id, unit_id = %unit, late, "department reported in");
            Ok(ReportInResponse {
                whistle: Some(w.to_proto()),
            })
        })
        .await
}

/// One ticket's whistles, oldest first; unit staff see those they blew or
/// were summoned by.
pub async fn list(
    ctx: &Ctx,
    who: Identity,
    r: ListWhistlesRequest,
) -> Result<ListWhistlesResponse, ApiError> {
    let list = crate::scope::TicketList::parse(&who, &r.ticket_no, r.page_size, &r.page_token)?;
    let page = list.page;
    let mut conn = ctx.pool.acquire().await?;
    let mut whistles = store::by_ticket(&mut conn, &list.ticket_no).await?;
    if let Some(own) = who.unit_scope() {
        whistles.retain(|w| w.involves(own));
    }
    let (whistles, next_page_token) = page.window(whistles);
    Ok(ListWhistlesResponse {
        whistles: whistles.iter().map(|w| w.to_proto()).collect(),
        next_page_token,
    })
}
