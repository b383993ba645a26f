//! The stable reasons a refusal carries, for callers that branch on errors
//! without reading their text: each `FAILED_PRECONDITION` and
//! `PERMISSION_DENIED` (and a few others) carries a `google.rpc.ErrorInfo`
//! whose `reason` is one of these, whose `domain` is [`DOMAIN`], and whose
//! metadata names the current state and the ids concerned. Every reason is
//! listed in `docs/ERRORS.md` with what a client should do; a test checks
//! the list against it.

/// The `ErrorInfo.domain` of every hotline error.
pub const DOMAIN: &str = "hotline.gov.cn";

macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $name:ident = $text:literal,)*) => {
        /// Why a call was refused, as `ErrorInfo.reason` says it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[doc = $doc])* $name,)*
        }

        impl Reason {
            /// Every reason, in the order `docs/ERRORS.md` lists them.
            pub const ALL: &'static [Reason] = &[$(Reason::$name),*];

            /// The reason as sent: UPPER_SNAKE, stable across versions.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => $text,)*
                }
            }
        }
    };
}

reasons! {
    /// The assignment is signed for already (signing again, or returning a
    /// signed assignment).
    AssignmentAlreadySigned = "ASSIGNMENT_ALREADY_SIGNED",
    /// The assignment is not signed for yet.
    AssignmentNotSigned = "ASSIGNMENT_NOT_SIGNED",
    /// The assignment was answered (feedback or part) already.
    AssignmentAlreadyAnswered = "ASSIGNMENT_ALREADY_ANSWERED",
    /// The ticket was sent elsewhere; the assignment is withdrawn.
    AssignmentWithdrawn = "ASSIGNMENT_WITHDRAWN",
    /// A return of the assignment waits for the centre's decision.
    ReturnPending = "RETURN_PENDING",
    /// No return of the assignment waits for a decision.
    NoReturnPending = "NO_RETURN_PENDING",
    /// The return was decided (accepted or rejected) already.
    ReturnAlreadyDecided = "RETURN_ALREADY_DECIDED",
    /// The assignment's routing hop is no longer the one in force, or the
    /// caller named a hop that is not.
    HopSuperseded = "HOP_SUPERSEDED",
    /// The ticket's lead unit answered the handling round in force.
    RoundAlreadyAnswered = "ROUND_ALREADY_ANSWERED",
    /// The assignment's handling round is no longer the one in force: a
    /// return visit sent the ticket back for handling again (重办).
    RoundSuperseded = "ROUND_SUPERSEDED",
    /// Only the lead unit gives the feedback.
    LeadUnitOnly = "LEAD_UNIT_ONLY",
    /// Only a co-unit submits a part.
    CoUnitOnly = "CO_UNIT_ONLY",
    /// Co-units have not submitted their parts yet.
    PartsMissing = "PARTS_MISSING",
    /// The stage is done; there is nothing to extend.
    StageDone = "STAGE_DONE",
    /// The time limit has run out already.
    LimitPassed = "LIMIT_PASSED",
    /// An extension of the stage waits for a decision already.
    ExtensionPending = "EXTENSION_PENDING",
    /// The extension was decided already.
    ExtensionAlreadyDecided = "EXTENSION_ALREADY_DECIDED",
    /// The summoned unit reported in already.
    AlreadyReportedIn = "ALREADY_REPORTED_IN",
    /// The clock asked to move is not running.
    ClockNotRunning = "CLOCK_NOT_RUNNING",
    /// The ticket waits in the manual queue already.
    AlreadyInManualQueue = "ALREADY_IN_MANUAL_QUEUE",
    /// The catalogue version is published already.
    CatalogueVersionExists = "CATALOGUE_VERSION_EXISTS",
    /// A watch's resume cursor is older than the events kept.
    CursorExpired = "CURSOR_EXPIRED",
    /// The service contact is rated already (one rating per contact).
    ContactAlreadyRated = "CONTACT_ALREADY_RATED",
    /// The caller's roles may not rate this kind of contact.
    RoleNotForContact = "ROLE_NOT_FOR_CONTACT",
    /// The check-back of a rating is recorded already.
    CheckBackAlreadyRecorded = "CHECK_BACK_ALREADY_RECORDED",
    /// An appeal of the rating waits for a decision already.
    AppealPending = "APPEAL_PENDING",
    /// The appeal was decided already.
    AppealAlreadyDecided = "APPEAL_ALREADY_DECIDED",
    /// The rating was set aside by an upheld appeal.
    RatingNotCounted = "RATING_NOT_COUNTED",
    /// The caller's unit never held an assignment of the ticket.
    UnitNeverHeldTicket = "UNIT_NEVER_HELD_TICKET",
    /// The return visit is not held by the caller (never taken, or taken by
    /// another visitor).
    VisitNotTaken = "VISIT_NOT_TAKEN",
    /// The return visit is closed already.
    VisitClosed = "VISIT_CLOSED",
    /// The idempotency key was used before for a different request.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED",
    /// The method is not served on this port.
    MethodNotServed = "METHOD_NOT_SERVED",
    /// None of the caller's roles may call the method.
    RoleNotAllowed = "ROLE_NOT_ALLOWED",
    /// Unit staff asked about another unit.
    OtherUnit = "OTHER_UNIT",
    /// Unit staff whose identity names no unit.
    NoUnit = "NO_UNIT",
    /// Only intake hands tickets in.
    IntakeOnly = "INTAKE_ONLY",
    /// Only a street or township unit blows the whistle.
    StreetOrTownshipOnly = "STREET_OR_TOWNSHIP_ONLY",
    /// The unit is not in the dispatch catalogue in force.
    UnitNotInCatalogue = "UNIT_NOT_IN_CATALOGUE",
    /// An exclusion of the ticket from the unit's evaluation is proposed or
    /// in force already.
    TicketAlreadyExcluded = "TICKET_ALREADY_EXCLUDED",
    /// The exclusion was reversed already.
    ExclusionAlreadyReversed = "EXCLUSION_ALREADY_REVERSED",
    /// The exclusion was approved or rejected already.
    ExclusionAlreadyDecided = "EXCLUSION_ALREADY_DECIDED",
    /// The exclusion was never approved (proposed or rejected): there is
    /// nothing to reverse.
    ExclusionNotApproved = "EXCLUSION_NOT_APPROVED",
    /// The special report is submitted, issued or closed: only a draft or a report sent back is revised.
    ReportNotEditable = "REPORT_NOT_EDITABLE",
    /// The special report is not a draft (submitting it again, or one sent back before revising).
    ReportNotDraft = "REPORT_NOT_DRAFT",
    /// The special report is not waiting for a leader's decision.
    ReportNotSubmitted = "REPORT_NOT_SUBMITTED",
    /// The special report's feedback date has passed: it cannot be issued with it.
    ReportFeedbackDatePassed = "REPORT_FEEDBACK_DATE_PASSED",
    /// The unit's written feedback to the special report is not awaited (given and waiting, or accepted).
    ReportFeedbackNotAwaited = "REPORT_FEEDBACK_NOT_AWAITED",
    /// The unit's written feedback to the special report is not waiting for a decision.
    ReportFeedbackNotSubmitted = "REPORT_FEEDBACK_NOT_SUBMITTED",
    /// A deadline case closes when its late stage is done, not by hand.
    CaseClosesWithItsStage = "CASE_CLOSES_WITH_ITS_STAGE",
    /// The case is closed already.
    CaseAlreadyClosed = "CASE_ALREADY_CLOSED",
    /// A shirking case against the unit on the ticket is open already.
    ShirkingCaseOpen = "SHIRKING_CASE_OPEN",
    /// The on-site division is recorded already.
    DivisionAlreadyRecorded = "DIVISION_ALREADY_RECORDED",
    /// The notice is submitted or published: only a draft or a notice sent
    /// back is revised.
    NoticeNotEditable = "NOTICE_NOT_EDITABLE",
    /// The notice is not a draft.
    NoticeNotDraft = "NOTICE_NOT_DRAFT",
    /// The notice is not waiting for a leader's decision.
    NoticeNotSubmitted = "NOTICE_NOT_SUBMITTED",
    /// The unit is not offered for an inspection on that basis in that
    /// period.
    NotAnInspectionCandidate = "NOT_AN_INSPECTION_CANDIDATE",
    /// The inspection is rectified or closed: no rectification is awaited.
    InspectionNotOpen = "INSPECTION_NOT_OPEN",
    /// The inspection's rectification is not reported yet (or it is closed).
    InspectionNotRectified = "INSPECTION_NOT_RECTIFIED",
    /// The meeting's minutes are recorded already.
    MeetingAlreadyRecorded = "MEETING_ALREADY_RECORDED",
    /// The meeting action is reported done already.
    MeetingActionDone = "MEETING_ACTION_DONE",
    /// The knowledge-base article belongs to another unit.
    ArticleOfAnotherUnit = "ARTICLE_OF_ANOTHER_UNIT",
    /// The article version is not a draft (approved, superseded, expired,
    /// or rewritten as a newer draft).
    ArticleNotDraft = "ARTICLE_NOT_DRAFT",
    /// The article has no version offered now (none approved, or it is
    /// withdrawn or past its validity), or not the version named.
    ArticleNotOffered = "ARTICLE_NOT_OFFERED",
    /// Too many wrong tries of a ticket number and phone: the requester's
    /// own view is closed to that number or phone for a while.
    GuessesExhausted = "GUESSES_EXHAUSTED",
    /// The ticket is closed (办结): a request can no longer be linked to it
    /// as a repeat.
    TicketClosed = "TICKET_CLOSED",
    /// A resumed upload did not start where the bytes held end.
    UploadOffsetMismatch = "UPLOAD_OFFSET_MISMATCH",
    /// An attachment names media the hotline does not hold.
    MediaNotHeld = "MEDIA_NOT_HELD",
    /// The request is not awaiting acceptance: it was accepted already, or
    /// never waited (a phone call).
    NotAwaitingAcceptance = "NOT_AWAITING_ACCEPTANCE",
}

