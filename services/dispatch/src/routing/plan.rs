//! A ticket handed in → its first routing: where it goes by the catalogue
//! and when each unit's clocks run out. Pure.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::convert::{request_type_from_proto, tier_from_proto};
use hotline_common::ids::{AreaCode, CategoryCode, TicketNo};
use hotline_common::time::{from_proto, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::common::v1::{AssignmentRole, TicketSummary};
use hotline_proto::dispatch::v1::{RouteTicketRequest, RoutedUnit, Routing, RoutingBasis};
use hotline_sla::{Policy, RequestType, TicketClass};

use crate::catalogue::model::{Catalogue, Route, RouteError, Unit};
use crate::ids::Hop;

/// A ticket as intake handed it in, every field checked.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub ticket_no: TicketNo,
    /// What units are shown of the ticket (no names or phones).
    pub summary: TicketSummary,
    /// `None`: the operator left it open; a dispatcher classifies it.
    pub category: Option<CategoryCode>,
    pub district: Option<AreaCode>,
    pub street: Option<AreaCode>,
    /// Other districts the matter spans (跨区).
    pub other_districts: Vec<AreaCode>,
    pub class: TicketClass,
    pub accepted_at: DateTime<Utc>,
    pub dispatch_deadline: DateTime<Utc>,
}

/// A required timestamp, its problem noted under `field`.
fn time(f: &mut Fields, field: &str, t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    match t.map(|t| from_proto(t, field)) {
        None => {
            f.add(field, "required");
            None
        }
        Some(Err(e)) => {
            for (field, p) in e.fields {
                f.add(&field, p);
            }
            None
        }
        Some(Ok(t)) => Some(t),
    }
}

/// Checks every field of a RouteTicket request; nothing is read or stored
/// before this passes.
pub fn parse_route(req: &RouteTicketRequest) -> Result<Incoming, ApiError> {
    let Some(ticket) = req.ticket.as_ref() else {
        return Err(ApiError::invalid("ticket", "required"));
    };
    let mut f = Fields::new();
    let ticket_no = f.id::<TicketNo>("ticket.ticket_no", &ticket.ticket_no);
    // Empty: the operator left the category open (the manual queue).
    let category = f.optional_id::<CategoryCode>("ticket.category_code", &ticket.category_code);
    let location = ticket.location.clone().unwrap_or_default();
    let district =
        f.optional_id::<AreaCode>("ticket.location.district_code", &location.district_code);
    let street = f.optional_id::<AreaCode>("ticket.location.street_code", &location.street_code);
    let other_districts: Vec<AreaCode> = location
        .other_district_codes
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            f.id::<AreaCode>(&format!("ticket.location.other_district_codes[{i}]"), d)
        })
        .collect();
    let tier = match tier_from_proto(ticket.tier, "ticket.tier") {
        Ok(t) => Some(t),
        Err(e) => {
            for (field, p) in e.fields {
                f.add(&field, p);
            }
            None
        }
    };
    let kind = match request_type_from_proto(ticket.request_type, "ticket.request_type") {
        Ok(k) => k,
        Err(e) => {
            for (field, p) in e.fields {
                f.add(&field, p);
            }
            RequestType::Unrecorded
        }
    };
    let accepted_at = time(&mut f, "ticket.accepted_at", ticket.accepted_at.as_ref());
    let dispatch_deadline = time(&mut f, "dispatch_deadline", req.dispatch_deadline.as_ref());
    f.finish()?;
    let (Some(ticket_no), Some(tier), Some(accepted_at), Some(dispatch_deadline)) =
        (ticket_no, tier, accepted_at, dispatch_deadline)
    else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    let mut summary = ticket.clone();
    summary.ticket_no = ticket_no.to_string();
    Ok(Incoming {
        ticket_no,
        summary,
        category,
        district,
        street,
        other_districts,
        class: TicketClass {
            tier,
            complex: ticket.complex,
            kind,
        },
        accepted_at,
        dispatch_deadline,
    })
}

