//! A ticket's timeline (办理过程): each stage with its time and deadline,
//! read from intake's ticket and from what undertaking recorded.

pub mod rules;
pub mod steps;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::ids::{Id, TicketNo};
use hotline_proto::intake::v1::{GetTimelineRequest, GetTimelineResponse};

use crate::app::App;
use crate::tickets::{Visible, visible};

/// The workflow steps the caller may see: unit staff those of their own
/// unit and those of every unit.
fn visible_steps(who: &Identity, steps: Vec<steps::Step>) -> Vec<steps::Step> {
    match who.unit_scope() {
        None => steps,
        Some(own) => steps
            .into_iter()
            .filter(|s| s.unit_id.is_empty() || s.unit_id == own)
            .collect(),
    }
}

/// GetTimeline, for whoever may see the ticket.
pub async fn get_timeline(
    app: &App,
    who: Identity,
    req: GetTimelineRequest,
) -> Result<GetTimelineResponse, ApiError> {
    let no = TicketNo::parse_field("ticket_no", &req.ticket_no)?;
    let Visible {
        ticket,
        assignments,
        ..
    } = visible(app, &who, &no).await?;
    let assignments = match assignments {
        Some(a) => a,
        None => app.undertaking.assignments(&no).await?,
    };
    let facts = rules::Facts {
        accepted_at: ticket.accepted_at,
        dispatch_deadline: ticket.dispatch_deadline,
        assignments,
        records: app.undertaking.records(&no).await?,
        returns: app.undertaking.returns(&no).await?,
        whistles: app.undertaking.whistles(&no).await?,
        rehandlings: app.undertaking.rehandlings(&no).await?,
        closure: app.tickets.closure(&no).await?,
        steps: visible_steps(
            &who,
            steps::of_ticket(app.tickets.pool(), no.as_str()).await?,
        ),
    };
    let timeline = rules::assemble(facts, chrono::Utc::now());
    Ok(GetTimelineResponse {
        ticket_no: no.to_string(),
        entries: timeline.entries,
        feedback: timeline.feedback,
    })
}
