//! How the load driver's units learn of their new assignments: by polling
//! their inboxes (`ListAssignments` pending sign-off, every 20 ms and at
//! once again while pages bring new ones), or as an integrating unit system
//! would, by watching their event streams (`WatchUnitEvents`, resumed from
//! the last cursor after a broken stream). Either way the assignments land
//! in one [`Inbox`], where each ticket's lifecycle waits for its own.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentState, ListAssignmentsRequest, WatchUnitEventsRequest,
    watch_unit_events_response::Event,
};
use tokio::sync::Notify;
use tonic::{Code, Status};

use crate::Authed;
use crate::load::Stats;

/// How the units learn of their new assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Each unit polls its inbox.
    Poll,
    /// Each unit watches its event stream.
    Watch,
}

/// Assignments found in the units' inboxes, waiting for their tickets'
/// lifecycles to take them.
#[derive(Default)]
pub(crate) struct Inbox {
    slots: Mutex<HashMap<String, Slot>>,
    seen: Mutex<HashSet<String>>,
}

#[derive(Default)]
struct Slot {
    found: Vec<Assignment>,
    wake: Arc<Notify>,
}

impl Inbox {
    fn deliver(&self, a: Assignment) -> bool {
        if !self
            .seen
            .lock()
            .expect("seen")
            .insert(a.assignment_id.clone())
        {
            return false;
        }
        let mut slots = self.slots.lock().expect("slots");
        let slot = slots.entry(a.ticket_no.clone()).or_default();
        slot.found.push(a);
        slot.wake.notify_one();
        true
    }

    /// Waits until `count` assignments of the ticket were found.
    pub(crate) async fn take(
        &self,
        ticket_no: &str,
        count: usize,
        patience: Duration,
    ) -> Option<Vec<Assignment>> {
        let give_up = Instant::now() + patience;
        loop {
            let wake = {
                let mut slots = self.slots.lock().expect("slots");
                let slot = slots.entry(ticket_no.to_string()).or_default();
                if slot.found.len() >= count {
                    return slots.remove(ticket_no).map(|s| s.found);
                }
                slot.wake.clone()
            };
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.slots.lock().expect("slots").remove(ticket_no);
                return None;
            }
            let _ = tokio::time::timeout(left, wake.notified()).await;
        }
    }
}

/// One unit's feeder: fills the inbox with the unit's new assignments.
pub(crate) struct Feeder {
    pub(crate) unit: &'static str,
    pub(crate) client: UndertakingServiceClient<Authed>,
    pub(crate) inbox: Arc<Inbox>,
    pub(crate) stats: Arc<Stats>,
    /// How often an inbox is polled; a tenth as often after a failure.
    pub(crate) every: Duration,
}

impl Feeder {
    /// Polls the unit's assignments pending sign-off, page by page; again
    /// at once while it finds new ones.
    pub(crate) async fn poll(self) {
        loop {
            let fresh = self.poll_once().await;
            if fresh == Some(0) {
                tokio::time::sleep(self.every).await;
            } else if fresh.is_none() {
                // Undertaking down or refusing: do not hammer it.
                tokio::time::sleep(self.every * 10).await;
            }
        }
    }

    /// One pass over the pending pages: how many were new, `None` when a
    /// call failed.
    async fn poll_once(&self) -> Option<usize> {
        let mut token = String::new();
        let mut fresh = 0;
        loop {
            let started = Instant::now();
            let r = self
                .client
                .clone()
                .list_assignments(ListAssignmentsRequest {
                    unit_id: self.unit.to_string(),
                    state: AssignmentState::PendingSign as i32,
                    page_size: 500,
                    page_token: token.clone(),
                })
                .await;
            let code = r.as_ref().map_or_else(Status::code, |_| Code::Ok);
            self.stats.call("ListAssignments", started.elapsed(), code);
            let page = r.ok()?.into_inner();
            fresh += page
                .assignments
                .into_iter()
                .filter(|a| self.inbox.deliver(a.clone()))
                .count();
            if page.next_page_token.is_empty() {
                return Some(fresh);
            }
            token = page.next_page_token;
        }
    }

    /// Watches the unit's stream from the start of the run, resuming from
    /// the last cursor after a broken stream. A cursor the feed's
    /// retention passed (FAILED_PRECONDITION) is dropped: the inbox is
    /// polled once and the watch starts afresh.
    pub(crate) async fn watch(self) {
        let mut cursor = String::new();
        loop {
            let started = Instant::now();
            let opened = self
                .client
                .clone()
                .watch_unit_events(WatchUnitEventsRequest {
                    unit_id: self.unit.to_string(),
                    after_cursor: cursor.clone(),
                })
                .await;
            let code = opened.as_ref().map_or_else(Status::code, |_| Code::Ok);
            self.stats.call("WatchUnitEvents", started.elapsed(), code);
            let mut stream = match opened {
                Ok(r) => r.into_inner(),
                Err(e) => {
                    if e.code() == Code::FailedPrecondition {
                        cursor.clear();
                        self.poll_once().await;
                    }
                    tokio::time::sleep(self.every * 10).await;
                    continue;
                }
            };
            if cursor.is_empty() {
                // Assignments made before the first heartbeat's "now".
                self.poll_once().await;
            }
            while let Some(Ok(m)) = stream.next().await {
                if !m.cursor.is_empty() {
                    cursor = m.cursor.clone();
                }
                if let Some(Event::AssignmentCreated(a)) = m.event {
                    self.inbox.deliver(a);
                }
            }
            tokio::time::sleep(self.every).await;
        }
    }
}
