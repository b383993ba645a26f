//! Surge mode (话务量大量集中): while on, general requests accepted get the
//! policy's surge dispatch limit. Ops switch it; everyone on duty reads it.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::time::now;
use hotline_proto::intake::v1::*;

use crate::app::App;

/// SetSurgeMode: on or off, with a reason; on the record.
pub async fn set(
    app: &App,
    who: Identity,
    req: SetSurgeModeRequest,
) -> Result<SetSurgeModeResponse, ApiError> {
    let (on, reason) = rules::parse_set(&req)?;
    app.keys
        .once(&who, &req, async |tx| {
            let surge = store::set(tx, on, &reason, now(), &who).await?;
            tracing::info!(on, reason = %reason, by = %who.subject, "surge mode switched");
            Ok(SetSurgeModeResponse {
                surge_mode: Some(rules::to_proto(surge)),
            })
        })
        .await
}

/// GetSurgeMode.
pub async fn get(
    app: &App,
    _who: Identity,
    _req: GetSurgeModeRequest,
) -> Result<GetSurgeModeResponse, ApiError> {
    Ok(GetSurgeModeResponse {
        surge_mode: Some(rules::to_proto(app.surge.get().await?)),
    })
}
