//! Deadlines (时限督办): the clock owners' deadline events become urges
//! (催办) and supervision cases (督办); the centre and the units list them.
//!
//! - `model`: the checked event, the owner's clock, the case state (pure)
//! - `rules`: what an event and a batch call for, at a given time (pure)
//! - `store`: urges, cases and parked events (SQL)
//! - `owners`: asking the clock owners (`CheckClocks`)
//! - `batch`: ask, decide, record
//! - `consume`: the RabbitMQ consumer and its dead-lettering
//! - `parked`: retrying the events of owners that did not answer

pub mod batch;
pub mod consume;
pub mod model;
pub mod owners;
pub mod parked;
pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::paging::{Cursor, Page};
use hotline_common::validate::Fields;
use hotline_proto::supervision::v1::{
    ListCasesRequest, ListCasesResponse, ListUrgesRequest, ListUrgesResponse,
};

use self::model::CaseState;
use self::store::Store;
use crate::scope::visible_unit;

fn text<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// `ListUrges`: newest first, by unit, ticket or both; unit staff see
/// their own unit's only.
pub async fn list_urges(
    store: &Store,
    who: Identity,
    r: ListUrgesRequest,
) -> Result<ListUrgesResponse, ApiError> {
    let mut f = Fields::new();
    let unit = visible_unit(&who, f.optional_id::<UnitId>("unit_id", &r.unit_id))?;
    let ticket = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[&text(&unit), &text(&ticket)],
    );
    f.finish()?;
    let mut rows = store
        .urges(
            unit.as_ref(),
            ticket.as_ref(),
            page.after.as_ref(),
            page.fetch(),
        )
        .await?;
    let next_page_token = page.cut(&mut rows, |u| {
        Cursor::new(u.issued_at, u.urge_id.to_string())
    });
    Ok(ListUrgesResponse {
        urges: rows.iter().map(|u| u.to_proto()).collect(),
        next_page_token,
    })
}

/// `ListCases`: newest first, by unit, ticket, state; unit staff see
/// their own unit's only.
pub async fn list_cases(
    store: &Store,
    who: Identity,
    r: ListCasesRequest,
) -> Result<ListCasesResponse, ApiError> {
    let mut f = Fields::new();
    let unit = visible_unit(&who, f.optional_id::<UnitId>("unit_id", &r.unit_id))?;
    let ticket = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let state = CaseState::filter_field(&mut f, "state", r.state);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[&text(&unit), &text(&ticket), &r.state.to_string()],
    );
    f.finish()?;
    let mut rows = store
        .cases(
            unit.as_ref(),
            ticket.as_ref(),
            state,
            page.after.as_ref(),
            page.fetch(),
        )
        .await?;
    let next_page_token = page.cut(&mut rows, |c| {
        Cursor::new(c.opened_at, c.case_id.to_string())
    });
    Ok(ListCasesResponse {
        cases: rows.iter().map(|c| c.to_proto()).collect(),
        next_page_token,
    })
}
