//! Re-dispatch (改派): the next hop of a ticket, its units and deadlines,
//! and the transfer count (多次流转). Pure.

use chrono::{DateTime, Utc};
use hotline_common::convert::{request_type_from_proto, tier_from_proto};
use hotline_common::ids::{AreaCode, CategoryCode, Id, ReturnId, TicketNo, UnitId};
use hotline_common::time::{required, to_proto};
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::TicketSummary;
use hotline_proto::dispatch::v1::redispatch_ticket_request::Target as PbTarget;
use hotline_proto::dispatch::v1::{RedispatchTicketRequest, Routing, RoutingBasis};
use hotline_sla::{Policy, TicketClass};

use super::plan::{place, units};
use crate::catalogue::model::{Catalogue, RouteError, Unit};
use crate::ids::Hop;

/// Longest reason of a re-dispatch.
pub const MAX_REASON_CHARS: usize = 500;

/// Where a re-dispatch sends a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Units a dispatcher chose.
    Units { lead: UnitId, co: Vec<UnitId> },
    /// Where the catalogue sends the corrected request; `None` keeps the
    /// ticket's own.
    Reroute {
        category: Option<CategoryCode>,
        district: Option<AreaCode>,
        street: Option<AreaCode>,
    },
    /// To the manual queue.
    ManualQueue,
}

/// A RedispatchTicket request, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub ticket_no: TicketNo,
    /// The hop the caller saw.
    pub hop: Hop,
    pub reason: String,
    pub return_id: Option<ReturnId>,
    pub target: Target,
}

/// Checks every field; nothing is read or asked before this passes.
pub fn parse_redispatch(req: &RedispatchTicketRequest) -> Result<Asked, ApiError> {
    let mut f = Fields::new();
    let ticket_no = f.id::<TicketNo>("ticket_no", &req.ticket_no);
    let hop = Hop::parse_field("hop", req.hop)
        .map_err(|e| {
            for (field, p) in e.fields {
                f.add(&field, p);
            }
        })
        .ok();
    let reason = f.text("reason", &req.reason, MAX_REASON_CHARS);
    let return_id = f.optional_id::<ReturnId>("return_id", &req.return_id);
    let target = match &req.target {
        None => {
            f.add("target", "units, reroute or manual_queue");
            None
        }
        Some(PbTarget::Units(u)) => {
            let lead = f.id::<UnitId>("units.lead_unit_id", &u.lead_unit_id);
            let co: Vec<Option<UnitId>> = u
                .co_unit_ids
                .iter()
                .enumerate()
                .map(|(i, c)| f.id::<UnitId>(&format!("units.co_unit_ids[{i}]"), c))
                .collect();
            lead.map(|lead| Target::Units {
                lead,
                co: co.into_iter().flatten().collect(),
            })
        }
        Some(PbTarget::Reroute(r)) => {
            let category = f.optional_id::<CategoryCode>("reroute.category_code", &r.category_code);
            let district = f.optional_id::<AreaCode>("reroute.district_code", &r.district_code);
            let street = f.optional_id::<AreaCode>("reroute.street_code", &r.street_code);
            let named = [&r.category_code, &r.district_code, &r.street_code];
            if named.iter().all(|v| v.trim().is_empty()) {
                f.add("reroute", "name a corrected category, district or street");
            }
            Some(Target::Reroute {
                category,
                district,
                street,
            })
        }
        Some(PbTarget::ManualQueue(true)) => Some(Target::ManualQueue),
        Some(PbTarget::ManualQueue(false)) => {
            f.add("manual_queue", "true, or choose another target");
            None
        }
    };
    f.finish()?;
    let (Some(ticket_no), Some(hop), Some(target)) = (ticket_no, hop, target) else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    Ok(Asked {
        ticket_no,
        hop,
        reason,
        return_id,
        target,
    })
}

/// A re-dispatch to decide.
pub struct Redispatch<'a> {
    pub ticket: &'a TicketSummary,
    pub current: &'a Routing,
    pub target: Target,
    pub reason: String,
    pub return_id: Option<ReturnId>,
    pub decided_by: String,
}

/// A stored ticket's class and acceptance time.
fn class_of(ticket: &TicketSummary) -> Result<(TicketClass, DateTime<Utc>), ApiError> {
    let tier = tier_from_proto(ticket.tier, "ticket.tier")
        .map_err(|_| ApiError::internal("stored ticket without tier"))?;
    let accepted_at = required(ticket.accepted_at.as_ref(), "ticket.accepted_at")
        .map_err(|_| ApiError::internal("stored ticket without acceptance time"))?;
    let class = TicketClass {
        tier,
        complex: ticket.complex,
        kind: request_type_from_proto(ticket.request_type, "ticket.request_type")
            .map_err(|_| ApiError::internal("stored ticket with an unknown request type"))?,
    };
    Ok((class, accepted_at))
}

