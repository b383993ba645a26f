//! A unit's urges (催办) and supervision cases (督办), as supervision
//! recorded them: two lists, each paged by supervision's own tokens.

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::error::from_peer;
use hotline_common::ids::UnitId;
use hotline_common::paging::Page;
use hotline_common::validate::Fields;
use hotline_proto::supervision::v1::{ListCasesRequest, ListUrgesRequest};
use hotline_proto::undertaking::v1::{ListUnitSupervisionRequest, ListUnitSupervisionResponse};

use crate::context::Ctx;
use crate::scope;

/// A page of the unit's urges and a page of its cases, newest first, with
/// the token of the next page of each.
pub async fn list(
    ctx: &Ctx,
    who: Identity,
    r: ListUnitSupervisionRequest,
) -> Result<ListUnitSupervisionResponse, ApiError> {
    scope::scoped(&who, &r.unit_id)?;
    let mut f = Fields::new();
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    // The size is checked here; the tokens are supervision's to check.
    Page::parse(&mut f, r.page_size, "", &[]);
    f.finish()?;
    let unit = unit.expect("checked").into_string();
    let mut client = ctx.supervision.clone();
    let urges = client
        .list_urges(ListUrgesRequest {
            unit_id: unit.clone(),
            page_size: r.page_size,
            page_token: r.urges_page_token.clone(),
            ..Default::default()
        })
        .await
        .map_err(|s| token_error("urges_page_token", s))?
        .into_inner();
    let cases = client
        .list_cases(ListCasesRequest {
            unit_id: unit,
            page_size: r.page_size,
            page_token: r.cases_page_token.clone(),
            ..Default::default()
        })
        .await
        .map_err(|s| token_error("cases_page_token", s))?
        .into_inner();
    Ok(ListUnitSupervisionResponse {
        urges: urges.urges,
        cases: cases.cases,
        next_urges_page_token: urges.next_page_token,
        next_cases_page_token: cases.next_page_token,
    })
}

/// Supervision's refusal of a token names this request's field.
fn token_error(field: &str, s: tonic::Status) -> ApiError {
    if s.code() == tonic::Code::InvalidArgument && s.message().contains("page_token") {
        ApiError::invalid(field, s.message())
    } else {
        from_peer("supervision", s)
    }
}
