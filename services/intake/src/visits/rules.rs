//! The rules of return visits (回访): which answered tickets enter the
//! queue (consent, then all or a reproducible sample), what an attempt must
//! hold, and where an attempt leaves the visit. Pure: time is passed in.

use chrono::{DateTime, Utc};
use hotline_common::auth::Identity;
use hotline_common::paging::Page;
use hotline_common::time::opt_to_proto;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::intake::v1 as pb;
use hotline_sla::{ReturnVisits, Sampling, Tier};
use sha2::{Digest, Sha256};

use crate::ratings::rules::{ContactId, Level, MAX_COMMENT_CHARS, stored};

hotline_common::uuid_id!(
    /// A return visit (回访) of one answered handling round.
    VisitId,
    "a visit id"
);

stored!(
    /// Where a visit stands.
    VisitState, pb::ReturnVisitState, "visit state", {
        Queued = "queued",
        Taken = "taken",
        Closed = "closed",
        NotQueued = "not_queued",
    }
);
stored!(
    /// Why a round comes to a return visit.
    Cause, pb::VisitCause, "visit cause", {
        Answered = "answered",
        Overdue = "overdue",
    }
);
stored!(
    /// Why an answered ticket was not queued.
    NotQueued, pb::NotQueuedReason, "not-queued reason", {
        ConsentRefused = "consent_refused",
        NotSampled = "not_sampled",
    }
);
stored!(
    /// How a visit ended.
    Outcome, pb::VisitOutcome, "visit outcome", {
        Reached = "reached",
        Unreachable = "unreachable",
        Refused = "refused",
    }
);
stored!(
    /// What one attempt came to.
    AttemptResult, pb::VisitAttemptResult, "attempt result", {
        Reached = "reached",
        Unreachable = "unreachable",
        Refused = "refused",
    }
);
stored!(
    /// Resolved, partly or not (解决情况).
    Resolution, pb::Resolution, "resolution", {
        Resolved = "resolved",
        Partly = "partly",
        Unresolved = "unresolved",
    }
);

/// SHA-256(seed ‖ ticket number), its first 8 bytes as a big-endian u64:
/// the draw a ticket's sample decision is made on.
pub fn draw(seed: &str, ticket_no: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(seed.as_bytes())
        .chain_update(ticket_no.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Whether a ticket is in the sample of `rate` (0–1): its draw is below
/// rate × 2^64. A rate of 1 takes every ticket, 0 none.
pub fn in_sample(seed: &str, ticket_no: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    // rate × 2^64 < 2^64 here; the cast rounds towards zero.
    let threshold = (rate * 18_446_744_073_709_551_616.0) as u64;
    draw(seed, ticket_no) < threshold
}

/// What intake decided for an answered ticket, with what it decided it on.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `None`: queued; otherwise why not.
    pub not_queued: Option<NotQueued>,
    /// The seed and rate, when the policy samples.
    pub sample: Option<(String, f64)>,
}

/// Decides whether an answered ticket enters the queue: never without the
/// requester's consent (an anonymous requester gave none); then every
/// ticket, or those the period's sample draws for the ticket's tier.
pub fn decide(policy: &ReturnVisits, tier: Tier, consent: bool, ticket_no: &str) -> Entry {
    let sample = match &policy.sampling {
        Sampling::All => None,
        Sampling::Sample { seed, .. } => Some((seed.clone(), policy.sampling.rate(tier))),
    };
    let not_queued = if !consent {
        Some(NotQueued::ConsentRefused)
    } else {
        match &sample {
            Some((seed, rate)) if !in_sample(seed, ticket_no, *rate) => Some(NotQueued::NotSampled),
            _ => None,
        }
    };
    Entry { not_queued, sample }
}

/// The raw answers of a reached requester.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    pub unit_contacted: bool,
    pub resolution: Resolution,
    pub satisfaction: Level,
    pub unit_at_fault: bool,
    pub comment: String,
}

/// One attempt, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub visit_id: VisitId,
    pub result: AttemptResult,
    /// REACHED only.
    pub answers: Option<Answers>,
}

/// An attempt: a result; the answers when reached (resolution and
/// satisfaction required), none otherwise.
pub fn parse_attempt(r: &pb::RecordVisitAttemptRequest) -> Result<Attempt, ApiError> {
    let mut f = Fields::new();
    let visit_id = f.id::<VisitId>("visit_id", &r.visit_id);
    let result = AttemptResult::from_proto(r.result);
    if result.is_none() {
        f.add("result", format!("unknown attempt result {}", r.result));
    }
    let comment = f.optional_text("comment", &r.comment, MAX_COMMENT_CHARS);
    let answers = match result {
        Some(AttemptResult::Reached) => {
            let resolution = Resolution::from_proto(r.resolution);
            if resolution.is_none() {
                f.add(
                    "resolution",
                    format!(
                        "a reached requester's answer is required ({})",
                        r.resolution
                    ),
                );
            }
            let satisfaction = Level::from_proto(r.satisfaction);
            if satisfaction.is_none() {
                f.add(
                    "satisfaction",
                    format!(
                        "a reached requester's answer is required ({})",
                        r.satisfaction
                    ),
                );
            }
            match (resolution, satisfaction) {
                (Some(resolution), Some(satisfaction)) => Some(Answers {
                    unit_contacted: r.unit_contacted,
                    resolution,
                    satisfaction,
                    unit_at_fault: r.unit_at_fault,
                    comment,
                }),
                _ => None,
            }
        }
        Some(_) => {
            let given = [
                ("unit_contacted", r.unit_contacted),
                ("resolution", r.resolution != 0),
                ("satisfaction", r.satisfaction != 0),
                ("unit_at_fault", r.unit_at_fault),
                ("comment", !r.comment.is_empty()),
            ];
            for (field, set) in given {
                if set {
                    f.add(field, "only a reached requester answers");
                }
            }
            None
        }
        None => None,
    };
    f.finish()?;
    Ok(Attempt {
        visit_id: visit_id.expect("checked"),
        result: result.expect("checked"),
        answers,
    })
}

