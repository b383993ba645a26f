//! intake's rows of the rule table: which roles may call each of its
//! RPCs. The gate in `hotline_common::auth` enforces them, with the rows of
//! the services every server carries (audit trail, clocks).

use hotline_common::auth::Role::*;
use hotline_common::auth::{Rule, Served};

/// What intake's port answers.
pub const SERVED: Served = Served {
    services: &[
        "hotline.intake.v1.IntakeService",
        "hotline.intake.v1.KnowledgeService",
        "hotline.intake.v1.MediaService",
    ],
    rules: RULES,
    clocks: true,
};

/// Those who read tickets (unit staff: of a unit a ticket was sent to), and
/// so their media.
const READS_TICKETS: &[hotline_common::auth::Role] = &[
    Operator,
    Dispatcher,
    Supervisor,
    Leader,
    Auditor,
    UnitStaff,
    ReturnVisit,
];

pub const RULES: &[Rule] = &[
    // Media: uploaded by the operator desk, the channel systems and units
    // (photos of their handling), supervisors (photos of a site); downloaded
    // by those who may read the ticket (unit staff: a unit it was sent to,
    // `tickets::visible`).
    (
        "/hotline.intake.v1.MediaService/Upload",
        &[Operator, Service, UnitStaff, Supervisor],
    ),
    (
        "/hotline.intake.v1.MediaService/GetUpload",
        &[Operator, Service, UnitStaff, Supervisor],
    ),
    ("/hotline.intake.v1.MediaService/Download", READS_TICKETS),
    // Undertaking, for the photos of a unit's handling record; supervision,
    // for those of an on-site division.
    ("/hotline.intake.v1.MediaService/AttachMedia", &[Service]),
    // The knowledge base: units propose their articles (their own unit's,
    // checked in `knowledge::rules::proposing_unit`), the centre approves
    // and withdraws, operators search.
    (
        "/hotline.intake.v1.KnowledgeService/ProposeArticle",
        &[UnitStaff, Supervisor],
    ),
    (
        "/hotline.intake.v1.KnowledgeService/ApproveArticle",
        &[Supervisor],
    ),
    (
        "/hotline.intake.v1.KnowledgeService/ExpireArticle",
        &[Supervisor],
    ),
    (
        "/hotline.intake.v1.KnowledgeService/GetArticle",
        &[Operator, UnitStaff, Supervisor, Leader, Auditor, Service],
    ),
    (
        "/hotline.intake.v1.KnowledgeService/ListArticles",
        &[Operator, UnitStaff, Supervisor, Leader, Auditor],
    ),
    (
        "/hotline.intake.v1.KnowledgeService/SearchArticles",
        &[Operator, UnitStaff, Supervisor, Service],
    ),
    (
        "/hotline.intake.v1.KnowledgeService/GetDirectAnswerShare",
        &[Supervisor, Leader, Auditor],
    ),
    (
        "/hotline.intake.v1.IntakeService/Submit",
        &[Operator, Service],
    ),
    // The channel systems a requester reads their own ticket through,
    // and the operator desk on the requester's behalf.
    (
        "/hotline.intake.v1.IntakeService/ViewOwnTicket",
        &[Service, Operator],
    ),
    ("/hotline.intake.v1.IntakeService/MarkCaller", &[Supervisor]),
    // The operator desk while taking a request; a channel system offering
    // its user their open tickets.
    // The operator desk accepts what came by other channels; supervisors
    // watch the queue.
    (
        "/hotline.intake.v1.IntakeService/AcceptRequest",
        &[Operator],
    ),
    (
        "/hotline.intake.v1.IntakeService/RefuseRequest",
        &[Operator],
    ),
    (
        "/hotline.intake.v1.IntakeService/ListAwaitingAcceptance",
        &[Operator, Supervisor, Auditor],
    ),
    (
        "/hotline.intake.v1.IntakeService/FindRepeats",
        &[Operator, Service],
    ),
    // The centre: supervisors act on them, operators and dispatchers see
    // what is gathering.
    (
        "/hotline.intake.v1.IntakeService/ListClusters",
        &[Supervisor, Leader, Auditor, Operator, Dispatcher],
    ),
    (
        "/hotline.intake.v1.IntakeService/GetCluster",
        &[Supervisor, Leader, Auditor, Operator, Dispatcher],
    ),
    (
        "/hotline.intake.v1.IntakeService/GetCaller",
        &[Operator, Supervisor, Auditor],
    ),
    (
        "/hotline.intake.v1.IntakeService/FindTickets",
        &[Operator, Service, Dispatcher, Supervisor, Auditor],
    ),
    ("/hotline.intake.v1.IntakeService/GetTicket", READS_TICKETS),
    (
        "/hotline.intake.v1.IntakeService/GetTimeline",
        &[Operator, Dispatcher, Supervisor, Leader, Auditor, UnitStaff],
    ),
    ("/hotline.intake.v1.IntakeService/SetSurgeMode", &[Ops]),
    (
        "/hotline.intake.v1.IntakeService/GetSurgeMode",
        &[Ops, Operator, Dispatcher, Supervisor],
    ),
    (
        "/hotline.intake.v1.IntakeService/ListContacts",
        &[Operator, Service, ReturnVisit, Supervisor, Auditor],
    ),
    // The operator desk and the channel systems rate the intake contact,
    // return-visit staff (and the channel systems) a return visit: the
    // contact's kind is checked in `ratings::rules::may_rate`.
    (
        "/hotline.intake.v1.IntakeService/RateContact",
        &[Operator, Service, ReturnVisit],
    ),
    (
        "/hotline.intake.v1.IntakeService/ListRatings",
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
    // The centre's staff close check-backs.
    (
        "/hotline.intake.v1.IntakeService/RecordCheckBack",
        &[Operator, ReturnVisit, Supervisor],
    ),
    (
        "/hotline.intake.v1.IntakeService/ListCheckBacks",
        &[Operator, ReturnVisit, Supervisor, Leader, Auditor],
    ),
    // Units appeal (only a unit that holds or held the ticket:
    // `ratings::rules::appealing_unit`); supervisors decide.
    (
        "/hotline.intake.v1.IntakeService/AppealRating",
        &[UnitStaff],
    ),
    (
        "/hotline.intake.v1.IntakeService/DecideAppeal",
        &[Supervisor],
    ),
    // Return-visit staff take and record visits; the centre's overseers
    // list them (with the seed and rate each was decided on).
    (
        "/hotline.intake.v1.IntakeService/TakeReturnVisit",
        &[ReturnVisit],
    ),
    (
        "/hotline.intake.v1.IntakeService/RecordVisitAttempt",
        &[ReturnVisit],
    ),
    (
        "/hotline.intake.v1.IntakeService/ListReturnVisits",
        &[ReturnVisit, Supervisor, Leader, Auditor],
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_served_method_has_exactly_one_rule() {
        super::SERVED.assert_matches_contract();
    }
}
