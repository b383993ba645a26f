//! The one shape of every unary handler: take the caller's verified
//! identity and the message, run the feature, encode its result. Each
//! service's `grpc.rs` is a list of one-line calls of [`unary`].

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
