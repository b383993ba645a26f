//! Turning a ticket into a routing: checks, catalogue, deadlines. Pure.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::convert::tier_from_proto;
use hotline_common::time::{required, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::common::v1::{AssignmentRole, TicketSummary};
use hotline_proto::dispatch::v1::{RouteTicketRequest, RoutedUnit, Routing, RoutingBasis};
use hotline_sla::{Policy, TicketClass};

use crate::catalogue::{Basis, Catalogue, Route, RouteError, Unit};

/// Decides where a ticket goes and when each unit's clocks run out. A
/// ticket the catalogue cannot place (no district, a code the catalogue in
/// force does not know) goes to the manual queue for a dispatcher.
pub fn plan(
    req: &RouteTicketRequest,
    catalogue: &Catalogue,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(TicketSummary, Routing), ApiError> {
    let ticket = req
        .ticket
        .as_ref()
        .ok_or_else(|| ApiError::invalid("ticket", "required"))?;
    let mut f = Fields::new();
    f.code("ticket.ticket_no", &ticket.ticket_no, 32);
    f.code("ticket.category_code", &ticket.category_code, 64);
    let location = ticket.location.clone().unwrap_or_default();
    f.optional_code("ticket.location.district_code", &location.district_code, 12);
    let tier = tier_from_proto(ticket.tier, "ticket.tier");
    let accepted_at = required(ticket.accepted_at.as_ref(), "ticket.accepted_at");
    let dispatch_deadline = required(req.dispatch_deadline.as_ref(), "dispatch_deadline");
    for r in [
        accepted_at.as_ref().err(),
        dispatch_deadline.as_ref().err(),
        tier.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    {
        for (field, p) in &r.fields {
            f.add(field, p.clone());
        }
    }
    f.finish()?;
    let (tier, accepted_at, dispatch_deadline) = (tier?, accepted_at?, dispatch_deadline?);

    let street = Some(location.street_code.as_str()).filter(|s| !s.is_empty());
    let mut routing = Routing {
        ticket_no: ticket.ticket_no.clone(),
        dispatched_at: Some(to_proto(now)),
        dispatch_deadline: Some(to_proto(dispatch_deadline)),
        catalogue_version: catalogue.version.clone(),
        hop: 1,
        ..Default::default()
    };
    match catalogue.route(&ticket.category_code, &location.district_code, street) {
        Ok(route) => {
            let class = TicketClass {
                tier,
                complex: ticket.complex,
            };
            place(&mut routing, &route, policy, class, accepted_at, now);
        }
        Err(why) => {
            routing.basis = RoutingBasis::ManualQueue as i32;
            routing.reason = queue_reason(&why, &catalogue.version);
        }
    }
    Ok((ticket.clone(), routing))
}

/// What a dispatcher has to resolve for a ticket the catalogue cannot place.
fn queue_reason(why: &RouteError, version: &str) -> String {
    match why {
        RouteError::NoDistrict => "the request names no district".to_string(),
        RouteError::UnknownCategory(c) => {
            format!("category {c:?} is not in catalogue {version}")
        }
        RouteError::UnknownDistrict(d) => {
            format!("district {d:?} is not in catalogue {version}")
        }
        RouteError::UnknownStreet(s) => {
            format!("street {s:?} is not in the request's district in catalogue {version}")
        }
    }
}

/// Sends a routing to a catalogue route's units, with their deadlines
/// counted from `now`.
fn place(
    routing: &mut Routing,
    route: &Route,
    policy: &Policy,
    class: TicketClass,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    routing.basis = match route.basis {
        Basis::CatalogueRule => RoutingBasis::CatalogueRule,
        Basis::DistrictGovernment => RoutingBasis::DistrictGovernment,
    } as i32;
    routing.units = units(&route.lead, &route.co, policy, class, accepted_at, now);
}

fn units(
    lead: &Unit,
    co: &[Unit],
    policy: &Policy,
    class: TicketClass,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<RoutedUnit> {
    let sign = to_proto(policy.sign_deadline(class, now));
    let feedback = to_proto(policy.feedback_deadline(class, accepted_at, now));
    let unit = |u: &Unit, role: AssignmentRole| RoutedUnit {
        unit_id: u.id.clone(),
        unit_name: u.name.clone(),
        role: role as i32,
        sign_deadline: Some(sign),
        feedback_deadline: Some(feedback),
    };
    let mut all = vec![unit(lead, AssignmentRole::Lead)];
    all.extend(co.iter().map(|u| unit(u, AssignmentRole::Co)));
    all
}

/// A catalogue's refusal as INVALID_ARGUMENT, naming the field (with
/// `prefix`, e.g. "reroute.").
pub fn route_error(e: RouteError, prefix: &str) -> ApiError {
    let (field, problem) = match e {
        RouteError::NoDistrict => (
            "district_code",
            "the request names no district: give one".to_string(),
        ),
        RouteError::UnknownCategory(c) => ("category_code", format!("unknown category {c:?}")),
        RouteError::UnknownDistrict(d) => ("district_code", format!("unknown district {d:?}")),
        RouteError::UnknownStreet(s) => (
            "street_code",
            format!("unknown street {s:?} in the district"),
        ),
    };
    ApiError::invalid(&format!("{prefix}{field}"), &problem)
}

/// Where a re-dispatch sends a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Units a dispatcher chose.
    Units { lead: String, co: Vec<String> },
    /// Where the catalogue sends the corrected request; empty keeps the
    /// ticket's own.
    Reroute {
        category: String,
        district: String,
        street: String,
    },
    /// To the manual queue.
    ManualQueue,
}

/// A re-dispatch to decide.
pub struct Redispatch<'a> {
    pub ticket: &'a TicketSummary,
    pub current: &'a Routing,
    pub target: Target,
    pub reason: String,
    pub return_id: String,
    pub decided_by: String,
}

/// Decides a re-dispatch: the next hop, its units and deadlines, and the
/// transfer count. Pure.
pub fn replan(
    r: Redispatch<'_>,
    catalogue: &Catalogue,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(TicketSummary, Routing), ApiError> {
    let mut ticket = r.ticket.clone();
    let tier = tier_from_proto(ticket.tier, "ticket.tier")
        .map_err(|_| ApiError::internal("stored ticket without tier"))?;
    let accepted_at = required(ticket.accepted_at.as_ref(), "ticket.accepted_at")
        .map_err(|_| ApiError::internal("stored ticket without acceptance time"))?;
    let class = TicketClass {
        tier,
        complex: ticket.complex,
    };
    let from_units = !r.current.units.is_empty();
    let transfers = r.current.transfers + i32::from(from_units);
    let mut routing = Routing {
        ticket_no: ticket.ticket_no.clone(),
        dispatched_at: Some(to_proto(now)),
        dispatch_deadline: r.current.dispatch_deadline,
        catalogue_version: catalogue.version.clone(),
        hop: r.current.hop.max(1) + 1,
        transfers,
        many_transfers: transfers >= policy.many_transfers as i32,
        reason: r.reason,
        return_id: r.return_id,
        decided_by: r.decided_by,
        ..Default::default()
    };
    match r.target {
        Target::ManualQueue => {
            if !from_units {
                return Err(ApiError::precondition(
                    "the ticket is already in the manual queue",
                ));
            }
            routing.basis = RoutingBasis::ManualQueue as i32;
            // Back in the queue: the tier's dispatch limit, from now.
            routing.dispatch_deadline = Some(to_proto(policy.dispatch_deadline(class, now, false)));
        }
        Target::Units { lead, co } => {
            let mut f = Fields::new();
            let known = |field: &str, id: &str, f: &mut Fields| match catalogue.unit(id) {
                Some(u) => Some(u.clone()),
                None => {
                    f.add(field, format!("unknown unit {id:?}"));
                    None
                }
            };
            let lead_unit = known("units.lead_unit_id", &lead, &mut f);
            let mut co_units: Vec<Unit> = Vec::new();
            for (i, id) in co.iter().enumerate() {
                let field = format!("units.co_unit_ids[{i}]");
                if *id == lead || co_units.iter().any(|u| u.id == *id) {
                    f.add(&field, format!("{id:?} named twice"));
                } else if let Some(u) = known(&field, id, &mut f) {
                    co_units.push(u);
                }
            }
            f.finish()?;
            let lead_unit = lead_unit.expect("checked");
            routing.basis = RoutingBasis::Dispatcher as i32;
            routing.units = units(&lead_unit, &co_units, policy, class, accepted_at, now);
        }
        Target::Reroute {
            category,
            district,
            street,
        } => {
            let mut location = ticket.location.clone().unwrap_or_default();
            if !category.is_empty() {
                ticket.category_code = category;
            }
            if !district.is_empty() {
                if district != location.district_code {
                    location.street_code.clear();
                }
                location.district_code = district;
            }
            if !street.is_empty() {
                location.street_code = street;
            }
            let on_street = Some(location.street_code.as_str()).filter(|s| !s.is_empty());
            let route = catalogue
                .route(&ticket.category_code, &location.district_code, on_street)
                .map_err(|e| route_error(e, "reroute."))?;
            ticket.location = Some(location);
            place(&mut routing, &route, policy, class, accepted_at, now);
        }
    }
    Ok((ticket, routing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hotline_proto::common::v1::{Location, UrgencyTier};

    fn req(category: &str, district: &str, street: &str) -> RouteTicketRequest {
        let accepted = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        RouteTicketRequest {
            ticket: Some(TicketSummary {
                ticket_no: "BJ000000000001".into(),
                category_code: category.into(),
                tier: UrgencyTier::Emergency as i32,
                location: Some(Location {
                    district_code: district.into(),
                    street_code: street.into(),
                    address: String::new(),
                }),
                accepted_at: Some(to_proto(accepted)),
                ..Default::default()
            }),
            dispatch_deadline: Some(to_proto(accepted + chrono::Duration::hours(1))),
        }
    }

    #[test]
    fn deadlines_follow_the_policy_from_dispatch() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 8, 10, 0).unwrap();
        let (_, r) = plan(
            &req("heating", "110105", ""),
            &Catalogue::beijing(),
            &Policy::beijing(),
            now,
        )
        .unwrap();
        let u = &r.units[0];
        assert_eq!(u.role, AssignmentRole::Lead as i32);
        assert_eq!(
            u.sign_deadline,
            Some(to_proto(now + chrono::Duration::minutes(15)))
        );
        assert_eq!(
            u.feedback_deadline,
            Some(to_proto(now + chrono::Duration::hours(2)))
        );
        assert_eq!(r.catalogue_version, Catalogue::beijing().version);
    }

    #[test]
    fn what_the_catalogue_cannot_place_waits_for_a_dispatcher() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        for (category, district, street, needle) in [
            ("nothing", "110105", "", "category"),
            ("heating", "110105", "110101001", "street"),
            ("heating", "", "", "no district"),
        ] {
            let (_, r) = plan(&req(category, district, street), &c, &p, now).unwrap();
            assert_eq!(r.basis, RoutingBasis::ManualQueue as i32);
            assert!(r.units.is_empty());
            assert!(r.reason.contains(needle), "{needle}: {}", r.reason);
        }
    }

    #[test]
    fn bad_tickets_name_the_field() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let mut r = req("heating", "110105", "");
        r.ticket.as_mut().unwrap().tier = 0;
        r.dispatch_deadline = None;
        let e = plan(&r, &c, &p, now).unwrap_err();
        assert!(
            e.message.contains("ticket.tier") && e.message.contains("dispatch_deadline"),
            "{}",
            e.message
        );
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
            return_id: String::new(),
            decided_by: "dispatcher-1".into(),
        }
    }

    #[test]
    fn every_transfer_counts_and_the_third_flags_the_ticket() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let (ticket, mut current) = plan(&req("heating", "110105", ""), &c, &p, now).unwrap();
        assert_eq!((current.hop, current.transfers), (1, 0));
        for (n, unit) in ["bj-water-group", "district-gov-110105", "bj-heating-group"]
            .into_iter()
            .enumerate()
        {
            let target = Target::Units {
                lead: unit.into(),
                co: vec![],
            };
            let (_, next) = replan(redispatch(&ticket, &current, target), &c, &p, now).unwrap();
            assert_eq!(next.hop, n as i32 + 2);
            assert_eq!(next.transfers, n as i32 + 1);
            assert_eq!(next.many_transfers, n >= 2, "after {} transfers", n + 1);
            assert_eq!(next.units[0].unit_id, unit);
            assert_eq!(next.basis, RoutingBasis::Dispatcher as i32);
            current = next;
        }
    }

    #[test]
    fn leaving_the_queue_is_not_a_transfer() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let (ticket, queued) = plan(&req("heating", "", ""), &c, &p, now).unwrap();
        let e = replan(
            redispatch(&ticket, &queued, Target::ManualQueue),
            &c,
            &p,
            now,
        )
        .unwrap_err();
        assert!(e.message.contains("already in the manual queue"));
        let e = replan(
            redispatch(
                &ticket,
                &queued,
                Target::Reroute {
                    category: String::new(),
                    district: String::new(),
                    street: String::new(),
                },
            ),
            &c,
            &p,
            now,
        )
        .unwrap_err();
        assert!(e.message.contains("reroute.district_code"), "{}", e.message);
        let target = Target::Reroute {
            category: String::new(),
            district: "110105".into(),
            street: "110105001".into(),
        };
        let (t, placed) = replan(redispatch(&ticket, &queued, target), &c, &p, now).unwrap();
        assert_eq!((placed.hop, placed.transfers), (2, 0));
        assert!(!placed.units.is_empty());
        assert_eq!(t.location.unwrap().district_code, "110105");
    }

    #[test]
    fn chosen_units_must_exist_once() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let (ticket, current) = plan(&req("heating", "110105", ""), &c, &p, now).unwrap();
        let target = Target::Units {
            lead: "nobody".into(),
            co: vec!["bj-water-group".into(), "bj-water-group".into()],
        };
        let e = replan(redispatch(&ticket, &current, target), &c, &p, now).unwrap_err();
        assert!(
            e.message.contains("units.lead_unit_id") && e.message.contains("units.co_unit_ids[1]"),
            "{}",
            e.message
        );
    }
}
