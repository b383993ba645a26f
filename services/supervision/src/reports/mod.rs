//! Special reports (专报): for tickets that coordination cannot push
//! forward, or where no unit has the duty (职能空白). A supervisor drafts
//! one, a leader approves it (which issues it) or sends it back; each unit
//! it is issued to gives written feedback (书面反馈) by the date set, on a
//! clock supervision owns (stage `written_feedback`), urged before and
//! supervised after like every other stage; the supervisor accepts the
//! feedback or sends it back with a new date. Every step is on the audit
//! trail; units see only the reports issued to them.
//!
//! - `rules`: states, steps, the draft's fields (pure)
//! - `store`: the SQL

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, ClockSpec};
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::supervision::v1 as pb;
use hotline_sla::{Policy, Stage};

use self::rules::{FeedbackState, ReportState};
use self::store::{Filters, Recipient, Report, Written};
use crate::evaluation::known_unit;
use crate::ids::ReportId;
use crate::scope::{own_unit, visible_unit};
use crate::workflows::Workflows;

fn not_found(id: ReportId) -> ApiError {
    ApiError::not_found(format!("no special report {id}"))
}

async fn locked(tx: &mut Tx, id: ReportId) -> Result<Report, ApiError> {
    store::lock(tx, id).await?.ok_or_else(|| not_found(id))
}

async fn reply(tx: &mut Tx, r: &Report) -> Result<pb::SpecialReport, ApiError> {
    let recipients = store::recipients(&mut **tx, &[r.report_id]).await?;
    r.to_proto(&recipients)
}

async fn feedback_states(tx: &mut Tx, id: ReportId) -> Result<Vec<FeedbackState>, ApiError> {
    store::recipients(&mut **tx, &[id])
        .await?
        .iter()
        .map(Recipient::state)
        .collect()
}

/// Publishes a step that reaches units, for the report's tickets.
async fn step(
    tx: &mut Tx,
    r: &Report,
    step: &'static str,
    unit: Option<&UnitId>,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    crate::steps::publish(
        tx,
        &r.ticket_nos,
        crate::steps::Step {
            workflow: hotline_proto::events::v1::Workflow::SpecialReport,
            ref_id: r.report_id.to_string(),
            step,
            unit_id: unit.map(|u| u.as_str()).unwrap_or(""),
            detail,
            at,
        },
    )
    .await
}

/// Calls on a recipient unit through its stream.
async fn call(
    tx: &mut Tx,
    r: &Report,
    rec: &Recipient,
    step: &'static str,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    crate::steps::call(
        tx,
        crate::steps::Call {
            workflow: "special_report",
            ref_id: r.report_id.to_string(),
            step,
            ticket_no: r.first_ticket(),
            unit_id: rec.unit_id.as_str(),
            due: Some(rec.feedback_due),
            detail,
            at,
        },
    )
    .await
}

fn entry(who: &Identity, action: &'static str, r: &Report, detail: String) -> Vec<Entry> {
    // One entry per ticket, so that each ticket's trail shows the report.
    r.ticket_nos
        .iter()
        .map(|t| Entry::by(who, action, t, format!("report={} {detail}", r.report_id)))
        .collect()
}

/// The written-feedback clock of one unit's round.
fn clock_id(r: &Report, unit: &UnitId, round: i32) -> String {
    clock::instance_clock_id(
        r.first_ticket(),
        Stage::WrittenFeedback,
        unit.as_str(),
        Some(&rules::clock_instance(r.report_id, round)),
    )
}

async fn start_clock(
    tx: &mut Tx,
    policy: &Policy,
    r: &Report,
    rec: &Recipient,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let instance = rules::clock_instance(r.report_id, rec.round);
    clock::start(
        tx,
        policy,
        &ClockSpec {
            ticket_no: r.first_ticket(),
            stage: Stage::WrittenFeedback,
            unit_id: rec.unit_id.as_str(),
            instance: Some(&instance),
            started_at: at,
            deadline: rec.feedback_due,
        },
    )
    .await
}

