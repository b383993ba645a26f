//! Supervision's workflow steps on a ticket (a special report issued, its
//! written feedback, a shirking case): consumed from its `workflow_step`
//! facts (own queue, each event once) into `workflow_steps`, read by
//! GetTimeline.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::events::consume;
use hotline_common::outbox::Tx;
use hotline_common::time::from_proto;
use hotline_proto::events::v1::{LifecycleEvent, Workflow, lifecycle_event::Fact};
use sqlx::PgPool;

/// The consumer's name (its rows in `consumed_events`) and queue.
pub const CONSUMER: &str = "intake-timeline";
pub const QUEUE: &str = "hotline.intake.timeline";

/// The longest detail kept, in characters.
const MAX_DETAIL: usize = 2000;

pub fn subscription() -> consume::Subscription {
    consume::Subscription {
        consumer: CONSUMER.into(),
        queue: QUEUE.into(),
        bindings: vec![(
            "hotline.supervision.events".into(),
            "supervision.workflow_step".into(),
        )],
        prefetch: 32,
    }
}

/// One step, as kept.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub workflow: String,
    pub ref_id: String,
    pub step: String,
    pub unit_id: String,
    pub detail: String,
}

/// The workflow as the timeline names it.
pub fn workflow_name(w: i32) -> &'static str {
    match Workflow::try_from(w) {
        Ok(Workflow::SpecialReport) => "special_report",
        Ok(Workflow::ShirkingCase) => "shirking_case",
        Ok(Workflow::OnSiteDivision) => "on_site_division",
        Ok(Workflow::Notice) => "notice",
        Ok(Workflow::Meeting) => "meeting",
        Ok(Workflow::Unspecified) | Err(_) => "supervision",
    }
}

pub fn handler() -> consume::Handler {
    Arc::new(|tx, e| Box::pin(on_event(tx, e)))
}

async fn on_event(tx: &mut Tx, e: &LifecycleEvent) -> Result<(), ApiError> {
    let Some(Fact::WorkflowStep(s)) = &e.fact else {
        return Ok(());
    };
    let at = match s.at.as_ref() {
        Some(t) => from_proto(t, "at")?,
        None => return Err(ApiError::invalid("at", "missing")),
    };
    let detail: String = s.detail.chars().take(MAX_DETAIL).collect();
    sqlx::query(
        "INSERT INTO workflow_steps (ticket_no, at, workflow, ref_id, step, unit_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.ticket_no)
    .bind(at)
    .bind(workflow_name(s.workflow))
    .bind(&s.ref_id)
    .bind(&s.step)
    .bind(&s.unit_id)
    .bind(&detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A ticket's steps, oldest first (those of one moment in the order they
/// were published).
pub async fn of_ticket(pool: &PgPool, ticket_no: &str) -> Result<Vec<Step>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT at, workflow, ref_id, step, unit_id, detail FROM workflow_steps \
         WHERE ticket_no = $1 ORDER BY at, seq",
    )
    .bind(ticket_no)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workflow_has_its_name() {
        for w in [
            Workflow::SpecialReport,
            Workflow::ShirkingCase,
            Workflow::OnSiteDivision,
            Workflow::Notice,
            Workflow::Meeting,
        ] {
            assert_ne!(workflow_name(w as i32), "supervision", "{w:?}");
        }
        assert_eq!(workflow_name(99), "supervision");
    }
}
