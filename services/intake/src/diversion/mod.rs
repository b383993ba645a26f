//! Diversion (分流): requests that belong to an emergency line
//! (110/119/120/122) are referred and closed at acceptance
//! (`tickets::submit`), and the centre marks malicious callers for the
//! operators.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::time::{now, to_proto};
use hotline_proto::intake::v1::*;

use crate::app::App;

fn to_proto_mark(m: store::Mark) -> CallerMark {
    CallerMark {
        phone_digits: m.phone_digits,
        malicious: m.malicious,
        reason: m.reason,
        marked_by: m.marked_by,
        marked_at: Some(to_proto(m.marked_at)),
    }
}

/// MarkCaller: the centre sets or clears the mark.
pub async fn mark(
    app: &App,
    who: Identity,
    req: MarkCallerRequest,
) -> Result<MarkCallerResponse, ApiError> {
    let (phone, malicious, reason) = rules::parse_mark(&req)?;
    app.keys
        .once(&who, &req, async |tx| {
            let m = store::mark(tx, &phone, malicious, &reason, &who, now()).await?;
            tracing::info!(malicious, by = %who.subject, "caller mark set");
            Ok(MarkCallerResponse {
                mark: Some(to_proto_mark(m)),
            })
        })
        .await
}

/// GetCaller.
pub async fn get(
    app: &App,
    _who: Identity,
    req: GetCallerRequest,
) -> Result<GetCallerResponse, ApiError> {
    let phone = rules::parse_get(&req)?;
    Ok(GetCallerResponse {
        mark: store::get(app.tickets.pool(), &phone)
            .await?
            .map(to_proto_mark),
    })
}

/// Whether a phone is marked malicious now.
pub async fn is_marked(app: &App, phone: Option<&str>) -> Result<bool, ApiError> {
    let Some(phone) = phone else {
        return Ok(false);
    };
    let digits = crate::tickets::rules::phone_digits(phone);
    Ok(store::get(app.tickets.pool(), &digits)
        .await?
        .is_some_and(|m| m.malicious))
}
