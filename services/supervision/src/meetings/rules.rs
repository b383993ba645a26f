//! The rules of consultation meetings (会议协商): which tickets are
//! candidates, the states, and what resolutions may say. Pure: no IO.
//!
//! | step | by | state | |
//! |---|---|---|---|
//! | convene | supervisor | → convened | each invited unit an arrival clock to the start |
//! | attend | an invited unit | convened | arrived (late after the start), its clock stops |
//! | record the minutes | supervisor | convened → recorded | each re-dispatch: a new hop through dispatch; each action: a clock to its date; arrival clocks still running stop |
//! | complete an action | its unit | recorded | done (late after its date), its clock stops |

use chrono::{DateTime, Duration, Utc};
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::summons::Limits;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;
use hotline_proto::supervision::v1::meeting_resolution::Resolution as Raw;

pub const LIMITS: Limits = Limits {
    max_units: 20,
    max_ahead: Duration::days(30),
};
pub const MAX_TICKETS: usize = 20;
pub const MAX_RESOLUTIONS: usize = 20;
pub const MAX_TEXT: usize = 2000;
pub const MAX_MINUTES: usize = 10_000;

hotline_common::sql_enum!(
    /// Where a meeting stands.
    MeetingState, pb::MeetingState, "meeting state", {
        Convened = "convened",
        Recorded = "recorded",
    }
);

/// The policy's counts that make a ticket a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Transferred this many times (`transfers.many`, 多次流转).
    pub many_transfers: u32,
    /// Raised this many times, itself and its repeats
    /// (`repeats.raised_again`, 多次反映).
    pub raised_again: u32,
}

impl Thresholds {
    pub fn of(policy: &hotline_sla::Policy) -> Thresholds {
        Thresholds {
            many_transfers: policy.many_transfers,
            raised_again: policy.repeats.raised_again,
        }
    }
}

/// What the events told of a ticket that may call for a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told<'a> {
    pub tier: &'a str,
    pub transfers: i32,
    pub times_raised: i32,
    /// Empty unless it is part of a concentrated request.
    pub cluster_id: &'a str,
}

/// Whether a ticket calls for a meeting: emergency tier, transferred many
/// times, raised again and again, or part of a concentrated request;
/// never once closed.
pub fn bases(s: Told<'_>, t: Thresholds) -> Vec<pb::MeetingCandidateBasis> {
    let Told {
        tier,
        transfers,
        times_raised,
        cluster_id,
    } = s;
    let mut out = Vec::new();
    if tier == "emergency" {
        out.push(pb::MeetingCandidateBasis::Emergency);
    }
    if i64::from(transfers) >= i64::from(t.many_transfers) {
        out.push(pb::MeetingCandidateBasis::ManyTransfers);
    }
    if i64::from(times_raised) >= i64::from(t.raised_again) {
        out.push(pb::MeetingCandidateBasis::RaisedAgain);
    }
    if !cluster_id.is_empty() {
        out.push(pb::MeetingCandidateBasis::Clustered);
    }
    out
}

pub fn may_change(id: impl std::fmt::Display, state: MeetingState) -> Result<(), ApiError> {
    match state {
        MeetingState::Convened => Ok(()),
        MeetingState::Recorded => Err(ApiError::precondition(
            Reason::MeetingAlreadyRecorded,
            format!("meeting {id} is recorded: its minutes are taken"),
        )
        .with("meeting_id", id)
        .with("state", state)),
    }
}

/// The tickets a meeting is on: 1–`MAX_TICKETS`, distinct.
pub fn tickets(f: &mut Fields, raw: &[String]) -> Vec<TicketNo> {
    if raw.is_empty() || raw.len() > MAX_TICKETS {
        f.add("ticket_nos", format!("1 to {MAX_TICKETS} tickets"));
        return Vec::new();
    }
    let mut out: Vec<TicketNo> = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        if let Some(t) = f.id::<TicketNo>(&format!("ticket_nos[{i}]"), t) {
            if out.contains(&t) {
                f.add(&format!("ticket_nos[{i}]"), format!("{t} is listed twice"));
            } else {
                out.push(t);
            }
        }
    }
    out
}

/// One resolution, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Redispatch {
        ticket: TicketNo,
        lead: UnitId,
        co: Vec<UnitId>,
    },
    Action {
        unit: UnitId,
        action: String,
        due: DateTime<Utc>,
    },
}

