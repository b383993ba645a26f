//! intake's rows of the rule table: which roles may call each of its
//! RPCs. The gate in `hotline_common::auth` enforces them, with the rows of
//! the services every server carries (audit trail, clocks).

use hotline_common::auth::Role::*;
use hotline_common::auth::{Rule, Served};

/// What intake's port answers.
pub const SERVED: Served = Served {
    services: &["hotline.intake.v1.IntakeService"],
    rules: RULES,
    clocks: true,
};

pub const RULES: &[Rule] = &[
    (
        "/hotline.intake.v1.IntakeService/Submit",
        &[Operator, Service],
    ),
    (
        "/hotline.intake.v1.IntakeService/GetTicket",
        &[
            Operator,
            Dispatcher,
            Supervisor,
            Leader,
            Auditor,
            UnitStaff,
            ReturnVisit,
        ],
    ),
    (
        "/hotline.intake.v1.IntakeService/GetTimeline",
        &[Operator, Dispatcher, Supervisor, Leader, Auditor, UnitStaff],
    ),
    ("/hotline.intake.v1.IntakeService/SetSurgeMode", &[Ops]),
    (
        "/hotline.intake.v1.IntakeService/GetSurgeMode",
        &[Ops, Operator, Dispatcher, Supervisor],
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_served_method_has_exactly_one_rule() {
        super::SERVED.assert_matches_contract();
    }
}
