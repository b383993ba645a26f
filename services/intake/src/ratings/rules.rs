//! The rules of ratings (好差评), check-backs and appeals: what a request
//! must hold, who rates which contact, which rating opens a check-back,
//! the moves of a check-back and of an appeal, who reads a comment. Pure:
//! time is passed in.

use chrono::{DateTime, Duration, Utc};
use hotline_common::auth::{Identity, Role};
use hotline_common::ids::TicketNo;
use hotline_common::paging::Page;
use hotline_common::time::{from_proto, opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::intake::v1 as pb;
use hotline_proto::undertaking::v1::Assignment;

use crate::tickets::rules::Holding;

hotline_common::uuid_id!(
    /// A service contact (服务接触) of a ticket.
    ContactId,
    "a contact id"
);
hotline_common::uuid_id!(
    /// A rating (好差评) of one contact.
    RatingId,
    "a rating id"
);
hotline_common::uuid_id!(
    /// The check-back (回访核实) of a bad rating.
    CheckBackId,
    "a check-back id"
);
hotline_common::uuid_id!(
    /// A unit's appeal (申诉) against a rating.
    AppealId,
    "an appeal id"
);

/// The longest comment a requester leaves with a rating.
pub const MAX_COMMENT_CHARS: usize = 500;
/// The longest note of a check-back, reason of an appeal, note of a decision.
pub const MAX_NOTE_CHARS: usize = 1000;
/// How far ahead a dated plan (整改计划) may be promised.
pub const MAX_PLAN_AHEAD: Duration = Duration::days(366);
/// The longest period ListRatings reads at once.
pub const MAX_PERIOD: Duration = Duration::days(400);

/// Declares an enum stored as lowercase text and sent as a proto enum,
/// each value once.
macro_rules! stored {
    ($(#[$m:meta])* $name:ident, $proto:ty, $what:literal, { $($v:ident = $sql:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($v,)*
        }

        impl $name {
            pub fn as_sql(self) -> &'static str {
                match self {
                    $($name::$v => $sql,)*
                }
            }

            pub fn from_sql(s: &str) -> Result<$name, ApiError> {
                match s {
                    $($sql => Ok($name::$v),)*
                    other => Err(ApiError::internal(format!(
                        concat!("stored ", $what, ": {}"),
                        other
                    ))),
                }
            }

            pub fn to_proto(self) -> $proto {
                match self {
                    $($name::$v => <$proto>::$v,)*
                }
            }

            /// The value a caller sent: `None` for UNSPECIFIED and for a
            /// number the contract does not define.
            pub fn from_proto(v: i32) -> Option<$name> {
                match <$proto>::try_from(v).ok()? {
                    $(<$proto>::$v => Some($name::$v),)*
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use stored;

stored!(
    /// What kind of contact was rated.
    ContactKind, pb::ContactKind, "contact kind", {
        Intake = "intake",
        ReturnVisit = "return_visit",
    }
);
stored!(
    /// The five levels (非常满意 … 非常不满意).
    Level, pb::SatisfactionLevel, "satisfaction level", {
        VerySatisfied = "very_satisfied",
        Satisfied = "satisfied",
        BasicallySatisfied = "basically_satisfied",
        Dissatisfied = "dissatisfied",
        VeryDissatisfied = "very_dissatisfied",
    }
);
stored!(
    /// Where a check-back stands.
    CheckBackState, pb::CheckBackState, "check-back state", {
        Open = "open",
        Closed = "closed",
    }
);
stored!(
    /// What a check-back found.
    Outcome, pb::CheckBackOutcome, "check-back outcome", {
        Fixed = "fixed",
        DatedPlan = "dated_plan",
        Explained = "explained",
    }
);
stored!(
    /// Where an appeal stands.
    AppealState, pb::AppealState, "appeal state", {
        Pending = "pending",
        Upheld = "upheld",
        Rejected = "rejected",
    }
);

/// A bad rating (不满意, 非常不满意) must be checked back: the cause fixed,
/// a fix dated, or the matter explained.
pub fn opens_check_back(level: Level) -> bool {
    matches!(level, Level::Dissatisfied | Level::VeryDissatisfied)
}

/// Who rates which contact: the operator desk and the channel systems the
/// intake contact (the call or message that filed the ticket, rated by
/// keypad or on the channel before it ends); return-visit staff and the
/// channel systems a return visit.
pub fn may_rate(who: &Identity, kind: ContactKind) -> Result<(), ApiError> {
    let allowed: &[Role] = match kind {
        ContactKind::Intake => &[Role::Operator, Role::Service],
        ContactKind::ReturnVisit => &[Role::ReturnVisit, Role::Service],
    };
    if allowed.iter().any(|r| who.has(*r)) {
        Ok(())
    } else {
        Err(ApiError::permission(
            Reason::RoleNotForContact,
            format!(
                "a {} contact is rated by {}",
                kind.as_sql(),
                allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )
        .with("contact_kind", kind.as_sql()))
    }
}

/// A contact of a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub ticket_no: String,
    pub kind: ContactKind,
    pub channel: i32,
    pub at: DateTime<Utc>,
    /// The policy's default rating (默认满意) recorded for it, and when:
    /// never a rating of the requester's.
    pub default: Option<(Level, DateTime<Utc>)>,
}

impl Contact {
    pub fn to_proto(&self) -> pb::Contact {
        pb::Contact {
            contact_id: self.id.to_string(),
            ticket_no: self.ticket_no.clone(),
            kind: self.kind.to_proto() as i32,
            channel: self.channel,
            at: Some(to_proto(self.at)),
            default_level: self.default.map_or(0, |(l, _)| l.to_proto() as i32),
            defaulted_at: self.default.map(|(_, at)| to_proto(at)),
        }
    }
}

/// A stored rating.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub id: RatingId,
    pub contact_id: ContactId,
    pub ticket_no: String,
    pub contact_kind: ContactKind,
    pub level: Level,
    pub comment: String,
    pub rated_at: DateTime<Utc>,
    pub counts: bool,
    pub set_aside_by: Option<AppealId>,
}

impl Rating {
    /// The rating as sent; its comment only when `comment_shown`.
    pub fn to_proto(&self, comment_shown: bool, check_back: Option<&CheckBack>) -> pb::Rating {
        let withheld = !comment_shown && !self.comment.is_empty();
        pb::Rating {
            rating_id: self.id.to_string(),
            ticket_no: self.ticket_no.clone(),
            contact_id: self.contact_id.to_string(),
            contact_kind: self.contact_kind.to_proto() as i32,
            level: self.level.to_proto() as i32,
            comment: if withheld {
                String::new()
            } else {
                self.comment.clone()
            },
            comment_withheld: withheld,
            rated_at: Some(to_proto(self.rated_at)),
            counts: self.counts,
            set_aside_by_appeal_id: self.set_aside_by.map(|a| a.to_string()).unwrap_or_default(),
            check_back: check_back.map(CheckBack::to_proto),
        }
    }
}

/// A stored check-back.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckBack {
    pub id: CheckBackId,
    pub rating_id: RatingId,
    pub ticket_no: String,
    pub state: CheckBackState,
    pub opened_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub planned_date: Option<DateTime<Utc>>,
    pub note: String,
    pub closed_at: Option<DateTime<Utc>>,
}

impl CheckBack {
    pub fn to_proto(&self) -> pb::CheckBack {
        pb::CheckBack {
            check_back_id: self.id.to_string(),
            rating_id: self.rating_id.to_string(),
            ticket_no: self.ticket_no.clone(),
            state: self.state.to_proto() as i32,
            opened_at: Some(to_proto(self.opened_at)),
            outcome: self.outcome.map_or(0, |o| o.to_proto() as i32),
            planned_date: opt_to_proto(self.planned_date),
            note: self.note.clone(),
            closed_at: opt_to_proto(self.closed_at),
        }
    }
}

/// A stored appeal.
#[derive(Debug, Clone, PartialEq)]
pub struct Appeal {
    pub id: AppealId,
    pub rating_id: RatingId,
    pub ticket_no: String,
    pub unit_id: String,
    pub reason: String,
    pub state: AppealState,
    pub appealed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
}

impl Appeal {
    pub fn to_proto(&self) -> pb::Appeal {
        pb::Appeal {
            appeal_id: self.id.to_string(),
            rating_id: self.rating_id.to_string(),
            ticket_no: self.ticket_no.clone(),
            unit_id: self.unit_id.clone(),
            reason: self.reason.clone(),
            state: self.state.to_proto() as i32,
            appealed_at: Some(to_proto(self.appealed_at)),
            decided_at: opt_to_proto(self.decided_at),
            decision_note: self.decision_note.clone(),
        }
    }
}

/// A rating request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRating {
    pub ticket_no: TicketNo,
    pub contact_id: ContactId,
    pub level: Level,
    pub comment: String,
}

pub fn parse_rate(r: &pb::RateContactRequest) -> Result<NewRating, ApiError> {
    let mut f = Fields::new();
    let ticket_no = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let contact_id = f.id::<ContactId>("contact_id", &r.contact_id);
    let level = Level::from_proto(r.level);
    if level.is_none() {
        f.add("level", format!("unknown satisfaction level {}", r.level));
    }
    let comment = f.optional_text("comment", &r.comment, MAX_COMMENT_CHARS);
    f.finish()?;
    Ok(NewRating {
        ticket_no: ticket_no.expect("checked"),
        contact_id: contact_id.expect("checked"),
        level: level.expect("checked"),
        comment,
    })
}

/// A check-back's record, checked against `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: CheckBackId,
    pub outcome: Outcome,
    pub planned_date: Option<DateTime<Utc>>,
    pub note: String,
}

/// A dated plan names a date from now to a year ahead; the other outcomes
/// name none.
pub fn parse_record(
    r: &pb::RecordCheckBackRequest,
    now: DateTime<Utc>,
) -> Result<Record, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<CheckBackId>("check_back_id", &r.check_back_id);
    let outcome = Outcome::from_proto(r.outcome);
    if outcome.is_none() {
        f.add("outcome", format!("unknown outcome {}", r.outcome));
    }
    let note = f.text("note", &r.note, MAX_NOTE_CHARS);
    let planned = read_time(&mut f, "planned_date", r.planned_date.as_ref());
    let earliest = now - Duration::days(1);
    if let Some(t) = planned.filter(|t| *t < earliest || *t > now + MAX_PLAN_AHEAD) {
        f.add(
            "planned_date",
            format!(
                "{} is not between {} and a year ahead",
                t.to_rfc3339(),
                earliest.to_rfc3339()
            ),
        );
    }
    match (outcome, &r.planned_date) {
        (Some(Outcome::DatedPlan), None) => f.add("planned_date", "required for a dated plan"),
        (Some(Outcome::Fixed | Outcome::Explained), Some(_)) => {
            f.add("planned_date", "only a dated plan has a planned date")
        }
        _ => {}
    }
    f.finish()?;
    Ok(Record {
        id: id.expect("checked"),
        outcome: outcome.expect("checked"),
        planned_date: planned,
        note,
    })
}

