//! Field checks shared by the services. A [`Fields`] collects every problem
//! of one request and reports them together, each naming its field.

use crate::error::ApiError;

#[derive(Default)]
pub struct Fields {
    problems: Vec<(String, String)>,
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.problems.push((field.to_string(), problem.into()));
    }

    /// A required text of at most `max` characters, free of control
    /// characters other than newlines and tabs. Returns it trimmed.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, "required");
        } else {
            self.optional_text(field, v, max);
        }
        v.to_string()
    }

    /// A required timestamp in the years the services accept; the problem
    /// noted under `field`.
    pub fn time(
        &mut self,
        field: &str,
        raw: Option<&prost_types::Timestamp>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match crate::time::required(raw, field) {
            Ok(t) => Some(t),
            Err(e) => {
                for (f, p) in e.fields {
                    self.add(&f, p);
                }
                None
            }
        }
    }

    /// An optional text: same checks when given.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        let chars = v.chars().count();
        if chars > max {
            self.add(
                field,
                format!("too long: {chars} characters, at most {max}"),
            );
        } else if let Some(c) = v.chars().find(|c| is_direction_control(*c)) {
            self.add(
                field,
                format!("contains the direction control U+{:04X}", c as u32),
            );
        } else if v
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            self.add(field, "contains control characters");
        } else if v.contains('\u{FEFF}') {
            self.add(field, "contains a byte-order mark (U+FEFF)");
        }
        v.to_string()
    }

    /// A required name (a person's, a place's): a text that may hold no
    /// line break and no invisible character either.
    pub fn name(&mut self, field: &str, value: &str, max: usize) -> String {
        let before = self.problems.len();
        let v = self.text(field, value, max);
        let hidden = v
            .chars()
            .find(|c| is_invisible(*c) || matches!(c, '\n' | '\r' | '\t'));
        if let (true, Some(c)) = (self.problems.len() == before, hidden) {
            self.add(
                field,
                format!("contains the invisible character U+{:04X}", c as u32),
            );
        }
        v
    }

    /// A required code: 1–`max` characters of ASCII letters, digits, '-',
    /// '_' and '.' (the rule of every id, [`crate::ids::check_code`]).
    pub fn code(&mut self, field: &str, value: &str, max: usize) -> String {
        if let Err(problem) = crate::ids::check_code(value, max) {
            self.add(field, problem);
        }
        value.trim().to_string()
    }

    /// An optional code: same checks when given; empty stays empty.
    pub fn optional_code(&mut self, field: &str, value: &str, max: usize) -> String {
        if value.trim().is_empty() {
            String::new()
        } else {
            self.code(field, value, max)
        }
    }

    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Ok when nothing was wrong, else one INVALID_ARGUMENT naming all.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.problems))
        }
    }
}

/// Whether a text is a lowercase hex SHA-256 (how media is named).
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A list of media named by SHA-256 (held by intake) under `field`: at
/// most `max`, each lowercase hex, each once. Returns those that are.
pub fn media_list(f: &mut Fields, field: &str, raw: &[String], max: usize) -> Vec<String> {
    if raw.len() > max {
        f.add(field, format!("at most {max}"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in raw.iter().enumerate().take(max) {
        if !is_sha256(s) {
            f.add(&format!("{field}[{i}]"), "64 lowercase hexadecimal digits");
        } else if out.contains(s) {
            f.add(&format!("{field}[{i}]"), "named twice");
        } else {
            out.push(s.clone());
        }
    }
    out
}

/// Lowercase hex of bytes (a digest).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Characters that change the direction text is shown in (bidi embeddings,
/// overrides, isolates and marks): they can make a text read otherwise
/// than it is stored, so no field accepts them.
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Characters that show nothing: zero-width spaces and joiners, the word
/// joiner, the byte-order mark, and the direction controls.
pub fn is_invisible(c: char) -> bool {
    is_direction_control(c)
        || matches!(
            c,
            '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_all_problems() {
        let mut f = Fields::new();
        f.text("content", "   ", 10);
        f.text("name", "abcdefghijkl", 10);
        f.text("addr", "bad\u{0}byte", 50);
        f.code("category_code", "heat ing", 10);
        let e = f.finish().unwrap_err();
        assert_eq!(e.fields.len(), 4);
        assert!(e.message.contains("content: required"));
        assert!(e.message.contains("name: too long"));
    }

    #[test]
    fn refuses_direction_controls_everywhere_and_invisible_ones_in_names() {
        for bad in ["a\u{202E}b", "a\u{2066}b", "\u{200F}x", "\u{FEFF}x"] {
            let mut f = Fields::new();
            f.text("content", bad, 50);
            assert!(!f.is_ok(), "{bad:?}");
        }
        let mut f = Fields::new();
        f.text("content", "family 👨\u{200D}👩\u{200D}👧 ok", 50);
        assert!(f.is_ok(), "a joiner inside an emoji is fine in free text");
        for bad in ["王\u{200B}女士", "王\u{200D}", "王\n女士"] {
            let mut f = Fields::new();
            f.name("requester.name", bad, 50);
            let e = f.finish().unwrap_err();
            assert_eq!(e.fields[0].0, "requester.name", "{bad:?}");
        }
        let mut f = Fields::new();
        f.name("requester.name", "王女士", 50);
        assert!(f.is_ok());
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut f = Fields::new();
        f.text("content", "供暖不热供暖不热", 8);
        assert!(f.is_ok());
    }
}
