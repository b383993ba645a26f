//! What a watcher sends and when it looks again. Pure: no IO.

use std::time::Duration;

use hotline_common::ApiError;
use hotline_common::feed::{FeedEvent, Position};
use hotline_common::time::to_proto;
use hotline_proto::undertaking::v1::watch_unit_events_response::Event;
use hotline_proto::undertaking::v1::{UnitHeartbeat, WatchUnitEventsResponse};
use prost::Message;

/// The field a resume cursor comes in.
pub use hotline_common::feed::CURSOR_FIELD;

/// The message of a feed row: the stored event, with its cursor (of the
/// watched unit), time and ticket.
pub fn response(unit: &str, e: &FeedEvent) -> Result<WatchUnitEventsResponse, ApiError> {
    let mut msg = WatchUnitEventsResponse::decode(e.event.as_slice())
        .map_err(|err| ApiError::internal(format!("stored unit event: {err}")))?;
    msg.cursor = e.position.cursor(unit);
    msg.occurred_at = Some(to_proto(e.recorded_at));
    msg.ticket_no = e.ticket_no.clone();
    Ok(msg)
}

/// A heartbeat at `position`.
pub fn heartbeat(unit: &str, position: Position) -> WatchUnitEventsResponse {
    WatchUnitEventsResponse {
        cursor: position.cursor(unit),
        event: Some(Event::Heartbeat(UnitHeartbeat {})),
        ..Default::default()
    }
}

/// How long a watcher waits before it looks again unwoken. Rows committed
/// but held back behind an older running transaction are looked for
/// soon, backing off (10 ms, doubling) up to the poll interval; otherwise
/// the poll interval, a fallback for a lost notification.
pub fn next_look(pending: bool, tries: u32, poll: Duration) -> Duration {
    if pending {
        (Duration::from_millis(10) * 2u32.saturating_pow(tries.min(16))).min(poll)
    } else {
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::feed::Position;

    #[test]
    fn held_back_rows_are_looked_for_soon_then_less_often() {
        let poll = Duration::from_secs(1);
        assert_eq!(next_look(true, 0, poll), Duration::from_millis(10));
        assert_eq!(next_look(true, 3, poll), Duration::from_millis(80));
        assert_eq!(next_look(true, 30, poll), poll);
        assert_eq!(next_look(false, 0, poll), poll);
    }

    #[test]
    fn a_stored_event_comes_back_with_its_cursor_time_and_ticket() {
        let stored = WatchUnitEventsResponse {
            event: Some(Event::Heartbeat(UnitHeartbeat {})),
            ..Default::default()
        };
        let e = FeedEvent {
            position: Position { xid: 9, id: 4 },
            unit_id: "U1".into(),
            ticket_no: "BJ000000000001".into(),
            recorded_at: chrono::Utc::now(),
            event: stored.encode_to_vec(),
        };
        let msg = response("U1", &e).unwrap();
        assert_eq!(
            Position::parse(CURSOR_FIELD, &msg.cursor, "U1").unwrap(),
            e.position
        );
        assert_eq!(msg.ticket_no, "BJ000000000001");
        assert!(msg.occurred_at.is_some());
        let bad = FeedEvent {
            event: vec![0xff, 0xff],
            ..e
        };
        assert!(response("U1", &bad).is_err());
    }
}
