//! The rules of tickets: what a well-formed request is and what number a
//! ticket gets (which units hold it and where it stands: `holding`). Pure:
//! no IO.

use std::collections::{HashMap, HashSet};

use hotline_common::ApiError;
use hotline_common::convert::{request_type_from_proto, tier_from_proto};
use hotline_common::ids::{AreaCode, CategoryCode, Id, TicketNo};
use hotline_common::validate::Fields;
use hotline_proto::common::v1 as pb;
use hotline_proto::intake::v1::{FindTicketsRequest, SubmitRequest};
use hotline_sla::{RequestType, TicketClass, Tier};

pub use super::holding::{Holding, holding, is_open, standing};
use prost::Message;
use sha2::{Digest, Sha256};

pub const MAX_CONTENT_CHARS: usize = 4000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_ADDRESS_CHARS: usize = 500;
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_URI_CHARS: usize = 2048;
pub const MAX_IDEMPOTENCY_KEY: usize = 128;
pub const MAX_EXTERNAL_REF: usize = 64;
pub const MAX_OTHER_DISTRICTS: usize = 4;

/// The codes a request may use, from the dispatch catalogue.
#[derive(Debug, Clone, Default)]
pub struct KnownCodes {
    pub version: String,
    pub categories: HashSet<String>,
    pub districts: HashSet<String>,
    /// street code → its district code
    pub streets: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Requester {
    pub anonymous: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub return_visit_consent: bool,
    /// 保密: units see name and phone masked.
    pub confidential: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// `None` when the requester cannot say: dispatch's manual queue.
    pub district_code: Option<AreaCode>,
    pub street_code: Option<AreaCode>,
    pub address: String,
    /// Other districts the matter spans (跨区), each known, none the
    /// district itself.
    pub other_districts: Vec<AreaCode>,
    /// Where exactly, when the channel knows.
    pub point: Option<crate::clusters::rules::Point>,
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub idempotency_key: Option<String>,
    pub channel: pb::Channel,
    pub requester: Requester,
    pub content: String,
    pub location: Location,
    /// `None`: the operator left it open; the ticket waits in dispatch's
    /// manual queue for a dispatcher to classify it.
    pub category_code: Option<CategoryCode>,
    pub class: TicketClass,
    pub attachments: Vec<pb::Attachment>,
    /// The forwarding system's reference number.
    pub external_ref: Option<String>,
    /// The SHA-256 of each attachment held by the hotline (`media`).
    pub held_media: Vec<String>,
    /// The requester's account with the submitting channel system.
    pub requester_account: Option<String>,
}

/// The other districts a request spans: known, distinct, not its own
/// district, and only with a district of its own.
fn other_districts(
    f: &mut Fields,
    l: &pb::Location,
    district: Option<&AreaCode>,
    known: &KnownCodes,
) -> Vec<AreaCode> {
    let given = &l.other_district_codes;
    if given.is_empty() {
        return Vec::new();
    }
    if given.len() > MAX_OTHER_DISTRICTS {
        f.add(
            "location.other_district_codes",
            format!("at most {MAX_OTHER_DISTRICTS}, got {}", given.len()),
        );
        return Vec::new();
    }
    if l.district_code.trim().is_empty() {
        f.add(
            "location.other_district_codes",
            "name the lead district (district_code) first",
        );
    }
    let mut out: Vec<AreaCode> = Vec::new();
    for (i, raw) in given.iter().enumerate() {
        let field = format!("location.other_district_codes[{i}]");
        let Some(code) = f.id::<AreaCode>(&field, raw) else {
            continue;
        };
        if !known.districts.contains(code.as_str()) {
            f.add(&field, format!("unknown district {:?}", code.as_str()));
        } else if Some(&code) == district || out.contains(&code) {
            f.add(&field, format!("district {:?} named twice", code.as_str()));
        } else {
            out.push(code);
        }
    }
    out
}

/// A phone as digits alone: spaces, dashes and a leading "+86" (or "86"
/// before an 11-digit mobile) dropped.
pub fn phone_digits(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("86") {
        Some(rest) if raw.trim_start().starts_with('+') || rest.len() == 11 => rest.to_string(),
        _ => digits,
    }
}

/// The last four digits of a phone, as the audit trail shows it.
pub fn last_digits(phone: &str) -> String {
    let d = phone_digits(phone);
    d[d.len().saturating_sub(4)..].to_string()
}

/// What becomes of a request at acceptance instead of dispatch: closed at
/// once, or held as a repeat of an open ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum AtOnce {
    /// 直接答复 from a knowledge-base article.
    Direct(crate::knowledge::rules::Direct),
    /// 转接 to an emergency line.
    Referred(crate::diversion::rules::Referral),
    /// 重复件 of an open ticket, closed when it is.
    Repeat(hotline_common::ids::TicketNo),
}

