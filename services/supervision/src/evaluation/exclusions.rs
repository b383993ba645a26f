//! Exclusions (不合理诉求, 无效诉求, …): a supervisor proposes to take a
//! ticket out of a unit's rates with a reason code of the policy; a leader
//! approves or rejects it; a leader may reverse an approved one. The
//! ticket is refolded in the decision's transaction, so its facts and the
//! unit's counters change with it; the facts stay on record, marked.
//! Every step is on the audit trail, and who decided is recorded.

use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;

use super::store::decisions::{self, Exclusion, ExclusionState, NewExclusion};
use super::store::{self};
use super::{Eval, MAX_NOTE, known_unit, optional_unit, unit_for};
use crate::ids::ExclusionId;

/// A reason code of the policy, or the problem noted.
pub fn reason_field(eval: &Eval, f: &mut Fields, field: &str, raw: &str) -> String {
    let code = raw.trim();
    let e = eval.evaluation();
    if code.is_empty() {
        f.add(field, "required");
    } else if !e.is_exclusion_reason(code) {
        let shown: String = code.chars().take(64).collect();
        f.add(
            field,
            format!("{shown:?} is not one of {}", e.exclusion_reasons.join(", ")),
        );
    }
    code.to_string()
}

/// A ticket the unit has facts of, or NOT_FOUND.
pub async fn check_counted(
    tx: &mut hotline_common::outbox::Tx,
    ticket: &str,
    unit: &str,
) -> Result<(), ApiError> {
    if store::has_facts(tx, ticket, unit).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "ticket {ticket} counts in no rate of unit {unit}"
        )))
    }
}

/// ExcludeTicket: a proposal, waiting for a leader.
pub async fn exclude(
    eval: &Eval,
    who: Identity,
    r: pb::ExcludeTicketRequest,
) -> Result<pb::ExcludeTicketResponse, ApiError> {
    let mut f = Fields::new();
    let ticket = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let reason = reason_field(eval, &mut f, "reason_code", &r.reason_code);
    let note = f.text("note", &r.note, MAX_NOTE);
    f.finish()?;
    let (ticket, unit) = (ticket.expect("checked"), unit.expect("checked"));
    known_unit(&eval.pool, "unit_id", &unit).await?;
    eval.keys
        .once(&who, &r, async |tx| {
            check_counted(tx, ticket.as_str(), unit.as_str()).await?;
            let at = now();
            let x = decisions::insert_exclusion(
                tx,
                &NewExclusion {
                    ticket_no: ticket.as_str(),
                    unit_id: unit.as_str(),
                    reason_code: &reason,
                    note: &note,
                    by: &who.subject,
                    at,
                    approved_by_appeal: None,
                },
            )
            .await?;
            let detail = format!(
                "exclusion={} unit={} reason={}",
                x.exclusion_id, unit, reason
            );
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "evaluation.exclusion_proposed",
                    ticket.as_str(),
                    detail,
                )],
            )
            .await?;
            Ok(pb::ExcludeTicketResponse {
                exclusion: Some(x.to_proto()),
            })
        })
        .await
}

fn state_error(x: &Exclusion, reason: Reason, what: &str) -> ApiError {
    ApiError::precondition(
        reason,
        format!("exclusion {} is {}: {what}", x.exclusion_id, x.state),
    )
    .with("exclusion_id", x.exclusion_id)
    .with("state", &x.state)
}

async fn locked(
    tx: &mut hotline_common::outbox::Tx,
    id: ExclusionId,
) -> Result<Exclusion, ApiError> {
    decisions::lock_exclusion(tx, id.uuid())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no exclusion {id}")))
}

