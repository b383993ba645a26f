//! Intake's gRPC layer: decode, check, call the store and peers, encode.

use hotline_common::startup::Peer;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::{Identity, Role, identity};
use hotline_common::error::from_peer;
use hotline_common::privacy;
use hotline_common::time::now;
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::common::v1 as pb;
use hotline_proto::intake::v1::intake_service_server::IntakeService;
use hotline_proto::intake::v1::*;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    AssignmentState, HandlingRecordKind, ListHandlingRecordsRequest, ListReturnsRequest,
    ListTicketAssignmentsRequest, ListWhistlesRequest, ReturnReason, ReturnState,
};
use hotline_sla::Policy;
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::codes::Codes;
use crate::domain::parse_submit;
use crate::store::{Acceptance, Inserted, Store, StoredTicket};

pub struct Api {
    pub store: Store,
    pub policy: Arc<Policy>,
    pub codes: Codes,
    pub undertaking: UndertakingServiceClient<Peer>,
    /// Wakes the relay to dispatch when a ticket is stored.
    pub relay_wake: Arc<Notify>,
}

fn request_hash(req: &SubmitRequest) -> Vec<u8> {
    let mut canonical = req.clone();
    canonical.idempotency_key.clear();
    Sha256::digest(canonical.encode_to_vec()).to_vec()
}

/// A ticket as a caller may see it: whether the caller's unit holds it,
/// and the assignments read to find out (unit staff only).
struct Loaded {
    ticket: StoredTicket,
    holds: bool,
    assignments: Option<Vec<hotline_proto::undertaking::v1::Assignment>>,
}

impl Api {
    async fn submit(&self, who: &Identity, req: SubmitRequest) -> Result<SubmitResponse, ApiError> {
        let known = self.codes.get(true).await?;
        let ticket = match parse_submit(&req, &known) {
            Ok(t) => t,
            Err(first) => {
                // The codes may have changed since they were read.
                let fresh = self.codes.get(false).await?;
                if Arc::ptr_eq(&fresh, &known) {
                    return Err(first);
                }
                parse_submit(&req, &fresh)?
            }
        };
        let hash = request_hash(&req);
        let accepted_at = now();
        let (surge, _, _) = self.store.surge_mode().await?;
        let deadline = self
            .policy
            .dispatch_deadline(ticket.class, accepted_at, surge);
        match self
            .store
            .insert(
                &ticket,
                &hash,
                &Acceptance {
                    accepted_at,
                    dispatch_deadline: deadline,
                    surge,
                },
                &self.policy,
                who,
            )
            .await?
        {
            Inserted::New(t) => {
                self.relay_wake.notify_one();
                tracing::info!(
                    ticket_no = %t.summary.ticket_no,
                    tier = %ticket.class.tier,
                    category = %ticket.category_code,
                    "request accepted"
                );
                Ok(response(&t, false))
            }
            Inserted::Existing(t) if t.request_hash == hash => Ok(response(&t, true)),
            Inserted::Existing(t) => Err(ApiError::invalid(
                "idempotency_key",
                &format!(
                    "already used for ticket {} with a different request",
                    t.summary.ticket_no
                ),
            )),
        }
    }

    /// Loads a ticket the caller may see: unit staff see only tickets
    /// their unit holds, and learn nothing about others.
    /// Also says whether the caller's unit holds the ticket.
    async fn load(&self, who: &Identity, ticket_no: &str) -> Result<Loaded, ApiError> {
        let ticket_no = hotline_common::validate::ticket_no(ticket_no)?;
        let missing = || ApiError::not_found(format!("no ticket {ticket_no}"));
        let ticket = self.store.get(&ticket_no).await?.ok_or_else(missing)?;
        let (holds, assignments) = match who.unit.as_deref() {
            Some(unit) if who.has(Role::UnitStaff) => {
                let a = self.assignments(&ticket_no).await?;
                (a.iter().any(|a| a.unit_id == unit), Some(a))
            }
            _ => (false, None),
        };
        if who.unit_scope().is_some() && !holds {
            return Err(missing());
        }
        Ok(Loaded {
            ticket,
            holds,
            assignments,
        })
    }

    async fn assignments(
        &self,
        ticket_no: &str,
    ) -> Result<Vec<hotline_proto::undertaking::v1::Assignment>, ApiError> {
        Ok(self
            .undertaking
            .clone()
            .list_ticket_assignments(ListTicketAssignmentsRequest {
                ticket_no: ticket_no.to_string(),
            })
            .await
            .map_err(|s| from_peer("undertaking", s))?
            .into_inner()
            .assignments)
    }

