//! Who may do what.
//!
//! Every call carries a signed bearer token (`authorization: Bearer <jwt>`,
//! HS256): issuer, subject, unit, roles, expiry. The keys that sign tokens
//! are named by key id in the file `HOTLINE_AUTH_KEYS_FILE`, which is read
//! again whenever it changes, so keys rotate without a restart. Calls
//! between the services carry the calling service's own identity (role
//! `service`), minted per call.
//!
//! [`RULES`] is the one table of which roles may call which RPC; the
//! [`AuthLayer`] checks it before any handler runs. Handlers narrow further
//! what a unit may see ([`Identity::unit_scope`]). Health checks and server
//! reflection stay open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::error::ApiError;

/// What a caller is, as far as the rules go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 话务员: takes requests.
    Operator,
    /// 派单员: routes and re-routes tickets.
    Dispatcher,
    /// A handling unit's staff: only that unit's assignments and tickets.
    UnitStaff,
    /// 督办人员: urges, supervises, decides extensions.
    Supervisor,
    /// 领导: approves special reports.
    Leader,
    /// Operations: surge mode, policy, catalogue.
    Ops,
    /// Read-only oversight, audit trail.
    Auditor,
    /// 回访人员: visits requesters back.
    ReturnVisit,
    /// Another hotline service.
    Service,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Operator,
        Role::Dispatcher,
        Role::UnitStaff,
        Role::Supervisor,
        Role::Leader,
        Role::Ops,
        Role::Auditor,
        Role::ReturnVisit,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Dispatcher => "dispatcher",
            Role::UnitStaff => "unit_staff",
            Role::Supervisor => "supervisor",
            Role::Leader => "leader",
            Role::Ops => "ops",
            Role::Auditor => "auditor",
            Role::ReturnVisit => "return_visit",
            Role::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

use Role::*;

/// One row of the rule table: an RPC (`/package.Service/Method`) and the
/// roles that may call it.
pub type Rule = (&'static str, &'static [Role]);

/// What one server answers: the gRPC services it serves (full names, for
/// reflection) and its rows of the rule table. Each service crate declares
/// its own in `rules.rs`; the gate assembles them with [`COMMON_RULES`].
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// Full names of the hotline services on this port, e.g.
    /// `hotline.intake.v1.IntakeService`.
    pub services: &'static [&'static str],
    /// The rows for those services' methods.
    pub rules: &'static [Rule],
}

/// The service every server carries: the audit trail.
pub const AUDIT_SERVICE: &str = "hotline.common.v1.AuditService";
/// The service of every clock owner: supervision asks it about clocks.
pub const CLOCK_SERVICE: &str = "hotline.common.v1.ClockService";

/// The rows of the services that live in `common`.
pub const COMMON_RULES: &[Rule] = &[
    ("/hotline.common.v1.ClockService/CheckClocks", &[Service]),
    (
        "/hotline.common.v1.AuditService/ListAuditEntries",
        &[Auditor],
    ),
    (
        "/hotline.common.v1.AuditService/VerifyAudit",
        &[Auditor, Ops],
    ),
];

/// Paths served without identity.
const OPEN: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The rule table one server enforces: its own rows and the common ones.
#[derive(Debug, Clone, Default)]
pub struct RuleTable {
    rows: HashMap<&'static str, &'static [Role]>,
}

impl RuleTable {
    pub fn new(served: &Served) -> RuleTable {
        let rows = served
            .rules
            .iter()
            .chain(COMMON_RULES)
            .map(|(p, r)| (*p, *r))
            .collect();
        RuleTable { rows }
    }

    pub fn allowed(&self, path: &str) -> Option<&'static [Role]> {
        self.rows.get(path).copied()
    }
}

