//! Time-limit policy (时限) of a 12345 hotline, and the deadline arithmetic
//! that follows from it. Pure rules: no IO, no clock reads.
//!
//! The numbers are data: [`Policy::beijing`] is the Beijing standard's table
//! (`policy/beijing.toml`); a deployment loads its own with
//! [`Policy::from_toml`], and tests load limits of seconds.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

mod acceptance;
mod clusters;
mod evaluation;
mod inspections;
mod media;
mod ratings;
mod rehandling;
mod repeats;
mod request_types;
mod return_visits;
mod stage;

pub use acceptance::Acceptance;

/// The channels an `[acceptance]` section may name.
pub fn acceptance_channels() -> &'static [&'static str] {
    &acceptance::CHANNELS
}
pub use clusters::{Clusters, MAX_RADIUS_M};
use evaluation::RawEvaluation;
pub use evaluation::{
    DEFAULT_EXCLUSION_REASONS, Evaluation, Month, UnitClass, Version as EvaluationVersion, Weights,
};
pub use inspections::Inspections;
pub use media::{MediaLimit, MediaLimits};
use ratings::RawRatings;
pub use ratings::{DefaultRating, LEVEL_NAMES, Ratings};
use rehandling::RawRehandling;
pub use rehandling::{MAX_ROUNDS_CEILING, Rehandling};
pub use repeats::Repeats;
pub use request_types::RequestType;
use return_visits::RawReturnVisits;
pub use return_visits::{DEFAULT_QUESTIONS, ReturnVisits, Sampling};
pub use stage::Stage;

/// The Beijing policy file, compiled in as the default.
pub const BEIJING_POLICY_TOML: &str = include_str!("../policy/beijing.toml");

/// Urgency tier (紧急程度) of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// 紧急
    Emergency,
    /// 民生保障
    BasicLivelihood,
    /// 一般
    General,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Emergency, Tier::BasicLivelihood, Tier::General];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Emergency => "emergency",
            Tier::BasicLivelihood => "basic_livelihood",
            Tier::General => "general",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown tier {s:?}"))
    }
}

/// The class a ticket's limits are looked up by: its tier, with general
/// requests judged complex (复杂疑难) as a class of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketClass {
    pub tier: Tier,
    pub complex: bool,
    /// 咨询, 求助, …: general requests of a type may have limits of their
    /// own.
    pub kind: RequestType,
}

/// The limits of one class of tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub dispatch: Duration,
    /// Dispatch limit while surge mode (话务量大量集中) is on; `None` when
    /// surge mode does not change this class.
    pub dispatch_surge: Option<Duration>,
    pub sign_off: Duration,
    pub feedback: Duration,
}

/// Where the feedback clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackFrom {
    Dispatch,
    Acceptance,
}

/// When the "about to expire" (即将到期) event fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DueSoon {
    /// Fires when this share of the limit is left (0 < f < 1).
    pub remaining_fraction: f64,
    /// But never earlier than this before the deadline.
    pub max_lead: Duration,
}

/// A whole time-limit policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub feedback_from: FeedbackFrom,
    pub due_soon: DueSoon,
    /// A ticket transferred this many times or more is flagged as
    /// transferred many times (多次流转).
    pub many_transfers: u32,
    /// Return visits (回访).
    pub return_visits: ReturnVisits,
    /// Re-handling (重办) after a return visit.
    pub rehandling: Rehandling,
    /// Ratings (好差评): a default for contacts left unrated, if any.
    pub ratings: Ratings,
    /// The three-rate evaluation (三率考评).
    pub evaluation: Evaluation,
    /// Which units special inspections (专项督查) are offered for.
    pub inspections: Inspections,
    /// Repeats (重复件) and repeated raising (多次反映).
    pub repeats: Repeats,
    /// Concentrated requests (集中反映).
    pub clusters: Clusters,
    /// Media taken at intake: types and sizes per kind.
    pub media: MediaLimits,
    /// Requests from channels other than the phone: reviewed, and accepted
    /// within a limit.
    pub acceptance: Acceptance,
    emergency: Limits,
    basic_livelihood: Limits,
    general: Limits,
    complex: Limits,
    /// General (not complex) requests of these types: their own limits.
    by_type: std::collections::HashMap<RequestType, Limits>,
}

