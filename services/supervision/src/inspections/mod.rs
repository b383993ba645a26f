//! Special inspections (专项督查、实地督查) of the units that rank lowest in
//! the evaluation or where problems concentrate: the candidates of a period
//! (policy `[inspections]`), an inspection opened on one of them with its
//! findings and the rectification required by a date (a clock in stage
//! `rectification`, filed under the inspection's number), the unit's
//! report, the result. Every step is audited.
//!
//! - `rules`: the candidates, states, steps (pure)
//! - `store`: the SQL

pub mod rules;
pub mod store;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, ClockSpec};
use hotline_common::ids::UnitId;
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;
use hotline_sla::Stage;

use self::rules::{Basis, Candidate, InspectionState};
use self::store::{Inspection, New};
use crate::evaluation::period::Period;
use crate::evaluation::{Eval, period_field, version_of};
use crate::ids::InspectionId;
use crate::scope::{own_unit, visible_unit};
use crate::workflows::Workflows;

fn not_found(id: InspectionId) -> ApiError {
    ApiError::not_found(format!("no inspection {id}"))
}

/// The start of a day in the evaluation's time zone.
fn day_start(app: &Workflows, d: NaiveDate) -> DateTime<Utc> {
    let tz = app.policy.evaluation.time_zone;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// The candidates of a period.
async fn candidates(app: &Workflows, p: &Period) -> Result<Vec<Candidate>, ApiError> {
    let eval = Eval {
        pool: app.pool.clone(),
        keys: app.keys.clone(),
        policy: app.policy.clone(),
    };
    let v = version_of(eval.evaluation(), "period", p)?;
    let lines = crate::evaluation::report::table(&eval, p, v, None).await?;
    let from = day_start(app, p.from);
    let to = day_start(app, p.to.succ_opt().unwrap_or(p.to));
    let cases = store::cases_by_unit(&app.pool, from, to).await?;
    Ok(rules::candidates(&lines, &cases, &app.policy.inspections))
}

/// ListInspectionCandidates.
pub async fn list_candidates(
    app: &Workflows,
    _who: Identity,
    r: pb::ListInspectionCandidatesRequest,
) -> Result<pb::ListInspectionCandidatesResponse, ApiError> {
    let mut f = Fields::new();
    let p = period_field(&mut f, "period", &r.period);
    f.finish()?;
    let p = p.expect("checked");
    let policy = &app.policy.inspections;
    Ok(pb::ListInspectionCandidatesResponse {
        candidates: candidates(app, &p)
            .await?
            .iter()
            .map(Candidate::to_proto)
            .collect(),
        bottom: i32::try_from(policy.bottom).unwrap_or(i32::MAX),
        cases_per_hundred: policy.cases_per_hundred,
    })
}

fn clock_id(i: &Inspection) -> String {
    clock::instance_clock_id(
        &i.inspection_no,
        Stage::Rectification,
        i.unit_id.as_str(),
        None,
    )
}

fn entry(who: &Identity, action: &'static str, i: &Inspection, detail: String) -> Entry {
    Entry::by(
        who,
        action,
        &i.inspection_no,
        format!("inspection={} unit={} {detail}", i.inspection_id, i.unit_id),
    )
}

/// OpenInspection: only of a candidate of the period, on its basis.
pub async fn open(
    app: &Workflows,
    who: Identity,
    r: pb::OpenInspectionRequest,
) -> Result<pb::OpenInspectionResponse, ApiError> {
    let mut f = Fields::new();
    let at = now();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let p = period_field(&mut f, "period", &r.period);
    let basis = match Basis::filter_field(&mut f, "basis", r.basis) {
        Some(b) => Some(b),
        None => {
            if r.basis == 0 {
                f.add("basis", "required");
            }
            None
        }
    };
    let findings = f.text("findings", &r.findings, rules::MAX_FINDINGS);
    let rectification = f.text("rectification", &r.rectification, rules::MAX_TEXT);
    let rectify_by =
        crate::reports::rules::due_field(&mut f, "rectify_by", r.rectify_by.as_ref(), at);
    f.finish()?;
    let (unit, p, basis, rectify_by) = (
        unit.expect("checked"),
        p.expect("checked"),
        basis.expect("checked"),
        rectify_by.expect("checked"),
    );
    let offered = candidates(app, &p).await?;
    if !offered
        .iter()
        .any(|c| c.unit_id == unit.as_str() && c.basis == basis)
    {
        return Err(ApiError::precondition(
            Reason::NotAnInspectionCandidate,
            format!(
                "unit {unit} is not offered for an inspection as {basis} in {}",
                r.period.trim()
            ),
        )
        .with("unit_id", &unit)
        .with("period", r.period.trim())
        .with("basis", basis));
    }
    let policy = app.policy.clone();
    app.keys
        .once(&who, &r, async |tx| {
            let i = store::insert(
                tx,
                &New {
                    unit: &unit,
                    period: r.period.trim(),
                    basis,
                    findings: &findings,
                    rectification: &rectification,
                    rectify_by,
                    by: &who.subject,
                    at,
                },
            )
            .await?;
            clock::start(
                tx,
                &policy,
                &ClockSpec {
                    ticket_no: &i.inspection_no,
                    stage: Stage::Rectification,
                    unit_id: i.unit_id.as_str(),
                    instance: None,
                    started_at: at,
                    deadline: rectify_by,
                },
            )
            .await?;
            crate::steps::call(
                tx,
                crate::steps::Call {
                    workflow: "inspection",
                    ref_id: i.inspection_id.to_string(),
                    step: "opened",
                    ticket_no: &i.inspection_no,
                    unit_id: i.unit_id.as_str(),
                    due: Some(rectify_by),
                    detail: rectification.clone(),
                    at,
                },
            )
            .await?;
            let detail = format!("basis={basis} rectify_by={}", rectify_by.to_rfc3339());
            audit::append(tx, &[entry(&who, "inspection.opened", &i, detail)]).await?;
            Ok(pb::OpenInspectionResponse {
                inspection: Some(i.to_proto()?),
            })
        })
        .await
}

/// ReportRectification: the inspected unit's report; its clock stops.
pub async fn rectify(
    app: &Workflows,
    who: Identity,
    r: pb::ReportRectificationRequest,
) -> Result<pb::ReportRectificationResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<InspectionId>("inspection_id", &r.inspection_id);
    let measures = f.text("measures", &r.measures, rules::MAX_TEXT);
    f.finish()?;
    let id = id.expect("checked");
    let unit = own_unit(&who)?;
    app.keys
        .once(&who, &r, async |tx| {
            let i = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            if i.unit_id != unit {
                return Err(not_found(id));
            }
            rules::may_rectify(id, i.state()?)?;
            let at = now();
            let i = store::rectified(tx, id, &measures, at).await?;
            clock::stop(tx, &clock_id(&i), at).await?;
            let late = at > i.rectify_by;
            audit::append(
                tx,
                &[entry(
                    &who,
                    "inspection.rectified",
                    &i,
                    format!("late={late}"),
                )],
            )
            .await?;
            Ok(pb::ReportRectificationResponse {
                inspection: Some(i.to_proto()?),
            })
        })
        .await
}

