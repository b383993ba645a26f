//! dispatch's rows of the rule table: which roles may call each of its
//! RPCs. The gate in `hotline_common::auth` enforces them, with the rows of
//! the services every server carries (audit trail, clocks).

use hotline_common::auth::Role::*;
use hotline_common::auth::{Rule, Served};

/// What dispatch's port answers.
pub const SERVED: Served = Served {
    services: &["hotline.dispatch.v1.DispatchService"],
    rules: RULES,
    clocks: true,
};

pub const RULES: &[Rule] = &[
    (
        "/hotline.dispatch.v1.DispatchService/RouteTicket",
        &[Service],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/GetRouting",
        &[Dispatcher, Supervisor, Operator, Auditor, Service],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/GetCatalogue",
        &[
            Operator, Dispatcher, UnitStaff, Supervisor, Leader, Ops, Auditor, Service,
        ],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/SuggestRouting",
        &[Dispatcher, Operator, Supervisor],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/ListManualQueue",
        &[Dispatcher, Supervisor, Auditor],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/RedispatchTicket",
        &[Dispatcher, Service],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/ListTransferredTickets",
        &[Supervisor, Leader, Dispatcher, Auditor],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/PublishCatalogue",
        &[Ops],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/ActivateCatalogue",
        &[Ops],
    ),
    (
        "/hotline.dispatch.v1.DispatchService/ListCatalogueVersions",
        &[Ops, Dispatcher, Auditor],
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_served_method_has_exactly_one_rule() {
        super::SERVED.assert_matches_contract();
    }
}
