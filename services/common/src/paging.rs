//! Keyset paging shared by the list RPCs: a page token is the last row's
//! time and id; a page size of 0 means the default.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ApiError;
use crate::validate::Fields;

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

pub type Cursor = (DateTime<Utc>, Uuid);

pub fn encode(c: Cursor) -> String {
    format!("{}_{}", c.0.timestamp_micros(), c.1)
}

pub fn decode(token: &str) -> Result<Option<Cursor>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page_token", "not a token this service issued");
    let (micros, id) = token.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok(Some((at, Uuid::parse_str(id).map_err(|_| bad())?)))
}

/// Checks `page_size` (0 → default); the problem goes to `f`.
pub fn size(f: &mut Fields, page_size: i32) -> i64 {
    match page_size {
        0 => DEFAULT_PAGE,
        n if (1..=MAX_PAGE as i32).contains(&n) => n as i64,
        n => {
            f.add("page_size", format!("1–{MAX_PAGE}, got {n}"));
            DEFAULT_PAGE
        }
    }
}

/// Cuts a page fetched with `size + 1` rows and returns the next token.
pub fn cut<T>(rows: &mut Vec<T>, size: i64, cursor_of: impl Fn(&T) -> Cursor) -> String {
    if rows.len() as i64 > size {
        rows.truncate(size as usize);
        rows.last()
            .map(|r| encode(cursor_of(r)))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// The cursor fields of a protobuf row.
pub fn cursor_of(at: Option<&prost_types::Timestamp>, id: &str) -> Cursor {
    let at = at
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .unwrap_or_default();
    (at, Uuid::parse_str(id).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = (
            DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            Uuid::now_v7(),
        );
        assert_eq!(decode(&encode(c)).unwrap(), Some(c));
        assert!(decode("junk").is_err());
        assert!(decode("12_notauuid").is_err());
        assert_eq!(decode("").unwrap(), None);
    }

    #[test]
    fn sizes() {
        let mut f = Fields::new();
        assert_eq!(size(&mut f, 0), DEFAULT_PAGE);
        assert_eq!(size(&mut f, 7), 7);
        size(&mut f, 501);
        size(&mut f, -1);
        assert_eq!(f.finish().unwrap_err().fields.len(), 2);
    }
}