/// Decides where a ticket goes and when each unit's clocks run out. A
/// ticket the catalogue cannot place (no district, a code the catalogue in
/// force does not know) goes to the manual queue for a dispatcher.
pub fn plan(t: &Incoming, catalogue: &Catalogue, policy: &Policy, now: DateTime<Utc>) -> Routing {
    let mut routing = Routing {
        ticket_no: t.ticket_no.to_string(),
        dispatched_at: Some(to_proto(now)),
        dispatch_deadline: Some(to_proto(t.dispatch_deadline)),
        catalogue_version: catalogue.version.clone(),
        hop: Hop::FIRST.get(),
        ..Default::default()
    };
    let routed = t
        .category
        .as_ref()
        .ok_or(RouteError::NoCategory)
        .and_then(|c| catalogue.route(c, t.district.as_ref(), t.street.as_ref()))
        .and_then(|r| catalogue.spanning(r, &t.other_districts));
    match routed {
        Ok(route) => place(&mut routing, &route, policy, t.class, t.accepted_at, now),
        Err(why) => {
            routing.basis = RoutingBasis::ManualQueue as i32;
            routing.reason = queue_reason(&why, &catalogue.version);
        }
    }
    routing
}

/// What a dispatcher has to resolve for a ticket the catalogue cannot place.
pub fn queue_reason(why: &RouteError, version: &str) -> String {
    match why {
        RouteError::NoCategory => {
            "the operator left the category open: classify the request".to_string()
        }
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
pub fn place(
    routing: &mut Routing,
    route: &Route,
    policy: &Policy,
    class: TicketClass,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    routing.basis = route.basis.to_proto() as i32;
    routing.units = units(&route.lead, &route.co, policy, class, accepted_at, now);
}

/// The lead unit, then the co-units, each with its sign-off and feedback
/// deadlines.
pub fn units(
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
        unit_id: u.id.to_string(),
        unit_name: u.name.clone(),
        role: role as i32,
        sign_deadline: Some(sign),
        feedback_deadline: Some(feedback),
        kind: u.kind.to_proto() as i32,
    };
    let mut all = vec![unit(lead, AssignmentRole::Lead)];
    all.extend(co.iter().map(|u| unit(u, AssignmentRole::Co)));
    all
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use chrono::TimeZone;
    use hotline_proto::common::v1::{Location, UrgencyTier};

    pub fn req(category: &str, district: &str, street: &str) -> RouteTicketRequest {
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
                    ..Default::default()
                }),
                accepted_at: Some(to_proto(accepted)),
                ..Default::default()
            }),
            dispatch_deadline: Some(to_proto(accepted + chrono::Duration::hours(1))),
        }
    }

    pub fn planned(category: &str, district: &str, street: &str) -> (Incoming, Routing) {
        let t = parse_route(&req(category, district, street)).unwrap();
        let r = plan(&t, &Catalogue::beijing(), &Policy::beijing(), Utc::now());
        (t, r)
    }

    #[test]
    fn deadlines_follow_the_policy_from_dispatch() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 8, 10, 0).unwrap();
        let t = parse_route(&req("heating", "110105", "")).unwrap();
        let r = plan(&t, &Catalogue::beijing(), &Policy::beijing(), now);
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
        assert_eq!(r.basis, RoutingBasis::CatalogueRule as i32);
    }

    #[test]
    fn what_the_catalogue_cannot_place_waits_for_a_dispatcher() {
        for (category, district, street, needle) in [
            ("nothing", "110105", "", "category"),
            ("heating", "110105", "110101001", "street"),
            ("heating", "", "", "no district"),
        ] {
            let (_, r) = planned(category, district, street);
            assert_eq!(r.basis, RoutingBasis::ManualQueue as i32);
            assert!(r.units.is_empty());
            assert!(r.reason.contains(needle), "{needle}: {}", r.reason);
        }
    }

    #[test]
    fn bad_tickets_name_every_field() {
        let mut r = req("heating", "110105", "");
        let t = r.ticket.as_mut().unwrap();
        t.tier = 0;
        t.ticket_no = "BJ\u{0}1".into();
        t.location.as_mut().unwrap().street_code = "a b".into();
        r.dispatch_deadline = None;
        let e = parse_route(&r).unwrap_err();
        for field in [
            "ticket.tier",
            "dispatch_deadline",
            "ticket.ticket_no",
            "ticket.location.street_code",
        ] {
            assert!(e.message.contains(field), "{field}: {}", e.message);
        }
        let e = parse_route(&RouteTicketRequest::default()).unwrap_err();
        assert!(e.message.contains("ticket: required"), "{}", e.message);
    }

    #[test]
    fn the_ticket_number_is_kept_as_parsed() {
        let mut r = req("heating", "110105", "");
        r.ticket.as_mut().unwrap().ticket_no = " BJ000000000001 ".into();
        let t = parse_route(&r).unwrap();
        assert_eq!(t.summary.ticket_no, "BJ000000000001");
        assert_eq!(t.ticket_no.as_str(), "BJ000000000001");
    }
}