/// The tickets and units of a draft, known to supervision, or NOT_FOUND.
async fn check_known(app: &Workflows, d: &rules::Draft) -> Result<(), ApiError> {
    let asked: Vec<String> = d.tickets.iter().map(ToString::to_string).collect();
    app.check_tickets(&asked).await?;
    for (i, (u, _)) in d.asks.iter().enumerate() {
        known_unit(&app.pool, &format!("asks[{i}].unit_id"), u).await?;
    }
    Ok(())
}

/// DraftSpecialReport: a new draft, or a revision of a draft or a report
/// sent back.
pub async fn draft(
    app: &Workflows,
    who: Identity,
    r: pb::DraftSpecialReportRequest,
) -> Result<pb::DraftSpecialReportResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.optional_id::<ReportId>("report_id", &r.report_id);
    let d = rules::draft(&mut f, &r, now());
    f.finish()?;
    let d = d.expect("checked");
    check_known(app, &d).await?;
    app.keys
        .once(&who, &r, async |tx| {
            let (report, action) = match id {
                None => (
                    store::insert(tx, &d, &who.subject, now()).await?,
                    "report.drafted",
                ),
                Some(id) => {
                    let old = locked(tx, id).await?;
                    rules::may_revise(id, old.state()?)?;
                    (store::revise(tx, id, &d).await?, "report.revised")
                }
            };
            let units: Vec<&str> = d.asks.iter().map(|(u, _)| u.as_str()).collect();
            audit::append(
                tx,
                &entry(&who, action, &report, format!("units={}", units.join(","))),
            )
            .await?;
            Ok(pb::DraftSpecialReportResponse {
                report: Some(reply(tx, &report).await?),
            })
        })
        .await
}

/// SubmitSpecialReport: a draft goes to the leaders.
pub async fn submit(
    app: &Workflows,
    who: Identity,
    r: pb::SubmitSpecialReportRequest,
) -> Result<pb::SubmitSpecialReportResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ReportId>("report_id", &r.report_id);
    f.finish()?;
    let id = id.expect("checked");
    app.keys
        .once(&who, &r, async |tx| {
            let old = locked(tx, id).await?;
            rules::may_submit(id, old.state()?)?;
            let report = store::set_state(tx, id, ReportState::Submitted, now(), None).await?;
            audit::append(tx, &entry(&who, "report.submitted", &report, String::new())).await?;
            Ok(pb::SubmitSpecialReportResponse {
                report: Some(reply(tx, &report).await?),
            })
        })
        .await
}

/// DecideSpecialReport: a leader approves (and so issues) or sends back.
pub async fn decide(
    app: &Workflows,
    who: Identity,
    r: pb::DecideSpecialReportRequest,
) -> Result<pb::DecideSpecialReportResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ReportId>("report_id", &r.report_id);
    let note = if r.approve {
        f.optional_text("note", &r.note, rules::MAX_NOTE)
    } else {
        f.text("note", &r.note, rules::MAX_NOTE)
    };
    f.finish()?;
    let id = id.expect("checked");
    let policy = app.policy.clone();
    app.keys
        .once(&who, &r, async |tx| {
            let old = locked(tx, id).await?;
            let at = now();
            rules::may_decide(id, old.state()?, r.approve, old.feedback_due, at)?;
            let decided = Some((who.subject.as_str(), note.as_str()));
            let report = if r.approve {
                let report = store::set_state(tx, id, ReportState::Issued, at, decided).await?;
                for rec in store::await_feedback(tx, id).await? {
                    start_clock(tx, &policy, &report, &rec, at).await?;
                    call(tx, &report, &rec, "issued", report.title.clone(), at).await?;
                }
                let detail = format!(
                    "{} (feedback due {})",
                    report.title,
                    report.feedback_due.to_rfc3339()
                );
                step(tx, &report, "issued", None, detail, at).await?;
                audit::append(
                    tx,
                    &entry(
                        &who,
                        "report.issued",
                        &report,
                        format!("feedback_due={}", report.feedback_due.to_rfc3339()),
                    ),
                )
                .await?;
                report
            } else {
                let report = store::set_state(tx, id, ReportState::SentBack, at, decided).await?;
                audit::append(tx, &entry(&who, "report.sent_back", &report, String::new())).await?;
                report
            };
            Ok(pb::DecideSpecialReportResponse {
                report: Some(reply(tx, &report).await?),
            })
        })
        .await
}