impl AtOnce {
    /// Whether the request is closed at acceptance.
    pub fn closes(&self) -> bool {
        !matches!(self, AtOnce::Repeat(_))
    }
}

/// What a phone must look like.
pub const PHONE_SHAPE: &str = "3–20 digits, optionally a leading '+', spaces and dashes";

/// Checks a phone given under `field` (an empty one is left to the
/// caller); its digits.
pub fn check_phone(f: &mut Fields, field: &str, raw: &str) -> String {
    if !raw.trim().is_empty() && !is_phone(raw.trim()) {
        f.add(field, PHONE_SHAPE);
    }
    phone_digits(raw)
}

pub fn is_phone(p: &str) -> bool {
    let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
    let body = p.strip_prefix('+').unwrap_or(p);
    (3..=20).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
}

/// Checks a submission; every problem is named in one INVALID_ARGUMENT.
pub fn parse_submit(req: &SubmitRequest, known: &KnownCodes) -> Result<NewTicket, ApiError> {
    let mut f = Fields::new();

    let key = req.idempotency_key.trim();
    let idempotency_key = if key.is_empty() {
        None
    } else {
        if key.len() > MAX_IDEMPOTENCY_KEY || !key.chars().all(|c| c.is_ascii_graphic()) {
            f.add(
                "idempotency_key",
                format!("1–{MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
            );
        }
        Some(key.to_string())
    };

    let channel = match pb::Channel::try_from(req.channel) {
        Ok(pb::Channel::Unspecified) => {
            f.add("channel", "required");
            pb::Channel::Unspecified
        }
        Ok(c) => c,
        Err(_) => {
            f.add("channel", format!("unknown channel {}", req.channel));
            pb::Channel::Unspecified
        }
    };

    let requester = match &req.requester {
        None => {
            f.add("requester", "required");
            None
        }
        Some(r) if r.anonymous => Some(Requester {
            anonymous: true,
            name: None,
            phone: None,
            return_visit_consent: false,
            confidential: false,
        }),
        Some(r) => {
            let name = f.name("requester.name", &r.name, MAX_NAME_CHARS);
            let phone = r.phone.trim().to_string();
            if phone.is_empty() {
                f.add("requester.phone", "required unless anonymous");
            } else {
                check_phone(&mut f, "requester.phone", &phone);
            }
            Some(Requester {
                anonymous: false,
                name: Some(name),
                phone: Some(phone),
                return_visit_consent: r.return_visit_consent,
                confidential: r.confidential,
            })
        }
    };

    let content = f.text("content", &req.content, MAX_CONTENT_CHARS);

    let location = match &req.location {
        None => {
            f.add("location", "required");
            None
        }
        Some(l) => {
            let district = f.optional_id::<AreaCode>("location.district_code", &l.district_code);
            if let Some(d) = &district
                && !known.districts.contains(d.as_str())
            {
                f.add(
                    "location.district_code",
                    format!("unknown district {:?}", d.as_str()),
                );
            }
            let street = f.optional_id::<AreaCode>("location.street_code", &l.street_code);
            if let Some(s) = &street {
                let in_district = district.as_ref().map_or("", |d| d.as_str());
                match known.streets.get(s.as_str()) {
                    None => f.add(
                        "location.street_code",
                        format!("unknown street {:?}", s.as_str()),
                    ),
                    Some(d) if d != in_district => f.add(
                        "location.street_code",
                        format!("street {:?} is not in district {in_district:?}", s.as_str()),
                    ),
                    Some(_) => {}
                }
            }
            let address = f.optional_text("location.address", &l.address, MAX_ADDRESS_CHARS);
            let other_districts = other_districts(&mut f, l, district.as_ref(), known);
            let point = crate::clusters::rules::parse_point(&mut f, l.coordinates.as_ref());
            Some(Location {
                district_code: district,
                street_code: street,
                address,
                other_districts,
                point,
            })
        }
    };

    let category_code = f.optional_id::<CategoryCode>("category_code", &req.category_code);
    if let Some(c) = &category_code
        && !known.categories.contains(c.as_str())
    {
        f.add(
            "category_code",
            format!("unknown category {:?}", c.as_str()),
        );
    }

    let tier = match tier_from_proto(req.tier, "tier") {
        Ok(t) => Some(t),
        Err(e) => {
            for (field, p) in e.fields {
                f.add(&field, p);
            }
            None
        }
    };
    let kind = match request_type_from_proto(req.request_type, "request_type") {
        Ok(k) => k,
        Err(e) => {
            for (field, p) in e.fields {
                f.add(&field, p);
            }
            RequestType::Unrecorded
        }
    };
    let external_ref = f.optional_text("external_ref", &req.external_ref, MAX_EXTERNAL_REF);
    let requester_account = f.optional_text(
        "requester_account",
        &req.requester_account,
        MAX_EXTERNAL_REF * 2,
    );
    if !requester_account.is_empty() && channel == pb::Channel::Phone {
        f.add(
            "requester_account",
            "only a channel system with its own login has one",
        );
    }
    if !external_ref.is_empty() && channel == pb::Channel::Phone {
        f.add(
            "external_ref",
            "only a request forwarded from another channel has one",
        );
    }
    if req.complex && tier.is_some_and(|t| t != Tier::General) {
        f.add("complex", "only general requests can be complex");
    }

    if req.attachments.len() > MAX_ATTACHMENTS {
        f.add(
            "attachments",
            format!("at most {MAX_ATTACHMENTS}, got {}", req.attachments.len()),
        );
    }
    for (i, a) in req.attachments.iter().enumerate().take(MAX_ATTACHMENTS) {
        let field = |name: &str| format!("attachments[{i}].{name}");
        // Media held by the hotline is named by its SHA-256 alone: its kind,
        // type and size are as stored.
        let held = a.uri.is_empty() && crate::media::rules::is_sha256(&a.sha256);
        match pb::MediaKind::try_from(a.kind) {
            Err(_) => f.add(&field("kind"), "voice, text, image or video"),
            Ok(pb::MediaKind::Unspecified) if !held => {
                f.add(&field("kind"), "required: voice, text, image or video")
            }
            Ok(_) => {}
        }
        if !held {
            f.text(&field("uri"), &a.uri, MAX_URI_CHARS);
        }
        f.optional_text(&field("content_type"), &a.content_type, 255);
        if a.size_bytes < 0 {
            f.add(&field("size_bytes"), "must not be negative");
        }
        let hex64 = a.sha256.len() == 64 && a.sha256.chars().all(|c| c.is_ascii_hexdigit());
        if !a.sha256.is_empty() && !hex64 {
            f.add(&field("sha256"), "64 hexadecimal digits");
        }
    }

    f.finish()?;
    let (Some(requester), Some(location), Some(tier)) = (requester, location, tier) else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    Ok(NewTicket {
        idempotency_key,
        channel,
        requester,
        content,
        location,
        category_code,
        class: TicketClass {
            tier,
            complex: req.complex,
            kind,
        },
        attachments: req.attachments.clone(),
        external_ref: Some(external_ref).filter(|r| !r.is_empty()),
        requester_account: Some(requester_account).filter(|r| !r.is_empty()),
        held_media: Vec::new(),
    })
}

/// Checks a FindTickets request: the reference, and the channel if named.
pub fn parse_find(req: &FindTicketsRequest) -> Result<(String, Option<pb::Channel>), ApiError> {
    let mut f = Fields::new();
    let external_ref = f.text("external_ref", &req.external_ref, MAX_EXTERNAL_REF);
    let channel = match pb::Channel::try_from(req.channel) {
        Ok(pb::Channel::Unspecified) => None,
        Ok(c) => Some(c),
        Err(_) => {
            f.add("channel", format!("unknown channel {}", req.channel));
            None
        }
    };
    f.finish()?;
    Ok((external_ref, channel))
}

/// What makes two submissions the same request: everything but the key.
pub fn request_hash(req: &SubmitRequest) -> Vec<u8> {
    let mut canonical = req.clone();
    canonical.idempotency_key.clear();
    Sha256::digest(canonical.encode_to_vec()).to_vec()
}

/// The number of the `seq`-th ticket: the prefix, then 12 digits, e.g.
/// `BJ000000000001`.
pub fn ticket_no(prefix: &str, seq: i64) -> Result<TicketNo, ApiError> {
    TicketNo::parse(&format!("{prefix}{seq:012}"))
        .map_err(|p| ApiError::internal(format!("ticket number {prefix}/{seq}: {p}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> KnownCodes {
        KnownCodes {
            version: "t".into(),
            categories: ["heating".to_string()].into(),
            districts: ["110105".to_string(), "110101".to_string()].into(),
            streets: [("110105001".to_string(), "110105".to_string())].into(),
        }
    }

    fn good() -> SubmitRequest {
        SubmitRequest {
            idempotency_key: "k-1".into(),
            channel: pb::Channel::Phone as i32,
            requester: Some(pb::Requester {
                anonymous: false,
                name: "张三".into(),
                phone: "138 0013 8000".into(),
                return_visit_consent: true,
                confidential: false,
            }),
            content: "暖气不热".into(),
            location: Some(pb::Location {
                district_code: "110105".into(),
                street_code: "110105001".into(),
                address: "某小区1号楼".into(),
                ..Default::default()
            }),
            category_code: "heating".into(),
            tier: pb::UrgencyTier::BasicLivelihood as i32,
            complex: false,
            attachments: vec![],
            ..Default::default()
        }
    }

    #[test]
    fn a_good_request_parses() {
        let t = parse_submit(&good(), &known()).unwrap();
        assert_eq!(t.class.tier, Tier::BasicLivelihood);
        assert_eq!(
            t.location.street_code.as_ref().map(|s| s.as_str()),
            Some("110105001")
        );
        assert_eq!(
            t.category_code.as_ref().map(|c| c.as_str()),
            Some("heating")
        );
    }

    #[test]
    fn a_category_left_open_and_a_request_type_are_kept() {
        let mut r = good();
        r.category_code = String::new();
        r.request_type = pb::RequestType::Consultation as i32;
        let t = parse_submit(&r, &known()).unwrap();
        assert_eq!(t.category_code, None);
        assert_eq!(t.class.kind, RequestType::Consultation);
        r.request_type = 99;
        assert!(problems(&r).contains("request_type: unknown request type 99"));
    }

    #[test]
    fn a_reference_comes_only_from_forwarding_channels() {
        let mut r = good();
        r.external_ref = "GOV-2026-1".into();
        assert!(problems(&r).contains("external_ref: only a request forwarded"));
        r.channel = pb::Channel::GovernmentSystem as i32;
        let t = parse_submit(&r, &known()).unwrap();
        assert_eq!(t.external_ref.as_deref(), Some("GOV-2026-1"));
        r.external_ref = "x".repeat(65);
        assert!(problems(&r).contains("external_ref: too long"));
    }

    #[test]
    fn other_districts_are_known_distinct_and_follow_a_lead_district() {
        let mut r = good();
        let loc = r.location.as_mut().unwrap();
        loc.other_district_codes = vec!["110105".into()];
        assert!(problems(&r).contains("other_district_codes[0]: district \"110105\" named twice"));
        let loc = r.location.as_mut().unwrap();
        loc.other_district_codes = vec!["999999".into()];
        assert!(problems(&r).contains("other_district_codes[0]: unknown district"));
        let loc = r.location.as_mut().unwrap();
        loc.district_code = String::new();
        loc.street_code = String::new();
        loc.other_district_codes = vec!["110105".into()];
        assert!(problems(&r).contains("name the lead district"));
        let loc = r.location.as_mut().unwrap();
        loc.other_district_codes = vec!["110105".into(); 5];
        assert!(problems(&r).contains("at most 4"));
    }

    #[test]
    fn anonymous_drops_identity_and_consent() {
        let mut r = good();
        r.requester = Some(pb::Requester {
            anonymous: true,
            name: String::new(),
            phone: String::new(),
            return_visit_consent: true,
            confidential: false,
        });
        let t = parse_submit(&r, &known()).unwrap();
        assert_eq!(t.requester.name, None);
        assert!(!t.requester.return_visit_consent);
    }

    fn problems(r: &SubmitRequest) -> String {
        parse_submit(r, &known()).unwrap_err().message
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut r = good();
        r.content = " ".into();
        r.tier = 0;
        r.category_code = "nothing".into();
        r.channel = 42;
        r.requester.as_mut().unwrap().phone = "call me".into();
        let m = problems(&r);
        for field in [
            "content: required",
            "tier: required",
            "category_code: unknown category",
            "channel: unknown channel",
            "requester.phone",
        ] {
            assert!(m.contains(field), "{field} missing from {m}");
        }
    }

    #[test]
    fn street_must_lie_in_district() {
        let mut r = good();
        r.location.as_mut().unwrap().district_code = "110101".into();
        assert!(
            problems(&r).contains("location.street_code: street \"110105001\" is not in district")
        );
    }

    #[test]
    fn over_long_content_is_refused() {
        let mut r = good();
        r.content = "字".repeat(MAX_CONTENT_CHARS + 1);
        assert!(problems(&r).contains("content: too long"));
    }

    #[test]
    fn only_general_can_be_complex() {
        let mut r = good();
        r.complex = true;
        assert!(problems(&r).contains("complex"));
        r.tier = pb::UrgencyTier::General as i32;
        assert!(parse_submit(&r, &known()).unwrap().class.complex);
    }

    #[test]
    fn missing_parts_are_named() {
        let mut r = good();
        r.requester = None;
        r.location = None;
        let m = problems(&r);
        assert!(m.contains("requester: required") && m.contains("location: required"));
    }

    #[test]
    fn codes_with_invisible_or_nul_characters_are_named() {
        let mut r = good();
        r.category_code = "heat\u{0}ing".into();
        let l = r.location.as_mut().unwrap();
        l.district_code = "110105\u{200b}".into();
        l.street_code = "\u{202e}110105001".into();
        let e = parse_submit(&r, &known()).unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|(f, _)| f.as_str()).collect();
        for field in [
            "category_code",
            "location.district_code",
            "location.street_code",
        ] {
            assert!(fields.contains(&field), "{field}: {}", e.message);
        }
    }

    #[test]
    fn ticket_numbers_are_the_prefix_and_twelve_digits() {
        assert_eq!(ticket_no("BJ", 1).unwrap().as_str(), "BJ000000000001");
        assert_eq!(
            ticket_no("SH", 1_234_567_890_123).unwrap().as_str(),
            "SH1234567890123"
        );
    }

    #[test]
    fn the_hash_ignores_only_the_key() {
        let a = good();
        let mut b = good();
        b.idempotency_key = "other".into();
        assert_eq!(request_hash(&a), request_hash(&b));
        b.content = "别的事".into();
        assert_ne!(request_hash(&a), request_hash(&b));
    }

    #[test]
    fn attachments_are_checked() {
        let mut r = good();
        r.attachments = vec![pb::Attachment {
            kind: 0,
            uri: String::new(),
            content_type: String::new(),
            size_bytes: -1,
            sha256: "xyz".into(),
        }];
        let m = problems(&r);
        for field in [
            "attachments[0].kind",
            "attachments[0].uri",
            "attachments[0].size_bytes",
            "attachments[0].sha256",
        ] {
            assert!(m.contains(field), "{field} missing from {m}");
        }
    }
}