/// DecideExclusion: a leader approves (the ticket leaves the rates) or
/// rejects a proposal.
pub async fn decide(
    eval: &Eval,
    who: Identity,
    r: pb::DecideExclusionRequest,
) -> Result<pb::DecideExclusionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ExclusionId>("exclusion_id", &r.exclusion_id);
    let note = f.optional_text("note", &r.note, MAX_NOTE);
    f.finish()?;
    let id = id.expect("checked");
    let policy = eval.evaluation().clone();
    eval.keys
        .once(&who, &r, async |tx| {
            let x = locked(tx, id).await?;
            if x.state()? != ExclusionState::Proposed {
                return Err(state_error(
                    &x,
                    Reason::ExclusionAlreadyDecided,
                    "decided already",
                ));
            }
            let state = if r.approve {
                ExclusionState::Approved
            } else {
                ExclusionState::Rejected
            };
            let x =
                decisions::decide_exclusion(tx, x.exclusion_id, state, &who.subject, &note, now())
                    .await?;
            if state == ExclusionState::Approved {
                store::refresh(tx, &policy, &x.ticket_no).await?;
            }
            let action = if r.approve {
                "evaluation.exclusion_approved"
            } else {
                "evaluation.exclusion_rejected"
            };
            let detail = format!("exclusion={} unit={}", x.exclusion_id, x.unit_id);
            audit::append(tx, &[Entry::by(&who, action, &x.ticket_no, detail)]).await?;
            Ok(pb::DecideExclusionResponse {
                exclusion: Some(x.to_proto()),
            })
        })
        .await
}

/// ReverseExclusion: the ticket counts again; the exclusion stays on
/// record, reversed.
pub async fn reverse(
    eval: &Eval,
    who: Identity,
    r: pb::ReverseExclusionRequest,
) -> Result<pb::ReverseExclusionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<ExclusionId>("exclusion_id", &r.exclusion_id);
    let note = f.text("note", &r.note, MAX_NOTE);
    f.finish()?;
    let id = id.expect("checked");
    let policy = eval.evaluation().clone();
    eval.keys
        .once(&who, &r, async |tx| {
            let x = locked(tx, id).await?;
            match x.state()? {
                ExclusionState::Approved => {}
                ExclusionState::Reversed => {
                    return Err(state_error(
                        &x,
                        Reason::ExclusionAlreadyReversed,
                        "reversed already",
                    ));
                }
                _ => {
                    return Err(state_error(
                        &x,
                        Reason::ExclusionNotApproved,
                        "never approved",
                    ));
                }
            }
            let x = decisions::reverse_exclusion(tx, x.exclusion_id, &who.subject, &note, now())
                .await?;
            store::refresh(tx, &policy, &x.ticket_no).await?;
            let detail = format!("exclusion={} unit={}", x.exclusion_id, x.unit_id);
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "evaluation.exclusion_reversed",
                    &x.ticket_no,
                    detail,
                )],
            )
            .await?;
            Ok(pb::ReverseExclusionResponse {
                exclusion: Some(x.to_proto()),
            })
        })
        .await
}

/// ListExclusions: newest first; unit staff their own unit's.
pub async fn list(
    eval: &Eval,
    who: Identity,
    r: pb::ListExclusionsRequest,
) -> Result<pb::ListExclusionsResponse, ApiError> {
    let mut f = Fields::new();
    let unit = optional_unit(&mut f, "unit_id", &r.unit_id);
    let ticket = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let state = match pb::ExclusionState::try_from(r.state) {
        Ok(pb::ExclusionState::Unspecified) => None,
        Ok(s) => ExclusionState::from_proto(s),
        Err(_) => {
            f.add("state", format!("unknown exclusion state {}", r.state));
            None
        }
    };
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[r.unit_id.trim(), r.ticket_no.trim(), &r.state.to_string()],
    );
    f.finish()?;
    let unit = unit_for(&who, unit)?;
    let mut rows = decisions::list_exclusions(
        &eval.pool,
        unit.as_ref().map(|u| u.as_str()),
        ticket.as_ref().map(|t| t.as_str()),
        state,
        page.after.as_ref(),
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |x| {
        Cursor::new(x.proposed_at, x.exclusion_id.to_string())
    });
    Ok(pb::ListExclusionsResponse {
        exclusions: rows.iter().map(Exclusion::to_proto).collect(),
        next_page_token,
    })
}
