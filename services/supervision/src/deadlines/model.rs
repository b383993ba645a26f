//! What supervision reads and keeps about deadlines, as types: a deadline
//! event checked field by field when its message is decoded, a clock as its
//! owner reports it, a case's state. Each enum maps to SQL and protobuf
//! here, once. Pure: no IO.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::convert::{stage_from_proto, stage_to_proto};
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::common::v1 as pb;
use hotline_proto::supervision::v1 as spb;
use hotline_sla::Stage;
use prost::Message;
use prost_types::Timestamp;

use crate::ids::{ClockId, EventId};

/// What a deadline event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// About to expire (即将到期).
    DueSoon,
    /// Expired (已经到期).
    Expired,
    /// Stopped after it expired: the late stage is done.
    StoppedLate,
}

impl Kind {
    pub fn from_proto(value: i32) -> Result<Kind, String> {
        match pb::DeadlineEventKind::try_from(value) {
            Ok(pb::DeadlineEventKind::DueSoon) => Ok(Kind::DueSoon),
            Ok(pb::DeadlineEventKind::Expired) => Ok(Kind::Expired),
            Ok(pb::DeadlineEventKind::StoppedLate) => Ok(Kind::StoppedLate),
            Ok(pb::DeadlineEventKind::Unspecified) => Err("required".into()),
            Err(_) => Err(format!("unknown kind {value}")),
        }
    }

    pub fn to_proto(self) -> pb::DeadlineEventKind {
        match self {
            Kind::DueSoon => pb::DeadlineEventKind::DueSoon,
            Kind::Expired => pb::DeadlineEventKind::Expired,
            Kind::StoppedLate => pb::DeadlineEventKind::StoppedLate,
        }
    }
}

/// A stage from its protobuf number: unset and unknown numbers are named.
pub fn stage_field(f: &mut Fields, field: &str, value: i32) -> Option<Stage> {
    let stage = stage_from_proto(value);
    if stage.is_none() {
        f.add(
            field,
            if value == 0 {
                "required".to_string()
            } else {
                format!("unknown stage {value}")
            },
        );
    }
    stage
}

/// A stage as supervision's tables keep it.
pub fn stage_from_sql(s: &str) -> Result<Stage, ApiError> {
    s.parse()
        .map_err(|e: String| ApiError::internal(format!("stored stage: {e}")))
}

fn time_field(f: &mut Fields, field: &str, t: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    match hotline_common::time::required(t, field) {
        Ok(t) => Some(t),
        Err(e) => {
            for (field, problem) in e.fields {
                f.add(&field, problem);
            }
            None
        }
    }
}

fn incomplete() -> ApiError {
    ApiError::invalid("message", "incomplete")
}

/// A deadline event every field of which was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub kind: Kind,
    pub clock_id: ClockId,
    pub version: i64,
    pub ticket_no: TicketNo,
    pub stage: Stage,
    pub unit_id: UnitId,
    pub deadline: DateTime<Utc>,
    pub fire_at: DateTime<Utc>,
}

impl Event {
    /// Decodes a RabbitMQ message body; the error names every bad field.
    pub fn decode(body: &[u8]) -> Result<Event, ApiError> {
        let raw = pb::DeadlineEvent::decode(body).map_err(|e| {
            ApiError::invalid(
                "message",
                &format!("not a hotline.common.v1.DeadlineEvent: {e}"),
            )
        })?;
        Event::parse(&raw)
    }

    /// Checks every field of an event; the error names every bad one.
    pub fn parse(e: &pb::DeadlineEvent) -> Result<Event, ApiError> {
        let mut f = Fields::new();
        let id = f.id::<EventId>("event_id", &e.event_id);
        let kind = Kind::from_proto(e.kind).map_err(|p| f.add("kind", p)).ok();
        let clock_id = f.id::<ClockId>("clock_id", &e.clock_id);
        if e.clock_version < 1 {
            f.add(
                "clock_version",
                format!("must be at least 1, got {}", e.clock_version),
            );
        }
        let ticket_no = f.id::<TicketNo>("ticket_no", &e.ticket_no);
        let stage = stage_field(&mut f, "stage", e.stage);
        let unit_id = f.id::<UnitId>("unit_id", &e.unit_id);
        let deadline = time_field(&mut f, "deadline", e.deadline.as_ref());
        let fire_at = time_field(&mut f, "fire_at", e.fire_at.as_ref());
        f.finish()?;
        let (
            Some(id),
            Some(kind),
            Some(clock_id),
            Some(ticket_no),
            Some(stage),
            Some(unit_id),
            Some(deadline),
            Some(fire_at),
        ) = (
            id, kind, clock_id, ticket_no, stage, unit_id, deadline, fire_at,
        )
        else {
            return Err(incomplete());
        };
        Ok(Event {
            id,
            kind,
            clock_id,
            version: e.clock_version,
            ticket_no,
            stage,
            unit_id,
            deadline,
            fire_at,
        })
    }