/// A client's timestamp, if given; its problems go to `f`.
fn read_time(
    f: &mut Fields,
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    match t.map(|t| from_proto(t, field)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            for (field, problem) in e.fields {
                f.add(&field, problem);
            }
            None
        }
    }
}

/// A check-back is recorded once.
pub fn check_open(c: &CheckBack) -> Result<(), ApiError> {
    match c.state {
        CheckBackState::Open => Ok(()),
        CheckBackState::Closed => Err(ApiError::precondition(
            Reason::CheckBackAlreadyRecorded,
            format!(
                "already recorded: the check-back is closed ({})",
                c.outcome.map_or("", |o| o.as_sql())
            ),
        )
        .with("state", c.state.as_sql())
        .with("check_back_id", c.id)),
    }
}

/// Whether `unit` holds or held an assignment of the ticket, in any hop:
/// a unit the ticket was taken from answers for the work it did too.
pub fn held(assignments: &[Assignment], unit: &str) -> bool {
    assignments.iter().any(|a| a.unit_id == unit)
}

/// Which unit appeals: unit staff, for their own unit, which must have
/// held the ticket.
pub fn appealing_unit<'a>(
    who: &'a Identity,
    assignments: &[Assignment],
) -> Result<&'a str, ApiError> {
    let unit = who
        .unit
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::permission(Reason::NoUnit, "unit staff without a unit"))?;
    if held(assignments, unit) {
        Ok(unit)
    } else {
        Err(ApiError::permission(
            Reason::UnitNeverHeldTicket,
            format!("unit {unit} never held an assignment of the ticket"),
        )
        .with("unit_id", unit))
    }
}

