//! Timestamps between chrono and `google.protobuf.Timestamp`.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::error::ApiError;

/// `t` moved on by a policy's duration, at the end of time if it would
/// overflow.
pub fn plus(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t` moved back by a policy's duration, at the start of time if it would
/// overflow.
pub fn minus(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Now, at the precision PostgreSQL keeps (microseconds), so that a time
/// read back equals the time written.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

pub fn to_proto(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn opt_to_proto(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(to_proto)
}

/// The earliest time any client may send: 2000-01-01T00:00:00Z. No hotline
/// fact is older; it also keeps every time well inside PostgreSQL's range.
pub const EARLIEST_SECONDS: i64 = 946_684_800;
/// The latest time any client may send: 2200-01-01T00:00:00Z. Fields hold
/// themselves to narrower windows (see [`within`]).
pub const LATEST_SECONDS: i64 = 7_258_118_400;

/// Reads a timestamp sent by a client; `field` names it in the error. Any
/// time outside 2000–2200 is refused here, before it can reach a rule or
/// the database.
pub fn from_proto(t: &Timestamp, field: &str) -> Result<DateTime<Utc>, ApiError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(ApiError::invalid(field, "nanos out of range"));
    }
    if !(EARLIEST_SECONDS..LATEST_SECONDS).contains(&t.seconds) {
        return Err(ApiError::invalid(
            field,
            "timestamp outside 2000-01-01 to 2200-01-01",
        ));
    }
    DateTime::from_timestamp(t.seconds, t.nanos as u32)
        .ok_or_else(|| ApiError::invalid(field, "timestamp out of range"))
}

/// Holds a time to a window that makes sense for its field: not before
/// `earliest` (the ticket's acceptance, say) and not after `latest` (now
/// plus a skew, or a year ahead). The problem names both ends.
pub fn within(
    t: DateTime<Utc>,
    field: &str,
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, ApiError> {
    if let Some(e) = earliest.filter(|e| t < *e) {
        return Err(ApiError::invalid(
            field,
            &format!("{} is before {}", t.to_rfc3339(), e.to_rfc3339()),
        ));
    }
    if let Some(l) = latest.filter(|l| t > *l) {
        return Err(ApiError::invalid(
            field,
            &format!("{} is after {}", t.to_rfc3339(), l.to_rfc3339()),
        ));
    }
    Ok(t)
}

/// A required timestamp field.
pub fn required(t: Option<&Timestamp>, field: &str) -> Result<DateTime<Utc>, ApiError> {
    match t {
        None => Err(ApiError::invalid(field, "required")),
        Some(t) => from_proto(t, field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_microseconds() {
        let t = DateTime::from_timestamp(1_764_000_000, 123_456_000).unwrap();
        assert_eq!(from_proto(&to_proto(t), "t").unwrap(), t);
    }

    #[test]
    fn absurd_years_are_refused_before_anything_else() {
        for seconds in [-1, 0, 253_402_300_800, 7_985_000_000_000] {
            let e = from_proto(&Timestamp { seconds, nanos: 0 }, "arrive_by").unwrap_err();
            assert_eq!(e.fields[0].0, "arrive_by", "{seconds}");
        }
        assert!(
            from_proto(
                &Timestamp {
                    seconds: 1_764_000_000,
                    nanos: 0
                },
                "t"
            )
            .is_ok()
        );
    }

    #[test]
    fn windows_name_their_ends() {
        let t = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let later = t + chrono::Duration::hours(1);
        assert!(
            within(t, "at", Some(later), None)
                .unwrap_err()
                .message
                .contains("before")
        );
        assert!(
            within(later, "at", None, Some(t))
                .unwrap_err()
                .message
                .contains("after")
        );
        assert_eq!(within(t, "at", Some(t), Some(later)).unwrap(), t);
    }

    #[test]
    fn bad_nanos_are_invalid() {
        let e = from_proto(
            &Timestamp {
                seconds: 0,
                nanos: -1,
            },
            "x.at",
        )
        .unwrap_err();
        assert!(e.message.contains("x.at"));
    }
}
