//! Keyset paging shared by the list RPCs. A page token is opaque to
//! callers: the last row's time and key, bound to the filters of the query
//! that issued it, so a token replayed with other filters is refused
//! instead of silently skipping rows. A page size of 0 means the default.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::validate::Fields;

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

/// Where a page ends: the sort time of its last row and a tie-breaking key
/// (a uuid or a ticket number, as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub key: String,
}

impl Cursor {
    pub fn new(at: DateTime<Utc>, key: impl Into<String>) -> Cursor {
        Cursor {
            at,
            key: key.into(),
        }
    }

    /// The key as a uuid, for lists keyed by one (a token decodes only if
    /// its key was one).
    pub fn uuid(&self) -> Uuid {
        Uuid::parse_str(&self.key).unwrap_or_default()
    }
}

/// One list request's page: its size, where it starts, and the filters its
/// tokens are bound to.
#[derive(Debug, Clone)]
pub struct Page {
    pub size: i64,
    pub after: Option<Cursor>,
    binding: String,
}

fn bind(filters: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in filters {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    crate::validate::hex(&h.finalize()[..8])
}

impl Page {
    /// Checks `page_size` (0 → default) and `page_token`; problems go to
    /// `f` under their field names. `filters` are the query's filters as
    /// text, in a fixed order.
    pub fn parse(f: &mut Fields, page_size: i32, page_token: &str, filters: &[&str]) -> Page {
        let size = match page_size {
            0 => DEFAULT_PAGE,
            n if (1..=MAX_PAGE as i32).contains(&n) => n as i64,
            n => {
                f.add("page_size", format!("1–{MAX_PAGE}, got {n}"));
                DEFAULT_PAGE
            }
        };
        let binding = bind(filters);
        let after = match decode(page_token, &binding) {
            Ok(c) => c,
            Err(p) => {
                f.add("page_token", p);
                None
            }
        };
        Page {
            size,
            after,
            binding,
        }
    }

    /// How many rows to fetch: one more than the page, to know if another
    /// follows.
    pub fn fetch(&self) -> i64 {
        self.size + 1
    }

    /// Cuts rows fetched with [`Page::fetch`] to the page and returns the
    /// next page's token (empty on the last page).
    pub fn cut<T>(&self, rows: &mut Vec<T>, cursor_of: impl Fn(&T) -> Cursor) -> String {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            rows.last()
                .map(|r| encode(&cursor_of(r), &self.binding))
                .unwrap_or_default()
        } else {
            String::new()
        }
    }
}

impl Page {
    /// Pages a short list read whole (a ticket's assignments or whistles:
    /// a few per hop) in its stable order: the token holds how many rows
    /// came before. Rows added later join at the end, so none is skipped.
    pub fn window<T>(&self, rows: Vec<T>) -> (Vec<T>, String) {
        let skip = self
            .after
            .as_ref()
            .and_then(|c| c.key.strip_prefix('#'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let total = rows.len();
        let page: Vec<T> = rows
            .into_iter()
            .skip(skip)
            .take(self.size as usize)
            .collect();
        let seen = skip + page.len();
        let next = if seen < total {
            encode(
                &Cursor::new(DateTime::<Utc>::UNIX_EPOCH, format!("#{seen}")),
                &self.binding,
            )
        } else {
            String::new()
        };
        (page, next)
    }
}

fn encode(c: &Cursor, binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "1|{}|{}|{}",
        c.at.timestamp_micros(),
        binding,
        c.key
    ))
}

fn decode(token: &str, binding: &str) -> Result<Option<Cursor>, String> {
    let token = token.trim();
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || "not a token this service issued".to_string();
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(4, '|');
    let (Some("1"), Some(micros), Some(bound), Some(key)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    if bound != binding {
        return Err("issued for a query with other filters".into());
    }
    Ok(Some(Cursor::new(at, key)))
}

/// Reads every page of a list from a peer: `fetch` gets the page token
/// (empty for the first page) and returns the rows and the next token.
pub async fn every_page<T, E, F, Fut>(mut fetch: F) -> Result<Vec<T>, E>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), E>>,
{
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (rows, next) = fetch(token).await?;
        all.extend(rows);
        if next.is_empty() {
            return Ok(all);
        }
        token = next;
    }
}

/// The largest page, as a request's `page_size`: what a service asks a
/// peer for when it reads a whole list.
pub const WHOLE: i32 = MAX_PAGE as i32;

/// The cursor fields of a protobuf row.
pub fn cursor_of(at: Option<&prost_types::Timestamp>, key: &str) -> Cursor {
    let at = at
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .unwrap_or_default();
    Cursor::new(at, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_filters() {
        let mut f = Fields::new();
        let p = Page::parse(&mut f, 2, "", &["unit-a", ""]);
        let mut rows = vec![1, 2, 3];
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let token = p.cut(&mut rows, |r| Cursor::new(at, r.to_string()));
        assert_eq!(rows, vec![1, 2]);
        let next = Page::parse(&mut f, 2, &token, &["unit-a", ""]);
        assert_eq!(next.after, Some(Cursor::new(at, "2")));
        assert!(f.is_ok());
        let mut g = Fields::new();
        Page::parse(&mut g, 2, &token, &["unit-b", ""]);
        Page::parse(&mut g, 2, "junk", &[]);
        Page::parse(&mut g, 2, &URL_SAFE_NO_PAD.encode("1|x|y|z"), &[]);
        assert_eq!(g.finish().unwrap_err().fields.len(), 3);
    }

    #[test]
    fn sizes() {
        let mut f = Fields::new();
        assert_eq!(Page::parse(&mut f, 0, "", &[]).size, DEFAULT_PAGE);
        assert_eq!(Page::parse(&mut f, 7, "", &[]).fetch(), 8);
        Page::parse(&mut f, 501, "", &[]);
        Page::parse(&mut f, -1, "", &[]);
        assert_eq!(f.finish().unwrap_err().fields.len(), 2);
    }

    #[test]
    fn short_lists_page_by_position() {
        let mut f = Fields::new();
        let first = Page::parse(&mut f, 2, "", &["BJ1"]);
        let (rows, token) = first.window(vec![1, 2, 3, 4, 5]);
        assert_eq!(rows, vec![1, 2]);
        let second = Page::parse(&mut f, 2, &token, &["BJ1"]);
        let (rows, token) = second.window(vec![1, 2, 3, 4, 5]);
        assert_eq!(rows, vec![3, 4]);
        let third = Page::parse(&mut f, 2, &token, &["BJ1"]);
        assert_eq!(third.window(vec![1, 2, 3, 4, 5]), (vec![5], String::new()));
        assert!(f.is_ok());
    }

    #[test]
    fn the_last_page_has_no_token() {
        let mut f = Fields::new();
        let p = Page::parse(&mut f, 5, "", &[]);
        let mut rows = vec![1, 2];
        assert_eq!(p.cut(&mut rows, |_| Cursor::new(Utc::now(), "k")), "");
    }
}
