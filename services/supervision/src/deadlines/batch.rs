//! One batch of checked deadline events, from RabbitMQ or from the park:
//! ask the owners, decide, record, all or nothing.

use std::time::Instant;

use hotline_common::ApiError;

use super::model::Event;
use super::owners::Owners;
use super::rules;
use super::store::Store;

/// What a batch came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Handled {
    pub urges: u64,
    pub cases: u64,
    /// Events parked because their clock owner could not be asked.
    pub parked: usize,
}

/// Decides and records a batch in one transaction. Events whose clock
/// owner cannot be asked are parked in that transaction, so that one
/// owner's outage holds up no one else's events; `from_parked` events come
/// from the park and leave it once decided. A database failure is returned
/// so that the caller can retry the same batch.
pub async fn handle(
    store: &Store,
    owners: &Owners,
    events: &[Event],
    from_parked: bool,
) -> Result<Handled, ApiError> {
    let started = Instant::now();
    let answers = owners.check_all(rules::clocks_to_check(events)).await;
    let checked = started.elapsed();
    // The time of the decisions: after the owners answered.
    let now = hotline_common::time::now();
    let actions = rules::plan(events, &answers.clocks, &answers.down, now, from_parked);
    for (e, why) in &actions.ignored {
        tracing::debug!(event_id = %e.id, reason = why, "deadline event ignored");
    }
    let (urges, cases) = store.record(&actions, now).await?;
    tracing::debug!(
        events = events.len(),
        parked = actions.park.len(),
        check_ms = checked.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "deadline batch handled"
    );
    Ok(Handled {
        urges,
        cases,
        parked: actions.park.len(),
    })
}
