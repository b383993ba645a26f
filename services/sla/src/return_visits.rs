//! Return-visit policy (回访): who is visited (all, or a reproducible
//! sample per tier), the visit's limit, retries and the neutral questions.

use std::time::Duration;

use serde::Deserialize;

use crate::{Tier, field};

/// Which answered tickets enter the return-visit queue (全部或抽样).
#[derive(Debug, Clone, PartialEq)]
pub enum Sampling {
    /// Every ticket answered (whose requester consented).
    All,
    /// A reproducible sample: a ticket is visited when
    /// SHA-256(seed ‖ ticket number), read as a big-endian u64 from its
    /// first 8 bytes, is below rate × 2^64 (the rate of its tier).
    Sample {
        /// The period's seed, stored with each decision.
        seed: String,
        emergency: f64,
        basic_livelihood: f64,
        general: f64,
    },
}

impl Sampling {
    /// The sampling rate of a tier: 1 when every ticket is visited.
    pub fn rate(&self, tier: Tier) -> f64 {
        match self {
            Sampling::All => 1.0,
            Sampling::Sample {
                emergency,
                basic_livelihood,
                general,
                ..
            } => match tier {
                Tier::Emergency => *emergency,
                Tier::BasicLivelihood => *basic_livelihood,
                Tier::General => *general,
            },
        }
    }
}

/// Return visits (回访): who is visited, how long a visit may take, how
/// often an unreachable requester is tried, and what is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnVisits {
    pub sampling: Sampling,
    /// The visit's own limit, from entry into the queue to its close.
    pub limit: Duration,
    /// An unreachable requester is tried again after this long.
    pub retry_after: Duration,
    /// Attempts before a visit is closed unreachable (at least 1).
    pub max_attempts: u32,
    /// How long a taken visit stays the taker's before it is due again.
    pub take_lease: Duration,
    /// The questions, worded neutrally (no leading language).
    pub questions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReturnVisits {
    visit: Option<String>,
    seed: Option<String>,
    rates: Option<RawRates>,
    limit: Option<String>,
    retry_after: Option<String>,
    max_attempts: Option<u32>,
    take_lease: Option<String>,
    questions: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRates {
    emergency: Option<f64>,
    basic_livelihood: Option<f64>,
    general: Option<f64>,
}

/// The questions asked when a policy names none.
pub const DEFAULT_QUESTIONS: &[&str] = &[
    "承办单位是否与您联系过？",
    "您反映的问题现在解决情况如何？",
    "您对这次办理结果的评价是：非常满意、满意、基本满意、不满意、非常不满意中的哪一项？",
];

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawReturnVisits) -> ReturnVisits {
    let sampling = match raw.visit.as_deref() {
        None | Some("all") => {
            if raw.seed.is_some() || raw.rates.is_some() {
                errors.push("return_visits: seed and rates are for visit = \"sample\"".into());
            }
            Sampling::All
        }
        Some("sample") => {
            let seed = raw.seed.clone().unwrap_or_default();
            if seed.trim().is_empty() {
                errors.push("return_visits.seed: missing".into());
            }
            let mut rate = |name: &str, v: Option<f64>| match v {
                None => {
                    errors.push(format!("return_visits.rates.{name}: missing"));
                    0.0
                }
                Some(r) if !(0.0..=1.0).contains(&r) => {
                    errors.push(format!(
                        "return_visits.rates.{name}: {r} is not between 0 and 1"
                    ));
                    0.0
                }
                Some(r) => r,
            };
            let rates = raw.rates.as_ref();
            Sampling::Sample {
                seed,
                emergency: rate("emergency", rates.and_then(|r| r.emergency)),
                basic_livelihood: rate("basic_livelihood", rates.and_then(|r| r.basic_livelihood)),
                general: rate("general", rates.and_then(|r| r.general)),
            }
        }
        Some(other) => {
            errors.push(format!(
                "return_visits.visit: {other:?} is neither \"all\" nor \"sample\""
            ));
            Sampling::All
        }
    };
    let limit = field(errors, "return_visits.limit", raw.limit.as_ref())
        .unwrap_or(Duration::from_secs(3 * 86_400));
    let retry_after = field(
        errors,
        "return_visits.retry_after",
        raw.retry_after.as_ref(),
    )
    .unwrap_or(Duration::from_secs(2 * 3600));
    let take_lease = field(errors, "return_visits.take_lease", raw.take_lease.as_ref())
        .unwrap_or(Duration::from_secs(30 * 60));
    let max_attempts = raw.max_attempts.unwrap_or(3);
    if max_attempts == 0 {
        errors.push("return_visits.max_attempts: must be at least 1".into());
    }
    let questions = raw
        .questions
        .unwrap_or_else(|| DEFAULT_QUESTIONS.iter().map(|q| q.to_string()).collect());
    if questions.is_empty() || questions.iter().any(|q| q.trim().is_empty()) {
        errors.push("return_visits.questions: at least one, none empty".into());
    }
    ReturnVisits {
        sampling,
        limit,
        retry_after,
        max_attempts,
        take_lease,
        questions,
    }
}