impl Reason {
    /// The reason a peer sent, if it is one of ours.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper_snake(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('_')
            && !s.ends_with('_')
            && !s.contains("__")
            && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    }

    #[test]
    fn every_reason_is_upper_snake_unique_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(upper_snake(r.as_str()), "{r:?} is not UPPER_SNAKE");
            assert!(r.as_str().len() <= 63, "{r} is too long for ErrorInfo");
            assert!(seen.insert(r.as_str()), "{r} twice");
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Reason::parse("NOT_A_REASON"), None);
    }

    /// docs/ERRORS.md lists every reason, and only those, in its table.
    #[test]
    fn every_reason_is_documented() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md");
        let doc = std::fs::read_to_string(path).expect("docs/ERRORS.md");
        let section = doc
            .split("## Reasons")
            .nth(1)
            .expect("docs/ERRORS.md has a section \"## Reasons\"");
        let section = section.split("\n## ").next().unwrap_or(section);
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        for r in Reason::ALL {
            assert!(
                listed.contains(&r.as_str()),
                "{r} is not listed in docs/ERRORS.md"
            );
        }
        for l in &listed {
            assert!(
                Reason::parse(l).is_some(),
                "docs/ERRORS.md lists {l}, which no code sends"
            );
        }
        assert_eq!(listed.len(), Reason::ALL.len(), "a reason listed twice");
    }
}
