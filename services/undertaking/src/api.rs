//! Undertaking's gRPC layer.

use hotline_common::startup::Peer;
use std::sync::Arc;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::{Identity, identity};
use hotline_common::paging::{self, Page};
use hotline_common::time::now;
use hotline_common::time::required;
use hotline_common::validate::Fields;
use hotline_proto::common::v1::AssignmentRole;
use hotline_proto::undertaking::v1::undertaking_service_server::UndertakingService;
use hotline_proto::undertaking::v1::*;
use hotline_sla::Policy;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{
    Action, ExtensionState, RecordKind, ReturnReason, ReturnState, State, check_extension,
    check_feedback, check_return_in_time, decide_extension, may_blow_whistle, parse_record,
    parse_return, parse_whistle, record_allowed, transition,
};
use crate::domain::{MAX_FEEDBACK_TEXT, check_role};
use crate::store::{self, Answer, Store, Stored};
use hotline_common::convert::stage_from_proto;
use hotline_common::error::from_peer;
use hotline_proto::dispatch::v1::GetCatalogueRequest;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::supervision::v1::supervision_service_client::SupervisionServiceClient;
use hotline_proto::supervision::v1::{ListCasesRequest, ListUrgesRequest};
use hotline_proto::undertaking::v1 as pb;

pub struct Api {
    pub store: Store,
    pub policy: Arc<Policy>,
    pub supervision: SupervisionServiceClient<Peer>,
    pub dispatch: DispatchServiceClient<Peer>,
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::invalid("assignment_id", "not an assignment id"))
}

fn unit_field(f: &mut Fields, raw: &str) -> String {
    f.code("unit_id", raw, 64)
}

/// The assignment, if `unit_id` holds it; another unit's is "not found".
fn held(stored: Option<Stored>, id: Uuid, unit_id: &str) -> Result<Stored, ApiError> {
    match stored {
        Some(s) if s.unit_id == unit_id => Ok(s),
        _ => Err(ApiError::not_found(format!(
            "no assignment {id} for unit {unit_id}"
        ))),
    }
}

fn parse_uuid(f: &mut Fields, field: &str, raw: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(raw.trim()).ok();
    if id.is_none() {
        f.add(field, format!("not a {}", field.replace('_', " ")));
    }
    id
}

