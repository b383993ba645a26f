//! The steps of supervision's own workflows that reach units (a special
//! report issued, its written feedback; a shirking case opened, closed; …),
//! published as `workflow_step` lifecycle facts, one per ticket concerned,
//! in the transaction of the step: intake shows them on each ticket's
//! timeline. Those that call on a unit also go to supervision's feed
//! ([`call`]), which undertaking carries into the unit's WatchUnitEvents.

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

/// A call on one unit.
pub struct Call<'a> {
    pub workflow: &'static str,
    pub ref_id: String,
    pub step: &'static str,
    pub ticket_no: &'a str,
    pub unit_id: &'a str,
    pub due: Option<DateTime<Utc>>,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Puts the call on supervision's feed, for the unit's stream, in the
/// step's transaction.
pub async fn call(tx: &mut Tx, c: Call<'_>) -> Result<(), ApiError> {
    use hotline_proto::supervision::v1::{FeedEvent, WorkflowCall, feed_event};
    use prost::Message;
    let event = FeedEvent {
        event: Some(feed_event::Event::WorkflowCall(WorkflowCall {
            workflow: c.workflow.into(),
            ref_id: c.ref_id,
            step: c.step.into(),
            ticket_no: c.ticket_no.into(),
            unit_id: c.unit_id.into(),
            due: c.due.map(to_proto),
            detail: c.detail,
            at: Some(to_proto(c.at)),
        })),
        ..Default::default()
    };
    hotline_common::feed::append(tx, c.unit_id, c.ticket_no, &event.encode_to_vec(), None).await?;
    Ok(())
}
