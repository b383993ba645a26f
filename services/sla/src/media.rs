//! Media limits (`[media.<kind>]`): which types of each kind of media
//! (voice, text, image, video) are taken, and how large.

use std::collections::HashMap;

use serde::Deserialize;

/// The kinds of media, as the policy names them.
pub const KINDS: [&str; 4] = ["voice", "text", "image", "video"];

/// One kind's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaLimit {
    pub max_bytes: u64,
    /// MIME types taken, lowercase.
    pub types: Vec<String>,
}

/// The media section: each kind's limits (a kind left out takes its
/// default; defaults are Beijing's).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaLimits(pub HashMap<&'static str, MediaLimit>);

const MIB: u64 = 1024 * 1024;

fn default_of(kind: &str) -> MediaLimit {
    let (max, types): (u64, &[&str]) = match kind {
        "voice" => (
            20 * MIB,
            &[
                "audio/amr",
                "audio/mpeg",
                "audio/wav",
                "audio/aac",
                "audio/mp4",
                "audio/ogg",
            ],
        ),
        "text" => (5 * MIB, &["text/plain", "application/pdf"]),
        "image" => (
            10 * MIB,
            &["image/jpeg", "image/png", "image/heic", "image/webp"],
        ),
        _ => (200 * MIB, &["video/mp4", "video/quicktime", "video/3gpp"]),
    };
    MediaLimit {
        max_bytes: max,
        types: types.iter().map(|t| t.to_string()).collect(),
    }
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits(KINDS.iter().map(|k| (*k, default_of(k))).collect())
    }
}

impl MediaLimits {
    pub fn of(&self, kind: &str) -> Option<&MediaLimit> {
        self.0.get(kind)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMediaLimit {
    max_bytes: Option<u64>,
    types: Option<Vec<String>>,
}

pub(crate) type RawMedia = HashMap<String, RawMediaLimit>;

pub(crate) fn parse(errors: &mut Vec<String>, raw: RawMedia) -> MediaLimits {
    let mut out = MediaLimits::default();
    for (kind, r) in raw {
        let Some(k) = KINDS.iter().find(|k| **k == kind) else {
            errors.push(format!(
                "media.{kind}: not a kind of media ({})",
                KINDS.join(", ")
            ));
            continue;
        };
        let d = default_of(k);
        let max_bytes = r.max_bytes.unwrap_or(d.max_bytes);
        if max_bytes == 0 {
            errors.push(format!("media.{kind}.max_bytes: must be at least 1"));
        }
        let types: Vec<String> = r
            .types
            .map(|t| t.iter().map(|s| s.trim().to_lowercase()).collect())
            .unwrap_or(d.types);
        if types.is_empty() || types.iter().any(|t| !t.contains('/')) {
            errors.push(format!(
                "media.{kind}.types: MIME types such as \"image/jpeg\""
            ));
        }
        out.0.insert(k, MediaLimit { max_bytes, types });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let bad: RawMedia = [
            ("audio".to_string(), RawMediaLimit::default()),
            (
                "image".to_string(),
                RawMediaLimit {
                    max_bytes: Some(0),
                    types: Some(vec!["jpeg".into()]),
                },
            ),
        ]
        .into_iter()
        .collect();
        crate::check_section(parse, bad, 3);
    }
}