/// Every problem found in a policy file, reported at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time-limit policy: {}", .0.join("; "))]
pub struct PolicyError(pub Vec<String>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Option<String>,
    feedback_counted_from: Option<String>,
    due_soon: Option<RawDueSoon>,
    transfers: Option<RawTransfers>,
    return_visits: Option<RawReturnVisits>,
    rehandling: Option<RawRehandling>,
    ratings: Option<RawRatings>,
    evaluation: Option<RawEvaluation>,
    inspections: Option<inspections::RawInspections>,
    repeats: Option<repeats::RawRepeats>,
    clusters: Option<clusters::RawClusters>,
    media: Option<media::RawMedia>,
    acceptance: Option<acceptance::RawAcceptance>,
    tiers: Option<RawTiers>,
    request_types: Option<request_types::RawRequestTypes>,
}

/// The evaluation section alone, read from the built-in file for a policy
/// that names none.
#[derive(Deserialize)]
struct OnlyEvaluation {
    evaluation: Option<RawEvaluation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfers {
    many: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDueSoon {
    remaining_fraction: Option<f64>,
    max_lead: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiers {
    emergency: Option<RawLimits>,
    basic_livelihood: Option<RawLimits>,
    general: Option<RawLimits>,
    complex: Option<RawLimits>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    dispatch: Option<String>,
    dispatch_surge: Option<String>,
    sign_off: Option<String>,
    feedback: Option<String>,
}

/// Parses "30s", "15m", "2h", "7d" or combinations such as "1h30m" (the
/// `humantime` syntax: also "1day", "2h 30min", "500ms"). Zero is refused:
/// a time limit is positive.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let d = humantime::parse_duration(s).map_err(|e| format!("bad duration {text:?}: {e}"))?;
    if d.is_zero() {
        return Err(format!("bad duration {text:?}: must be positive"));
    }
    Ok(d)
}

fn field(errors: &mut Vec<String>, path: &str, value: Option<&String>) -> Option<Duration> {
    match value {
        None => None,
        Some(v) => match parse_duration(v) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(format!("{path}: {e}"));
                None
            }
        },
    }
}

fn limits(
    errors: &mut Vec<String>,
    tier: &str,
    raw: Option<&RawLimits>,
    base: Option<&Limits>,
) -> Option<Limits> {
    limits_at(errors, &format!("tiers.{tier}"), raw, base)
}

/// The limits of the section at `at`, each stage left out taken from
/// `base` (missing without one).
pub(crate) fn limits_at(
    errors: &mut Vec<String>,
    at: &str,
    raw: Option<&RawLimits>,
    base: Option<&Limits>,
) -> Option<Limits> {
    let empty = RawLimits::default();
    let raw = raw.unwrap_or(&empty);
    let mut stage = |name: &str, v: Option<&String>, inherited: Option<Duration>| {
        let path = format!("{at}.{name}");
        let parsed = field(errors, &path, v);
        if v.is_none() && inherited.is_none() {
            errors.push(format!("{path}: missing"));
        }
        parsed.or(inherited)
    };
    let dispatch = stage("dispatch", raw.dispatch.as_ref(), base.map(|b| b.dispatch));
    let sign_off = stage("sign_off", raw.sign_off.as_ref(), base.map(|b| b.sign_off));
    let feedback = stage("feedback", raw.feedback.as_ref(), base.map(|b| b.feedback));
    let dispatch_surge = field(
        errors,
        &format!("{at}.dispatch_surge"),
        raw.dispatch_surge.as_ref(),
    )
    .or(base.and_then(|b| b.dispatch_surge));
    Some(Limits {
        dispatch: dispatch?,
        dispatch_surge,
        sign_off: sign_off?,
        feedback: feedback?,
    })
}

impl Policy {
    /// The Beijing standard's policy.
    pub fn beijing() -> Policy {
        Policy::from_toml(BEIJING_POLICY_TOML).expect("the built-in Beijing policy is valid")
    }

