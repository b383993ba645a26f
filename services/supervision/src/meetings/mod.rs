//! Consultation meetings (会议协商) for public emergencies and tickets
//! transferred many times unresolved: the candidates (kept from the
//! lifecycle events by `consume`), a meeting convened on one or more
//! tickets with the units invited by a start (arrival clocks in stage
//! `meeting_arrival`, the summons mechanism whistles use), the minutes and
//! resolutions (a ticket re-dispatched through dispatch as a new hop, or an
//! action with a date for a unit, on a clock in stage `meeting_action`),
//! each action reported done. Every step is audited and on the tickets'
//! timelines.
//!
//! - `rules`: candidates, states, resolutions (pure)
//! - `store`: the SQL
//! - `consume`: the consumer of the tickets seen (accepted, routed, closed)

pub mod consume;
pub mod rules;
pub mod store;

use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, CENTRE_UNIT, ClockSpec};
use hotline_common::ids::{Id, TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::{Cursor, Page};
use hotline_common::summons::{self, is_late};
use hotline_common::time::{now, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::events::v1::Workflow;
use hotline_proto::supervision::v1 as pb;
use hotline_sla::Stage;

use self::rules::{MeetingState, Resolution};
use self::store::{Filters, Meeting, New, SUMMONSES};
use crate::ids::MeetingId;
use crate::scope::{own_unit, visible_unit};
use crate::workflows::{Redispatch, Workflows};

fn not_found(id: MeetingId) -> ApiError {
    ApiError::not_found(format!("no meeting {id}"))
}

async fn reply(tx: &mut Tx, m: &Meeting) -> Result<pb::Meeting, ApiError> {
    let units = store::units(&mut **tx, &[m.meeting_id]).await?;
    let resolutions = store::resolutions(&mut **tx, &[m.meeting_id]).await?;
    m.to_proto(&units, &resolutions)
}

async fn step(
    tx: &mut Tx,
    m: &Meeting,
    tickets: &[String],
    step: &'static str,
    unit: &str,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    crate::steps::publish(
        tx,
        tickets,
        crate::steps::Step {
            workflow: Workflow::Meeting,
            ref_id: m.meeting_id.to_string(),
            step,
            unit_id: unit,
            detail,
            at,
        },
    )
    .await
}

fn entries(who: &Identity, action: &'static str, m: &Meeting, detail: &str) -> Vec<Entry> {
    m.ticket_nos
        .iter()
        .map(|t| Entry::by(who, action, t, format!("meeting={} {detail}", m.meeting_id)))
        .collect()
}

/// ListMeetingCandidates.
pub async fn list_candidates(
    app: &Workflows,
    _who: Identity,
    r: pb::ListMeetingCandidatesRequest,
) -> Result<pb::ListMeetingCandidatesResponse, ApiError> {
    let mut f = Fields::new();
    let page = Page::parse(&mut f, r.page_size, &r.page_token, &[]);
    f.finish()?;
    let mut rows = store::candidates(&app.pool, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |s| {
        Cursor::new(s.accepted_at.unwrap_or_default(), s.ticket_no.clone())
    });
    let t = rules::Thresholds::of(&app.policy);
    Ok(pb::ListMeetingCandidatesResponse {
        candidates: rows
            .iter()
            .map(|s| pb::MeetingCandidate {
                ticket_no: s.ticket_no.clone(),
                bases: rules::bases(
                    rules::Told {
                        tier: &s.tier,
                        transfers: s.transfers,
                        times_raised: s.times_raised,
                        cluster_id: &s.cluster_id,
                    },
                    t,
                )
                .into_iter()
                .map(|b| b as i32)
                .collect(),
                tier: consume::tier_from_name(&s.tier) as i32,
                transfers: s.transfers,
                times_raised: s.times_raised,
                cluster_id: s.cluster_id.clone(),
                accepted_at: s.accepted_at.map(to_proto),
            })
            .collect(),
        next_page_token,
    })
}

/// ConveneMeeting.
pub async fn convene(
    app: &Workflows,
    who: Identity,
    r: pb::ConveneMeetingRequest,
) -> Result<pb::ConveneMeetingResponse, ApiError> {
    let mut f = Fields::new();
    let at = now();
    let tickets = rules::tickets(&mut f, &r.ticket_nos);
    let place = f.text("place", &r.place, rules::MAX_TEXT);
    let agenda = f.text("agenda", &r.agenda, rules::MAX_TEXT);
    let starts_at = f.time("starts_at", r.starts_at.as_ref());
    let centre = UnitId::parse(CENTRE_UNIT).map_err(ApiError::internal)?;
    let call = summons::check_call(
        &mut f,
        ("unit_ids", "starts_at"),
        &centre,
        &r.unit_ids,
        starts_at,
        at,
        rules::LIMITS,
    );
    f.finish()?;
    let call = call.expect("checked");
    let asked: Vec<String> = tickets.iter().map(ToString::to_string).collect();
    app.check_tickets(&asked).await?;
    app.check_units("unit_ids", &call.units).await?;
    let policy = app.policy.clone();
    app.keys
        .once(&who, &r, async |tx| {
            let id = store::insert(
                tx,
                &policy,
                &New {
                    tickets: &tickets,
                    place: &place,
                    agenda: &agenda,
                    by: &who.subject,
                    call: &call,
                    at,
                },
            )
            .await?;
            let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            let units: Vec<&str> = call.units.iter().map(|u| u.as_str()).collect();
            let detail = format!(
                "{} at {}: {place}",
                units.join(","),
                call.arrive_by.to_rfc3339()
            );
            step(tx, &m, &m.ticket_nos, "convened", "", detail.clone(), at).await?;
            for u in &call.units {
                crate::steps::call(
                    tx,
                    crate::steps::Call {
                        workflow: "meeting",
                        ref_id: id.to_string(),
                        step: "convened",
                        ticket_no: m.first_ticket(),
                        unit_id: u.as_str(),
                        due: Some(call.arrive_by),
                        detail: format!("{place}: {agenda}"),
                        at,
                    },
                )
                .await?;
            }
            audit::append(tx, &entries(&who, "meeting.convened", &m, &detail)).await?;
            Ok(pb::ConveneMeetingResponse {
                meeting: Some(reply(tx, &m).await?),
            })
        })
        .await
}

/// AttendMeeting: an invited unit arrives; its clock stops.
pub async fn attend(
    app: &Workflows,
    who: Identity,
    r: pb::AttendMeetingRequest,
) -> Result<pb::AttendMeetingResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<MeetingId>("meeting_id", &r.meeting_id);
    f.finish()?;
    let id = id.expect("checked");
    let unit = own_unit(&who)?;
    let what = format!("meeting {id}");
    app.keys
        .once(&who, &r, async |tx| {
            let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            let invited = SUMMONSES.lock(tx, id.uuid()).await?;
            let s = summons::check_arrival(&invited, &unit, &what)?;
            rules::may_change(id, m.state()?)?;
            let at = now();
            let late = is_late(at, s.arrive_by);
            let first = TicketNo::parse(m.first_ticket()).map_err(ApiError::internal)?;
            SUMMONSES.arrive(tx, id.uuid(), &first, &unit, at).await?;
            let detail = if late { "late" } else { "in time" };
            step(
                tx,
                &m,
                &m.ticket_nos,
                "arrived",
                unit.as_str(),
                detail.into(),
                at,
            )
            .await?;
            audit::append(
                tx,
                &entries(
                    &who,
                    "meeting.arrived",
                    &m,
                    &format!("unit={unit} late={late}"),
                ),
            )
            .await?;
            Ok(pb::AttendMeetingResponse {
                meeting: Some(reply(tx, &m).await?),
            })
        })
        .await
}

/// RecordMeetingMinutes: dispatch re-dispatches each ticket a resolution
/// names (no transaction open; keyed by meeting and ticket, so a retry asks
/// the same hop), then the minutes, resolutions and action clocks are
/// recorded.
pub async fn record(
    app: &Workflows,
    who: Identity,
    r: pb::RecordMeetingMinutesRequest,
) -> Result<pb::RecordMeetingMinutesResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<MeetingId>("meeting_id", &r.meeting_id);
    let minutes = f.text("minutes", &r.minutes, rules::MAX_MINUTES);
    f.finish()?;
    let id = id.expect("checked");
    let m = store::get(&app.pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let mut f = Fields::new();
    let resolutions = rules::resolutions(&mut f, &r.resolutions, &m.ticket_nos, now());
    f.finish()?;
    let prepare = async || {
        rules::may_change(id, m.state()?)?;
        let mut routed = Vec::with_capacity(resolutions.len());
        for res in &resolutions {
            let Resolution::Redispatch { ticket, lead, co } = res else {
                routed.push((res.clone(), 0));
                continue;
            };
            let hop = app
                .redispatch(
                    Redispatch {
                        ticket,
                        lead,
                        co,
                        reason: format!("consultation meeting (会议协商) {id}"),
                        key: format!("meeting-{id}-{ticket}"),
                    },
                    store::planned_hop(&app.pool, id, ticket).await?,
                    async |current| store::plan_hop(&app.pool, id, ticket, current).await,
                )
                .await?;
            routed.push((res.clone(), hop));
        }
        Ok(routed)
    };
    let policy = app.policy.clone();
    app.keys
        .once_after(
            &who,
            &r,
            prepare,
            async |routed: Vec<(Resolution, i32)>, tx| {
                let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
                rules::may_change(id, m.state()?)?;
                let at = now();
                store::record(tx, id, &minutes, &routed, &who.subject, at).await?;
                let first = TicketNo::parse(m.first_ticket()).map_err(ApiError::internal)?;
                // Units that never came: their arrival clocks stop with the
                // minutes (a case opened at the start closes; the absence stays
                // on the meeting and in the notices).
                for u in SUMMONSES.lock(tx, id.uuid()).await? {
                    if u.arrived_at.is_none() {
                        clock::stop(tx, &SUMMONSES.clock_id(&first, &u.unit_id, id.uuid()), at)
                            .await?;
                    }
                }
                step(tx, &m, &m.ticket_nos, "recorded", "", minutes.clone(), at).await?;
                let mut audit_lines = entries(&who, "meeting.recorded", &m, "");
                for (i, (res, hop)) in routed.iter().enumerate() {
                    let position = i as i32 + 1;
                    match res {
                        Resolution::Redispatch { ticket, lead, co } => {
                            let co: Vec<&str> = co.iter().map(|u| u.as_str()).collect();
                            let detail = format!("lead {lead} co {}; hop {hop}", co.join(","));
                            step(
                                tx,
                                &m,
                                &[ticket.to_string()],
                                "redispatched",
                                "",
                                detail.clone(),
                                at,
                            )
                            .await?;
                            audit_lines.push(Entry::by(
                                &who,
                                "meeting.redispatched",
                                ticket.as_str(),
                                format!("meeting={id} {detail}"),
                            ));
                        }
                        Resolution::Action { unit, action, due } => {
                            let instance = rules::action_instance(id, position);
                            clock::start(
                                tx,
                                &policy,
                                &ClockSpec {
                                    ticket_no: first.as_str(),
                                    stage: Stage::MeetingAction,
                                    unit_id: unit.as_str(),
                                    instance: Some(&instance),
                                    started_at: at,
                                    deadline: *due,
                                },
                            )
                            .await?;
                            let detail = format!("{action} (due {})", due.to_rfc3339());
                            crate::steps::call(
                                tx,
                                crate::steps::Call {
                                    workflow: "meeting",
                                    ref_id: id.to_string(),
                                    step: "action_set",
                                    ticket_no: first.as_str(),
                                    unit_id: unit.as_str(),
                                    due: Some(*due),
                                    detail: action.clone(),
                                    at,
                                },
                            )
                            .await?;
                            step(
                                tx,
                                &m,
                                &m.ticket_nos,
                                "action_set",
                                unit.as_str(),
                                detail,
                                at,
                            )
                            .await?;
                            audit_lines.push(Entry::by(
                                &who,
                                "meeting.action_set",
                                first.as_str(),
                                format!(
                                    "meeting={id} action={position} unit={unit} due={}",
                                    due.to_rfc3339()
                                ),
                            ));
                        }
                    }
                }
                audit::append(tx, &audit_lines).await?;
                let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
                Ok(pb::RecordMeetingMinutesResponse {
                    meeting: Some(reply(tx, &m).await?),
                })
            },
        )
        .await
}

/// CompleteMeetingAction: the action's unit reports it done.
pub async fn complete_action(
    app: &Workflows,
    who: Identity,
    r: pb::CompleteMeetingActionRequest,
) -> Result<pb::CompleteMeetingActionResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<MeetingId>("meeting_id", &r.meeting_id);
    if r.action_no < 1 {
        f.add("action_no", "required: 1 or more");
    }
    let result = f.text("result", &r.result, rules::MAX_TEXT);
    f.finish()?;
    let id = id.expect("checked");
    let unit = own_unit(&who)?;
    let no_action = || {
        ApiError::not_found(format!(
            "meeting {id} set unit {unit} no action {}",
            r.action_no
        ))
    };
    app.keys
        .once(&who, &r, async |tx| {
            let m = store::lock(tx, id).await?.ok_or_else(|| not_found(id))?;
            let a = store::lock_action(tx, id, r.action_no)
                .await?
                .ok_or_else(no_action)?;
            if a.unit_id != unit.as_str() {
                return Err(no_action());
            }
            if let Some(done) = a.done_at {
                return Err(ApiError::precondition(
                    Reason::MeetingActionDone,
                    format!(
                        "action {} of meeting {id} was reported done at {}",
                        r.action_no,
                        done.to_rfc3339()
                    ),
                )
                .with("meeting_id", id)
                .with("action_no", r.action_no));
            }
            let at = now();
            store::complete_action(tx, id, r.action_no, &result, at).await?;
            let clock_id = clock::instance_clock_id(
                m.first_ticket(),
                Stage::MeetingAction,
                unit.as_str(),
                Some(&rules::action_instance(id, r.action_no)),
            );
            clock::stop(tx, &clock_id, at).await?;
            let late = a.due.is_some_and(|d| at > d);
            step(
                tx,
                &m,
                &m.ticket_nos,
                "action_done",
                unit.as_str(),
                result.clone(),
                at,
            )
            .await?;
            audit::append(
                tx,
                &entries(
                    &who,
                    "meeting.action_done",
                    &m,
                    &format!("action={} unit={unit} late={late}", r.action_no),
                ),
            )
            .await?;
            Ok(pb::CompleteMeetingActionResponse {
                meeting: Some(reply(tx, &m).await?),
            })
        })
        .await
}