    pub fn to_proto(&self) -> pb::DeadlineEvent {
        pb::DeadlineEvent {
            event_id: self.id.to_string(),
            kind: self.kind.to_proto() as i32,
            clock_id: self.clock_id.to_string(),
            clock_version: self.version,
            ticket_no: self.ticket_no.to_string(),
            stage: stage_to_proto(self.stage) as i32,
            unit_id: self.unit_id.to_string(),
            deadline: Some(to_proto(self.deadline)),
            fire_at: Some(to_proto(self.fire_at)),
        }
    }
}

/// A clock as its owner sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub id: ClockId,
    pub version: i64,
    pub ticket_no: TicketNo,
    pub stage: Stage,
    pub unit_id: UnitId,
    pub deadline: DateTime<Utc>,
    /// When the stage was done; `None` while the clock runs.
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Clock {
    /// Checks an owner's answer; the error names every bad field.
    pub fn parse(c: &pb::ClockState) -> Result<Clock, ApiError> {
        let mut f = Fields::new();
        let id = f.id::<ClockId>("clock_id", &c.clock_id);
        let ticket_no = f.id::<TicketNo>("ticket_no", &c.ticket_no);
        let stage = stage_field(&mut f, "stage", c.stage);
        let unit_id = f.id::<UnitId>("unit_id", &c.unit_id);
        let deadline = time_field(&mut f, "deadline", c.deadline.as_ref());
        let stopped_at = match (&c.stopped_at, c.running) {
            (None, true) => None,
            (Some(t), false) => time_field(&mut f, "stopped_at", Some(t)),
            (Some(_), true) => {
                f.add("stopped_at", "set on a running clock");
                None
            }
            (None, false) => {
                f.add("stopped_at", "required once the clock stopped");
                None
            }
        };
        f.finish()?;
        let (Some(id), Some(ticket_no), Some(stage), Some(unit_id), Some(deadline)) =
            (id, ticket_no, stage, unit_id, deadline)
        else {
            return Err(incomplete());
        };
        Ok(Clock {
            id,
            version: c.version,
            ticket_no,
            stage,
            unit_id,
            deadline,
            stopped_at,
        })
    }
}

/// A supervision case's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseState {
    /// 督办中.
    Open,
    /// 已结案: the late stage was done.
    Closed,
}

impl CaseState {
    pub fn as_sql(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Closed => "closed",
        }
    }

    pub fn from_sql(s: &str) -> Result<CaseState, ApiError> {
        match s {
            "open" => Ok(CaseState::Open),
            "closed" => Ok(CaseState::Closed),
            other => Err(ApiError::internal(format!("stored case state {other:?}"))),
        }
    }

    pub fn to_proto(self) -> spb::CaseState {
        match self {
            CaseState::Open => spb::CaseState::Open,
            CaseState::Closed => spb::CaseState::Closed,
        }
    }

    /// A list filter: unset is any state.
    pub fn filter_field(f: &mut Fields, field: &str, value: i32) -> Option<CaseState> {
        match spb::CaseState::try_from(value) {
            Ok(spb::CaseState::Unspecified) => None,
            Ok(spb::CaseState::Open) => Some(CaseState::Open),
            Ok(spb::CaseState::Closed) => Some(CaseState::Closed),
            Err(_) => {
                f.add(field, format!("unknown state {value}"));
                None
            }
        }
    }
}

/// An urge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrgeRecord {
    pub urge_id: crate::ids::UrgeId,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub stage: Stage,
    pub deadline: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
}

impl UrgeRecord {
    pub fn to_proto(&self) -> spb::Urge {
        spb::Urge {
            urge_id: self.urge_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            stage: stage_to_proto(self.stage) as i32,
            deadline: Some(to_proto(self.deadline)),
            issued_at: Some(to_proto(self.issued_at)),
        }
    }
}

/// Why a case was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseKind {
    /// A stage's deadline passed: the stage and its deadline.
    Deadline {
        stage: Stage,
        deadline: DateTime<Utc>,
    },
    /// Shirking (推诿扯皮、敷衍塞责), opened by hand: who opened it, the
    /// evidence, who closed it and the result (empty while open).
    Shirking {
        opened_by: String,
        evidence: Vec<spb::Evidence>,
        closed_by: String,
        result: String,
    },
}

/// A supervision case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub case_id: crate::ids::CaseId,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub kind: CaseKind,
    pub opened_at: DateTime<Utc>,
    pub state: CaseState,
    pub closed_at: Option<DateTime<Utc>>,
}

impl CaseRecord {
    /// The stage of a deadline case.
    pub fn stage(&self) -> Option<Stage> {
        match &self.kind {
            CaseKind::Deadline { stage, .. } => Some(*stage),
            CaseKind::Shirking { .. } => None,
        }
    }

