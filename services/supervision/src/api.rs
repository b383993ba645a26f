//! Supervision's gRPC layer.

use hotline_common::ApiError;
use hotline_common::auth::{Identity, identity};
use hotline_common::paging::{self, Page};
use hotline_common::validate::Fields;
use hotline_proto::supervision::v1::supervision_service_server::SupervisionService;
use hotline_proto::supervision::v1::*;
use tonic::{Request, Response, Status};

use crate::store::Store;

pub struct Api {
    pub store: Store,
}

fn filter(f: &mut Fields, field: &str, raw: &str) -> Option<String> {
    if raw.trim().is_empty() {
        None
    } else {
        Some(f.code(field, raw, 64))
    }
}

/// Unit staff see only what concerns their own unit.
fn own_unit(who: &Identity, asked: Option<String>) -> Result<Option<String>, ApiError> {
    match (who.unit_scope(), asked) {
        (None, asked) => Ok(asked),
        (Some(own), None) => Ok(Some(own.to_string())),
        (Some(own), Some(a)) if a == own => Ok(Some(a)),
        (Some(own), Some(_)) => Err(ApiError::permission(format!(
            "{} may list only unit {own}",
            who.subject
        ))),
    }
}

#[tonic::async_trait]
impl SupervisionService for Api {
    async fn list_urges(
        &self,
        req: Request<ListUrgesRequest>,
    ) -> Result<Response<ListUrgesResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        let mut f = Fields::new();
        let unit = own_unit(&who, filter(&mut f, "unit_id", &r.unit_id))?;
        let ticket = filter(&mut f, "ticket_no", &r.ticket_no);
        let page = Page::parse(
            &mut f,
            r.page_size,
            &r.page_token,
            &[
                unit.as_deref().unwrap_or(""),
                ticket.as_deref().unwrap_or(""),
            ],
        );
        f.finish()?;
        let mut urges = self
            .store
            .urges(
                unit.as_deref(),
                ticket.as_deref(),
                page.after.clone(),
                page.fetch(),
            )
            .await?;
        let next_page_token = page.cut(&mut urges, |u| {
            paging::cursor_of(u.issued_at.as_ref(), &u.urge_id)
        });
        Ok(Response::new(ListUrgesResponse {
            urges,
            next_page_token,
        }))
    }

    async fn list_cases(
        &self,
        req: Request<ListCasesRequest>,
    ) -> Result<Response<ListCasesResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        let mut f = Fields::new();
        let unit = own_unit(&who, filter(&mut f, "unit_id", &r.unit_id))?;
        let ticket = filter(&mut f, "ticket_no", &r.ticket_no);
        let open = match CaseState::try_from(r.state) {
            Ok(CaseState::Unspecified) => None,
            Ok(CaseState::Open) => Some(true),
            Ok(CaseState::Closed) => Some(false),
            Err(_) => {
                f.add("state", format!("unknown state {}", r.state));
                None
            }
        };
        let state = r.state.to_string();
        let page = Page::parse(
            &mut f,
            r.page_size,
            &r.page_token,
            &[
                unit.as_deref().unwrap_or(""),
                ticket.as_deref().unwrap_or(""),
                &state,
            ],
        );
        f.finish()?;
        let mut cases = self
            .store
            .cases(
                unit.as_deref(),
                ticket.as_deref(),
                open,
                page.after.clone(),
                page.fetch(),
            )
            .await?;
        let next_page_token = page.cut(&mut cases, |c| {
            paging::cursor_of(c.opened_at.as_ref(), &c.case_id)
        });
        Ok(Response::new(ListCasesResponse {
            cases,
            next_page_token,
        }))
    }
}
