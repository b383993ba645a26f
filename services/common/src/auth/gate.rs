//! The gate in front of every service: authenticates and authorises each
//! call, holds callers to the size and rate limits, and gives the calls
//! services make to each other their own identity.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::Identity;
use super::Role::Service;
use super::rules::RuleTable;
use super::tokens::Authenticator;
use crate::error::ApiError;

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
        // Every hotline request is one message (unary and server-streaming
        // RPCs alike): read it whole, at most the limit, so that an
        // oversized one is refused before any decoding. The response is
        // passed on as it comes, a stream message by message; a stream is
        // one call for the rate limit, however long it lasts.
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
