//! The gate's rules, tokens and limits, without IO but for key files.

use super::Role::*;
use super::tokens::{bearer, now_secs};
use super::*;
use base64::Engine;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

fn auth(dir: &std::path::Path, kids: &[&str]) -> PathBuf {
    let path = dir.join("keys.toml");
    let body: String = kids
        .iter()
        .map(|k| {
            format!(
                "[[keys]]\nkid = \"{k}\"\nsecret = \"{}\"\n",
                base64::engine::general_purpose::STANDARD.encode([k.len() as u8; 32])
            )
        })
        .collect();
    std::fs::write(&path, body).unwrap();
    path
}

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hotline-auth-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const INTAKE_LIKE: Served = Served {
    services: &["hotline.intake.v1.IntakeService"],
    rules: &[
        ("/hotline.intake.v1.IntakeService/Submit", &[Operator]),
        ("/hotline.intake.v1.IntakeService/SetSurgeMode", &[Ops]),
    ],
    clocks: true,
};

#[test]
fn the_rule_check_finds_missing_and_unknown_methods() {
    let problems = check_rules(&INTAKE_LIKE).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p == "/hotline.intake.v1.IntakeService/GetTicket has no rule"),
        "{problems:?}"
    );
    let bogus = Served {
        services: &[],
        rules: &[("/hotline.intake.v1.IntakeService/Nope", &[Operator])],
        clocks: false,
    };
    let problems = check_rules(&bogus).unwrap_err();
    assert!(problems.iter().any(|p| p.contains("Nope is not a method")));
    assert!(
        problems.iter().all(|p| !p.contains("ClockService")),
        "clock rows only where clocks are served: {problems:?}"
    );
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    assert_eq!(bearer("Bearer abc"), Some("abc"));
    assert_eq!(bearer("bearer abc"), Some("abc"));
    assert_eq!(bearer("BEARER  abc "), Some("abc"));
    assert_eq!(bearer("Basic abc"), None);
    assert_eq!(bearer("Bearer "), None);
}

#[test]
fn tokens_verify_and_fail_cleanly() {
    let d = tmp();
    let a = Authenticator::load(auth(&d, &["k1"]), "hotline".into()).unwrap();
    let rules = RuleTable::new(&INTAKE_LIKE);
    let t = a.mint("op-1", None, &[Operator], Duration::from_secs(60));
    assert_eq!(a.verify(&t).unwrap().roles, vec![Operator]);
    assert!(
        a.authorize(
            &rules,
            "/hotline.intake.v1.IntakeService/Submit",
            Some(&format!("Bearer {t}"))
        )
        .is_ok()
    );
    let denied = a
        .authorize(
            &rules,
            "/hotline.intake.v1.IntakeService/SetSurgeMode",
            Some(&format!("Bearer {t}")),
        )
        .unwrap_err();
    assert_eq!(denied.code, crate::ErrorCode::PermissionDenied);
    assert_eq!(
        a.authorize(&rules, "/hotline.intake.v1.IntakeService/Submit", None)
            .unwrap_err()
            .code,
        crate::ErrorCode::Unauthenticated
    );
    assert!(
        a.authorize(
            &rules,
            "/hotline.intake.v1.IntakeService/Submit",
            Some(&format!("bearer {t}"))
        )
        .is_ok(),
        "the scheme in lower case"
    );
    assert!(
        a.authorize(&rules, "/grpc.health.v1.Health/Check", None)
            .unwrap()
            .is_none()
    );
    // Tampered, expired, foreign key.
    // Signed with another secret under the same key id.
    let forged = Claims {
        iss: "hotline".into(),
        sub: "x".into(),
        unit: None,
        roles: vec!["ops".into()],
        iat: now_secs(),
        exp: now_secs() + 60,
    };
    assert_eq!(
        a.verify(&mint_with("k1", &[9u8; 32], &forged)),
        Err("bad signature")
    );
    let old = Claims {
        iss: "hotline".into(),
        sub: "x".into(),
        unit: None,
        roles: vec!["operator".into()],
        iat: 1,
        exp: 2,
    };
    assert_eq!(
        a.verify(&mint_with("k1", &[2u8; 32], &old)),
        Err("token expired")
    );
    assert_eq!(
        a.verify(&mint_with("k9", &[2u8; 32], &old)),
        Err("unknown signing key")
    );
    assert_eq!(a.verify("not.a.token"), Err("malformed token"));
}

#[test]
fn keys_rotate_when_the_file_changes() {
    let d = tmp();
    let path = auth(&d, &["old"]);
    let a = Authenticator::load(path.clone(), "hotline".into()).unwrap();
    let old = a.mint("s", None, &[Ops], Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(20));
    auth(&d, &["new", "old"]);
    // Make sure the modification time moves on coarse file systems.
    let later = SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    a.reload_if_changed();
    let new = a.mint("s", None, &[Ops], Duration::from_secs(60));
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.as_deref(),
        Some("new")
    );
    assert!(
        a.verify(&old).is_ok(),
        "the old key still verifies while listed"
    );
}

#[test]
fn unit_staff_are_confined_to_their_unit() {
    let unit = Identity {
        subject: "u".into(),
        unit: Some("bj-cmc".into()),
        roles: vec![UnitStaff],
    };
    assert_eq!(unit.unit_scope(), Some("bj-cmc"));
    assert!(unit.acts_for("bj-cmc") && !unit.acts_for("bj-water-group"));
    let sup = Identity {
        subject: "s".into(),
        unit: None,
        roles: vec![Supervisor],
    };
    assert_eq!(sup.unit_scope(), None);
    assert!(!sup.acts_for("bj-cmc"));
}

#[test]
fn limits_hold_each_identity_to_its_rate_but_not_services() {
    let l = Limits::new(1 << 20, 1, 3);
    let who = |s: &str, role| Identity {
        subject: s.into(),
        unit: None,
        roles: vec![role],
    };
    let a = who("a", Operator);
    assert_eq!(
        (0..5).filter(|_| l.wait(&a).is_none()).count(),
        3,
        "burst of 3"
    );
    assert!(
        l.wait(&who("b", Operator)).is_none(),
        "others are not held back"
    );
    let svc = who("intake", Service);
    assert!((0..100).all(|_| l.wait(&svc).is_none()));
}