/// A visit as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub id: VisitId,
    pub ticket_no: String,
    pub unit_id: String,
    pub hop: i32,
    pub round: i32,
    pub cause: Cause,
    pub answered_at: Option<DateTime<Utc>>,
    pub entered_at: DateTime<Utc>,
    pub state: VisitState,
    pub not_queued: Option<NotQueued>,
    pub sample: Option<(String, f64)>,
    pub deadline: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub taken_by: Option<String>,
    pub attempts: i32,
    pub outcome: Option<Outcome>,
    pub answers: Option<Answers>,
    pub contact_id: Option<ContactId>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Visit {
    pub fn to_proto(&self) -> pb::ReturnVisit {
        let a = self.answers.as_ref();
        pb::ReturnVisit {
            visit_id: self.id.to_string(),
            ticket_no: self.ticket_no.clone(),
            state: self.state.to_proto() as i32,
            unit_id: self.unit_id.clone(),
            hop: self.hop,
            round: self.round,
            entered_at: Some(hotline_common::time::to_proto(self.entered_at)),
            not_queued_reason: self.not_queued.map_or(0, |n| n.to_proto() as i32),
            sampled: self.sample.is_some(),
            sample_seed: self
                .sample
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            sample_rate: self.sample.as_ref().map_or(0.0, |s| s.1),
            deadline: opt_to_proto(self.deadline),
            due_at: opt_to_proto(self.due_at),
            taken_by: self.taken_by.clone().unwrap_or_default(),
            attempts: self.attempts,
            outcome: self.outcome.map_or(0, |o| o.to_proto() as i32),
            unit_contacted: a.is_some_and(|a| a.unit_contacted),
            resolution: a.map_or(0, |a| a.resolution.to_proto() as i32),
            satisfaction: a.map_or(0, |a| a.satisfaction.to_proto() as i32),
            unit_at_fault: a.is_some_and(|a| a.unit_at_fault),
            comment: a.map(|a| a.comment.clone()).unwrap_or_default(),
            contact_id: self.contact_id.map(|c| c.to_string()).unwrap_or_default(),
            closed_at: opt_to_proto(self.closed_at),
            cause: self.cause.to_proto() as i32,
            answered_at: opt_to_proto(self.answered_at),
        }
    }
}

/// Only the visitor holding a visit records its attempts; a closed visit
/// takes none.
pub fn check_recordable(v: &Visit, who: &Identity) -> Result<(), ApiError> {
    match v.state {
        VisitState::Closed => Err(ApiError::precondition(
            Reason::VisitClosed,
            format!("visit {} is closed already", v.id),
        )
        .with("visit_id", v.id)
        .with("outcome", v.outcome.map_or("", |o| o.as_sql()))),
        VisitState::Taken if v.taken_by.as_deref() == Some(who.subject.as_str()) => Ok(()),
        _ => Err(ApiError::precondition(
            Reason::VisitNotTaken,
            format!("visit {} is not held by the caller", v.id),
        )
        .with("visit_id", v.id)
        .with("state", v.state.as_sql())),
    }
}

/// Where an attempt leaves a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Closed, with how it ended.
    Close(Outcome),
    /// Back in the queue, due at the time given.
    Retry(DateTime<Utc>),
}

/// The attempt numbered `attempts` (counting this one) came to `result`:
/// reached and refused close the visit; unreachable puts it back after the
/// retry interval, or closes it unreachable once the attempts are spent.
pub fn step(
    policy: &ReturnVisits,
    result: AttemptResult,
    attempts: i32,
    now: DateTime<Utc>,
) -> Step {
    match result {
        AttemptResult::Reached => Step::Close(Outcome::Reached),
        AttemptResult::Refused => Step::Close(Outcome::Refused),
        AttemptResult::Unreachable if attempts >= policy.max_attempts as i32 => {
            Step::Close(Outcome::Unreachable)
        }
        AttemptResult::Unreachable => {
            Step::Retry(now + chrono::Duration::from_std(policy.retry_after).unwrap_or_default())
        }
    }
}

/// ListReturnVisits: one state or all, paged.
pub fn parse_list(r: &pb::ListReturnVisitsRequest) -> Result<(Option<VisitState>, Page), ApiError> {
    let mut f = Fields::new();
    let state = if r.state == 0 {
        None
    } else {
        let s = VisitState::from_proto(r.state);
        if s.is_none() {
            f.add("state", format!("unknown visit state {}", r.state));
        }
        s
    };
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &["return_visits", state.map_or("", |s| s.as_sql())],
    );
    f.finish()?;
    Ok((state, page))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