/// The resolutions: 1–`MAX_RESOLUTIONS`; a re-dispatch only of a ticket of
/// the meeting, once, with a lead and distinct co-units; an action with its
/// unit, text and a date ahead.
pub fn resolutions(
    f: &mut Fields,
    raw: &[pb::MeetingResolution],
    meeting_tickets: &[String],
    now: DateTime<Utc>,
) -> Vec<Resolution> {
    if raw.is_empty() || raw.len() > MAX_RESOLUTIONS {
        f.add("resolutions", format!("1 to {MAX_RESOLUTIONS} resolutions"));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let at = |name: &str| format!("resolutions[{i}].{name}");
        match &r.resolution {
            None => f.add(
                &format!("resolutions[{i}]"),
                "a redispatch or an action is required",
            ),
            Some(Raw::Redispatch(d)) => {
                let ticket = f.id::<TicketNo>(&at("redispatch.ticket_no"), &d.ticket_no);
                let lead = f.id::<UnitId>(&at("redispatch.lead_unit_id"), &d.lead_unit_id);
                let mut co: Vec<UnitId> = Vec::new();
                for (j, u) in d.co_unit_ids.iter().enumerate().take(LIMITS.max_units) {
                    let field = at(&format!("redispatch.co_unit_ids[{j}]"));
                    if let Some(u) = f.id::<UnitId>(&field, u) {
                        if Some(&u) == lead.as_ref() || co.contains(&u) {
                            f.add(&field, format!("{u} is named twice"));
                        } else {
                            co.push(u);
                        }
                    }
                }
                if let Some(t) = &ticket {
                    if !meeting_tickets.iter().any(|m| m == t.as_str()) {
                        f.add(
                            &at("redispatch.ticket_no"),
                            format!("{t} is not a ticket of the meeting"),
                        );
                    } else if out
                        .iter()
                        .any(|r| matches!(r, Resolution::Redispatch { ticket, .. } if ticket == t))
                    {
                        f.add(
                            &at("redispatch.ticket_no"),
                            format!("{t} is re-dispatched twice"),
                        );
                    }
                }
                if let (Some(ticket), Some(lead)) = (ticket, lead) {
                    out.push(Resolution::Redispatch { ticket, lead, co });
                }
            }
            Some(Raw::Action(a)) => {
                let unit = f.id::<UnitId>(&at("action.unit_id"), &a.unit_id);
                let action = f.text(&at("action.action"), &a.action, MAX_TEXT);
                let due =
                    crate::reports::rules::due_field(f, &at("action.due"), a.due.as_ref(), now);
                if let (Some(unit), Some(due)) = (unit, due) {
                    out.push(Resolution::Action { unit, action, due });
                }
            }
        }
    }
    out
}

/// The clock instance of a meeting's action.
pub fn action_instance(meeting: impl std::fmt::Display, position: i32) -> String {
    format!("{meeting}a{position}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::supervision::v1::{MeetingAction, MeetingRedispatch, MeetingResolution};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap()
    }

    #[test]
    fn candidates_are_emergencies_tickets_transferred_or_raised_many_times_and_clusters() {
        let t = Thresholds {
            many_transfers: 3,
            raised_again: 3,
        };
        let s = |tier, transfers, times_raised, cluster_id| Told {
            tier,
            transfers,
            times_raised,
            cluster_id,
        };
        assert_eq!(
            bases(s("emergency", 0, 1, ""), t),
            [pb::MeetingCandidateBasis::Emergency]
        );
        assert_eq!(
            bases(s("general", 3, 1, ""), t),
            [pb::MeetingCandidateBasis::ManyTransfers]
        );
        assert_eq!(
            bases(s("general", 0, 3, ""), t),
            [pb::MeetingCandidateBasis::RaisedAgain]
        );
        assert_eq!(
            bases(s("general", 0, 1, "c-1"), t),
            [pb::MeetingCandidateBasis::Clustered]
        );
        assert!(bases(s("general", 2, 2, ""), t).is_empty());
        assert_eq!(bases(s("emergency", 5, 4, "c-1"), t).len(), 4);
    }

    #[test]
    fn resolutions_name_each_bad_field() {
        let tickets = vec!["BJ000000000001".to_string()];
        let redispatch = |t: &str, lead: &str, co: &[&str]| MeetingResolution {
            resolution: Some(Raw::Redispatch(MeetingRedispatch {
                ticket_no: t.into(),
                lead_unit_id: lead.into(),
                co_unit_ids: co.iter().map(|s| s.to_string()).collect(),
                hop: 0,
            })),
        };
        let mut f = Fields::new();
        let got = resolutions(
            &mut f,
            &[
                redispatch("BJ000000000001", "a", &["b"]),
                MeetingResolution {
                    resolution: Some(Raw::Action(MeetingAction {
                        unit_id: "a".into(),
                        action: "清理".into(),
                        due: Some(hotline_common::time::to_proto(at(60))),
                        ..Default::default()
                    })),
                },
            ],
            &tickets,
            at(0),
        );
        assert!(f.is_ok());
        assert_eq!(got.len(), 2);
        let mut f = Fields::new();
        resolutions(
            &mut f,
            &[
                redispatch("BJ000000000001", "a", &["a"]),
                redispatch("BJ000000000001", "a", &[]),
                redispatch("BJ000000000009", "a", &[]),
                MeetingResolution { resolution: None },
            ],
            &tickets,
            at(0),
        );
        let m = f.finish().unwrap_err().message;
        for field in [
            "resolutions[0].redispatch.co_unit_ids[0]",
            "resolutions[1].redispatch.ticket_no",
            "resolutions[2].redispatch.ticket_no",
            "resolutions[3]",
        ] {
            assert!(m.contains(field), "{field} in {m}");
        }
    }

    #[test]
    fn a_recorded_meeting_takes_no_more_steps() {
        assert_eq!(
            may_change("m", MeetingState::Recorded).unwrap_err().reason,
            Some(Reason::MeetingAlreadyRecorded)
        );
    }
}
