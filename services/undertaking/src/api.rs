//! Undertaking's gRPC layer.

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::paging;
use hotline_common::time::now;
use hotline_common::time::required;
use hotline_common::validate::Fields;
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::undertaking::v1::undertaking_service_server::UndertakingService;
use hotline_proto::undertaking::v1::*;
use hotline_sla::Policy;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{Action, State, check_feedback, transition};
use crate::store::{self, Store, Stored};

pub struct Api {
    pub store: Store,
    pub policy: Arc<Policy>,
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::invalid("assignment_id", "not an assignment id"))
}

fn unit_field(f: &mut Fields, raw: &str) -> String {
    f.code("unit_id", raw, 64)
}

impl Api {
    async fn create(
        &self,
        req: CreateAssignmentsRequest,
    ) -> Result<CreateAssignmentsResponse, ApiError> {
        let mut f = Fields::new();
        let ticket = req.ticket.clone().unwrap_or_default();
        if req.ticket.is_none() {
            f.add("ticket", "required");
        } else {
            f.code("ticket.ticket_no", &ticket.ticket_no, 32);
        }
        let dispatched_at = required(req.dispatched_at.as_ref(), "dispatched_at");
        if let Err(e) = &dispatched_at {
            f.add("dispatched_at", e.fields[0].1.clone());
        }
        if req.assignments.is_empty() {
            f.add("assignments", "at least one");
        }
        let leads = req
            .assignments
            .iter()
            .filter(|a| a.role == AssignmentRole::Lead as i32)
            .count();
        if !req.assignments.is_empty() && leads != 1 {
            f.add("assignments", format!("exactly one lead unit, got {leads}"));
        }
        let mut new = Vec::new();
        for (i, a) in req.assignments.iter().enumerate() {
            let unit_id = f.code(&format!("assignments[{i}].unit_id"), &a.unit_id, 64);
            if !matches!(
                AssignmentRole::try_from(a.role),
                Ok(AssignmentRole::Lead | AssignmentRole::Co)
            ) {
                f.add(&format!("assignments[{i}].role"), "lead or co");
            }
            let sign = required(
                a.sign_deadline.as_ref(),
                &format!("assignments[{i}].sign_deadline"),
            );
            let feedback = required(
                a.feedback_deadline.as_ref(),
                &format!("assignments[{i}].feedback_deadline"),
            );
            match (sign, feedback) {
                (Ok(s), Ok(fb)) => new.push(store::NewAssignment {
                    unit_id,
                    lead: a.role == AssignmentRole::Lead as i32,
                    sign_deadline: s,
                    feedback_deadline: fb,
                }),
                (s, fb) => {
                    for e in [s.err(), fb.err()].into_iter().flatten() {
                        for (field, p) in e.fields {
                            f.add(&field, p);
                        }
                    }
                }
            }
        }
        f.finish()?;
        let (all, created) = self
            .store
            .create(&ticket, dispatched_at?, &new, &self.policy)
            .await?;
        if created > 0 {
            tracing::info!(ticket_no = %ticket.ticket_no, created, "assignments recorded");
        }
        Ok(CreateAssignmentsResponse {
            assignments: all.into_iter().map(|s| s.proto).collect(),
        })
    }

    async fn list(&self, req: ListAssignmentsRequest) -> Result<ListAssignmentsResponse, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &req.unit_id);
        let state = match AssignmentState::try_from(req.state) {
            Ok(AssignmentState::Unspecified) => None,
            Ok(AssignmentState::PendingSign) => Some(State::PendingSign),
            Ok(AssignmentState::Signed) => Some(State::Signed),
            Ok(AssignmentState::FedBack) => Some(State::FedBack),
            Err(_) => {
                f.add("state", format!("unknown state {}", req.state));
                None
            }
        };
        let size = paging::size(&mut f, req.page_size);
        f.finish()?;
        let cursor = paging::decode(&req.page_token)?;
        let mut rows = self
            .store
            .by_unit(&unit_id, state, cursor, size + 1)
            .await?;
        let next_page_token = paging::cut(&mut rows, size, |r| {
            paging::cursor_of(r.proto.dispatched_at.as_ref(), &r.proto.assignment_id)
        });
        Ok(ListAssignmentsResponse {
            assignments: rows.into_iter().map(|s| s.proto).collect(),
            next_page_token,
        })
    }

    /// Locks the assignment of `unit_id` and applies `action`. A unit
    /// asking about another unit's assignment is told it does not exist.
    async fn act(
        &self,
        raw_id: &str,
        raw_unit: &str,
        action: Action,
        feedback: Option<&hotline_proto::common::v1::Feedback>,
    ) -> Result<Stored, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, raw_unit);
        let id = parse_id(raw_id);
        if let Err(e) = &id {
            f.add("assignment_id", e.fields[0].1.clone());
        }
        f.finish()?;
        let id = id?;
        if action == Action::Feedback {
            check_feedback(feedback)?;
        }
        let (mut tx, stored) = self.store.lock(id).await?;
        let stored = match stored {
            Some(s) if s.unit_id == unit_id => s,
            _ => {
                return Err(ApiError::not_found(format!(
                    "no assignment {id} for unit {unit_id}"
                )));
            }
        };
        transition(stored.state, action)?;
        let at = now();
        let updated = match action {
            Action::Sign => Store::mark_signed(&mut tx, id, at).await?,
            Action::Feedback => {
                Store::mark_fed_back(&mut tx, id, at, feedback.expect("checked")).await?
            }
        };
        tx.commit().await?;
        tracing::info!(
            assignment_id = %id,
            ticket_no = %updated.proto.ticket_no,
            unit_id = %unit_id,
            state = updated.state.as_str(),
            "assignment updated"
        );
        Ok(updated)
    }
}

#[tonic::async_trait]
impl UndertakingService for Api {
    async fn create_assignments(
        &self,
        req: Request<CreateAssignmentsRequest>,
    ) -> Result<Response<CreateAssignmentsResponse>, Status> {
        Ok(Response::new(self.create(req.into_inner()).await?))
    }

    async fn list_assignments(
        &self,
        req: Request<ListAssignmentsRequest>,
    ) -> Result<Response<ListAssignmentsResponse>, Status> {
        Ok(Response::new(self.list(req.into_inner()).await?))
    }

    async fn list_ticket_assignments(
        &self,
        req: Request<ListTicketAssignmentsRequest>,
    ) -> Result<Response<ListTicketAssignmentsResponse>, Status> {
        let mut f = Fields::new();
        let no = f.code("ticket_no", &req.into_inner().ticket_no, 32);
        f.finish()?;
        let rows = self.store.by_ticket(&no).await?;
        Ok(Response::new(ListTicketAssignmentsResponse {
            assignments: rows.into_iter().map(|s| s.proto).collect(),
        }))
    }

    async fn sign_assignment(
        &self,
        req: Request<SignAssignmentRequest>,
    ) -> Result<Response<SignAssignmentResponse>, Status> {
        let r = req.into_inner();
        let s = self
            .act(&r.assignment_id, &r.unit_id, Action::Sign, None)
            .await?;
        Ok(Response::new(SignAssignmentResponse {
            assignment: Some(s.proto),
        }))
    }

    async fn submit_feedback(
        &self,
        req: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        let r = req.into_inner();
        let s = self
            .act(
                &r.assignment_id,
                &r.unit_id,
                Action::Feedback,
                r.feedback.as_ref(),
            )
            .await?;
        Ok(Response::new(SubmitFeedbackResponse {
            assignment: Some(s.proto),
        }))
    }
}
