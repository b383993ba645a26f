//! Feedback (反馈): the lead unit's one answer to the requester, and the
//! parts co-units (协办单位) submit to it first.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{AssignmentId, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::{
    SubmitFeedbackRequest, SubmitFeedbackResponse, SubmitPartRequest, SubmitPartResponse,
};

use crate::assignments;
use crate::assignments::rules::{Action, transition};
use crate::context::Ctx;
use crate::lifecycle;
use crate::scope::{self, By, hold};
use store::Answer;

/// The lead unit answers, once, after sign-off and every co-unit's part.
pub async fn submit_feedback(
    ctx: &Ctx,
    who: Identity,
    r: SubmitFeedbackRequest,
) -> Result<SubmitFeedbackResponse, ApiError> {
    ctx.keys
        .once(&who, &r, async |tx| {
            let a = answer(
                tx,
                &who,
                (&r.assignment_id, &r.unit_id),
                Action::Feedback,
                r.feedback.as_ref().map(Answer::Feedback),
            )
            .await?;
            Ok(SubmitFeedbackResponse {
                assignment: Some(a),
            })
        })
        .await
}

/// A co-unit submits its part to the lead unit, once, after sign-off.
pub async fn submit_part(
    ctx: &Ctx,
    who: Identity,
    r: SubmitPartRequest,
) -> Result<SubmitPartResponse, ApiError> {
    ctx.keys
        .once(&who, &r, async |tx| {
            let a = answer(
                tx,
                &who,
                (&r.assignment_id, &r.unit_id),
                Action::SubmitPart,
                Some(Answer::Part(&r.part)),
            )
            .await?;
            Ok(SubmitPartResponse {
                assignment: Some(a),
            })
        })
        .await
}

/// Checks the answer, holds the assignment of the hop in force, moves it
/// to fed back and stops its feedback clock, in the caller's transaction.
/// Returns it as the contract writes it, with its ticket's status after
/// the answer.
async fn answer(
    tx: &mut Tx,
    who: &Identity,
    (raw_id, raw_unit): (&str, &str),
    action: Action,
    answer: Option<Answer<'_>>,
) -> Result<pb::Assignment, ApiError> {
    scope::acting(who, raw_unit, raw_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", raw_unit);
    let id = f.id::<AssignmentId>("assignment_id", raw_id);
    if let Some(Answer::Part(p)) = answer {
        f.text("part", p, rules::MAX_FEEDBACK_TEXT);
    }
    f.finish()?;
    let (unit, id) = (unit.expect("checked"), id.expect("checked"));
    let feedback = match answer {
        Some(Answer::Feedback(fb)) => Some(fb),
        _ => None,
    };
    if action == Action::Feedback {
        rules::check_feedback(feedback)?;
    }
    let answer = answer.ok_or_else(|| ApiError::invalid("feedback", "required"))?;
    let held = hold(tx, id, By::Unit(&unit)).await?;
    let at = now();
    if let Some(fb) = feedback {
        rules::check_measures_due(fb, held.assignment.accepted_at(), at)?;
    }
    let a = &held.assignment;
    transition(a.state, action)?;
    let missing = if a.lead() && action == Action::Feedback {
        store::parts_missing(tx, &a.ticket_no, a.hop).await?
    } else {
        Vec::new()
    };
    rules::check_role(a.lead(), action, &missing)?;
    let updated = store::mark_answered(tx, id, at, answer).await?;
    if let Answer::Part(_) = answer {
        crate::watch::store::part_submitted(tx, &updated).await?;
    }
    let fact = match answer {
        Answer::Feedback(fb) => lifecycle::answered(&updated, at, fb.outcome),
        Answer::Part(_) => lifecycle::part_submitted(&updated, at),
    };
    lifecycle::record(tx, updated.ticket_no.as_str(), at, fact).await?;
    let (name, detail) = match answer {
        Answer::Feedback(fb) => (
            "assignment.fed_back",
            format!("assignment={id} outcome={}", fb.outcome),
        ),
        Answer::Part(_) => ("assignment.part_submitted", format!("assignment={id} part")),
    };
    let entry = Entry::by(who, name, &updated.ticket_no, detail);
    audit::append(tx, &[entry]).await?;
    let shown = assignments::proto(tx, &updated).await?;
    tracing::info!(
        assignment_id = %id,
        ticket_no = %updated.ticket_no,
        unit_id = %unit,
        hop = updated.hop,
        state = updated.state.as_sql(),
        "assignment answered"
    );
    Ok(shown)
}
