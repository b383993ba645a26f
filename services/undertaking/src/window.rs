//! The window each client timestamp must fall in, per field: nothing
//! happened before the ticket existed or later than now (beyond a small
//! clock skew), and nothing is planned absurdly far ahead. Pure.

use chrono::{DateTime, Duration, Utc};
use hotline_common::validate::Fields;
use prost_types::Timestamp;

/// How far a caller's clock may run ahead of ours.
pub const SKEW: Duration = Duration::minutes(1);
/// The latest deadline an extension may ask for, from now.
pub const MAX_EXTENSION_AHEAD: Duration = Duration::days(365);
/// The latest date next measures (落实时间) may be promised for, from now.
pub const MAX_MEASURES_AHEAD: Duration = Duration::days(3 * 365);
/// The latest a whistle may tell departments to arrive, from now.
pub const MAX_ARRIVAL_AHEAD: Duration = Duration::days(30);
/// The longest time limit dispatch may set, from dispatch.
pub const MAX_LIMIT_AHEAD: Duration = Duration::days(365);

/// One field's window; either bound may be open.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Not before this, said as "<what it is>".
    pub from: Option<(DateTime<Utc>, &'a str)>,
    /// Not after this, said as "<what it is>".
    pub until: Option<(DateTime<Utc>, &'a str)>,
}

impl<'a> Window<'a> {
    /// Happened already: not after now (give or take the skew), not before
    /// `since`, when known.
    pub fn past(since: Option<(DateTime<Utc>, &'a str)>, now: DateTime<Utc>) -> Window<'a> {
        Window {
            from: since,
            until: Some((now + SKEW, "now")),
        }
    }

    /// Planned: not after `now + ahead`, not before `since`, when known.
    pub fn planned(
        since: Option<(DateTime<Utc>, &'a str)>,
        now: DateTime<Utc>,
        ahead: Duration,
        ahead_said: &'a str,
    ) -> Window<'a> {
        Window {
            from: since,
            until: Some((now + ahead, ahead_said)),
        }
    }

    /// Notes under `field` why `t` is outside; true when inside.
    pub fn check(&self, f: &mut Fields, field: &str, t: DateTime<Utc>) -> bool {
        if let Some((from, what)) = self.from
            && t < from
        {
            f.add(
                field,
                format!(
                    "{} is before {what} ({})",
                    t.to_rfc3339(),
                    from.to_rfc3339()
                ),
            );
            return false;
        }
        if let Some((until, what)) = self.until
            && t > until
        {
            f.add(
                field,
                format!(
                    "{} is later than {what} ({})",
                    t.to_rfc3339(),
                    until.to_rfc3339()
                ),
            );
            return false;
        }
        true
    }
}

/// Reads a client timestamp under `field`: a malformed one is noted in
/// `f`; an absent one is `None`, for the caller to require or default.
pub fn read(f: &mut Fields, field: &str, t: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    match t.map(|t| hotline_common::time::from_proto(t, field)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            for (name, problem) in e.fields {
                f.add(&name, problem);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + minutes * 60, 0).unwrap()
    }

    #[test]
    fn a_past_time_lies_between_its_start_and_now() {
        let w = Window::past(Some((t(0), "the ticket was accepted")), t(100));
        let mut f = Fields::new();
        assert!(w.check(&mut f, "occurred_at", t(0)));
        assert!(w.check(&mut f, "occurred_at", t(101)));
        assert!(f.is_ok());
        assert!(!w.check(&mut f, "occurred_at", t(-1)));
        assert!(!w.check(&mut f, "occurred_at", t(102)));
        let e = f.finish().unwrap_err();
        assert_eq!(e.fields.len(), 2);
        assert!(e.fields[0].1.contains("before the ticket was accepted"));
        assert!(e.fields[1].1.contains("later than now"));
    }

    #[test]
    fn a_plan_is_bounded_ahead() {
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        let w = Window::planned(None, t(0), Duration::days(365), "a year from now");
        let mut f = Fields::new();
        assert!(w.check(&mut f, "requested_deadline", t(60 * 24 * 365)));
        assert!(!w.check(&mut f, "requested_deadline", year_255000));
        let e = f.finish().unwrap_err();
        assert_eq!(e.fields[0].0, "requested_deadline");
        assert!(e.fields[0].1.contains("a year from now"), "{}", e.message);
    }
}