/// CloseInspection.
pub async fn close(
    app: &Workflows,
    who: Identity,
    r: pb::CloseInspectionRequest,
) -> Result<pb::CloseInspectionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<InspectionId>("inspection_id", &r.inspection_id);
    let result = f.text("result", &r.result, rules::MAX_RESULT);
    f.finish()?;
    let id = id.expect("checked");
    app.keys
        .once(&who, &r, async |tx| {
            let i = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            rules::may_close(id, i.state()?)?;
            let i = store::close(tx, id, &result, &who.subject, now()).await?;
            audit::append(tx, &[entry(&who, "inspection.closed", &i, String::new())]).await?;
            Ok(pb::CloseInspectionResponse {
                inspection: Some(i.to_proto()?),
            })
        })
        .await
}

/// GetInspection: unit staff their own unit's only.
pub async fn get(
    app: &Workflows,
    who: Identity,
    r: pb::GetInspectionRequest,
) -> Result<pb::GetInspectionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<InspectionId>("inspection_id", &r.inspection_id);
    f.finish()?;
    let id = id.expect("checked");
    let i = store::get(&app.pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if who
        .unit_scope()
        .is_some_and(|own| own != i.unit_id.as_str())
    {
        return Err(not_found(id));
    }
    Ok(pb::GetInspectionResponse {
        inspection: Some(i.to_proto()?),
    })
}

/// ListInspections.
pub async fn list(
    app: &Workflows,
    who: Identity,
    r: pb::ListInspectionsRequest,
) -> Result<pb::ListInspectionsResponse, ApiError> {
    let mut f = Fields::new();
    let unit = f.optional_id::<UnitId>("unit_id", &r.unit_id);
    let state = InspectionState::filter_field(&mut f, "state", r.state);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[r.unit_id.trim(), &r.state.to_string()],
    );
    f.finish()?;
    let unit = visible_unit(&who, unit)?;
    let mut rows = store::list(
        &app.pool,
        unit.as_ref(),
        state,
        page.after.as_ref(),
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |i| {
        Cursor::new(i.opened_at, i.inspection_id.to_string())
    });
    Ok(pb::ListInspectionsResponse {
        inspections: rows
            .iter()
            .map(Inspection::to_proto)
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}