/// SubmitReportFeedback: a unit's written feedback; its clock stops.
pub async fn give_feedback(
    app: &Workflows,
    who: Identity,
    r: pb::SubmitReportFeedbackRequest,
) -> Result<pb::SubmitReportFeedbackResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ReportId>("report_id", &r.report_id);
    let measures = f.text("measures", &r.measures, rules::MAX_MEASURES);
    let result = f.text("result", &r.result, rules::MAX_MEASURES);
    let responsible = f.name("responsible", &r.responsible, rules::MAX_RESPONSIBLE);
    f.finish()?;
    let id = id.expect("checked");
    let unit = own_unit(&who)?;
    app.keys
        .once(&who, &r, async |tx| {
            let report = locked(tx, id).await?;
            // A report not issued to the unit does not exist for it.
            if !report.state()?.issued() {
                return Err(not_found(id));
            }
            let rec = store::lock_recipient(tx, id, &unit)
                .await?
                .ok_or_else(|| not_found(id))?;
            rules::may_give_feedback(id, &unit, rec.state()?)?;
            let at = now();
            store::give_feedback(
                tx,
                id,
                &unit,
                &Written {
                    measures: &measures,
                    result: &result,
                    responsible: &responsible,
                },
                at,
            )
            .await?;
            clock::stop(tx, &clock_id(&report, &unit, rec.round), at).await?;
            let late = at > rec.feedback_due;
            let detail = if late { "late" } else { "in time" };
            step(
                tx,
                &report,
                "feedback_submitted",
                Some(&unit),
                detail.into(),
                at,
            )
            .await?;
            audit::append(
                tx,
                &entry(
                    &who,
                    "report.feedback_submitted",
                    &report,
                    format!("unit={unit} round={} late={late}", rec.round),
                ),
            )
            .await?;
            Ok(pb::SubmitReportFeedbackResponse {
                report: Some(reply(tx, &report).await?),
            })
        })
        .await
}

