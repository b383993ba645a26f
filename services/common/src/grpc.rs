//! The one shape of every handler: take the caller's verified
//! identity and the message, run the feature, encode its result. Each
//! service's `grpc.rs` is a list of one-line calls of [`unary`] (or, for
//! a server-streaming RPC, [`server_stream`]).

use std::future::Future;

use tonic::{Request, Response, Status};

use crate::auth::{Identity, identity};
use crate::error::ApiError;

/// Runs `feature` with the caller and the request message; errors map to
/// gRPC statuses once, here.
pub async fn unary<T, R, F, Fut>(req: Request<T>, feature: F) -> Result<Response<R>, Status>
where
    F: FnOnce(Identity, T) -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
{
    let who = identity(&req)?;
    let msg = req.into_inner();
    feature(who, msg)
        .await
        .map(Response::new)
        .map_err(Status::from)
}

/// What a server-streaming handler answers: a stream of messages, each
/// error already a status.
pub type Streamed<R> =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<R, Status>> + Send + 'static>>;

/// The shape of a server-streaming handler: as [`unary`], the caller's
/// verified identity and the one request message; the feature checks the
/// request and returns the stream of answers, or an error before any
/// answer. The gate has already admitted the call (one call for the rate
/// limiter, however long it streams).
pub async fn server_stream<T, R, S, F, Fut>(
    req: Request<T>,
    feature: F,
) -> Result<Response<Streamed<R>>, Status>
where
    F: FnOnce(Identity, T) -> Fut,
    Fut: Future<Output = Result<S, ApiError>>,
    S: futures_util::Stream<Item = Result<R, ApiError>> + Send + 'static,
    R: Send + 'static,
{
    use futures_util::StreamExt;
    let who = identity(&req)?;
    let msg = req.into_inner();
    let stream = feature(who, msg).await.map_err(Status::from)?;
    Ok(Response::new(Box::pin(
        stream.map(|r| r.map_err(Status::from)),
    )))
}