impl Api {
    async fn create(
        &self,
        who: &Identity,
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
        let hop = req.hop.max(1);
        let accepted_return = match req.accepted_return_id.trim() {
            "" => None,
            raw => parse_uuid(&mut f, "accepted_return_id", raw),
        };
        if req.assignments.is_empty() && hop == 1 {
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
            .create(
                &ticket,
                hop,
                dispatched_at?,
                &new,
                accepted_return.as_ref(),
                &self.policy,
                who,
            )
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
            Ok(AssignmentState::ReturnRequested) => Some(State::ReturnRequested),
            Ok(AssignmentState::Withdrawn) => Some(State::Withdrawn),
            Err(_) => {
                f.add("state", format!("unknown state {}", req.state));
                None
            }
        };
        let state_filter = req.state.to_string();
        let page = Page::parse(
            &mut f,
            req.page_size,
            &req.page_token,
            &[&unit_id, &state_filter],
        );
        f.finish()?;
        let mut rows = self
            .store
            .by_unit(&unit_id, state, page.after.clone(), page.fetch())
            .await?;
        let next_page_token = page.cut(&mut rows, |r| {
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
        who: &Identity,
        raw_id: &str,
        raw_unit: &str,
        action: Action,
        answer: Option<Answer<'_>>,
    ) -> Result<Stored, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, raw_unit);
        let id = parse_id(raw_id);
        if let Err(e) = &id {
            f.add("assignment_id", e.fields[0].1.clone());
        }
        if let Some(Answer::Part(p)) = answer {
            f.text("part", p, MAX_FEEDBACK_TEXT);
        }
        f.finish()?;
        let id = id?;
        if action == Action::Feedback {
            check_feedback(match answer {
                Some(Answer::Feedback(fb)) => Some(fb),
                _ => None,
            })?;
        }
        let (mut tx, stored) = self.store.lock(id).await?;
        let stored = held(stored, id, &unit_id)?;
        transition(stored.state, action)?;
        let lead = stored.proto.role == AssignmentRole::Lead as i32;
        let missing = if lead && action == Action::Feedback {
            Store::parts_missing(&mut tx, &stored.proto.ticket_no, stored.proto.hop).await?
        } else {
            Vec::new()
        };
        check_role(lead, action, &missing)?;
        let at = now();
        let (updated, action_name, detail) = match (action, answer) {
            (Action::Sign, _) => (
                Store::mark_signed(&mut tx, id, at).await?,
                "assignment.signed",
                format!("assignment={id}"),
            ),
            (_, Some(answer)) => {
                let detail = match answer {
                    Answer::Feedback(fb) => format!("assignment={id} outcome={}", fb.outcome),
                    Answer::Part(_) => format!("assignment={id} part"),
                };
                let name = if action == Action::Feedback {
                    "assignment.fed_back"
                } else {
                    "assignment.part_submitted"
                };
                (
                    Store::mark_fed_back(&mut tx, id, at, answer).await?,
                    name,
                    detail,
                )
            }
            (_, None) => return Err(ApiError::internal("an answer without content")),
        };
        let entry = Entry::by(who, action_name, &updated.proto.ticket_no, detail);
        audit::append(&mut tx, &[entry]).await?;
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

impl Api {
    async fn request_extension(
        &self,
        who: &Identity,
        r: RequestExtensionRequest,
    ) -> Result<Extension, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &r.unit_id);
        let id = parse_id(&r.assignment_id);
        if let Err(e) = &id {
            f.add("assignment_id", e.fields[0].1.clone());
        }
        let reason = f.text("reason", &r.reason, 1000);
        let stage = stage_from_proto(r.stage);
        if stage.is_none() {
            f.add("stage", "sign_off or feedback");
        }
        let requested = required(r.requested_deadline.as_ref(), "requested_deadline");
        if let Err(e) = &requested {
            f.add("requested_deadline", e.fields[0].1.clone());
        }
        f.finish()?;
        let (id, stage, requested) = (id?, stage.expect("checked"), requested?);
        let (mut tx, stored) = self.store.lock(id).await?;
        let a = held(stored, id, &unit_id)?;
        let current = match stage {
            hotline_sla::Stage::SignOff => a.proto.sign_deadline.as_ref(),
            _ => a.proto.feedback_deadline.as_ref(),
        };
        let current = required(current, "deadline")?;
        let at = now();
        check_extension(a.state, stage, at, current, requested)?;
        let ext =
            Store::insert_extension(&mut tx, &a, stage, &reason, current, requested, at).await?;
        let detail = format!(
            "extension={} stage={} requested={}",
            ext.extension_id,
            stage.as_str(),
            requested.to_rfc3339()
        );
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "extension.requested",
                &ext.ticket_no,
                detail,
            )],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(extension_id = %ext.extension_id, ticket_no = %ext.ticket_no, unit_id = %unit_id, stage = stage.as_str(), "extension requested");
        Ok(ext)
    }

    async fn decide(
        &self,
        who: &Identity,
        r: DecideExtensionRequest,
    ) -> Result<Extension, ApiError> {
        let mut f = Fields::new();
        let id = Uuid::parse_str(r.extension_id.trim());
        if id.is_err() {
            f.add("extension_id", "not an extension id");
        }
        let note = if r.approve {
            f.optional_text("note", &r.note, 1000)
        } else {
            f.text("note", &r.note, 1000)
        };
        f.finish()?;
        let id = id.expect("checked");
        let (mut tx, found) = self.store.lock_extension(id).await?;
        let (ext, state) =
            found.ok_or_else(|| ApiError::not_found(format!("no extension {id}")))?;
        let next = decide_extension(state, r.approve)?;
        let at = now();
        if next == ExtensionState::Approved {
            let stage =
                stage_from_proto(ext.stage).ok_or_else(|| ApiError::internal("stored stage"))?;
            let requested = required(ext.requested_deadline.as_ref(), "requested_deadline")?;
            Store::move_deadline(&mut tx, &self.policy, &ext, stage, requested, at).await?;
        }
        let ext = Store::decide_extension(&mut tx, id, next, &note, at).await?;
        let action = match next {
            ExtensionState::Approved => "extension.approved",
            _ => "extension.rejected",
        };
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                action,
                &ext.ticket_no,
                format!("extension={id}"),
            )],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(extension_id = %id, state = next.as_str(), "extension decided");
        Ok(ext)
    }

    async fn unit_supervision(
        &self,
        r: ListUnitSupervisionRequest,
    ) -> Result<ListUnitSupervisionResponse, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &r.unit_id);
        Page::parse(&mut f, r.page_size, "", &[]);
        f.finish()?;
        let mut client = self.supervision.clone();
        let urges = client
            .list_urges(ListUrgesRequest {
                unit_id: unit_id.clone(),
                page_size: r.page_size,
                ..Default::default()
            })
            .await
            .map_err(|s| from_peer("supervision", s))?
            .into_inner()
            .urges;
        let cases = client
            .list_cases(ListCasesRequest {
                unit_id,
                page_size: r.page_size,
                ..Default::default()
            })
            .await
            .map_err(|s| from_peer("supervision", s))?
            .into_inner()
            .cases;
        Ok(ListUnitSupervisionResponse { urges, cases })
    }
}

