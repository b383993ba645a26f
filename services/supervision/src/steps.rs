//! The steps of supervision's own workflows that reach units (a special
//! report issued, its written feedback; a shirking case opened, closed),
//! published as `workflow_step` lifecycle facts, one per ticket concerned,
//! in the transaction of the step: intake shows them on each ticket's
//! timeline.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::events;
use hotline_common::outbox::Tx;
use hotline_common::time::to_proto;
use hotline_proto::events::v1::{Source, Workflow, WorkflowStep, lifecycle_event::Fact};

/// One step, for each of its tickets.
pub struct Step<'a> {
    pub workflow: Workflow,
    pub ref_id: String,
    pub step: &'static str,
    /// Empty when the step concerns every unit of the record.
    pub unit_id: &'a str,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Records the step's fact for each ticket.
pub async fn publish(tx: &mut Tx, tickets: &[String], s: Step<'_>) -> Result<(), ApiError> {
    for t in tickets {
        let fact = Fact::WorkflowStep(WorkflowStep {
            workflow: s.workflow as i32,
            ref_id: s.ref_id.clone(),
            step: s.step.to_string(),
            unit_id: s.unit_id.to_string(),
            detail: s.detail.clone(),
            at: Some(to_proto(s.at)),
        });
        events::record_fact(tx, Source::Supervision, t, s.at, fact).await?;
    }
    Ok(())
}
