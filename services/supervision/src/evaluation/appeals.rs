//! Units' appeals (申诉) against tickets counted in their evaluation: a
//! unit appeals a ticket it has facts of; a supervisor decides. Upheld:
//! an exclusion is made, approved at once by the deciding supervisor and
//! linked to the appeal (the ticket is refolded in the decision's
//! transaction); rejected: the ticket stays counted.

use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;

use super::exclusions::{check_counted, reason_field};
use super::store::decisions::{self, Appeal, AppealState, NewExclusion};
use super::store::{self};
use super::{Eval, MAX_NOTE, known_unit, optional_unit, period_field, unit_for};
use crate::ids::EvalAppealId;

/// AppealEvaluation, by the unit itself.
pub async fn appeal(
    eval: &Eval,
    who: Identity,
    r: pb::AppealEvaluationRequest,
) -> Result<pb::AppealEvaluationResponse, ApiError> {
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let ticket = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let period = period_field(&mut f, "period", &r.period);
    let reason = f.text("reason", &r.reason, MAX_NOTE);
    f.finish()?;
    let _ = period.expect("checked");
    let unit = unit_for(&who, unit)?.expect("a required unit");
    let ticket = ticket.expect("checked");
    known_unit(&eval.pool, "unit_id", &unit).await?;
    eval.keys
        .once(&who, &r, async |tx| {
            check_counted(tx, ticket.as_str(), unit.as_str()).await?;
            if let Some(x) = decisions::live_exclusion(tx, ticket.as_str(), unit.as_str()).await? {
                return Err(ApiError::already_exists(
                    Reason::TicketAlreadyExcluded,
                    format!(
                        "ticket {ticket} is excluded for unit {unit} already ({})",
                        x.state
                    ),
                )
                .with("exclusion_id", x.exclusion_id)
                .with("state", &x.state));
            }
            let a = decisions::insert_appeal(
                tx,
                unit.as_str(),
                ticket.as_str(),
                r.period.trim(),
                &reason,
                &who.subject,
                now(),
            )
            .await?;
            let detail = format!("appeal={} unit={} period={}", a.appeal_id, unit, a.period);
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "evaluation.appealed",
                    ticket.as_str(),
                    detail,
                )],
            )
            .await?;
            Ok(pb::AppealEvaluationResponse {
                appeal: Some(a.to_proto()),
            })
        })
        .await
}

/// DecideEvaluationAppeal, by a supervisor.
pub async fn decide(
    eval: &Eval,
    who: Identity,
    r: pb::DecideEvaluationAppealRequest,
) -> Result<pb::DecideEvaluationAppealResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<EvalAppealId>("appeal_id", &r.appeal_id);
    let code = if r.upheld {
        reason_field(eval, &mut f, "reason_code", &r.reason_code)
    } else {
        f.optional_code("reason_code", &r.reason_code, 64)
    };
    let note = f.optional_text("note", &r.note, MAX_NOTE);
    f.finish()?;
    let id = id.expect("checked");
    let policy = eval.evaluation().clone();
    eval.keys
        .once(&who, &r, async |tx| {
            let a = decisions::lock_appeal(tx, id.uuid())
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no appeal {id}")))?;
            if a.state()? != AppealState::Pending {
                return Err(ApiError::precondition(
                    Reason::AppealAlreadyDecided,
                    format!("appeal {} is {} already", a.appeal_id, a.state),
                )
                .with("appeal_id", a.appeal_id)
                .with("state", &a.state));
            }
            let at = now();
            let exclusion = if r.upheld {
                let x = decisions::insert_exclusion(
                    tx,
                    &NewExclusion {
                        ticket_no: &a.ticket_no,
                        unit_id: &a.unit_id,
                        reason_code: &code,
                        note: &note,
                        by: &who.subject,
                        at,
                        approved_by_appeal: Some(a.appeal_id),
                    },
                )
                .await?;
                store::refresh(tx, &policy, &a.ticket_no).await?;
                Some(x)
            } else {
                None
            };
            let state = if r.upheld {
                AppealState::Upheld
            } else {
                AppealState::Rejected
            };
            let a = decisions::decide_appeal(
                tx,
                a.appeal_id,
                state,
                &who.subject,
                &note,
                exclusion.as_ref().map(|x| x.exclusion_id),
                at,
            )
            .await?;
            let detail = format!(
                "appeal={} unit={} decision={}{}",
                a.appeal_id,
                a.unit_id,
                state.as_sql(),
                exclusion
                    .as_ref()
                    .map_or(String::new(), |x| format!(" exclusion={}", x.exclusion_id))
            );
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "evaluation.appeal_decided",
                    &a.ticket_no,
                    detail,
                )],
            )
            .await?;
            Ok(pb::DecideEvaluationAppealResponse {
                appeal: Some(a.to_proto()),
                exclusion: exclusion.map(|x| x.to_proto()),
            })
        })
        .await
}

/// ListEvaluationAppeals: newest first; unit staff their own unit's.
pub async fn list(
    eval: &Eval,
    who: Identity,
    r: pb::ListEvaluationAppealsRequest,
) -> Result<pb::ListEvaluationAppealsResponse, ApiError> {
    let mut f = Fields::new();
    let unit = optional_unit(&mut f, "unit_id", &r.unit_id);
    let state = match pb::EvaluationAppealState::try_from(r.state) {
        Ok(pb::EvaluationAppealState::Unspecified) => None,
        Ok(s) => AppealState::from_proto(s),
        Err(_) => {
            f.add("state", format!("unknown appeal state {}", r.state));
            None
        }
    };
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[r.unit_id.trim(), &r.state.to_string()],
    );
    f.finish()?;
    let unit = unit_for(&who, unit)?;
    let mut rows = decisions::list_appeals(
        &eval.pool,
        unit.as_ref().map(|u| u.as_str()),
        state,
        page.after.as_ref(),
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |a| {
        Cursor::new(a.appealed_at, a.appeal_id.to_string())
    });
    Ok(pb::ListEvaluationAppealsResponse {
        appeals: rows.iter().map(Appeal::to_proto).collect(),
        next_page_token,
    })
}