/// Only a unit's own staff act on its assignments; anyone else is told the
/// assignment does not exist, whether it does or not.
fn acting(who: &Identity, unit_id: &str, assignment_id: &str) -> Result<(), ApiError> {
    if who.acts_for(unit_id.trim()) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no assignment {} for unit {}",
            assignment_id.trim(),
            unit_id.trim()
        )))
    }
}

/// Unit staff list only their own unit.
fn scoped(who: &Identity, unit_id: &str) -> Result<(), ApiError> {
    match who.unit_scope() {
        Some(own) if own != unit_id.trim() => Err(ApiError::permission(format!(
            "{} may list only unit {own}",
            who.subject
        ))),
        _ => Ok(()),
    }
}

impl Api {
    async fn add_record(
        &self,
        who: &Identity,
        r: AddHandlingRecordRequest,
    ) -> Result<HandlingRecord, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &r.unit_id);
        let id = parse_id(&r.assignment_id);
        if let Err(e) = &id {
            f.add("assignment_id", e.fields[0].1.clone());
        }
        let occurred = r
            .occurred_at
            .as_ref()
            .map(|t| hotline_common::time::from_proto(t, "occurred_at"));
        if let Some(Err(e)) = &occurred {
            f.add("occurred_at", e.fields[0].1.clone());
        }
        f.finish()?;
        let kind = match HandlingRecordKind::try_from(r.kind) {
            Ok(HandlingRecordKind::Contact) => Some(RecordKind::Contact),
            Ok(HandlingRecordKind::Progress) => Some(RecordKind::Progress),
            Ok(HandlingRecordKind::SiteVisit) => Some(RecordKind::SiteVisit),
            _ => None,
        };
        let at = now();
        let record = parse_record(kind, occurred.transpose()?, at, &r.way, &r.result, &r.note)?;
        let id = id?;
        let (mut tx, stored) = self.store.lock(id).await?;
        let a = held(stored, id, &unit_id)?;
        record_allowed(a.state)?;
        let saved = Store::insert_record(&mut tx, &a, &record, at).await?;
        let detail = format!("record={} kind={}", saved.record_id, record.kind.as_str());
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "handling.recorded",
                &a.proto.ticket_no,
                detail,
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(saved)
    }
}

