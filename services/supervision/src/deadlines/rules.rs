//! Supervision's rules for deadline events (督办规则): what an event calls
//! for, given the clock as its owner sees it and the time now, and what a
//! batch of events comes to. Pure: no IO; `now` is passed in.
//!
//! | event | clock (same version, same ticket, stage and unit) | now | action |
//! |---|---|---|---|
//! | due soon | running | before the deadline | urge (催办) |
//! | due soon | running | at or after the deadline | nothing: the expiry opens the case |
//! | due soon | stopped | | nothing |
//! | expired | running | at or after the deadline | open a case (督办) |
//! | expired | stopped late | at or after the deadline | open a case born closed |
//! | expired | stopped in time | | nothing |
//! | expired | | before the deadline | nothing, ever |
//! | stopped late | (not asked) | | close the clock's open cases |
//! | any but stopped late | unknown, moved or not matching | | nothing |

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use hotline_sla::Stage;

use super::model::{Clock, Event, Kind};
use crate::ids::{ClockId, EventId};

/// Who owns the clocks of a stage (and answers CheckClocks for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Intake,
    Dispatch,
    Undertaking,
    /// Supervision itself: the clocks of its own workflows (special
    /// reports' written feedback), asked of its own database.
    Supervision,
}

impl Owner {
    /// The owner's name, as `parked_events.owner` keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Intake => "intake",
            Owner::Dispatch => "dispatch",
            Owner::Undertaking => "undertaking",
            Owner::Supervision => "supervision",
        }
    }
}