    /// Parses a policy file, reporting every problem at once.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError(vec![e.to_string()]))?;
        let mut errors = Vec::new();
        let name = raw.name.unwrap_or_default();
        if name.trim().is_empty() {
            errors.push("name: missing".into());
        }
        let feedback_from = match raw.feedback_counted_from.as_deref() {
            None | Some("dispatch") => FeedbackFrom::Dispatch,
            Some("acceptance") => FeedbackFrom::Acceptance,
            Some(other) => {
                errors.push(format!(
                    "feedback_counted_from: {other:?} is neither \"dispatch\" nor \"acceptance\""
                ));
                FeedbackFrom::Dispatch
            }
        };
        let due_raw = raw.due_soon.unwrap_or(RawDueSoon {
            remaining_fraction: None,
            max_lead: None,
        });
        let remaining_fraction = due_raw.remaining_fraction.unwrap_or(0.25);
        if !(remaining_fraction > 0.0 && remaining_fraction < 1.0) {
            errors.push(format!(
                "due_soon.remaining_fraction: {remaining_fraction} is not between 0 and 1"
            ));
        }
        let max_lead = field(&mut errors, "due_soon.max_lead", due_raw.max_lead.as_ref())
            .unwrap_or(Duration::from_secs(86_400));
        let many_transfers = raw.transfers.and_then(|t| t.many).unwrap_or(3);
        if many_transfers == 0 {
            errors.push("transfers.many: must be at least 1".into());
        }
        let return_visits =
            return_visits::parse(&mut errors, raw.return_visits.unwrap_or_default());
        let rehandling = rehandling::parse(&mut errors, raw.rehandling.unwrap_or_default());
        let ratings = ratings::parse(&mut errors, raw.ratings.unwrap_or_default());
        let inspections = inspections::parse(&mut errors, raw.inspections.unwrap_or_default());
        let repeats = repeats::parse(&mut errors, raw.repeats.unwrap_or_default());
        let clusters = clusters::parse(&mut errors, raw.clusters.unwrap_or_default());
        let media = media::parse(&mut errors, raw.media.unwrap_or_default());
        let acceptance = acceptance::parse(&mut errors, raw.acceptance.unwrap_or_default());
        let raw_evaluation = match raw.evaluation {
            Some(e) => e,
            None => toml::from_str::<OnlyEvaluation>(BEIJING_POLICY_TOML)
                .ok()
                .and_then(|o| o.evaluation)
                .unwrap_or_default(),
        };
        let evaluation = evaluation::parse(&mut errors, raw_evaluation);
        let tiers = raw.tiers.unwrap_or(RawTiers {
            emergency: None,
            basic_livelihood: None,
            general: None,
            complex: None,
        });
        let emergency = limits(&mut errors, "emergency", tiers.emergency.as_ref(), None);
        let basic = limits(
            &mut errors,
            "basic_livelihood",
            tiers.basic_livelihood.as_ref(),
            None,
        );
        let general = limits(&mut errors, "general", tiers.general.as_ref(), None);
        let complex = match &general {
            Some(g) => limits(&mut errors, "complex", tiers.complex.as_ref(), Some(g)),
            None => None,
        };
        let by_type = request_types::parse(
            &mut errors,
            raw.request_types.unwrap_or_default(),
            general.as_ref(),
        );
        match (emergency, basic, general, complex) {
            (Some(emergency), Some(basic_livelihood), Some(general), Some(complex))
                if errors.is_empty() =>
            {
                Ok(Policy {
                    name,
                    feedback_from,
                    due_soon: DueSoon {
                        remaining_fraction,
                        max_lead,
                    },
                    many_transfers,
                    return_visits,
                    rehandling,
                    ratings,
                    evaluation,
                    inspections,
                    repeats,
                    clusters,
                    media,
                    acceptance,
                    emergency,
                    basic_livelihood,
                    general,
                    complex,
                    by_type,
                })
            }
            _ => Err(PolicyError(errors)),
        }
    }

    /// The limits of a class of tickets.
    pub fn limits(&self, class: TicketClass) -> &Limits {
        match (class.tier, class.complex) {
            (Tier::Emergency, _) => &self.emergency,
            (Tier::BasicLivelihood, _) => &self.basic_livelihood,
            (Tier::General, false) => self.by_type.get(&class.kind).unwrap_or(&self.general),
            (Tier::General, true) => &self.complex,
        }
    }

    /// Dispatch (派单) deadline of a ticket accepted at `accepted_at`,
    /// with surge mode on or off at that moment.
    pub fn dispatch_deadline(
        &self,
        class: TicketClass,
        accepted_at: DateTime<Utc>,
        surge: bool,
    ) -> DateTime<Utc> {
        let l = self.limits(class);
        let limit = match (surge, l.dispatch_surge) {
            (true, Some(s)) => s,
            _ => l.dispatch,
        };
        add(accepted_at, limit)
    }

    /// Sign-off (签收) deadline of an assignment dispatched at `dispatched_at`.
    pub fn sign_deadline(&self, class: TicketClass, dispatched_at: DateTime<Utc>) -> DateTime<Utc> {
        add(dispatched_at, self.limits(class).sign_off)
    }

    /// Feedback (反馈) deadline, counted from dispatch or acceptance by
    /// policy.
    pub fn feedback_deadline(
        &self,
        class: TicketClass,
        accepted_at: DateTime<Utc>,
        dispatched_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let start = match self.feedback_from {
            FeedbackFrom::Dispatch => dispatched_at,
            FeedbackFrom::Acceptance => accepted_at,
        };
        add(start, self.limits(class).feedback)
    }

    /// When the "about to expire" event of a clock running from `start` to
    /// `deadline` fires.
    pub fn due_soon_at(&self, start: DateTime<Utc>, deadline: DateTime<Utc>) -> DateTime<Utc> {
        let span = (deadline - start).to_std().unwrap_or_default();
        let lead = span
            .mul_f64(self.due_soon.remaining_fraction)
            .min(self.due_soon.max_lead);
        deadline - chrono::Duration::from_std(lead).unwrap_or_default()
    }
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).expect("policy durations fit in chrono")
}

