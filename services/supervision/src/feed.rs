//! Supervision's event feed: every urge issued and case opened, written
//! in the transaction that records it (`deadlines::store`), listed after a
//! cursor for undertaking, which carries them into the units' streams.
//! Order and retention: `hotline_common::feed`.

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::feed::{self, ALL, Position};
use hotline_common::paging::Page;
use hotline_common::validate::Fields;
use hotline_proto::supervision::v1::{FeedEvent, ListFeedEventsRequest, ListFeedEventsResponse};
use prost::Message;
use sqlx::PgPool;

use hotline_common::feed::CURSOR_FIELD;

/// Events after the cursor (from the oldest kept when it is empty), only
/// of finished transactions, oldest first.
pub async fn list(
    pool: &PgPool,
    _who: Identity,
    r: ListFeedEventsRequest,
) -> Result<ListFeedEventsResponse, ApiError> {
    let mut f = Fields::new();
    let page = Page::parse(&mut f, r.page_size, "", &[]);
    f.finish()?;
    let after = match r.after_cursor.trim() {
        "" => Position { xid: 0, id: 0 },
        raw => {
            let p = Position::parse(CURSOR_FIELD, raw, ALL)?;
            feed::check_resume(pool, CURSOR_FIELD, ALL, p).await?;
            p
        }
    };
    let batch = feed::read(pool, ALL, after, page.size).await?;
    let events = batch
        .events
        .iter()
        .map(|e| {
            let mut msg = FeedEvent::decode(e.event.as_slice())
                .map_err(|err| ApiError::internal(format!("stored feed event: {err}")))?;
            msg.cursor = e.position.cursor(ALL);
            msg.unit_id = e.unit_id.clone();
            Ok(msg)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(ListFeedEventsResponse {
        events,
        next_cursor: batch.position.cursor(ALL),
    })
}