/// DecideReportFeedback: accepted (the report closes when all are), or
/// sent back with a new date and a new clock.
pub async fn decide_feedback(
    app: &Workflows,
    who: Identity,
    r: pb::DecideReportFeedbackRequest,
) -> Result<pb::DecideReportFeedbackResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ReportId>("report_id", &r.report_id);
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let at = now();
    let (note, new_due) = if r.accept {
        (f.optional_text("note", &r.note, rules::MAX_NOTE), None)
    } else {
        (
            f.text("note", &r.note, rules::MAX_NOTE),
            rules::due_field(&mut f, "new_feedback_due", r.new_feedback_due.as_ref(), at),
        )
    };
    f.finish()?;
    let (id, unit) = (id.expect("checked"), unit.expect("checked"));
    let policy = app.policy.clone();
    app.keys
        .once(&who, &r, async |tx| {
            let mut report = locked(tx, id).await?;
            let rec = store::lock_recipient(tx, id, &unit).await?.ok_or_else(|| {
                ApiError::not_found(format!("special report {id} is not issued to unit {unit}"))
            })?;
            rules::may_decide_feedback(id, &unit, rec.state()?)?;
            let rec = store::decide_feedback(tx, id, &unit, &note, new_due, at).await?;
            if r.accept {
                let states = feedback_states(tx, id).await?;
                audit::append(
                    tx,
                    &entry(
                        &who,
                        "report.feedback_accepted",
                        &report,
                        format!("unit={unit}"),
                    ),
                )
                .await?;
                step(
                    tx,
                    &report,
                    "feedback_accepted",
                    Some(&unit),
                    note.clone(),
                    at,
                )
                .await?;
                if rules::closes(&states) {
                    report = store::set_state(tx, id, ReportState::Closed, at, None).await?;
                    step(tx, &report, "closed", None, String::new(), at).await?;
                    audit::append(tx, &entry(&who, "report.closed", &report, String::new()))
                        .await?;
                }
            } else {
                start_clock(tx, &policy, &report, &rec, at).await?;
                call(tx, &report, &rec, "feedback_sent_back", note.clone(), at).await?;
                let detail = format!("{note} (feedback due {})", rec.feedback_due.to_rfc3339());
                step(tx, &report, "feedback_sent_back", Some(&unit), detail, at).await?;
                audit::append(
                    tx,
                    &entry(
                        &who,
                        "report.feedback_sent_back",
                        &report,
                        format!(
                            "unit={unit} round={} feedback_due={}",
                            rec.round,
                            rec.feedback_due.to_rfc3339()
                        ),
                    ),
                )
                .await?;
            }
            Ok(pb::DecideReportFeedbackResponse {
                report: Some(reply(tx, &report).await?),
            })
        })
        .await
}

/// Whether the caller may read this report: the centre any, a unit only
/// one issued to it.
fn may_read(who: &Identity, r: &Report, recipients: &[Recipient]) -> Result<bool, ApiError> {
    match who.unit_scope() {
        None => Ok(true),
        Some(own) => {
            Ok(r.state()?.issued() && recipients.iter().any(|x| x.unit_id.as_str() == own))
        }
    }
}

/// GetSpecialReport.
pub async fn get(
    app: &Workflows,
    who: Identity,
    r: pb::GetSpecialReportRequest,
) -> Result<pb::GetSpecialReportResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ReportId>("report_id", &r.report_id);
    f.finish()?;
    let id = id.expect("checked");
    let report = store::get(&app.pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let recipients = store::recipients(&app.pool, &[id]).await?;
    if !may_read(&who, &report, &recipients)? {
        return Err(not_found(id));
    }
    Ok(pb::GetSpecialReportResponse {
        report: Some(report.to_proto(&recipients)?),
    })
}

/// ListSpecialReports: newest first; units only the reports issued to
/// them.
pub async fn list(
    app: &Workflows,
    who: Identity,
    r: pb::ListSpecialReportsRequest,
) -> Result<pb::ListSpecialReportsResponse, ApiError> {
    let mut f = Fields::new();
    let state = ReportState::filter_field(&mut f, "state", r.state);
    let unit = f.optional_id::<UnitId>("unit_id", &r.unit_id);
    let ticket = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[&r.state.to_string(), r.unit_id.trim(), r.ticket_no.trim()],
    );
    f.finish()?;
    let unit = visible_unit(&who, unit)?;
    let issued_only = who.unit_scope().is_some();
    if issued_only && state.is_some_and(|s| !s.issued()) {
        return Ok(pb::ListSpecialReportsResponse::default());
    }
    let filters = Filters {
        unit: unit.as_ref(),
        state,
        ticket: ticket.as_ref().map(|t| t.as_str()),
        issued_only,
    };
    let mut rows = store::list(&app.pool, &filters, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |x| {
        Cursor::new(x.drafted_at, x.report_id.to_string())
    });
    let ids: Vec<ReportId> = rows.iter().map(|x| x.report_id).collect();
    let recipients = store::recipients(&app.pool, &ids).await?;
    Ok(pb::ListSpecialReportsResponse {
        reports: rows
            .iter()
            .map(|x| x.to_proto(&recipients))
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}
