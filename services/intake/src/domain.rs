//! Intake's rules: what a well-formed request is. Pure: no IO.

use std::collections::{HashMap, HashSet};

use hotline_common::ApiError;
use hotline_common::convert::tier_from_proto;
use hotline_common::validate::Fields;
use hotline_proto::common::v1 as pb;
use hotline_proto::intake::v1::SubmitRequest;
use hotline_sla::{TicketClass, Tier};

pub const MAX_CONTENT_CHARS: usize = 4000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_ADDRESS_CHARS: usize = 500;
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_URI_CHARS: usize = 2048;
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

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
    pub district_code: String,
    pub street_code: Option<String>,
    pub address: String,
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub idempotency_key: Option<String>,
    pub channel: pb::Channel,
    pub requester: Requester,
    pub content: String,
    pub location: Location,
    pub category_code: String,
    pub class: TicketClass,
    pub attachments: Vec<pb::Attachment>,
}

fn is_phone(p: &str) -> bool {
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
            let name = f.text("requester.name", &r.name, MAX_NAME_CHARS);
            let phone = r.phone.trim().to_string();
            if phone.is_empty() {
                f.add("requester.phone", "required unless anonymous");
            } else if !is_phone(&phone) {
                f.add(
                    "requester.phone",
                    "3–20 digits, optionally a leading '+', spaces and dashes",
                );
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
            let district = f.optional_code("location.district_code", &l.district_code, 12);
            if !district.is_empty() && !known.districts.contains(&district) {
                f.add(
                    "location.district_code",
                    format!("unknown district {district:?}"),
                );
            }
            let street = l.street_code.trim();
            let street_code = if street.is_empty() {
                None
            } else {
                match known.streets.get(street) {
                    None => f.add("location.street_code", format!("unknown street {street:?}")),
                    Some(d) if *d != district => f.add(
                        "location.street_code",
                        format!("street {street:?} is not in district {district:?}"),
                    ),
                    Some(_) => {}
                }
                Some(street.to_string())
            };
            let address = f.optional_text("location.address", &l.address, MAX_ADDRESS_CHARS);
            Some(Location {
                district_code: district,
                street_code,
                address,
            })
        }
    };

    let category_code = f.code("category_code", &req.category_code, 64);
    if !category_code.is_empty() && !known.categories.contains(&category_code) {
        f.add(
            "category_code",
            format!("unknown category {category_code:?}"),
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
        if matches!(
            pb::MediaKind::try_from(a.kind),
            Err(_) | Ok(pb::MediaKind::Unspecified)
        ) {
            f.add(&field("kind"), "required: voice, text, image or video");
        }
        f.text(&field("uri"), &a.uri, MAX_URI_CHARS);
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
    Ok(NewTicket {
        idempotency_key,
        channel,
        requester: requester.expect("checked"),
        content,
        location: location.expect("checked"),
        category_code,
        class: TicketClass {
            tier: tier.expect("checked"),
            complex: req.complex,
        },
        attachments: req.attachments.clone(),
    })
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
            }),
            category_code: "heating".into(),
            tier: pb::UrgencyTier::BasicLivelihood as i32,
            complex: false,
            attachments: vec![],
        }
    }

    #[test]
    fn a_good_request_parses() {
        let t = parse_submit(&good(), &known()).unwrap();
        assert_eq!(t.class.tier, Tier::BasicLivelihood);
        assert_eq!(t.location.street_code.as_deref(), Some("110105001"));
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

#[cfg(test)]
mod hostile_input {
    //! Random and hostile input never panics the validation: every request
    //! either parses or is refused with INVALID_ARGUMENT naming fields.

    use super::*;
    use hotline_common::ErrorCode;
    use proptest::prelude::*;

    fn known() -> KnownCodes {
        KnownCodes {
            version: "t".into(),
            categories: ["heating".to_string()].into(),
            districts: ["110105".to_string()].into(),
            streets: [("110105001".to_string(), "110105".to_string())].into(),
        }
    }

    /// Strings a caller might send: anything, control characters, SQL
    /// fragments, very long text, right-to-left marks, NULs.
    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "\\PC{0,40}",
            Just("'; DROP TABLE tickets; --".to_string()),
            Just("\u{0}\u{1}\u{7f}\u{202e}".to_string()),
            Just("1' OR '1'='1".to_string()),
            (0usize..20_000).prop_map(|n| "字".repeat(n)),
            Just("heating".to_string()),
            Just("110105".to_string()),
            Just("110105001".to_string()),
        ]
    }

    prop_compose! {
        fn request()(
            t in proptest::collection::vec(hostile(), 10),
            n in proptest::collection::vec(-3i32..12, 3),
            flags in proptest::collection::vec(any::<bool>(), 2),
            size in any::<i64>(),
            attachments in 0usize..25,
        ) -> SubmitRequest {
            SubmitRequest {
                idempotency_key: t[0].clone(),
                channel: n[0],
                requester: Some(pb::Requester {
                    anonymous: flags[0],
                    name: t[1].clone(),
                    phone: t[2].clone(),
                    return_visit_consent: true,
            confidential: false,
                }),
                content: t[3].clone(),
                location: Some(pb::Location {
                    district_code: t[4].clone(),
                    street_code: t[5].clone(),
                    address: t[6].clone(),
                }),
                category_code: t[7].clone(),
                tier: n[1],
                complex: flags[1],
                attachments: (0..attachments)
                    .map(|_| pb::Attachment {
                        kind: n[2],
                        uri: t[8].clone(),
                        content_type: String::new(),
                        size_bytes: size,
                        sha256: t[9].clone(),
                    })
                    .collect(),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_and_names_fields(req in request()) {
            match parse_submit(&req, &known()) {
                Ok(t) => {
                    prop_assert!(t.content.chars().count() <= MAX_CONTENT_CHARS);
                    prop_assert!(!t.content.chars().any(|c| c.is_control() && !"\n\t\r".contains(c)));
                }
                Err(e) => {
                    prop_assert_eq!(e.code, ErrorCode::InvalidArgument);
                    prop_assert!(!e.fields.is_empty());
                    for (field, _) in &e.fields {
                        prop_assert!(e.message.contains(field.as_str()));
                    }
                }
            }
        }
    }
}