/// A policy section's parser: no section gives its defaults without a
/// problem, and `bad` gives `problems` problems, each reported.
#[cfg(test)]
pub(crate) fn check_section<R: Default, T: PartialEq + std::fmt::Debug + Default>(
    parse: fn(&mut Vec<String>, R) -> T,
    bad: R,
    problems: usize,
) {
    let mut errors = Vec::new();
    assert_eq!(parse(&mut errors, R::default()), T::default());
    assert!(errors.is_empty(), "{errors:?}");
    parse(&mut errors, bad);
    assert_eq!(errors.len(), problems, "{errors:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap()
    }

    const GENERAL: TicketClass = TicketClass {
        tier: Tier::General,
        complex: false,
        kind: RequestType::Unrecorded,
    };

    #[test]
    fn beijing_table_matches_the_standard() {
        let p = Policy::beijing();
        let h = |n: u64| Duration::from_secs(n * 3600);
        let e = p.limits(TicketClass {
            tier: Tier::Emergency,
            complex: false,
            kind: RequestType::Unrecorded,
        });
        assert_eq!(
            (e.dispatch, e.sign_off, e.feedback),
            (h(1), Duration::from_secs(900), h(2))
        );
        let b = p.limits(TicketClass {
            tier: Tier::BasicLivelihood,
            complex: false,
            kind: RequestType::Unrecorded,
        });
        assert_eq!(
            (b.dispatch, b.sign_off, b.feedback),
            (h(2), Duration::from_secs(1800), h(24))
        );
        let g = p.limits(GENERAL);
        assert_eq!(
            (g.dispatch, g.dispatch_surge, g.sign_off, g.feedback),
            (h(24), Some(h(48)), h(24), h(7 * 24))
        );
        let c = p.limits(TicketClass {
            tier: Tier::General,
            complex: true,
            kind: RequestType::Unrecorded,
        });
        assert_eq!(
            (c.dispatch, c.sign_off, c.feedback),
            (h(24), h(24), h(15 * 24))
        );
    }

    #[test]
    fn natural_days_run_through_weekends() {
        // Friday 2026-11-27 10:00 + 7 natural days = Friday 2026-12-04 10:00.
        let p = Policy::beijing();
        let fb = p.feedback_deadline(GENERAL, at(9, 0), at(10, 0));
        assert_eq!(fb, Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
    }

    #[test]
    fn surge_mode_doubles_general_dispatch_only() {
        let p = Policy::beijing();
        assert_eq!(
            p.dispatch_deadline(GENERAL, at(10, 0), true),
            at(10, 0) + chrono::Duration::hours(48)
        );
        let e = TicketClass {
            tier: Tier::Emergency,
            complex: false,
            kind: RequestType::Unrecorded,
        };
        assert_eq!(p.dispatch_deadline(e, at(10, 0), true), at(11, 0));
    }

    #[test]
    fn feedback_can_count_from_acceptance() {
        let text = BEIJING_POLICY_TOML.replace(
            "feedback_counted_from = \"dispatch\"",
            "feedback_counted_from = \"acceptance\"",
        );
        let p = Policy::from_toml(&text).unwrap();
        let e = TicketClass {
            tier: Tier::Emergency,
            complex: false,
            kind: RequestType::Unrecorded,
        };
        assert_eq!(p.feedback_deadline(e, at(9, 0), at(9, 30)), at(11, 0));
    }

    #[test]
    fn due_soon_is_a_share_of_the_limit_capped() {
        let p = Policy::beijing();
        // 2 h limit, a quarter left: 30 minutes before.
        assert_eq!(p.due_soon_at(at(9, 0), at(11, 0)), at(10, 30));
        // 15 days: capped at one day before.
        let start = at(9, 0);
        let deadline = start + chrono::Duration::days(15);
        assert_eq!(
            p.due_soon_at(start, deadline),
            deadline - chrono::Duration::days(1)
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3x").is_err());
        assert_eq!(parse_duration("2h 30min"), Ok(Duration::from_secs(9000)));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let err = Policy::from_toml(
            r#"
            name = ""
            feedback_counted_from = "never"
            [tiers.emergency]
            dispatch = "1x"
            sign_off = "15m"
            [tiers.general]
            dispatch = "1h"
            sign_off = "1h"
            feedback = "1d"
            "#,
        )
        .unwrap_err();
        let all = err.0.join("\n");
        for needle in [
            "name: missing",
            "feedback_counted_from",
            "tiers.emergency.dispatch: bad duration",
            "tiers.emergency.feedback: missing",
            "tiers.basic_livelihood.dispatch: missing",
        ] {
            assert!(all.contains(needle), "{needle} not in {all}");
        }
    }

    #[test]
    fn beijing_visits_every_answered_ticket() {
        let p = Policy::beijing();
        assert_eq!(p.return_visits.sampling, Sampling::All);
        assert_eq!(p.return_visits.sampling.rate(Tier::General), 1.0);
        assert_eq!(p.return_visits.max_attempts, 3);
        assert!(!p.return_visits.questions.is_empty());
    }

    #[test]
    fn a_sampling_policy_names_its_seed_and_every_rate() {
        let base = "name = \"t\"\n[tiers.emergency]\ndispatch = \"1h\"\nsign_off = \"1h\"\nfeedback = \"1h\"\n[tiers.basic_livelihood]\ndispatch = \"1h\"\nsign_off = \"1h\"\nfeedback = \"1h\"\n[tiers.general]\ndispatch = \"1h\"\nsign_off = \"1h\"\nfeedback = \"1h\"\n";
        let good = format!(
            "{base}[return_visits]\nvisit = \"sample\"\nseed = \"2026-11\"\nmax_attempts = 2\n[return_visits.rates]\nemergency = 1.0\nbasic_livelihood = 0.5\ngeneral = 0.1\n"
        );
        let p = Policy::from_toml(&good).unwrap();
        assert_eq!(p.return_visits.sampling.rate(Tier::BasicLivelihood), 0.5);
        assert_eq!(p.return_visits.max_attempts, 2);
        let bad = format!(
            "{base}[return_visits]\nvisit = \"sample\"\nmax_attempts = 0\n[return_visits.rates]\nemergency = 1.5\n"
        );
        let all = Policy::from_toml(&bad).unwrap_err().0.join("\n");
        for needle in [
            "return_visits.seed: missing",
            "return_visits.rates.emergency: 1.5",
            "return_visits.rates.general: missing",
            "return_visits.max_attempts",
        ] {
            assert!(all.contains(needle), "{needle} not in {all}");
        }
    }

    #[test]
    fn seconds_long_policies_load() {
        let p = Policy::from_toml(
            r#"
            name = "test"
            [tiers.emergency]
            dispatch = "4s"
            sign_off = "2s"
            feedback = "6s"
            [tiers.basic_livelihood]
            dispatch = "4s"
            sign_off = "2s"
            feedback = "6s"
            [tiers.general]
            dispatch = "4s"
            sign_off = "2s"
            feedback = "6s"
            "#,
        )
        .unwrap();
        assert_eq!(
            p.sign_deadline(GENERAL, at(9, 0)),
            at(9, 0) + chrono::Duration::seconds(2)
        );
    }
}
