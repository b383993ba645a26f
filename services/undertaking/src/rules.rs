//! undertaking's rows of the rule table: which roles may call each of its
//! RPCs. The gate in `hotline_common::auth` enforces them, with the rows of
//! the services every server carries (audit trail, clocks).

use hotline_common::auth::Role::*;
use hotline_common::auth::{Rule, Served};

/// What undertaking's port answers.
pub const SERVED: Served = Served {
    services: &["hotline.undertaking.v1.UndertakingService"],
    rules: RULES,
    clocks: true,
};

pub const RULES: &[Rule] = &[
    (
        "/hotline.undertaking.v1.UndertakingService/CreateAssignments",
        &[Service],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/BeginHop",
        &[Service],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListAssignments",
        &[UnitStaff, Dispatcher, Supervisor, Auditor],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListTicketAssignments",
        &[
            UnitStaff, Operator, Dispatcher, Supervisor, Auditor, Service,
        ],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/SignAssignment",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/SubmitFeedback",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/RequestExtension",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/DecideExtension",
        &[Supervisor],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListExtensions",
        &[UnitStaff, Dispatcher, Supervisor, Auditor],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListUnitSupervision",
        &[UnitStaff, Supervisor],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/AddHandlingRecord",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/SubmitPart",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListHandlingRecords",
        &[
            UnitStaff, Operator, Dispatcher, Supervisor, Auditor, Service,
        ],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ReturnAssignment",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/RejectReturn",
        &[Dispatcher],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/GetReturn",
        &[Dispatcher, Supervisor, Auditor, UnitStaff, Service],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListReturns",
        &[Dispatcher, Supervisor, Auditor, UnitStaff, Service],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/BlowWhistle",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ReportIn",
        &[UnitStaff],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/WatchUnitEvents",
        &[UnitStaff, Dispatcher, Supervisor, Auditor],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListWhistles",
        &[
            UnitStaff, Supervisor, Dispatcher, Auditor, Operator, Service,
        ],
    ),
    (
        "/hotline.undertaking.v1.UndertakingService/ListRehandlings",
        &[
            UnitStaff, Supervisor, Dispatcher, Auditor, Operator, Service,
        ],
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_served_method_has_exactly_one_rule() {
        super::SERVED.assert_matches_contract();
    }
}
