//! Issues hotline identities, for ops.
//!
//!     hotline-token --new-key KID
//!         prints a key entry with a fresh random secret, to add to the key
//!         file (HOTLINE_AUTH_KEYS_FILE); the first entry signs.
//!     hotline-token --subject NAME --roles r1,r2 [--unit UNIT] [--hours N]
//!         prints a bearer token signed with the key file's first key
//!         (HOTLINE_AUTH_KEYS_FILE, HOTLINE_AUTH_ISSUER), valid N hours
//!         (default 24).
//!
//! Roles: operator, dispatcher, unit_staff (needs --unit), supervisor,
//! leader, ops, auditor, service.

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use hotline_common::auth::{Authenticator, Role};

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "hotline-token: {problem}\nusage: hotline-token --new-key KID\n       hotline-token --subject NAME --roles r1,r2 [--unit UNIT] [--hours N]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(kid) = value("--new-key") {
        // Two random UUIDs (OS randomness) give the 32 bytes of a secret.
        let mut secret = Vec::with_capacity(32);
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        println!(
            "[[keys]]\nkid = \"{kid}\"\nsecret = \"{}\"",
            base64::engine::general_purpose::STANDARD.encode(&secret)
        );
        return ExitCode::SUCCESS;
    }
    let Some(subject) = value("--subject") else {
        return usage("--subject or --new-key is required");
    };
    let Some(roles) = value("--roles") else {
        return usage("--roles is required");
    };
    let roles: Option<Vec<Role>> = roles.split(',').map(|r| Role::parse(r.trim())).collect();
    let Some(roles) = roles else {
        return usage("unknown role");
    };
    let unit = value("--unit");
    if roles.contains(&Role::UnitStaff) && unit.is_none() {
        return usage("unit_staff needs --unit");
    }
    let hours: u64 = match value("--hours").map(|h| h.parse()) {
        None => 24,
        Some(Ok(h)) if h > 0 => h,
        _ => return usage("--hours takes a positive whole number"),
    };
    let Ok(path) = std::env::var("HOTLINE_AUTH_KEYS_FILE") else {
        return usage("HOTLINE_AUTH_KEYS_FILE is not set");
    };
    let issuer = std::env::var("HOTLINE_AUTH_ISSUER").unwrap_or_else(|_| "hotline".into());
    match Authenticator::load(path.clone().into(), issuer) {
        Ok(auth) => {
            println!(
                "{}",
                auth.mint(
                    &subject,
                    unit.as_deref(),
                    &roles,
                    Duration::from_secs(hours * 3600)
                )
            );
            ExitCode::SUCCESS
        }
        Err(e) => usage(&format!("{path}: {e}")),
    }
}