    /// The deadline that passed, of a deadline case.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        match &self.kind {
            CaseKind::Deadline { deadline, .. } => Some(*deadline),
            CaseKind::Shirking { .. } => None,
        }
    }

    pub fn to_proto(&self) -> spb::SupervisionCase {
        let mut c = spb::SupervisionCase {
            case_id: self.case_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            stage: self.stage().map(|s| stage_to_proto(s) as i32).unwrap_or(0),
            deadline: opt_to_proto(self.deadline()),
            opened_at: Some(to_proto(self.opened_at)),
            state: self.state.to_proto() as i32,
            closed_at: opt_to_proto(self.closed_at),
            ..Default::default()
        };
        match &self.kind {
            CaseKind::Deadline { .. } => c.kind = spb::CaseKind::Deadline as i32,
            CaseKind::Shirking {
                opened_by,
                evidence,
                closed_by,
                result,
            } => {
                c.kind = spb::CaseKind::Shirking as i32;
                c.opened_by = opened_by.clone();
                c.evidence = evidence.clone();
                c.closed_by = closed_by.clone();
                c.result = result.clone();
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp {
            seconds: 1_764_000_000 + s,
            nanos: 0,
        }
    }

    fn good() -> pb::DeadlineEvent {
        pb::DeadlineEvent {
            event_id: "BJ1/sign_off/u1#1#due_soon".into(),
            kind: pb::DeadlineEventKind::DueSoon as i32,
            clock_id: "BJ1/sign_off/u1".into(),
            clock_version: 1,
            ticket_no: "BJ1".into(),
            stage: pb::Stage::SignOff as i32,
            unit_id: "u1".into(),
            deadline: Some(at(100)),
            fire_at: Some(at(50)),
        }
    }

    fn problem(e: pb::DeadlineEvent) -> String {
        Event::parse(&e).unwrap_err().message
    }

    #[test]
    fn a_whole_event_parses_and_round_trips() {
        let e = Event::parse(&good()).unwrap();
        assert_eq!(e.kind, Kind::DueSoon);
        assert_eq!(e.stage, Stage::SignOff);
        assert_eq!(e.to_proto(), good());
        assert_eq!(Event::decode(&good().encode_to_vec()).unwrap(), e);
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            problem(pb::DeadlineEvent {
                fire_at: None,
                ..good()
            }),
            "fire_at: required"
        );
        assert_eq!(
            problem(pb::DeadlineEvent {
                stage: 99,
                ..good()
            }),
            "stage: unknown stage 99"
        );
        assert_eq!(
            problem(pb::DeadlineEvent {
                ticket_no: String::new(),
                ..good()
            }),
            "ticket_no: required"
        );
        assert_eq!(
            problem(pb::DeadlineEvent { kind: 7, ..good() }),
            "kind: unknown kind 7"
        );
        let all = problem(pb::DeadlineEvent::default());
        for field in [
            "event_id",
            "kind",
            "clock_id",
            "clock_version",
            "ticket_no",
            "stage",
            "unit_id",
            "deadline",
            "fire_at",
        ] {
            assert!(all.contains(&format!("{field}: ")), "{field} in {all}");
        }
        let bad_nanos = problem(pb::DeadlineEvent {
            deadline: Some(Timestamp {
                seconds: 0,
                nanos: -1,
            }),
            ..good()
        });
        assert!(bad_nanos.starts_with("deadline: "), "{bad_nanos}");
    }

    #[test]
    fn bytes_that_are_no_event_are_named() {
        let e = Event::decode(b"\xff\xff\xff").unwrap_err();
        assert!(
            e.message
                .starts_with("message: not a hotline.common.v1.DeadlineEvent"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_owner_answer_is_checked() {
        let running = pb::ClockState {
            clock_id: "BJ1/sign_off/u1".into(),
            version: 2,
            running: true,
            deadline: Some(at(100)),
            ticket_no: "BJ1".into(),
            stage: pb::Stage::SignOff as i32,
            unit_id: "u1".into(),
            stopped_at: None,
        };
        let c = Clock::parse(&running).unwrap();
        assert_eq!((c.version, c.stopped_at), (2, None));
        let stopped = pb::ClockState {
            running: false,
            stopped_at: Some(at(120)),
            ..running.clone()
        };
        assert!(Clock::parse(&stopped).unwrap().stopped_at.is_some());
        let odd = pb::ClockState {
            running: false,
            ..running.clone()
        };
        assert!(
            Clock::parse(&odd)
                .unwrap_err()
                .message
                .contains("stopped_at")
        );
    }

    #[test]
    fn case_states_map_both_ways() {
        for s in [CaseState::Open, CaseState::Closed] {
            assert_eq!(CaseState::from_sql(s.as_sql()), Ok(s));
        }
        assert!(CaseState::from_sql("lost").is_err());
        // The migration's check constraint and partial index spell these.
        assert_eq!(
            (CaseState::Open.as_sql(), CaseState::Closed.as_sql()),
            ("open", "closed")
        );
        let mut f = Fields::new();
        assert_eq!(CaseState::filter_field(&mut f, "state", 0), None);
        assert_eq!(
            CaseState::filter_field(&mut f, "state", 1),
            Some(CaseState::Open)
        );
        assert!(f.is_ok());
        CaseState::filter_field(&mut f, "state", 9);
        assert!(
            f.finish()
                .unwrap_err()
                .message
                .contains("state: unknown state 9")
        );
    }
}
