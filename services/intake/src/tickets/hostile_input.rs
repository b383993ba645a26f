//! Random and hostile input never panics the validation: every request
//! either parses or is refused with INVALID_ARGUMENT naming fields.

use super::rules::*;
use hotline_common::ErrorCode;
use hotline_proto::common::v1 as pb;
use hotline_proto::intake::v1::SubmitRequest;
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
    ..Default::default()
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
    ..Default::default()
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