/// GetMeeting: unit staff only meetings they were invited to.
pub async fn get(
    app: &Workflows,
    who: Identity,
    r: pb::GetMeetingRequest,
) -> Result<pb::GetMeetingResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<MeetingId>("meeting_id", &r.meeting_id);
    f.finish()?;
    let id = id.expect("checked");
    let m = store::get(&app.pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let units = store::units(&app.pool, &[id]).await?;
    if let Some(own) = who.unit_scope()
        && !units.iter().any(|u| u.unit_id.as_str() == own)
    {
        return Err(not_found(id));
    }
    let resolutions = store::resolutions(&app.pool, &[id]).await?;
    Ok(pb::GetMeetingResponse {
        meeting: Some(m.to_proto(&units, &resolutions)?),
    })
}

/// ListMeetings.
pub async fn list(
    app: &Workflows,
    who: Identity,
    r: pb::ListMeetingsRequest,
) -> Result<pb::ListMeetingsResponse, ApiError> {
    let mut f = Fields::new();
    let ticket = f.optional_id::<TicketNo>("ticket_no", &r.ticket_no);
    let unit = f.optional_id::<UnitId>("unit_id", &r.unit_id);
    let state = MeetingState::filter_field(&mut f, "state", r.state);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[r.ticket_no.trim(), r.unit_id.trim(), &r.state.to_string()],
    );
    f.finish()?;
    let unit = visible_unit(&who, unit)?;
    let filters = Filters {
        unit: unit.as_ref(),
        ticket: ticket.as_ref(),
        state,
    };
    let mut rows = store::list(&app.pool, &filters, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |m| {
        Cursor::new(m.convened_at, m.meeting_id.to_string())
    });
    let ids: Vec<MeetingId> = rows.iter().map(|m| m.meeting_id).collect();
    let units = store::units(&app.pool, &ids).await?;
    let resolutions = store::resolutions(&app.pool, &ids).await?;
    Ok(pb::ListMeetingsResponse {
        meetings: rows
            .iter()
            .map(|m| m.to_proto(&units, &resolutions))
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}
