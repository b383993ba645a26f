//! Dispatch's lifecycle event (`hotline.events.v1.Routed`): each hop as it
//! is stored, recorded in the routing's transaction
//! (`hotline_common::events`), published to `hotline.dispatch.events`.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::events;
use hotline_common::outbox::Tx;
use hotline_proto::dispatch::v1::Routing;
use hotline_proto::events::v1::{self as ev, RoutedBy, Source, lifecycle_event::Fact};

/// The fact of a hop routed at `routed_at` (lead first, as stored).
pub fn routed(r: &Routing, routed_at: DateTime<Utc>, deadline: DateTime<Utc>) -> Fact {
    let units: Vec<ev::RoutedUnit> = r
        .units
        .iter()
        .map(|u| ev::RoutedUnit {
            unit_id: u.unit_id.clone(),
            role: u.role,
            sign_deadline: u.sign_deadline,
            feedback_deadline: u.feedback_deadline,
            kind: u.kind,
        })
        .collect();
    let manual_queue = units.is_empty();
    Fact::Routed(ev::Routed {
        hop: r.hop.max(1),
        within_limit: !manual_queue && routed_at <= deadline,
        units,
        routed_by: if r.decided_by.is_empty() {
            RoutedBy::Automatic
        } else {
            RoutedBy::Dispatcher
        } as i32,
        dispatcher: r.decided_by.clone(),
        manual_queue,
        routed_at: r.dispatched_at,
        dispatch_deadline: r.dispatch_deadline,
        transfers: r.transfers,
        accepted_return_id: r.return_id.clone(),
        catalogue_version: r.catalogue_version.clone(),
    })
}

/// Records the routing's fact in the caller's transaction.
pub async fn record_routed(
    tx: &mut Tx,
    ticket_no: &str,
    r: &Routing,
    routed_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<(), ApiError> {
    let fact = routed(r, routed_at, deadline);
    events::record_fact(tx, Source::Dispatch, ticket_no, routed_at, fact).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use hotline_common::time::to_proto;
    use hotline_proto::common::v1::AssignmentRole;
    use hotline_proto::dispatch::v1::RoutedUnit;

    fn routing(at: DateTime<Utc>, units: Vec<RoutedUnit>, decided_by: &str) -> Routing {
        Routing {
            ticket_no: "BJ000000000001".into(),
            dispatched_at: Some(to_proto(at)),
            hop: 2,
            units,
            decided_by: decided_by.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_hop_to_units_carries_their_deadlines_and_who_routed_it() {
        let at = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let unit = RoutedUnit {
            unit_id: "chaoyang-heating".into(),
            role: AssignmentRole::Lead as i32,
            sign_deadline: Some(to_proto(at + Duration::hours(1))),
            feedback_deadline: Some(to_proto(at + Duration::hours(24))),
            kind: hotline_proto::dispatch::v1::UnitKind::Utility as i32,
            ..Default::default()
        };
        let r = routing(at, vec![unit.clone()], "");
        let Fact::Routed(f) = routed(&r, at, at + Duration::minutes(5)) else {
            panic!("not routed");
        };
        assert_eq!(f.routed_by, RoutedBy::Automatic as i32);
        assert!(f.within_limit && !f.manual_queue);
        assert_eq!(f.units[0].sign_deadline, unit.sign_deadline);
        assert_eq!(f.units[0].feedback_deadline, unit.feedback_deadline);
        assert_eq!(f.units[0].kind, unit.kind, "the unit's class travels");
        assert_eq!(f.hop, 2);

        let late = routing(at, vec![unit], "dispatcher-7");
        let Fact::Routed(f) = routed(&late, at, at - Duration::seconds(1)) else {
            panic!("not routed");
        };
        assert_eq!(f.routed_by, RoutedBy::Dispatcher as i32);
        assert_eq!(f.dispatcher, "dispatcher-7");
        assert!(!f.within_limit);
    }

    #[test]
    fn the_manual_queue_is_never_within_the_limit() {
        let at = Utc::now();
        let Fact::Routed(f) = routed(&routing(at, vec![], ""), at, at + Duration::hours(1)) else {
            panic!("not routed");
        };
        assert!(f.manual_queue && !f.within_limit && f.units.is_empty());
    }
}