    async fn timeline(
        &self,
        who: &Identity,
        ticket_no: &str,
    ) -> Result<GetTimelineResponse, ApiError> {
        let Loaded {
            ticket: t,
            assignments,
            ..
        } = self.load(who, ticket_no).await?;
        let now = Utc::now();
        let mut entries = vec![TimelineEntry {
            kind: TimelineEventKind::Accepted as i32,
            occurred_at: Some(to_proto(t.accepted_at)),
            deadline: None,
            unit_id: String::new(),
            role: pb::AssignmentRole::Unspecified as i32,
            overdue: false,
            detail: String::new(),
        }];
        let assignments = match assignments {
            Some(a) => a,
            None => self.assignments(&t.summary.ticket_no).await?,
        };
        let overdue = |done: Option<&prost_types::Timestamp>, deadline: DateTime<Utc>| match done {
            Some(at) => {
                at.seconds > deadline.timestamp()
                    || (at.seconds == deadline.timestamp()
                        && at.nanos as u32 > deadline.timestamp_subsec_nanos())
            }
            None => now > deadline,
        };
        if assignments.is_empty() {
            entries.push(TimelineEntry {
                kind: TimelineEventKind::Dispatched as i32,
                occurred_at: None,
                deadline: Some(to_proto(t.dispatch_deadline)),
                unit_id: String::new(),
                role: pb::AssignmentRole::Unspecified as i32,
                overdue: overdue(None, t.dispatch_deadline),
                detail: String::new(),
            });
        }
        let mut feedback = None;
        for a in &assignments {
            let stage = |kind: TimelineEventKind,
                         at: Option<&prost_types::Timestamp>,
                         deadline: Option<&prost_types::Timestamp>| {
                let d = deadline.and_then(|d| DateTime::from_timestamp(d.seconds, d.nanos as u32));
                TimelineEntry {
                    kind: kind as i32,
                    occurred_at: at.cloned(),
                    deadline: deadline.cloned(),
                    unit_id: a.unit_id.clone(),
                    role: a.role,
                    overdue: d.is_some_and(|d| overdue(at, d)),
                    detail: String::new(),
                }
            };
            let mut dispatched = stage(
                TimelineEventKind::Dispatched,
                a.dispatched_at.as_ref(),
                opt_to_proto(Some(t.dispatch_deadline)).as_ref(),
            );
            // A re-dispatch is a new hop; a withdrawn assignment expects
            // nothing more, so its missing stages are not overdue.
            let withdrawn = a.state == AssignmentState::Withdrawn as i32;
            dispatched.detail = [
                (a.hop > 1).then(|| format!("hop {}", a.hop)),
                (a.state == AssignmentState::ReturnRequested as i32)
                    .then(|| "returned, waiting for the centre".to_string()),
                withdrawn.then(|| "withdrawn: re-dispatched elsewhere".to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
            entries.push(dispatched);
            if !withdrawn || a.signed_at.is_some() {
                entries.push(stage(
                    TimelineEventKind::Signed,
                    a.signed_at.as_ref(),
                    a.sign_deadline.as_ref(),
                ));
            }
            if !withdrawn || a.fed_back_at.is_some() {
                entries.push(stage(
                    TimelineEventKind::FedBack,
                    a.fed_back_at.as_ref(),
                    a.feedback_deadline.as_ref(),
                ));
            }
            if a.role == pb::AssignmentRole::Lead as i32
                && a.state == AssignmentState::FedBack as i32
            {
                feedback = a.feedback.clone();
            }
        }
        // What the units recorded while handling, oldest first.
        let records = self
            .undertaking
            .clone()
            .list_handling_records(ListHandlingRecordsRequest {
                ticket_no: t.summary.ticket_no.clone(),
                page_size: 500,
                ..Default::default()
            })
            .await
            .map_err(|s| from_peer("undertaking", s))?
            .into_inner()
            .records;
        let role_of = |unit: &str| {
            assignments
                .iter()
                .find(|a| a.unit_id == unit)
                .map_or(pb::AssignmentRole::Unspecified as i32, |a| a.role)
        };
        for r in records {
            let role = role_of(&r.unit_id);
            let kind = HandlingRecordKind::try_from(r.kind)
                .map(|k| {
                    k.as_str_name()
                        .trim_start_matches("HANDLING_RECORD_KIND_")
                        .to_lowercase()
                })
                .unwrap_or_default();
            let detail = [
                kind.as_str(),
                r.way.as_str(),
                r.result.as_str(),
                r.note.as_str(),
            ]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
            entries.push(TimelineEntry {
                kind: TimelineEventKind::Handling as i32,
                occurred_at: r.occurred_at,
                deadline: None,
                unit_id: r.unit_id,
                role,
                overdue: false,
                detail,
            });
        }
        let mut undertaking = self.undertaking.clone();
        let returns = undertaking
            .list_returns(ListReturnsRequest {
                ticket_no: t.summary.ticket_no.clone(),
                page_size: 500,
                ..Default::default()
            })
            .await
            .map_err(|s| from_peer("undertaking", s))?
            .into_inner()
            .returns;
        for r in returns {
            let name = |v: &str, prefix: &str| v.trim_start_matches(prefix).to_lowercase();
            let reason = ReturnReason::try_from(r.reason)
                .map(|x| name(x.as_str_name(), "RETURN_REASON_"))
                .unwrap_or_default();
            let state = ReturnState::try_from(r.state)
                .map(|x| name(x.as_str_name(), "RETURN_STATE_"))
                .unwrap_or_default();
            let detail = [reason, r.duty_rule, r.note, state, r.decision_note]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            entries.push(TimelineEntry {
                kind: TimelineEventKind::Returned as i32,
                occurred_at: r.requested_at,
                deadline: None,
                role: role_of(&r.unit_id),
                unit_id: r.unit_id,
                overdue: false,
                detail,
            });
        }
        let whistles = undertaking
            .list_whistles(ListWhistlesRequest {
                ticket_no: t.summary.ticket_no.clone(),
            })
            .await
            .map_err(|s| from_peer("undertaking", s))?
            .into_inner()
            .whistles;
        for w in whistles {
            let by = w
                .arrive_by
                .as_ref()
                .and_then(|d| DateTime::from_timestamp(d.seconds, d.nanos as u32));
            let mut late = false;
            let summoned = w
                .summonses
                .iter()
                .map(|s| match (&s.arrived_at, s.late) {
                    (Some(_), false) => format!("{} arrived", s.unit_id),
                    (Some(_), true) => {
                        late = true;
                        format!("{} arrived late", s.unit_id)
                    }
                    (None, _) => {
                        late |= by.is_some_and(|by| now > by);
                        format!("{} not arrived", s.unit_id)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            entries.push(TimelineEntry {
                kind: TimelineEventKind::Whistle as i32,
                occurred_at: w.blown_at,
                deadline: w.arrive_by,
                role: role_of(&w.unit_id),
                unit_id: w.unit_id,
                overdue: late,
                detail: format!("{}: {}: {summoned}", w.place, w.matter),
            });
        }
        Ok(GetTimelineResponse {
            ticket_no: t.summary.ticket_no,
            entries,
            feedback,
        })
    }
}

fn response(t: &StoredTicket, replayed: bool) -> SubmitResponse {
    SubmitResponse {
        ticket_no: t.summary.ticket_no.clone(),
        replayed,
        accepted_at: Some(to_proto(t.accepted_at)),
        dispatch_deadline: Some(to_proto(t.dispatch_deadline)),
    }
}

async fn surge_reply(store: &Store) -> Result<SurgeMode, ApiError> {
    let (on, reason, changed_at) = store.surge_mode().await?;
    Ok(SurgeMode {
        on,
        reason,
        changed_at: opt_to_proto(changed_at),
    })
}

#[tonic::async_trait]
impl IntakeService for Api {
    async fn set_surge_mode(
        &self,
        req: Request<SetSurgeModeRequest>,
    ) -> Result<Response<SetSurgeModeResponse>, Status> {
        let who = identity(&req)?;
        let r = req.into_inner();
        let mut f = Fields::new();
        let reason = f.text("reason", &r.reason, 500);
        f.finish()?;
        self.store
            .set_surge_mode(r.on, &reason, now(), &who)
            .await?;
        tracing::info!(on = r.on, reason = %reason, "surge mode switched");
        Ok(Response::new(SetSurgeModeResponse {
            surge_mode: Some(surge_reply(&self.store).await?),
        }))
    }

    async fn get_surge_mode(
        &self,
        _req: Request<GetSurgeModeRequest>,
    ) -> Result<Response<GetSurgeModeResponse>, Status> {
        Ok(Response::new(GetSurgeModeResponse {
            surge_mode: Some(surge_reply(&self.store).await?),
        }))
    }

    async fn submit(
        &self,
        req: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let who = identity(&req)?;
        Ok(Response::new(
            Api::submit(self, &who, req.into_inner()).await?,
        ))
    }

    async fn get_ticket(
        &self,
        req: Request<GetTicketRequest>,
    ) -> Result<Response<GetTicketResponse>, Status> {
        let who = identity(&req)?;
        let Loaded {
            ticket: mut t,
            holds,
            ..
        } = self.load(&who, &req.get_ref().ticket_no).await?;
        if let Some(r) = t.summary.requester.take() {
            // Every read of a name or phone in full is on the record.
            if !r.anonymous && privacy::sees_in_full(&who, holds, &r) {
                let entry = Entry::by(&who, "requester.read", &t.summary.ticket_no, "");
                audit::record(self.store.pool(), &[entry]).await?;
            }
            t.summary.requester = Some(privacy::requester_for(&who, holds, &r));
        }
        Ok(Response::new(GetTicketResponse {
            dispatch_deadline: Some(to_proto(t.dispatch_deadline)),
            ticket: Some(t.summary),
        }))
    }

    async fn get_timeline(
        &self,
        req: Request<GetTimelineRequest>,
    ) -> Result<Response<GetTimelineResponse>, Status> {
        let who = identity(&req)?;
        Ok(Response::new(
            self.timeline(&who, &req.get_ref().ticket_no).await?,
        ))
    }
}