/// Checks a server's rows against the contract's descriptor set: every
/// method of every service it serves has exactly one row, and no row names
/// a method that is not served. Returns every problem at once.
pub fn check_rules(served: &Served, with_clock: bool) -> Result<(), Vec<String>> {
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(hotline_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| vec![format!("descriptor set: {e}")])?;
    let mut names: Vec<&str> = served.services.to_vec();
    names.push(AUDIT_SERVICE);
    if with_clock {
        names.push(CLOCK_SERVICE);
    }
    let mut methods = std::collections::BTreeSet::new();
    for file in &fds.file {
        for svc in &file.service {
            let full = format!("{}.{}", file.package(), svc.name());
            if names.contains(&full.as_str()) {
                for m in &svc.method {
                    methods.insert(format!("/{full}/{}", m.name()));
                }
            }
        }
    }
    let mut problems = Vec::new();
    let rows: Vec<&str> = served
        .rules
        .iter()
        .chain(
            COMMON_RULES
                .iter()
                .filter(|(p, _)| with_clock || !p.starts_with(&format!("/{CLOCK_SERVICE}/"))),
        )
        .map(|(p, _)| *p)
        .collect();
    for m in &methods {
        match rows.iter().filter(|p| **p == m).count() {
            1 => {}
            0 => problems.push(format!("{m} has no rule")),
            n => problems.push(format!("{m} has {n} rules")),
        }
    }
    for p in &rows {
        if !methods.contains(*p) {
            problems.push(format!("{p} is not a method this server serves"));
        }
    }
    for (p, roles) in served.rules {
        if roles.is_empty() {
            problems.push(format!("{p} allows no role"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The claims of a hotline token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// The handling unit of unit staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub roles: Vec<String>,
    pub iat: u64,
    pub exp: u64,
}

/// A verified caller, put in each request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub unit: Option<String>,
    pub roles: Vec<Role>,
}

impl Identity {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The unit a caller is confined to: unit staff without any role that
    /// sees across units.
    pub fn unit_scope(&self) -> Option<&str> {
        let wide = self.roles.iter().any(|r| *r != UnitStaff);
        if wide {
            None
        } else {
            Some(self.unit.as_deref().unwrap_or(""))
        }
    }

    /// Keeps what the caller may see: unit staff only their unit's rows.
    pub fn keep_visible<T>(&self, rows: &mut Vec<T>, unit_of: impl Fn(&T) -> &str) {
        if let Some(own) = self.unit_scope() {
            rows.retain(|r| unit_of(r) == own);
        }
    }

    /// May this caller act as `unit_id`?
    pub fn acts_for(&self, unit_id: &str) -> bool {
        self.has(UnitStaff) && self.unit.as_deref() == Some(unit_id)
    }
}

/// The verified identity of a request (set by [`AuthLayer`]).
pub fn identity<T>(req: &tonic::Request<T>) -> Result<Identity, ApiError> {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| ApiError::new(crate::ErrorCode::Unauthenticated, "no identity"))
}

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

fn now_secs() -> u64 {
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
        let roles = rules
            .allowed(path)
            .ok_or_else(|| ApiError::permission(format!("{path} is not served here")))?;
        if !identity.roles.iter().any(|r| roles.contains(r)) {
            return Err(ApiError::permission(format!(
                "{} may not call {path}",
                identity.subject
            )));
        }
        Ok(Some(identity))
    }
}

/// The token of an `authorization` header: the scheme `Bearer` in any case
/// (RFC 7235 makes auth schemes case-insensitive), then the token.
fn bearer(header: &str) -> Option<&str> {
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

/// Limits every caller lives within: the size of a request, and a rate
/// per identity (services calling each other are not limited).
pub struct Limits {
    pub max_message_bytes: usize,
    rate: governor::DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

impl Limits {
    pub fn new(max_message_bytes: usize, per_second: u32, burst: u32) -> Limits {
        let per_second = std::num::NonZeroU32::new(per_second.max(1)).expect("at least 1");
        let burst = std::num::NonZeroU32::new(burst.max(1)).expect("at least 1");
        Limits {
            max_message_bytes,
            rate: governor::RateLimiter::dashmap(
                governor::Quota::per_second(per_second).allow_burst(burst),
            ),
        }
    }

    /// Whether `who` may make one more call now.
    pub fn admit(&self, who: &Identity) -> bool {
        self.wait(who).is_none()
    }

    /// `None` when `who` may make one more call now, else how long to wait.
    pub fn wait(&self, who: &Identity) -> Option<Duration> {
        if who.has(Service) {
            return None;
        }
        self.rate.check_key(&who.subject).err().map(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }

    /// Forgets identities that have been quiet, until shutdown.
    pub async fn tidy(self: Arc<Self>, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(60)) => self.rate.retain_recent(),
            }
        }
    }
}

/// The tower layer in front of every service: authenticates and
/// authorises each call, and holds it to the [`Limits`].
#[derive(Clone)]
pub struct AuthLayer {
    pub auth: Arc<Authenticator>,
    pub limits: Arc<Limits>,
    pub rules: Arc<RuleTable>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            rules: self.rules.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Authenticator>,
    limits: Arc<Limits>,
    rules: Arc<RuleTable>,
}

fn refuse(
    status: Status,
    path: &str,
) -> BoxFuture<http::Response<tonic::body::Body>, std::convert::Infallible> {
    tracing::info!(path = %path, code = ?status.code(), reason = %status.message(), "call refused");
    Box::pin(async move { Ok(status.into_http()) })
}

/// RESOURCE_EXHAUSTED for a caller over its rate, with `google.rpc.RetryInfo`
/// saying when the next call will be admitted.
fn too_often(subject: &str, wait: Duration) -> Status {
    let e = ApiError::new(
        crate::ErrorCode::ResourceExhausted,
        format!(
            "{subject} is calling too often; retry in {} ms",
            wait.as_millis().max(1)
        ),
    );
    let mut details = tonic_types::ErrorDetails::with_localized_message("zh-CN", e.zh_cn());
    details.set_retry_info(Some(wait.max(Duration::from_millis(1))));
    use tonic_types::StatusExt;
    Status::with_error_details(tonic::Code::ResourceExhausted, e.message, details)
}

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<tonic::body::Body>> for AuthService<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<tonic::body::Body>) -> Self::Future {
        let path = req.uri().path().to_string();
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let identity = match self.auth.authorize(&self.rules, &path, header) {
            Ok(identity) => identity,
            Err(e) => return refuse(e.into(), &path),
        };
        // Take the service that was polled ready, leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(id) = identity else {
            // Health and reflection: open, and streamed as they come.
            return Box::pin(async move { inner.call(req).await });
        };
        if let Some(wait) = self.limits.wait(&id) {
            return refuse(too_often(&id.subject, wait), &path);
        }
        req.extensions_mut().insert(id);
        // Every hotline RPC is unary: read the request whole, at most the
        // limit, so that an oversized one is refused before any decoding.
        let max = self.limits.max_message_bytes;
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, max)).await {
                Ok(collected) => {
                    let body =
                        tonic::body::Body::new(http_body_util::Full::new(collected.to_bytes()));
                    inner.call(http::Request::from_parts(parts, body)).await
                }
                Err(e)
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some() =>
                {
                    refuse(
                        ApiError::new(
                            crate::ErrorCode::ResourceExhausted,
                            format!("request larger than {max} bytes"),
                        )
                        .into(),
                        &path,
                    )
                    .await
                }
                Err(e) => {
                    refuse(
                        Status::cancelled(format!("request body unreadable: {e}")),
                        &path,
                    )
                    .await
                }
            }
        })
    }
}

/// Adds the calling service's own identity to each outgoing call.
#[derive(Clone)]
pub struct ServiceToken {
    pub auth: Arc<Authenticator>,
    pub service: &'static str,
}

impl tonic::service::Interceptor for ServiceToken {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let token = self
            .auth
            .mint(self.service, None, &[Service], Duration::from_secs(300));
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("token is not a header value"))?;
        req.metadata_mut().insert("authorization", value);
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    };

    #[test]
    fn the_rule_check_finds_missing_and_unknown_methods() {
        let problems = check_rules(&INTAKE_LIKE, true).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p == "/hotline.intake.v1.IntakeService/GetTicket has no rule"),
            "{problems:?}"
        );
        let bogus = Served {
            services: &[],
            rules: &[("/hotline.intake.v1.IntakeService/Nope", &[Operator])],
        };
        let problems = check_rules(&bogus, false).unwrap_err();
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
        assert_eq!((0..5).filter(|_| l.admit(&a)).count(), 3, "burst of 3");
        assert!(l.admit(&who("b", Operator)), "others are not held back");
        let svc = who("intake", Service);
        assert!((0..100).all(|_| l.admit(&svc)));
    }
}