/// A code stored with the ticket (checked when it was handed in).
fn stored<T: Id>(raw: &str) -> Result<Option<T>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    T::parse(raw)
        .map(Some)
        .map_err(|p| ApiError::internal(format!("stored {}: {p}", T::WHAT)))
}

/// Decides a re-dispatch: the next hop, its units and deadlines, and the
/// transfer count.
pub fn replan(
    r: Redispatch<'_>,
    catalogue: &Catalogue,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(TicketSummary, Routing), ApiError> {
    let mut ticket = r.ticket.clone();
    let (class, accepted_at) = class_of(&ticket)?;
    let from_units = !r.current.units.is_empty();
    let transfers = r.current.transfers + i32::from(from_units);
    let mut routing = Routing {
        ticket_no: ticket.ticket_no.clone(),
        dispatched_at: Some(to_proto(now)),
        dispatch_deadline: r.current.dispatch_deadline,
        catalogue_version: catalogue.version.clone(),
        hop: Hop::stored(r.current.hop).next().get(),
        transfers,
        many_transfers: i64::from(transfers) >= i64::from(policy.many_transfers),
        reason: r.reason,
        return_id: r.return_id.map(|id| id.to_string()).unwrap_or_default(),
        decided_by: r.decided_by,
        ..Default::default()
    };
    match r.target {
        Target::ManualQueue => {
            if !from_units {
                return Err(ApiError::precondition(
                    Reason::AlreadyInManualQueue,
                    "the ticket is already in the manual queue",
                ));
            }
            routing.basis = RoutingBasis::ManualQueue as i32;
            // Back in the queue: the tier's dispatch limit, from now.
            routing.dispatch_deadline = Some(to_proto(policy.dispatch_deadline(class, now, false)));
        }
        Target::Units { lead, co } => {
            let mut f = Fields::new();
            let known = |field: &str, id: &UnitId, f: &mut Fields| match catalogue.unit(id) {
                Some(u) => Some(u.clone()),
                None => {
                    f.add(field, format!("unknown unit {:?}", id.as_str()));
                    None
                }
            };
            let lead_unit = known("units.lead_unit_id", &lead, &mut f);
            let mut co_units: Vec<Unit> = Vec::new();
            for (i, id) in co.iter().enumerate() {
                let field = format!("units.co_unit_ids[{i}]");
                if *id == lead || co_units.iter().any(|u| u.id == *id) {
                    f.add(&field, format!("{:?} named twice", id.as_str()));
                } else if let Some(u) = known(&field, id, &mut f) {
                    co_units.push(u);
                }
            }
            f.finish()?;
            let Some(lead_unit) = lead_unit else {
                return Err(ApiError::internal("a checked unit is missing"));
            };
            routing.basis = RoutingBasis::Dispatcher as i32;
            routing.units = units(&lead_unit, &co_units, policy, class, accepted_at, now);
        }
        Target::Reroute {
            category,
            district,
            street,
        } => {
            let mut location = ticket.location.clone().unwrap_or_default();
            let category = match category {
                Some(c) => c,
                // Left open by the operator: the dispatcher must name it.
                None => stored::<CategoryCode>(&ticket.category_code)?
                    .ok_or(RouteError::NoCategory)
                    .map_err(|e| e.invalid("reroute."))?,
            };
            let mut on_district = stored::<AreaCode>(&location.district_code)?;
            let mut on_street = stored::<AreaCode>(&location.street_code)?;
            if let Some(d) = district {
                if Some(&d) != on_district.as_ref() {
                    on_street = None;
                }
                on_district = Some(d);
            }
            if let Some(s) = street {
                on_street = Some(s);
            }
            let others = location
                .other_district_codes
                .iter()
                .filter(|d| Some(d.as_str()) != on_district.as_ref().map(AreaCode::as_str))
                .map(|d| stored::<AreaCode>(d))
                .collect::<Result<Vec<_>, _>>()?;
            let route = catalogue
                .route(&category, on_district.as_ref(), on_street.as_ref())
                .and_then(|r| {
                    catalogue.spanning(r, &others.into_iter().flatten().collect::<Vec<_>>())
                })
                .map_err(|e| e.invalid("reroute."))?;
            ticket.category_code = category.to_string();
            location.district_code = on_district.map(String::from).unwrap_or_default();
            location.street_code = on_street.map(String::from).unwrap_or_default();
            ticket.location = Some(location);
            place(&mut routing, &route, policy, class, accepted_at, now);
        }
    }
    Ok((ticket, routing))
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::planned;
    use super::*;
    use hotline_proto::dispatch::v1::{Reroute, UnitChoice};

    fn unit(s: &str) -> UnitId {
        UnitId::parse(s).unwrap()
    }

    fn redispatch<'a>(
        ticket: &'a TicketSummary,
        current: &'a Routing,
        target: Target,
    ) -> Redispatch<'a> {
        Redispatch {
            ticket,
            current,
            target,
            reason: "退单核实".into(),
            return_id: None,
            decided_by: "dispatcher-1".into(),
        }
    }

    fn reroute(category: &str, district: &str, street: &str) -> Target {
        let id = |s: &str| (!s.is_empty()).then(|| AreaCode::parse(s).unwrap());
        Target::Reroute {
            category: (!category.is_empty()).then(|| CategoryCode::parse(category).unwrap()),
            district: id(district),
            street: id(street),
        }
    }

    #[test]
    fn every_transfer_counts_and_the_third_flags_the_ticket() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let (t, mut current) = planned("heating", "110105", "");
        assert_eq!((current.hop, current.transfers), (1, 0));
        for (n, id) in ["bj-water-group", "district-gov-110105", "bj-heating-group"]
            .into_iter()
            .enumerate()
        {
            let target = Target::Units {
                lead: unit(id),
                co: vec![],
            };
            let (_, next) = replan(redispatch(&t.summary, &current, target), &c, &p, now).unwrap();
            assert_eq!(next.hop, n as i32 + 2);
            assert_eq!(next.transfers, n as i32 + 1);
            assert_eq!(next.many_transfers, n >= 2, "after {} transfers", n + 1);
            assert_eq!(next.units[0].unit_id, id);
            assert_eq!(next.basis, RoutingBasis::Dispatcher as i32);
            current = next;
        }
    }

    #[test]
    fn leaving_the_queue_is_not_a_transfer() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let (t, queued) = planned("heating", "", "");
        let e = replan(
            redispatch(&t.summary, &queued, Target::ManualQueue),
            &c,
            &p,
            now,
        )
        .unwrap_err();
        assert!(e.message.contains("already in the manual queue"));
        let e = replan(
            redispatch(&t.summary, &queued, reroute("", "", "")),
            &c,
            &p,
            now,
        )
        .unwrap_err();
        assert!(e.message.contains("reroute.district_code"), "{}", e.message);
        let target = reroute("", "110105", "110105001");
        let (ticket, placed) =
            replan(redispatch(&t.summary, &queued, target), &c, &p, now).unwrap();
        assert_eq!((placed.hop, placed.transfers), (2, 0));
        assert!(!placed.units.is_empty());
        assert_eq!(ticket.location.unwrap().district_code, "110105");
    }

    #[test]
    fn a_new_district_drops_the_old_street() {
        let (t, current) = planned("noise", "110105", "110105001");
        let (ticket, r) = replan(
            redispatch(&t.summary, &current, reroute("", "110101", "")),
            &Catalogue::beijing(),
            &Policy::beijing(),
            Utc::now(),
        )
        .unwrap();
        let l = ticket.location.unwrap();
        assert_eq!(
            (l.district_code.as_str(), l.street_code.as_str()),
            ("110101", "")
        );
        assert_eq!(r.units[0].unit_id, "district-gov-110101");
    }

    #[test]
    fn chosen_units_must_exist_once() {
        let (t, current) = planned("heating", "110105", "");
        let target = Target::Units {
            lead: unit("nobody"),
            co: vec![unit("bj-water-group"), unit("bj-water-group")],
        };
        let e = replan(
            redispatch(&t.summary, &current, target),
            &Catalogue::beijing(),
            &Policy::beijing(),
            Utc::now(),
        )
        .unwrap_err();
        assert!(
            e.message.contains("units.lead_unit_id") && e.message.contains("units.co_unit_ids[1]"),
            "{}",
            e.message
        );
    }

    #[test]
    fn requests_are_checked_whole_before_anything_is_read() {
        let e = parse_redispatch(&RedispatchTicketRequest {
            ticket_no: "BJ\u{0}".into(),
            hop: 0,
            reason: String::new(),
            return_id: "not-a-uuid".into(),
            target: Some(PbTarget::Units(UnitChoice {
                lead_unit_id: "a\u{202e}b".into(),
                co_unit_ids: vec!["ok".into(), String::new()],
            })),
            ..Default::default()
        })
        .unwrap_err();
        for field in [
            "ticket_no",
            "hop",
            "reason",
            "return_id",
            "units.lead_unit_id",
            "units.co_unit_ids[1]",
        ] {
            assert!(
                e.fields.iter().any(|(f, _)| f == field),
                "{field}: {}",
                e.message
            );
        }
        let e = parse_redispatch(&RedispatchTicketRequest {
            ticket_no: "BJ000000000001".into(),
            hop: 1,
            reason: "x".into(),
            target: Some(PbTarget::Reroute(Reroute::default())),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message.contains("reroute: name"), "{}", e.message);
        let asked = parse_redispatch(&RedispatchTicketRequest {
            ticket_no: "BJ000000000001".into(),
            hop: 2,
            reason: "回拨确认".into(),
            target: Some(PbTarget::ManualQueue(true)),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((asked.hop.get(), asked.target), (2, Target::ManualQueue));
    }
}