/// A rating set aside already is not appealed again.
pub fn check_appealable(r: &Rating) -> Result<(), ApiError> {
    match r.set_aside_by {
        None => Ok(()),
        Some(appeal) => Err(ApiError::precondition(
            Reason::RatingNotCounted,
            format!("the rating was set aside by appeal {appeal}"),
        )
        .with("rating_id", r.id)
        .with("appeal_id", appeal)),
    }
}

/// An appeal is decided once: pending → upheld or rejected.
pub fn decide(a: &Appeal, uphold: bool) -> Result<AppealState, ApiError> {
    match a.state {
        AppealState::Pending if uphold => Ok(AppealState::Upheld),
        AppealState::Pending => Ok(AppealState::Rejected),
        done => Err(ApiError::precondition(
            Reason::AppealAlreadyDecided,
            format!("already decided: the appeal is {}", done.as_sql()),
        )
        .with("state", done.as_sql())
        .with("appeal_id", a.id)),
    }
}

/// Whether `who` reads a requester's comment in full: those who may reach
/// the requester (as for the name and phone: operators, return-visit
/// staff, a unit holding an open assignment unless 保密), and supervisors,
/// who decide check-backs and appeals on it.
pub fn sees_comment(who: &Identity, holding: Holding, confidential: bool) -> bool {
    who.has(Role::Operator)
        || who.has(Role::ReturnVisit)
        || who.has(Role::Supervisor)
        || (holding == Holding::Open && who.has(Role::UnitStaff) && !confidential)
}