/// Returns (退单) and whistles (街乡吹哨、部门报到).
impl Api {
    /// Every summoned department must be a unit of the catalogue in force.
    async fn check_units(&self, ids: &[String]) -> Result<(), ApiError> {
        let units: std::collections::HashSet<String> = self
            .dispatch
            .clone()
            .get_catalogue(GetCatalogueRequest::default())
            .await
            .map_err(|s| from_peer("dispatch", s))?
            .into_inner()
            .catalogue
            .ok_or_else(|| ApiError::unavailable("dispatch sent no catalogue"))?
            .units
            .into_iter()
            .map(|u| u.unit_id)
            .collect();
        let mut f = Fields::new();
        for (i, id) in ids.iter().enumerate() {
            if !units.contains(id.trim()) {
                f.add(
                    &format!("summoned_unit_ids[{i}]"),
                    format!("{:?} is not a unit of the dispatch catalogue", id.trim()),
                );
            }
        }
        f.finish()
    }

    async fn return_assignment(
        &self,
        who: &Identity,
        r: ReturnAssignmentRequest,
    ) -> Result<AssignmentReturn, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &r.unit_id);
        let id = parse_uuid(&mut f, "assignment_id", &r.assignment_id);
        let reason = pb_return_reason(r.reason);
        let new = parse_return(reason, &r.duty_rule, &r.note, &mut f);
        f.finish()?;
        let (id, new) = (id.expect("checked"), new.expect("checked"));
        let (mut tx, stored) = self.store.lock(id).await?;
        let a = held(stored, id, &unit_id)?;
        transition(a.state, Action::Return)?;
        let at = now();
        check_return_in_time(
            at,
            required(a.proto.sign_deadline.as_ref(), "sign_deadline")?,
        )?;
        Store::set_state(&mut tx, id, State::ReturnRequested).await?;
        let ret = Store::insert_return(&mut tx, &a, &new, at).await?;
        let detail = format!(
            "return={} assignment={id} reason={} duty_rule={}",
            ret.return_id,
            new.reason.as_str(),
            new.duty_rule
        );
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "assignment.returned",
                &ret.ticket_no,
                detail,
            )],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(return_id = %ret.return_id, ticket_no = %ret.ticket_no, unit_id = %unit_id, reason = new.reason.as_str(), "assignment returned");
        Ok(ret)
    }

    async fn reject_return(
        &self,
        who: &Identity,
        r: RejectReturnRequest,
    ) -> Result<AssignmentReturn, ApiError> {
        let mut f = Fields::new();
        let id = parse_uuid(&mut f, "return_id", &r.return_id);
        let note = f.text("note", &r.note, 1000);
        f.finish()?;
        let id = id.expect("checked");
        let found = self
            .store
            .get_return(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no return {id}")))?;
        let assignment = Uuid::parse_str(&found.assignment_id)
            .map_err(|_| ApiError::internal("stored assignment id"))?;
        // The assignment first, then the return: the order re-dispatch locks in.
        let (mut tx, stored) = self.store.lock(assignment).await?;
        let a = stored.ok_or_else(|| ApiError::internal("a return without its assignment"))?;
        let (_, state) = Store::lock_return(&mut tx, id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no return {id}")))?;
        if state != ReturnState::Pending {
            return Err(ApiError::precondition(format!(
                "the return is already {}",
                state.as_str()
            )));
        }
        transition(a.state, Action::RejectReturn)?;
        Store::set_state(&mut tx, assignment, State::PendingSign).await?;
        let ret = Store::reject_return(&mut tx, id, &note, now()).await?;
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "return.rejected",
                &ret.ticket_no,
                format!("return={id} assignment={assignment}"),
            )],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(return_id = %id, ticket_no = %ret.ticket_no, "return rejected");
        Ok(ret)
    }

    async fn blow_whistle(
        &self,
        who: &Identity,
        r: BlowWhistleRequest,
    ) -> Result<Whistle, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &r.unit_id);
        let id = parse_uuid(&mut f, "assignment_id", &r.assignment_id);
        let arrive_by = r
            .arrive_by
            .as_ref()
            .map(|t| hotline_common::time::from_proto(t, "arrive_by"))
            .transpose()
            .map_err(|e| {
                e.fields
                    .into_iter()
                    .next()
                    .map(|(_, p)| p)
                    .unwrap_or_default()
            });
        let at = now();
        let whistle = parse_whistle(
            &mut f,
            &unit_id,
            &r.summoned_unit_ids,
            arrive_by,
            at,
            &r.place,
            &r.matter,
        );
        f.finish()?;
        let (id, whistle) = (id.expect("checked"), whistle.expect("checked"));
        self.check_units(&r.summoned_unit_ids).await?;
        if !may_blow_whistle(&unit_id) {
            return Err(ApiError::permission(format!(
                "{unit_id} is not a street or township unit; only those blow the whistle"
            )));
        }
        let (mut tx, stored) = self.store.lock(id).await?;
        let a = held(stored, id, &unit_id)?;
        record_allowed(a.state)?;
        let wid = Store::insert_whistle(&mut tx, &self.policy, &a, &whistle, at).await?;
        let detail = format!(
            "whistle={wid} summoned={} arrive_by={}",
            whistle.summoned.join(","),
            whistle.arrive_by.to_rfc3339()
        );
        audit::append(
            &mut tx,
            &[Entry::by(who, "whistle.blown", &a.proto.ticket_no, detail)],
        )
        .await?;
        let blown = Store::whistle(&mut tx, wid, false)
            .await?
            .ok_or_else(|| ApiError::internal("a whistle just recorded"))?;
        tx.commit().await?;
        tracing::info!(whistle_id = %wid, ticket_no = %a.proto.ticket_no, unit_id = %unit_id, summoned = whistle.summoned.len(), "whistle blown");
        Ok(blown)
    }

    async fn report_in(&self, who: &Identity, r: ReportInRequest) -> Result<Whistle, ApiError> {
        let mut f = Fields::new();
        let unit_id = unit_field(&mut f, &r.unit_id);
        let id = parse_uuid(&mut f, "whistle_id", &r.whistle_id);
        f.finish()?;
        let id = id.expect("checked");
        let not_summoned =
            || ApiError::not_found(format!("unit {unit_id} is not summoned by whistle {id}"));
        if !who.acts_for(&unit_id) {
            return Err(not_summoned());
        }
        let mut tx = self.store.pool().begin().await?;
        let w = Store::whistle(&mut tx, id, true)
            .await?
            .ok_or_else(not_summoned)?;
        let summons = w
            .summonses
            .iter()
            .find(|s| s.unit_id == unit_id)
            .ok_or_else(not_summoned)?;
        if summons.arrived_at.is_some() {
            return Err(ApiError::precondition(format!(
                "{unit_id} has already reported in"
            )));
        }
        let at = now();
        Store::report_in(&mut tx, &w, &unit_id, at).await?;
        let late = w
            .arrive_by
            .as_ref()
            .map(|t| hotline_common::time::from_proto(t, "arrive_by"))
            .transpose()?
            .is_some_and(|by| at > by);
        audit::append(
            &mut tx,
            &[Entry::by(
                who,
                "whistle.reported_in",
                &w.ticket_no,
                format!("whistle={id} unit={unit_id} late={late}"),
            )],
        )
        .await?;
        let w = Store::whistle(&mut tx, id, false)
            .await?
            .ok_or_else(|| ApiError::internal("the whistle went away"))?;
        tx.commit().await?;
        tracing::info!(whistle_id = %id, unit_id = %unit_id, late, "department reported in");
        Ok(w)
    }
}

