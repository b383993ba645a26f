//! Tokens: key files (rotated without a restart), minting and verifying
//! HS256 bearer tokens, and authorising one call against a rule table.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::rules::{OPEN, RuleTable};
use super::{Claims, Identity, Role};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    kid: String,
    /// Base64 of at least 32 random bytes.
    secret: String,
}

/// Parses a key file: `[[keys]] kid = "…" secret = "<base64>"`. The first
/// key signs; all verify.
pub fn parse_keys(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let file: KeyFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.keys.is_empty() {
        return Err("no keys".into());
    }
    let mut out = Vec::new();
    for k in file.keys {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(k.secret.trim())
            .map_err(|e| format!("key {:?}: secret is not base64: {e}", k.kid))?;
        if secret.len() < 32 {
            return Err(format!("key {:?}: secret shorter than 32 bytes", k.kid));
        }
        if k.kid.trim().is_empty() {
            return Err("a key without kid".into());
        }
        out.push((k.kid, secret));
    }
    Ok(out)
}

struct KeySet {
    signing: (String, Vec<u8>),
    verifying: HashMap<String, DecodingKey>,
}

impl KeySet {
    fn new(keys: Vec<(String, Vec<u8>)>) -> KeySet {
        let verifying = keys
            .iter()
            .filter_map(|(kid, s)| Some((kid.clone(), DecodingKey::from_secret(s).ok()?)))
            .collect();
        KeySet {
            signing: keys[0].clone(),
            verifying,
        }
    }
}

/// Verifies and mints tokens with the keys of one key file.
pub struct Authenticator {
    issuer: String,
    path: PathBuf,
    keys: RwLock<Arc<KeySet>>,
    modified: RwLock<Option<SystemTime>>,
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.issuer)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Loads the key file; errors name the file.
    pub fn load(path: PathBuf, issuer: String) -> Result<Authenticator, String> {
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let keys = parse_keys(&text)?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(Authenticator {
            issuer,
            path,
            keys: RwLock::new(Arc::new(KeySet::new(keys))),
            modified: RwLock::new(modified),
        })
    }

    /// A stand-in for a configuration that failed to load (the service
    /// exits before using it).
    pub fn unusable(issuer: String) -> Authenticator {
        Authenticator {
            issuer,
            path: PathBuf::new(),
            keys: RwLock::new(Arc::new(KeySet::new(vec![(String::new(), vec![0; 32])]))),
            modified: RwLock::new(None),
        }
    }

    fn keys(&self) -> Arc<KeySet> {
        self.keys.read().expect("key lock").clone()
    }

    /// Reads the key file again if it changed; a broken file keeps the
    /// keys in force.
    pub fn reload_if_changed(&self) {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified == *self.modified.read().expect("lock") {
            return;
        }
        match std::fs::read_to_string(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_keys(&t))
        {
            Ok(keys) => {
                let kids: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
                *self.keys.write().expect("lock") = Arc::new(KeySet::new(keys));
                *self.modified.write().expect("lock") = modified;
                tracing::info!(kids = ?kids, "auth keys reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "auth key file unreadable, keeping the keys in force")
            }
        }
    }

    /// Watches the key file until shutdown.
    pub async fn watch(self: Arc<Self>, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(2)) => self.reload_if_changed(),
            }
        }
    }

    /// Signs claims with the first key of the file.
    pub fn mint(&self, subject: &str, unit: Option<&str>, roles: &[Role], ttl: Duration) -> String {
        let keys = self.keys();
        let now = now_secs();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.to_string(),
            unit: unit.map(str::to_string),
            roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        mint_with(&keys.signing.0, &keys.signing.1, &claims)
    }

    /// Checks a bearer token: known key, good signature, this issuer, not
    /// expired, known roles.
    pub fn verify(&self, token: &str) -> Result<Identity, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed token")?;
        let kid = header.kid.ok_or("token without key id")?;
        let keys = self.keys();
        let key = keys.verifying.get(&kid).ok_or("unknown signing key")?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, key, &v).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "token expired",
            jsonwebtoken::errors::ErrorKind::InvalidSignature => "bad signature",
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => "wrong issuer",
            _ => "invalid token",
        })?;
        let roles = data
            .claims
            .roles
            .iter()
            .map(|r| Role::parse(r).ok_or("unknown role in token"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Identity {
            subject: data.claims.sub,
            unit: data.claims.unit,
            roles,
        })
    }

    /// Authenticates and authorises one call to `path` against `rules`.
    pub fn authorize(
        &self,
        rules: &RuleTable,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<Option<Identity>, ApiError> {
        if OPEN.iter().any(|p| path.starts_with(p)) {
            return Ok(None);
        }
        let unauthenticated = |m: &str| ApiError::new(crate::ErrorCode::Unauthenticated, m);
        let token = authorization
            .and_then(bearer)
            .ok_or_else(|| unauthenticated("a bearer token is required"))?;
        let identity = self.verify(token).map_err(unauthenticated)?;
        let roles = rules.allowed(path).ok_or_else(|| {
            ApiError::permission(
                crate::Reason::MethodNotServed,
                format!("{path} is not served here"),
            )
            .with("method", path)
        })?;
        if !identity.roles.iter().any(|r| roles.contains(r)) {
            return Err(ApiError::permission(
                crate::Reason::RoleNotAllowed,
                format!("{} may not call {path}", identity.subject),
            )
            .with("method", path));
        }
        Ok(Some(identity))
    }
}

/// The token of an `authorization` header: the scheme `Bearer` in any case
/// (RFC 7235 makes auth schemes case-insensitive), then the token.
pub(super) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Signs claims with one key (used by [`Authenticator::mint`] and by
/// tooling that issues tokens).
pub fn mint_with(kid: &str, secret: &[u8], claims: &Claims) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    // Secrets are at least 32 bytes (checked when the key file is read), so
    // neither building the key nor HS256 signing can fail.
    let key = EncodingKey::from_secret(secret).expect("a non-empty HMAC secret");
    jsonwebtoken::encode(&header, claims, &key).expect("HS256 signing cannot fail")
}