pub fn owner(stage: Stage) -> Owner {
    match stage {
        Stage::Dispatch | Stage::ReturnVisit | Stage::Acceptance => Owner::Intake,
        Stage::ManualDispatch => Owner::Dispatch,
        Stage::SignOff | Stage::Feedback | Stage::ReportIn => Owner::Undertaking,
        Stage::WrittenFeedback
        | Stage::OnSiteArrival
        | Stage::Rectification
        | Stage::MeetingArrival
        | Stage::MeetingAction => Owner::Supervision,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Urge (催办) the unit holding the clock.
    Urge,
    /// Open a supervision case (督办); born closed at `closed_at` when the
    /// stage was done, late, by the time the event is handled.
    OpenCase { closed_at: Option<DateTime<Utc>> },
    /// The late stage is done: close the clock's open cases.
    CloseCases,
    /// Nothing to do, and why.
    Ignore(&'static str),
}

/// Whether an event needs its owner's word on the clock before a decision.
pub fn needs_clock(kind: Kind) -> bool {
    kind != Kind::StoppedLate
}

/// The one decision table for deadline events (see the module's table).
pub fn decide(event: &Event, clock: Option<&Clock>, now: DateTime<Utc>) -> Decision {
    if !needs_clock(event.kind) {
        return Decision::CloseCases;
    }
    let Some(clock) = clock else {
        return Decision::Ignore("unknown clock");
    };
    if clock.version != event.version {
        return Decision::Ignore("the clock has moved since");
    }
    if clock.ticket_no != event.ticket_no
        || clock.stage != event.stage
        || clock.unit_id != event.unit_id
    {
        return Decision::Ignore("the event does not match its clock");
    }
    match (event.kind, clock.stopped_at) {
        (Kind::DueSoon, Some(_)) => Decision::Ignore("the stage is done"),
        // Urges are for stages not yet expired: one handled late (after
        // an outage) would urge beside the case the expiry opens.
        (Kind::DueSoon, None) if now >= clock.deadline => {
            Decision::Ignore("the stage has expired: the expiry opens its case")
        }
        (Kind::DueSoon, None) => Decision::Urge,
        (Kind::Expired, _) if clock.deadline > now => {
            Decision::Ignore("the deadline has not passed")
        }
        (Kind::Expired, None) => Decision::OpenCase { closed_at: None },
        // Done after the deadline: it was late, the case is born closed.
        (Kind::Expired, Some(at)) if at > clock.deadline => Decision::OpenCase {
            closed_at: Some(at),
        },
        (Kind::Expired, Some(_)) => Decision::Ignore("the stage was done in time"),
        (Kind::StoppedLate, _) => Decision::CloseCases,
    }
}

/// The clocks to ask each owner about for a batch, each once.
pub fn clocks_to_check(events: &[Event]) -> HashMap<Owner, Vec<ClockId>> {
    let mut asks: HashMap<Owner, BTreeSet<ClockId>> = HashMap::new();
    for e in events.iter().filter(|e| needs_clock(e.kind)) {
        asks.entry(owner(e.stage))
            .or_default()
            .insert(e.clock_id.clone());
    }
    asks.into_iter()
        .map(|(o, ids)| (o, ids.into_iter().collect()))
        .collect()
}

/// An event held back because its clock's owner could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked<'a> {
    pub event: &'a Event,
    pub owner: Owner,
    pub error: String,
}

/// What one batch of events comes to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Actions<'a> {
    pub urges: Vec<&'a Event>,
    /// Events opening a case, with when it is born closed, if it is.
    pub cases: Vec<(&'a Event, Option<DateTime<Utc>>)>,
    /// Clocks whose open cases close.
    pub close: Vec<ClockId>,
    /// Events whose clock owner could not be asked.
    pub park: Vec<Parked<'a>>,
    /// Parked events now handled, to take out of the park.
    pub unpark: Vec<EventId>,
    /// Events that call for nothing, and why.
    pub ignored: Vec<(&'a Event, &'static str)>,
}

/// Decides a batch. `clocks` are the owners' answers; `down` the owners
/// that could not be asked, with their error: their events are parked
/// (only closing cases needs no word from the owner). `from_parked` events
/// come from the park and leave it once decided.
pub fn plan<'a>(
    events: &'a [Event],
    clocks: &HashMap<ClockId, Clock>,
    down: &HashMap<Owner, String>,
    now: DateTime<Utc>,
    from_parked: bool,
) -> Actions<'a> {
    let mut a = Actions::default();
    for e in events {
        let who = owner(e.stage);
        if let Some(error) = down.get(&who).filter(|_| needs_clock(e.kind)) {
            a.park.push(Parked {
                event: e,
                owner: who,
                error: error.clone(),
            });
            continue;
        }
        if from_parked {
            a.unpark.push(e.id.clone());
        }
        match decide(e, clocks.get(&e.clock_id), now) {
            Decision::Urge => a.urges.push(e),
            Decision::OpenCase { closed_at } => a.cases.push((e, closed_at)),
            Decision::CloseCases => a.close.push(e.clock_id.clone()),
            Decision::Ignore(why) => a.ignored.push((e, why)),
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ids::{Id, TicketNo, UnitId};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    fn ev(kind: Kind, version: i64) -> Event {
        Event {
            id: EventId::parse(&format!("BJ1/sign_off/u1#{version}#{kind:?}")).unwrap(),
            kind,
            clock_id: ClockId::parse("BJ1/sign_off/u1").unwrap(),
            version,
            ticket_no: TicketNo::parse("BJ1").unwrap(),
            stage: Stage::SignOff,
            unit_id: UnitId::parse("u1").unwrap(),
            deadline: t(100),
            fire_at: t(50),
        }
    }

    /// Deadline at 100.
    fn clock(version: i64, stopped: Option<i64>) -> Clock {
        Clock {
            id: ClockId::parse("BJ1/sign_off/u1").unwrap(),
            version,
            ticket_no: TicketNo::parse("BJ1").unwrap(),
            stage: Stage::SignOff,
            unit_id: UnitId::parse("u1").unwrap(),
            deadline: t(100),
            stopped_at: stopped.map(t),
        }
    }

    const BEFORE: i64 = 60;
    const AFTER: i64 = 200;

    #[test]
    fn running_clocks_get_urged_then_supervised() {
        assert_eq!(
            decide(&ev(Kind::DueSoon, 1), Some(&clock(1, None)), t(BEFORE)),
            Decision::Urge
        );
        assert_eq!(
            decide(&ev(Kind::Expired, 1), Some(&clock(1, None)), t(AFTER)),
            Decision::OpenCase { closed_at: None }
        );
    }

    #[test]
    fn no_urge_once_the_stage_has_expired() {
        // Handled late, after an outage: the expiry speaks for the stage.
        for now in [100, 101, AFTER] {
            assert!(
                matches!(
                    decide(&ev(Kind::DueSoon, 1), Some(&clock(1, None)), t(now)),
                    Decision::Ignore(_)
                ),
                "at {now}"
            );
        }
        assert_eq!(
            decide(&ev(Kind::DueSoon, 1), Some(&clock(1, None)), t(99)),
            Decision::Urge
        );
    }

    #[test]
    fn stopped_moved_or_foreign_clocks_do_nothing() {
        let ignored = |e: Event, c: Option<Clock>, now: i64| {
            matches!(decide(&e, c.as_ref(), t(now)), Decision::Ignore(_))
        };
        assert!(ignored(
            ev(Kind::DueSoon, 1),
            Some(clock(1, Some(50))),
            BEFORE
        ));
        assert!(ignored(
            ev(Kind::Expired, 1),
            Some(clock(1, Some(90))),
            AFTER
        ));
        assert!(ignored(ev(Kind::Expired, 1), Some(clock(2, None)), AFTER));
        assert!(ignored(ev(Kind::DueSoon, 1), Some(clock(2, None)), BEFORE));
        assert!(ignored(ev(Kind::Expired, 1), None, AFTER));
        let mut other_unit = clock(1, None);
        other_unit.unit_id = UnitId::parse("u2").unwrap();
        assert!(ignored(ev(Kind::Expired, 1), Some(other_unit), AFTER));
        let mut other_stage = clock(1, None);
        other_stage.stage = Stage::Feedback;
        assert!(ignored(ev(Kind::DueSoon, 1), Some(other_stage), BEFORE));
    }

    #[test]
    fn late_completion_gives_a_closed_case() {
        assert_eq!(
            decide(&ev(Kind::Expired, 1), Some(&clock(1, Some(150))), t(AFTER)),
            Decision::OpenCase {
                closed_at: Some(t(150))
            }
        );
        assert_eq!(
            decide(&ev(Kind::StoppedLate, 1), None, t(AFTER)),
            Decision::CloseCases
        );
    }

    #[test]
    fn an_early_expiry_is_not_acted_on() {
        assert!(matches!(
            decide(&ev(Kind::Expired, 1), Some(&clock(1, None)), t(50)),
            Decision::Ignore(_)
        ));
    }

    #[test]
    fn stages_have_owners() {
        assert_eq!(owner(Stage::Dispatch), Owner::Intake);
        assert_eq!(owner(Stage::SignOff), Owner::Undertaking);
        assert_eq!(owner(Stage::Feedback), Owner::Undertaking);
        assert_eq!(owner(Stage::ReportIn), Owner::Undertaking);
        assert_eq!(owner(Stage::ManualDispatch), Owner::Dispatch);
        assert_eq!(owner(Stage::ReturnVisit), Owner::Intake);
        assert_eq!(owner(Stage::WrittenFeedback), Owner::Supervision);
        assert_eq!(owner(Stage::OnSiteArrival), Owner::Supervision);
    }

    #[test]
    fn owners_are_asked_once_per_clock_and_not_for_closing() {
        let events = [
            ev(Kind::DueSoon, 1),
            ev(Kind::Expired, 1),
            ev(Kind::StoppedLate, 1),
        ];
        let asks = clocks_to_check(&events);
        assert_eq!(asks.len(), 1);
        assert_eq!(asks[&Owner::Undertaking].len(), 1);
        assert!(clocks_to_check(&events[2..]).is_empty());
    }

    #[test]
    fn a_down_owner_parks_its_events_but_cases_still_close() {
        let events = [ev(Kind::Expired, 1), ev(Kind::StoppedLate, 1)];
        let down = HashMap::from([(Owner::Undertaking, "undertaking: down".to_string())]);
        let a = plan(&events, &HashMap::new(), &down, t(AFTER), true);
        assert_eq!(a.park.len(), 1);
        assert_eq!(a.park[0].event, &events[0]);
        assert_eq!(a.park[0].owner, Owner::Undertaking);
        assert_eq!(a.close, vec![events[1].clock_id.clone()]);
        // Only what was decided leaves the park.
        assert_eq!(a.unpark, vec![events[1].id.clone()]);
    }

    #[test]
    fn a_batch_is_decided_event_by_event() {
        let events = [
            ev(Kind::DueSoon, 1),
            ev(Kind::Expired, 1),
            ev(Kind::Expired, 2),
        ];
        let c = clock(1, None);
        let clocks = HashMap::from([(c.id.clone(), c)]);
        let a = plan(&events, &clocks, &HashMap::new(), t(AFTER), false);
        assert!(a.urges.is_empty(), "expired already: no urge");
        assert_eq!(a.cases, vec![(&events[1], None)]);
        assert_eq!(a.ignored.len(), 2);
        assert!(a.unpark.is_empty() && a.park.is_empty());
        let a = plan(&events[..1], &clocks, &HashMap::new(), t(BEFORE), false);
        assert_eq!(a.urges, vec![&events[0]]);
    }
}
