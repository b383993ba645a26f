//! The pure parts of lifecycle events: names of exchanges and routing keys,
//! encoding, and the checks a consumer makes on what it decodes.

use hotline_proto::events::v1::{LifecycleEvent, Source, Visited, lifecycle_event::Fact};
use hotline_proto::intake::v1::{Resolution, SatisfactionLevel, VisitOutcome};
use prost::Message;

/// The AMQP `type` of every lifecycle event: the body's message name.
pub const EVENT_TYPE: &str = "hotline.events.v1.LifecycleEvent";

/// Every source, in the order of the platform's services.
pub const SOURCES: [Source; 4] = [
    Source::Intake,
    Source::Dispatch,
    Source::Undertaking,
    Source::Supervision,
];

/// The service's name as exchanges and routing keys spell it.
pub fn source_name(source: Source) -> Option<&'static str> {
    match source {
        Source::Intake => Some("intake"),
        Source::Dispatch => Some("dispatch"),
        Source::Undertaking => Some("undertaking"),
        Source::Supervision => Some("supervision"),
        Source::Unspecified => None,
    }
}

/// The source of a service name (`intake`, …).
pub fn source_of(service: &str) -> Option<Source> {
    SOURCES
        .into_iter()
        .find(|s| source_name(*s) == Some(service))
}

/// The service's durable topic exchange: `hotline.<service>.events`.
pub fn exchange(source: Source) -> Option<String> {
    source_name(source).map(|s| format!("hotline.{s}.events"))
}

/// The fact's name: its field name in the `fact` oneof.
pub fn fact_name(fact: &Fact) -> &'static str {
    match fact {
        Fact::Accepted(_) => "accepted",
        Fact::Routed(_) => "routed",
        Fact::Assigned(_) => "assigned",
        Fact::Signed(_) => "signed",
        Fact::ReturnRequested(_) => "return_requested",
        Fact::ReturnDecided(_) => "return_decided",
        Fact::PartSubmitted(_) => "part_submitted",
        Fact::Answered(_) => "answered",
        Fact::ExtensionDecided(_) => "extension_decided",
        Fact::Urged(_) => "urged",
        Fact::CaseOpened(_) => "case_opened",
        Fact::Rated(_) => "rated",
        Fact::Visited(_) => "visited",
        Fact::Reopened(_) => "reopened",
        Fact::NotReopened(_) => "not_reopened",
        Fact::Closed(_) => "closed",
        Fact::RatingAppealDecided(_) => "rating_appeal_decided",
        Fact::RatingDefaulted(_) => "rating_defaulted",
        Fact::WorkflowStep(_) => "workflow_step",
        Fact::RaisedAgain(_) => "raised_again",
        Fact::Clustered(_) => "clustered",
    }
}

/// Whether a return visit's answers, as intake's `visited` fact tells
/// them, send the ticket back to its lead unit (重办): the requester was
/// reached and found it unresolved (or partly resolved) or was
/// dissatisfied, through the unit's fault. Undertaking reopens on it;
/// intake waits for undertaking's decision before closing the ticket.
pub fn calls_for_rehandling(v: &Visited) -> bool {
    let reached = v.outcome == VisitOutcome::Reached as i32;
    let unresolved =
        [Resolution::Partly as i32, Resolution::Unresolved as i32].contains(&v.resolved);
    let unsatisfied = [
        SatisfactionLevel::Dissatisfied as i32,
        SatisfactionLevel::VeryDissatisfied as i32,
    ]
    .contains(&v.satisfaction);
    reached && v.unit_at_fault && (unresolved || unsatisfied)
}

/// Where an event goes: its exchange and routing key
/// (`<service>.<fact>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub exchange: String,
    pub routing_key: String,
}

/// The route of a well-formed event; the reason otherwise.
pub fn route(e: &LifecycleEvent) -> Result<Route, String> {
    let source = Source::try_from(e.source).unwrap_or(Source::Unspecified);
    let (Some(name), Some(exchange)) = (source_name(source), exchange(source)) else {
        return Err(format!("unknown source {}", e.source));
    };
    let fact = e.fact.as_ref().ok_or("no fact")?;
    Ok(Route {
        exchange,
        routing_key: format!("{name}.{}", fact_name(fact)),
    })
}

/// What is wrong with an event, if anything: what every consumer may rely
/// on (a UUID id, a ticket, a time, a known source, a fact).
pub fn check(e: &LifecycleEvent) -> Result<(), String> {
    if uuid::Uuid::parse_str(&e.event_id).is_err() {
        return Err("event_id is not a UUID".into());
    }
    if e.ticket_no.is_empty() {
        return Err("ticket_no is empty".into());
    }
    if e.occurred_at.is_none() {
        return Err("occurred_at is missing".into());
    }
    route(e).map(|_| ())
}

/// Encodes an event as it is published.
pub fn encode(e: &LifecycleEvent) -> Vec<u8> {
    e.encode_to_vec()
}

/// Decodes and checks a published event.
pub fn decode(body: &[u8]) -> Result<LifecycleEvent, String> {
    let e = LifecycleEvent::decode(body).map_err(|e| format!("not a LifecycleEvent: {e}"))?;
    check(&e)?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::events::v1::{Signed, Urged};

    fn event(source: Source, fact: Option<Fact>) -> LifecycleEvent {
        LifecycleEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            ticket_no: "BJ000000000001".into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            source: source as i32,
            fact,
        }
    }

    #[test]
    fn routing_keys_name_the_service_and_the_fact() {
        let e = event(Source::Undertaking, Some(Fact::Signed(Signed::default())));
        assert_eq!(
            route(&e).unwrap(),
            Route {
                exchange: "hotline.undertaking.events".into(),
                routing_key: "undertaking.signed".into(),
            }
        );
        let e = event(Source::Supervision, Some(Fact::Urged(Urged::default())));
        assert_eq!(route(&e).unwrap().routing_key, "supervision.urged");
    }

    #[test]
    fn every_source_has_a_name_and_back() {
        for s in SOURCES {
            let name = source_name(s).unwrap();
            assert_eq!(source_of(name), Some(s));
            assert_eq!(exchange(s).unwrap(), format!("hotline.{name}.events"));
        }
        assert_eq!(source_name(Source::Unspecified), None);
        assert_eq!(source_of("nobody"), None);
    }

    #[test]
    fn an_event_reads_back_as_it_was_encoded() {
        let e = event(
            Source::Undertaking,
            Some(Fact::Signed(Signed {
                assignment_id: "a1".into(),
                unit_id: "u1".into(),
                within_limit: true,
                hop: 2,
                ..Default::default()
            })),
        );
        assert_eq!(decode(&encode(&e)).unwrap(), e);
    }

    #[test]
    fn what_a_consumer_refuses() {
        assert!(decode(b"\xff\xff\xff").is_err());
        let good = event(Source::Intake, Some(Fact::Signed(Signed::default())));
        let mut e = good.clone();
        e.event_id = "not-a-uuid".into();
        assert!(decode(&encode(&e)).unwrap_err().contains("event_id"));
        let mut e = good.clone();
        e.ticket_no.clear();
        assert!(decode(&encode(&e)).unwrap_err().contains("ticket_no"));
        let mut e = good.clone();
        e.occurred_at = None;
        assert!(decode(&encode(&e)).unwrap_err().contains("occurred_at"));
        let mut e = good.clone();
        e.source = 99;
        assert!(decode(&encode(&e)).unwrap_err().contains("source"));
        let mut e = good;
        e.fact = None;
        assert!(decode(&encode(&e)).unwrap_err().contains("fact"));
    }
}