/// What ListRatings reads.
#[derive(Debug, Clone, PartialEq)]
pub enum RatingQuery {
    ByTicket(TicketNo),
    /// Given in [from, to).
    InPeriod(DateTime<Utc>, DateTime<Utc>),
}

/// One ticket's ratings, or a period's (at most [`MAX_PERIOD`] long; not
/// for unit staff, who see only the tickets their unit held).
pub fn parse_list(
    who: &Identity,
    r: &pb::ListRatingsRequest,
) -> Result<(RatingQuery, Page), ApiError> {
    let mut f = Fields::new();
    let from = read_time(&mut f, "from", r.from.as_ref());
    let to = read_time(&mut f, "to", r.to.as_ref());
    let query = if r.ticket_no.trim().is_empty() {
        if who.unit_scope().is_some() {
            f.add("ticket_no", "required for unit staff");
        }
        match (from, to, &r.from, &r.to) {
            (Some(a), Some(b), _, _) if a < b && b - a <= MAX_PERIOD => {
                Some(RatingQuery::InPeriod(a, b))
            }
            (Some(_), Some(_), _, _) => {
                f.add("to", "after from, at most 400 days later");
                None
            }
            (_, _, None, None) => {
                f.add("ticket_no", "a ticket_no, or a period from and to");
                None
            }
            (_, _, f_given, t_given) => {
                if f_given.is_none() {
                    f.add("from", "required with to");
                }
                if t_given.is_none() {
                    f.add("to", "required with from");
                }
                None
            }
        }
    } else {
        if r.from.is_some() || r.to.is_some() {
            f.add("from", "a ticket's ratings take no period");
        }
        f.id::<TicketNo>("ticket_no", &r.ticket_no)
            .map(RatingQuery::ByTicket)
    };
    let binding = match &query {
        Some(RatingQuery::ByTicket(no)) => format!("ticket:{no}"),
        Some(RatingQuery::InPeriod(a, b)) => {
            format!("period:{}:{}", a.timestamp_micros(), b.timestamp_micros())
        }
        None => String::new(),
    };
    let page = Page::parse(&mut f, r.page_size, &r.page_token, &["ratings", &binding]);
    f.finish()?;
    Ok((query.expect("checked"), page))
}

/// ListCheckBacks: one state, or both (UNSPECIFIED).
pub fn parse_list_check_backs(
    r: &pb::ListCheckBacksRequest,
) -> Result<(Option<CheckBackState>, Page), ApiError> {
    let mut f = Fields::new();
    let state = if r.state == 0 {
        None
    } else {
        let s = CheckBackState::from_proto(r.state);
        if s.is_none() {
            f.add("state", format!("unknown check-back state {}", r.state));
        }
        s
    };
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &["check_backs", state.map_or("", |s| s.as_sql())],
    );
    f.finish()?;
    Ok((state, page))
}

/// An appeal, checked.
pub fn parse_appeal(r: &pb::AppealRatingRequest) -> Result<(RatingId, String), ApiError> {
    let mut f = Fields::new();
    let id = f.id::<RatingId>("rating_id", &r.rating_id);
    let reason = f.text("reason", &r.reason, MAX_NOTE_CHARS);
    f.finish()?;
    Ok((id.expect("checked"), reason))
}

/// A decision, checked.
pub fn parse_decide(r: &pb::DecideAppealRequest) -> Result<(AppealId, String), ApiError> {
    let mut f = Fields::new();
    let id = f.id::<AppealId>("appeal_id", &r.appeal_id);
    let note = f.text("note", &r.note, MAX_NOTE_CHARS);
    f.finish()?;
    Ok((id.expect("checked"), note))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
