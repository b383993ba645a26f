//! Repeats (重复件) and repeated raising (多次反映): FindRepeats offers the
//! open tickets a request being taken may repeat; Submit with `repeat_of`
//! links it (`tickets::submit`), sending it to no unit; closing a ticket
//! closes its repeats (`visits`). The count reaches supervision through
//! the `raised_again` fact.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::time::now;
use hotline_proto::intake::v1::*;

use crate::app::App;

/// FindRepeats.
pub async fn find(
    app: &App,
    _who: Identity,
    req: FindRepeatsRequest,
) -> Result<FindRepeatsResponse, ApiError> {
    let probe = rules::parse_find(&req)?;
    let policy = &app.policy.repeats;
    let since = hotline_common::time::minus(now(), policy.window);
    let read = store::open_near(app.tickets.pool(), &probe).await?;
    Ok(FindRepeatsResponse {
        candidates: rules::candidates(&probe, read, policy.min_similarity, since),
    })
}