fn pb_return_reason(raw: i32) -> Option<ReturnReason> {
    match pb::ReturnReason::try_from(raw) {
        Ok(pb::ReturnReason::NotOurDuty) => Some(ReturnReason::NotOurDuty),
        Ok(pb::ReturnReason::NotOurArea) => Some(ReturnReason::NotOurArea),
        Ok(pb::ReturnReason::WrongCategory) => Some(ReturnReason::WrongCategory),
        Ok(pb::ReturnReason::InsufficientInformation) => {
            Some(ReturnReason::InsufficientInformation)
        }
        _ => None,
    }
}

/// Unit staff see a return only when it is their unit's.
fn visible_return(who: &Identity, r: &AssignmentReturn) -> bool {
    who.unit_scope().is_none_or(|own| own == r.unit_id)
}

/// Unit staff see a whistle they blew or were summoned by.
fn visible_whistle(who: &Identity, w: &Whistle) -> bool {
    who.unit_scope()
        .is_none_or(|own| own == w.unit_id || w.summonses.iter().any(|s| s.unit_id == own))
}

#[tonic::async_trait]
impl UndertakingService for Api {
    async fn return_assignment(
        &self,
        req: Request<ReturnAssignmentRequest>,
    ) -> Result<Response<ReturnAssignmentResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let ret = Api::return_assignment(self, &who, r).await?;
        Ok(Response::new(ReturnAssignmentResponse {
            assignment_return: Some(ret),
        }))
    }

    async fn reject_return(
        &self,
        req: Request<RejectReturnRequest>,
    ) -> Result<Response<RejectReturnResponse>, Status> {
        let who = identity(&req)?;
        let ret = Api::reject_return(self, &who, req.into_inner()).await?;
        Ok(Response::new(RejectReturnResponse {
            assignment_return: Some(ret),
        }))
    }

    async fn get_return(
        &self,
        req: Request<GetReturnRequest>,
    ) -> Result<Response<GetReturnResponse>, Status> {
        let who = identity(&req)?;
        let mut f = Fields::new();
        let id = parse_uuid(&mut f, "return_id", &req.get_ref().return_id);
        f.finish()?;
        let id = id.expect("checked");
        let ret = self
            .store
            .get_return(id)
            .await?
            .filter(|r| visible_return(&who, r))
            .ok_or_else(|| ApiError::not_found(format!("no return {id}")))?;
        Ok(Response::new(GetReturnResponse {
            assignment_return: Some(ret),
        }))
    }

    async fn list_returns(
        &self,
        req: Request<ListReturnsRequest>,
    ) -> Result<Response<ListReturnsResponse>, Status> {
        let who = identity(&req)?;
        let raw = req.into_inner().ticket_no;
        let no = if raw.trim().is_empty() {
            None
        } else {
            Some(hotline_common::validate::ticket_no(&raw)?)
        };
        let mut returns = self.store.returns(no.as_deref()).await?;
        who.keep_visible(&mut returns, |r| &r.unit_id);
        Ok(Response::new(ListReturnsResponse { returns }))
    }

    async fn blow_whistle(
        &self,
        req: Request<BlowWhistleRequest>,
    ) -> Result<Response<BlowWhistleResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let whistle = Api::blow_whistle(self, &who, r).await?;
        Ok(Response::new(BlowWhistleResponse {
            whistle: Some(whistle),
        }))
    }

    async fn report_in(
        &self,
        req: Request<ReportInRequest>,
    ) -> Result<Response<ReportInResponse>, Status> {
        let who = identity(&req)?;
        let whistle = Api::report_in(self, &who, req.into_inner()).await?;
        Ok(Response::new(ReportInResponse {
            whistle: Some(whistle),
        }))
    }

    async fn list_whistles(
        &self,
        req: Request<ListWhistlesRequest>,
    ) -> Result<Response<ListWhistlesResponse>, Status> {
        let who = identity(&req)?;
        let no = hotline_common::validate::ticket_no(&req.into_inner().ticket_no)?;
        let mut whistles = self.store.whistles_by_ticket(&no).await?;
        whistles.retain(|w| visible_whistle(&who, w));
        Ok(Response::new(ListWhistlesResponse { whistles }))
    }

    async fn submit_part(
        &self,
        req: Request<SubmitPartRequest>,
    ) -> Result<Response<SubmitPartResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let s = self
            .act(
                &who,
                &r.assignment_id,
                &r.unit_id,
                Action::SubmitPart,
                Some(Answer::Part(&r.part)),
            )
            .await?;
        Ok(Response::new(SubmitPartResponse {
            assignment: Some(s.proto),
        }))
    }

    async fn add_handling_record(
        &self,
        req: Request<AddHandlingRecordRequest>,
    ) -> Result<Response<AddHandlingRecordResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let record = self.add_record(&who, r).await?;
        Ok(Response::new(AddHandlingRecordResponse {
            record: Some(record),
        }))
    }

    async fn list_handling_records(
        &self,
        req: Request<ListHandlingRecordsRequest>,
    ) -> Result<Response<ListHandlingRecordsResponse>, Status> {
        let who = identity(&req)?;
        let no = hotline_common::validate::ticket_no(&req.into_inner().ticket_no)?;
        let mut records = self.store.records_by_ticket(&no).await?;
        who.keep_visible(&mut records, |r| &r.unit_id);
        Ok(Response::new(ListHandlingRecordsResponse { records }))
    }

    async fn request_extension(
        &self,
        req: Request<RequestExtensionRequest>,
    ) -> Result<Response<RequestExtensionResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let extension = Api::request_extension(self, &who, r).await?;
        Ok(Response::new(RequestExtensionResponse {
            extension: Some(extension),
        }))
    }

    async fn decide_extension(
        &self,
        req: Request<DecideExtensionRequest>,
    ) -> Result<Response<DecideExtensionResponse>, Status> {
        let who = identity(&req)?;
        let extension = self.decide(&who, req.into_inner()).await?;
        Ok(Response::new(DecideExtensionResponse {
            extension: Some(extension),
        }))
    }

    async fn list_extensions(
        &self,
        req: Request<ListExtensionsRequest>,
    ) -> Result<Response<ListExtensionsResponse>, Status> {
        let who = identity(&req)?;
        let no = hotline_common::validate::ticket_no(&req.into_inner().ticket_no)?;
        let mut extensions = self.store.extensions_by_ticket(&no).await?;
        who.keep_visible(&mut extensions, |e| &e.unit_id);
        Ok(Response::new(ListExtensionsResponse { extensions }))
    }

    async fn list_unit_supervision(
        &self,
        req: Request<ListUnitSupervisionRequest>,
    ) -> Result<Response<ListUnitSupervisionResponse>, Status> {
        let who = identity(&req)?;
        scoped(&who, &req.get_ref().unit_id)?;
        Ok(Response::new(
            self.unit_supervision(req.into_inner()).await?,
        ))
    }

    async fn create_assignments(
        &self,
        req: Request<CreateAssignmentsRequest>,
    ) -> Result<Response<CreateAssignmentsResponse>, Status> {
        let who = identity(&req)?;
        Ok(Response::new(self.create(&who, req.into_inner()).await?))
    }

    async fn list_assignments(
        &self,
        req: Request<ListAssignmentsRequest>,
    ) -> Result<Response<ListAssignmentsResponse>, Status> {
        let who = identity(&req)?;
        scoped(&who, &req.get_ref().unit_id)?;
        Ok(Response::new(self.list(req.into_inner()).await?))
    }

    async fn list_ticket_assignments(
        &self,
        req: Request<ListTicketAssignmentsRequest>,
    ) -> Result<Response<ListTicketAssignmentsResponse>, Status> {
        let who = identity(&req)?;
        let no = hotline_common::validate::ticket_no(&req.into_inner().ticket_no)?;
        let mut rows = self.store.by_ticket(&no).await?;
        who.keep_visible(&mut rows, |a| &a.unit_id);
        Ok(Response::new(ListTicketAssignmentsResponse {
            assignments: rows.into_iter().map(|s| s.proto).collect(),
        }))
    }

    async fn sign_assignment(
        &self,
        req: Request<SignAssignmentRequest>,
    ) -> Result<Response<SignAssignmentResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let s = self
            .act(&who, &r.assignment_id, &r.unit_id, Action::Sign, None)
            .await?;
        Ok(Response::new(SignAssignmentResponse {
            assignment: Some(s.proto),
        }))
    }

    async fn submit_feedback(
        &self,
        req: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        acting(&who, &r.unit_id, &r.assignment_id)?;
        let s = self
            .act(
                &who,
                &r.assignment_id,
                &r.unit_id,
                Action::Feedback,
                r.feedback.as_ref().map(Answer::Feedback),
            )
            .await?;
        Ok(Response::new(SubmitFeedbackResponse {
            assignment: Some(s.proto),
        }))
    }
}
