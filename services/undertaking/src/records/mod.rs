//! Handling records (办理记录): what a unit did while handling a signed
//! assignment: contacts with the requester, progress notes, site visits.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::error::from_peer;
use hotline_common::ids::{AssignmentId, UnitId};
use hotline_common::paging::Cursor;
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::intake::v1::AttachMediaRequest;
use hotline_proto::undertaking::v1::{
    AddHandlingRecordRequest, AddHandlingRecordResponse, ListHandlingRecordsRequest,
    ListHandlingRecordsResponse,
};

use crate::assignments::rules::while_signed;
use crate::context::Ctx;
use crate::scope::{self, By, TicketList, hold};
use crate::window;
use rules::RawRecord;

/// A unit records what it did, while it holds the assignment signed.
pub async fn add(
    ctx: &Ctx,
    who: Identity,
    r: AddHandlingRecordRequest,
) -> Result<AddHandlingRecordResponse, ApiError> {
    scope::acting(&who, &r.unit_id, &r.assignment_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let id = f.id::<AssignmentId>("assignment_id", &r.assignment_id);
    let occurred_at = window::read(&mut f, "occurred_at", r.occurred_at.as_ref());
    let media = rules::parse_media(&mut f, &r.media_sha256);
    f.finish()?;
    let (unit, id) = (unit.expect("checked"), id.expect("checked"));
    // Its media go to the ticket first (attaching is idempotent): no call
    // to intake is made inside the record's transaction.
    if !media.is_empty() {
        let ticket_no = store::ticket_of(&ctx.pool, id, &unit)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no assignment {id} of unit {unit}")))?;
        ctx.media
            .clone()
            .attach_media(AttachMediaRequest {
                ticket_no,
                sha256: media.clone(),
            })
            .await
            .map_err(|s| from_peer("intake", s))?;
    }
    ctx.keys
        .once(&who, &r, async |tx| {
            let held = hold(tx, id, By::Unit(&unit)).await?;
            let at = now();
            let raw = RawRecord {
                kind: r.kind,
                occurred_at,
                way: &r.way,
                result: &r.result,
                note: &r.note,
            };
            let mut f = Fields::new();
            let record = rules::parse_record(&mut f, &raw, held.assignment.accepted_at(), at);
            f.finish()?;
            let mut record = record.expect("checked");
            record.media = media.clone();
            while_signed(held.assignment.state)?;
            let saved = store::insert(tx, &held.assignment, &record, at).await?;
            let detail = format!(
                "record={} kind={} media={}",
                saved.id,
                record.kind.as_sql(),
                record.media.len()
            );
            let entry = Entry::by(&who, "handling.recorded", &saved.ticket_no, detail);
            audit::append(tx, &[entry]).await?;
            tracing::info!(record_id = %saved.id, ticket_no = %saved.ticket_no, unit_id = %unit, kind = record.kind.as_sql(), "handling recorded");
            Ok(AddHandlingRecordResponse {
                record: Some(saved.to_proto()),
            })
        })
        .await
}

/// One ticket's records, oldest first, paged; unit staff see their own.
pub async fn list(
    ctx: &Ctx,
    who: Identity,
    r: ListHandlingRecordsRequest,
) -> Result<ListHandlingRecordsResponse, ApiError> {
    let TicketList {
        ticket_no,
        unit,
        page,
    } = TicketList::parse(&who, &r.ticket_no, r.page_size, &r.page_token)?;
    let mut rows = store::page(
        &ctx.pool,
        &ticket_no,
        unit.as_deref(),
        page.after.as_ref(),
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |x| Cursor::new(x.occurred_at, x.id.to_string()));
    Ok(ListHandlingRecordsResponse {
        records: rows.iter().map(|x| x.to_proto()).collect(),
        next_page_token,
    })
}
