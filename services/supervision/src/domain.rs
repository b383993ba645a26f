//! Supervision's rules: what a deadline event calls for, given the clock as
//! its owner sees it now. Pure: no IO.

use hotline_proto::common::v1::{ClockState, DeadlineEvent, DeadlineEventKind};
use hotline_sla::Stage;
use prost_types::Timestamp;

/// Who owns the clocks of a stage (and answers CheckClocks for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    Intake,
    Dispatch,
    Undertaking,
}

impl Owner {
    pub fn name(self) -> &'static str {
        match self {
            Owner::Intake => "intake",
            Owner::Dispatch => "dispatch",
            Owner::Undertaking => "undertaking",
        }
    }
}

pub fn owner(stage: Stage) -> Owner {
    match stage {
        Stage::Dispatch => Owner::Intake,
        Stage::ManualDispatch => Owner::Dispatch,
        Stage::SignOff | Stage::Feedback | Stage::ReportIn => Owner::Undertaking,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Urge (催办) the unit holding the clock.
    Urge,
    /// Open a supervision case (督办); `closed` when the stage was done
    /// (late) by the time the event is handled.
    OpenCase { closed: bool },
    /// The late stage is done: close the clock's open cases.
    CloseCases,
    /// Nothing to do, and why.
    Ignore(&'static str),
}

fn after(a: &Timestamp, b: &Timestamp) -> bool {
    (a.seconds, a.nanos) > (b.seconds, b.nanos)
}

/// The one decision table for deadline events. `now` guards against an
/// "expired" event for a deadline that has not passed (never acted on).
pub fn decide(event: &DeadlineEvent, clock: Option<&ClockState>, now: &Timestamp) -> Decision {
    let kind = DeadlineEventKind::try_from(event.kind).unwrap_or(DeadlineEventKind::Unspecified);
    if kind == DeadlineEventKind::StoppedLate {
        return Decision::CloseCases;
    }
    if kind == DeadlineEventKind::Unspecified {
        return Decision::Ignore("unknown event kind");
    }
    let Some(clock) = clock else {
        return Decision::Ignore("unknown clock");
    };
    if clock.version != event.clock_version {
        return Decision::Ignore("the clock has moved since");
    }
    match kind {
        DeadlineEventKind::DueSoon if clock.running => Decision::Urge,
        DeadlineEventKind::DueSoon => Decision::Ignore("the stage is done"),
        DeadlineEventKind::Expired => match (&clock.deadline, &clock.stopped_at) {
            (None, _) => Decision::Ignore("the clock has no deadline"),
            (Some(d), _) if after(d, now) => Decision::Ignore("the deadline has not passed"),
            (Some(_), None) => Decision::OpenCase { closed: false },
            // Done after the deadline: it was late, the case is born closed.
            (Some(d), Some(at)) if after(at, d) => Decision::OpenCase { closed: true },
            (Some(_), Some(_)) => Decision::Ignore("the stage was done in time"),
        },
        _ => Decision::Ignore("unknown event kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp {
        seconds: 200,
        nanos: 0,
    };

    fn decide_now(e: &DeadlineEvent, c: Option<&ClockState>) -> Decision {
        decide(e, c, &NOW)
    }

    fn ev(kind: DeadlineEventKind, version: i64) -> DeadlineEvent {
        DeadlineEvent {
            kind: kind as i32,
            clock_version: version,
            ..Default::default()
        }
    }

    fn clock(version: i64, stopped: Option<i64>) -> ClockState {
        ClockState {
            version,
            running: stopped.is_none(),
            deadline: Some(Timestamp {
                seconds: 100,
                nanos: 0,
            }),
            stopped_at: stopped.map(|s| Timestamp {
                seconds: s,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn running_clocks_get_urged_then_supervised() {
        assert_eq!(
            decide_now(&ev(DeadlineEventKind::DueSoon, 1), Some(&clock(1, None))),
            Decision::Urge
        );
        assert_eq!(
            decide_now(&ev(DeadlineEventKind::Expired, 1), Some(&clock(1, None))),
            Decision::OpenCase { closed: false }
        );
    }

    #[test]
    fn stopped_or_moved_clocks_do_nothing() {
        assert!(matches!(
            decide_now(
                &ev(DeadlineEventKind::DueSoon, 1),
                Some(&clock(1, Some(50)))
            ),
            Decision::Ignore(_)
        ));
        assert!(matches!(
            decide_now(
                &ev(DeadlineEventKind::Expired, 1),
                Some(&clock(1, Some(90)))
            ),
            Decision::Ignore(_)
        ));
        assert!(matches!(
            decide_now(&ev(DeadlineEventKind::Expired, 1), Some(&clock(2, None))),
            Decision::Ignore(_)
        ));
        assert!(matches!(
            decide_now(&ev(DeadlineEventKind::Expired, 1), None),
            Decision::Ignore(_)
        ));
    }

    #[test]
    fn late_completion_gives_a_closed_case() {
        assert_eq!(
            decide_now(
                &ev(DeadlineEventKind::Expired, 1),
                Some(&clock(1, Some(150)))
            ),
            Decision::OpenCase { closed: true }
        );
        assert_eq!(
            decide_now(&ev(DeadlineEventKind::StoppedLate, 1), None),
            Decision::CloseCases
        );
    }

    #[test]
    fn stages_have_owners() {
        assert_eq!(owner(Stage::Dispatch), Owner::Intake);
        assert_eq!(owner(Stage::SignOff), Owner::Undertaking);
        assert_eq!(owner(Stage::Feedback), Owner::Undertaking);
        assert_eq!(owner(Stage::ReportIn), Owner::Undertaking);
        assert_eq!(owner(Stage::ManualDispatch), Owner::Dispatch);
    }

    #[test]
    fn an_early_expiry_is_not_acted_on() {
        let early = Timestamp {
            seconds: 50,
            nanos: 0,
        };
        assert!(matches!(
            decide(
                &ev(DeadlineEventKind::Expired, 1),
                Some(&clock(1, None)),
                &early
            ),
            Decision::Ignore(_)
        ));
    }
}
