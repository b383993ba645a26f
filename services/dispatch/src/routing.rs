//! Turning a ticket into a routing: checks, catalogue, deadlines. Pure.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::convert::tier_from_proto;
use hotline_common::time::{required, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::common::v1::{AssignmentRole, TicketSummary};
use hotline_proto::dispatch::v1::{RouteTicketRequest, RoutedUnit, Routing, RoutingBasis};
use hotline_sla::{Policy, TicketClass};

use crate::catalogue::{Basis, Catalogue, RouteError};

/// Decides where a ticket goes and when each unit's clocks run out.
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
    f.code("ticket.location.district_code", &location.district_code, 12);
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
    let route = catalogue
        .route(&ticket.category_code, &location.district_code, street)
        .map_err(|e| match e {
            RouteError::UnknownCategory(c) => {
                ApiError::invalid("ticket.category_code", &format!("unknown category {c:?}"))
            }
            RouteError::UnknownDistrict(d) => ApiError::invalid(
                "ticket.location.district_code",
                &format!("unknown district {d:?}"),
            ),
            RouteError::UnknownStreet(s) => ApiError::invalid(
                "ticket.location.street_code",
                &format!("unknown street {s:?} in this district"),
            ),
        })?;

    let class = TicketClass {
        tier,
        complex: ticket.complex,
    };
    let sign = to_proto(policy.sign_deadline(class, now));
    let feedback = to_proto(policy.feedback_deadline(class, accepted_at, now));
    let unit = |u: &crate::catalogue::Unit, role: AssignmentRole| RoutedUnit {
        unit_id: u.id.clone(),
        unit_name: u.name.clone(),
        role: role as i32,
        sign_deadline: Some(sign),
        feedback_deadline: Some(feedback),
    };
    let mut units = vec![unit(&route.lead, AssignmentRole::Lead)];
    units.extend(route.co.iter().map(|u| unit(u, AssignmentRole::Co)));
    let routing = Routing {
        ticket_no: ticket.ticket_no.clone(),
        dispatched_at: Some(to_proto(now)),
        dispatch_deadline: Some(to_proto(dispatch_deadline)),
        catalogue_version: catalogue.version.clone(),
        basis: match route.basis {
            Basis::CatalogueRule => RoutingBasis::CatalogueRule,
            Basis::DistrictGovernment => RoutingBasis::DistrictGovernment,
        } as i32,
        units,
    };
    Ok((ticket.clone(), routing))
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
    fn bad_tickets_name_the_field() {
        let now = Utc::now();
        let c = Catalogue::beijing();
        let p = Policy::beijing();
        let e = plan(&req("nothing", "110105", ""), &c, &p, now).unwrap_err();
        assert!(e.message.contains("ticket.category_code"));
        let e = plan(&req("heating", "110105", "110101001"), &c, &p, now).unwrap_err();
        assert!(e.message.contains("ticket.location.street_code"));
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
}
