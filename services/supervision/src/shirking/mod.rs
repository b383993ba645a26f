//! Shirking (推诿扯皮、敷衍塞责): a supervisor opens a supervision case
//! against a unit on a ticket, with the evidence (returns rejected,
//! repeated returns, an answer the requester disputed, …); it is listed
//! with the deadline cases (ListCases, kind SHIRKING), told to the unit
//! like them (its stream, the `case_opened` fact), and closed by a
//! supervisor with the result. Every step is on the audit trail.
//!
//! - `rules`: the evidence, and which cases close by hand (pure)
//! - `store`: the SQL

pub mod rules;
pub mod store;

use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{TicketNo, UnitId};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::supervision::v1 as pb;

use crate::deadlines::store::announce_case;
use crate::evaluation::exclusions::check_counted;
use crate::ids::CaseId;
use crate::workflows::Workflows;

async fn step(
    tx: &mut hotline_common::outbox::Tx,
    c: &crate::deadlines::model::CaseRecord,
    step: &'static str,
    detail: String,
) -> Result<(), ApiError> {
    crate::steps::publish(
        tx,
        &[c.ticket_no.to_string()],
        crate::steps::Step {
            workflow: hotline_proto::events::v1::Workflow::ShirkingCase,
            ref_id: c.case_id.to_string(),
            step,
            unit_id: c.unit_id.as_str(),
            detail,
            at: c.closed_at.unwrap_or(c.opened_at),
        },
    )
    .await
}

/// OpenShirkingCase.
pub async fn open(
    app: &Workflows,
    who: Identity,
    r: pb::OpenShirkingCaseRequest,
) -> Result<pb::OpenShirkingCaseResponse, ApiError> {
    let mut f = Fields::new();
    let ticket = f.id::<TicketNo>("ticket_no", &r.ticket_no);
    let unit = f.id::<UnitId>("unit_id", &r.unit_id);
    let evidence = rules::evidence(&mut f, &r.evidence);
    f.finish()?;
    let (ticket, unit) = (ticket.expect("checked"), unit.expect("checked"));
    app.keys
        .once(&who, &r, async |tx| {
            check_counted(tx, ticket.as_str(), unit.as_str()).await?;
            let c = match store::open(tx, &ticket, &unit, &who.subject, &evidence, now()).await? {
                Ok(c) => c,
                Err(open) => {
                    return Err(ApiError::already_exists(
                        Reason::ShirkingCaseOpen,
                        format!(
                            "shirking case {open} against unit {unit} on ticket {ticket} is open"
                        ),
                    )
                    .with("case_id", open));
                }
            };
            announce_case(tx, &c).await?;
            let detail: Vec<String> = evidence
                .iter()
                .map(|(k, d)| format!("{}: {d}", rules::evidence_to_sql(*k)))
                .collect();
            step(tx, &c, "opened", detail.join("; ")).await?;
            let kinds: Vec<&str> = evidence
                .iter()
                .map(|(k, _)| rules::evidence_to_sql(*k))
                .collect();
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "case.shirking_opened",
                    ticket.as_str(),
                    format!(
                        "case={} unit={} evidence={}",
                        c.case_id,
                        unit,
                        kinds.join(",")
                    ),
                )],
            )
            .await?;
            Ok(pb::OpenShirkingCaseResponse {
                case: Some(c.to_proto()),
            })
        })
        .await
}

/// CloseCase: a shirking case, with its result.
pub async fn close(
    app: &Workflows,
    who: Identity,
    r: pb::CloseCaseRequest,
) -> Result<pb::CloseCaseResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<CaseId>("case_id", &r.case_id);
    let result = f.text("result", &r.result, rules::MAX_DETAIL);
    f.finish()?;
    let id = id.expect("checked");
    app.keys
        .once(&who, &r, async |tx| {
            let c = store::lock(tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no case {id}")))?;
            rules::may_close(&c)?;
            let c = store::close(tx, id, &who.subject, &result, now()).await?;
            step(tx, &c, "closed", result.clone()).await?;
            audit::append(
                tx,
                &[Entry::by(
                    &who,
                    "case.shirking_closed",
                    c.ticket_no.as_str(),
                    format!("case={} unit={}", c.case_id, c.unit_id),
                )],
            )
            .await?;
            Ok(pb::CloseCaseResponse {
                case: Some(c.to_proto()),
            })
        })
        .await
}
