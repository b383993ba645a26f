//! Timestamps between chrono and `google.protobuf.Timestamp`.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::error::ApiError;

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

/// Reads a timestamp sent by a client; `field` names it in the error.
pub fn from_proto(t: &Timestamp, field: &str) -> Result<DateTime<Utc>, ApiError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(ApiError::invalid(field, "nanos out of range"));
    }
    DateTime::from_timestamp(t.seconds, t.nanos as u32)
        .ok_or_else(|| ApiError::invalid(field, "timestamp out of range"))
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
