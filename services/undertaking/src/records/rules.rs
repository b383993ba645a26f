//! Handling records (办理记录): what a contact, a progress note or a site
//! visit must say, and when it may have happened. Pure: no IO.

use chrono::{DateTime, Utc};
use hotline_common::ids::{AssignmentId, TicketNo, UnitId};
use hotline_common::time::to_proto;
use hotline_common::validate::Fields;
use hotline_proto::undertaking::v1 as pb;
use hotline_proto::undertaking::v1::HandlingRecordKind;

use crate::enums::stored_enum;
use crate::window::Window;

hotline_common::uuid_id!(
    /// One handling record.
    RecordId,
    "a record id"
);

stored_enum! {
    /// What a unit records while handling.
    pub enum RecordKind as HandlingRecordKind, "record kind" {
        /// 联系诉求人
        Contact = "contact" => Contact,
        /// 办理进展
        Progress = "progress" => Progress,
        /// 现场核查
        SiteVisit = "site_visit" => SiteVisit,
    }
}

/// A handling record that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: RecordKind,
    pub occurred_at: DateTime<Utc>,
    pub way: String,
    pub result: String,
    pub note: String,
    /// Its media, by SHA-256 (held by intake).
    pub media: Vec<String>,
}

/// At most this many media on one record.
pub const MAX_MEDIA: usize = 9;

/// Checks a record's media: at most [`MAX_MEDIA`] SHA-256s (lowercase hex),
/// each once.
pub fn parse_media(f: &mut Fields, raw: &[String]) -> Vec<String> {
    hotline_common::validate::media_list(f, "media_sha256", raw, MAX_MEDIA)
}

/// A record as the unit gave it, its time already read.
pub struct RawRecord<'a> {
    pub kind: i32,
    pub occurred_at: Option<DateTime<Utc>>,
    pub way: &'a str,
    pub result: &'a str,
    pub note: &'a str,
}

/// Checks a handling record's fields: a contact says how and with what
/// result, a site visit says where, a progress note says something; it
/// happened after the ticket was accepted and not in the future. Unset
/// means now.
pub fn parse_record(
    f: &mut Fields,
    r: &RawRecord<'_>,
    accepted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<NewRecord> {
    let way = f.optional_text("way", r.way, 200);
    let result = f.optional_text("result", r.result, 200);
    let note = f.optional_text("note", r.note, 2000);
    let kind = RecordKind::from_proto(r.kind);
    match kind {
        None => f.add("kind", "contact, progress or site_visit"),
        Some(RecordKind::Contact) => {
            if way.is_empty() {
                f.add(
                    "way",
                    "required for a contact: how the requester was reached",
                );
            }
            if result.is_empty() {
                f.add("result", "required for a contact");
            }
        }
        Some(RecordKind::SiteVisit) if way.is_empty() => {
            f.add("way", "required for a site visit: where");
        }
        Some(RecordKind::Progress) if note.is_empty() => {
            f.add("note", "required for a progress note")
        }
        Some(_) => {}
    }
    let occurred_at = r.occurred_at.unwrap_or(now);
    let inside = Window::past(accepted_at.map(|t| (t, "the ticket was accepted")), now).check(
        f,
        "occurred_at",
        occurred_at,
    );
    inside.then_some(())?;
    Some(NewRecord {
        kind: kind?,
        occurred_at,
        way,
        result,
        note,
        media: Vec::new(),
    })
}

/// A stored handling record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: RecordId,
    pub assignment_id: AssignmentId,
    pub ticket_no: TicketNo,
    pub unit_id: UnitId,
    pub kind: RecordKind,
    pub occurred_at: DateTime<Utc>,
    pub way: String,
    pub result: String,
    pub note: String,
    pub recorded_at: DateTime<Utc>,
    pub media: Vec<String>,
}

impl Record {
    pub fn to_proto(&self) -> pb::HandlingRecord {
        pb::HandlingRecord {
            record_id: self.id.to_string(),
            assignment_id: self.assignment_id.to_string(),
            ticket_no: self.ticket_no.to_string(),
            unit_id: self.unit_id.to_string(),
            kind: self.kind.to_proto() as i32,
            occurred_at: Some(to_proto(self.occurred_at)),
            way: self.way.clone(),
            result: self.result.clone(),
            note: self.note.clone(),
            recorded_at: Some(to_proto(self.recorded_at)),
            media_sha256: self.media.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn raw<'a>(
        kind: HandlingRecordKind,
        way: &'a str,
        result: &'a str,
        note: &'a str,
    ) -> RawRecord<'a> {
        RawRecord {
            kind: kind as i32,
            occurred_at: None,
            way,
            result,
            note,
        }
    }

    fn check(
        r: &RawRecord<'_>,
        accepted: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<NewRecord, String> {
        let mut f = Fields::new();
        let rec = parse_record(&mut f, r, Some(accepted), now);
        match f.finish() {
            Ok(()) => Ok(rec.expect("a record when nothing is wrong")),
            Err(e) => Err(e.message),
        }
    }

    #[test]
    fn handling_records_say_what_the_standard_needs() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let accepted = now - Duration::hours(2);
        let ok = check(
            &raw(HandlingRecordKind::Contact, "电话", "已联系", ""),
            accepted,
            now,
        )
        .unwrap();
        assert_eq!(ok.occurred_at, now);
        assert_eq!(ok.kind, RecordKind::Contact);
        let e = check(&raw(HandlingRecordKind::Contact, "", "", ""), accepted, now).unwrap_err();
        assert!(e.contains("way") && e.contains("result"), "{e}");
        assert!(
            check(
                &raw(HandlingRecordKind::SiteVisit, "", "", "x"),
                accepted,
                now
            )
            .is_err()
        );
        assert!(
            check(
                &raw(HandlingRecordKind::Progress, "", "", ""),
                accepted,
                now
            )
            .is_err()
        );
        let e = check(
            &raw(HandlingRecordKind::Unspecified, "a", "b", "c"),
            accepted,
            now,
        )
        .unwrap_err();
        assert!(e.contains("kind"), "{e}");
    }

    #[test]
    fn a_record_happened_between_acceptance_and_now() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let accepted = now - Duration::hours(2);
        let at = |t: DateTime<Utc>| RawRecord {
            occurred_at: Some(t),
            ..raw(HandlingRecordKind::Progress, "", "", "n")
        };
        check(&at(accepted), accepted, now).unwrap();
        check(&at(now + Duration::seconds(30)), accepted, now).unwrap();
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        for bad in [
            accepted - Duration::seconds(1),
            now + Duration::hours(1),
            year_255000,
            DateTime::from_timestamp(0, 0).unwrap(),
        ] {
            let e = check(&at(bad), accepted, now).unwrap_err();
            assert!(e.starts_with("occurred_at:"), "{bad}: {e}");
        }
    }
}
