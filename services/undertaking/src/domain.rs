//! The handling units' rules: the assignment state machine and what
//! feedback must contain. Pure: no IO.

use std::fmt;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::validate::Fields;
use hotline_proto::common::v1::{Feedback, FeedbackOutcome};
use hotline_sla::Stage;

pub const MAX_FEEDBACK_TEXT: usize = 4000;

/// Where an assignment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// 待签收
    PendingSign,
    /// 办理中
    Signed,
    /// 已反馈
    FedBack,
    /// 退单待审: returned, waiting for the centre.
    ReturnRequested,
    /// 已撤回: the ticket was re-dispatched elsewhere.
    Withdrawn,
}

impl State {
    pub const ALL: [State; 5] = [
        State::PendingSign,
        State::Signed,
        State::FedBack,
        State::ReturnRequested,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::PendingSign => "pending_sign",
            State::Signed => "signed",
            State::FedBack => "fed_back",
            State::ReturnRequested => "return_requested",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still expected to do something (withdrawn by a re-dispatch).
    pub fn open(self) -> bool {
        matches!(
            self,
            State::PendingSign | State::Signed | State::ReturnRequested
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::PendingSign => "pending sign-off",
            State::Signed => "signed",
            State::FedBack => "fed back",
            State::ReturnRequested => "returned, waiting for the centre",
            State::Withdrawn => "withdrawn",
        })
    }
}

/// What happens to an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 签收
    Sign,
    /// 反馈: the lead unit's single feedback.
    Feedback,
    /// A co-unit's part, submitted to the lead unit.
    SubmitPart,
    /// 退单: the unit returns it to the centre.
    Return,
    /// The centre rejects the return: back to the unit.
    RejectReturn,
    /// The ticket is re-dispatched elsewhere (the centre accepted a return,
    /// or a dispatcher moved it).
    Withdraw,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Sign,
        Action::Feedback,
        Action::SubmitPart,
        Action::Return,
        Action::RejectReturn,
        Action::Withdraw,
    ];
}

/// The one table of legal moves. Anything else is FAILED_PRECONDITION,
/// saying the current state.
pub fn transition(from: State, action: Action) -> Result<State, ApiError> {
    use Action as A;
    use State as S;
    let refuse = |why: &str| {
        Err(ApiError::precondition(format!(
            "{why}: the assignment is {from}"
        )))
    };
    match (from, action) {
        (S::PendingSign, A::Sign) => Ok(S::Signed),
        (S::Signed, A::Feedback | A::SubmitPart) => Ok(S::FedBack),
        (S::PendingSign, A::Return) => Ok(S::ReturnRequested),
        (S::ReturnRequested, A::RejectReturn) => Ok(S::PendingSign),
        (S::PendingSign | S::Signed | S::ReturnRequested, A::Withdraw) => Ok(S::Withdrawn),

        (S::Signed | S::FedBack, A::Sign) => refuse("already signed"),
        (S::PendingSign, A::Feedback | A::SubmitPart) => {
            refuse("not signed yet; sign for it before answering")
        }
        (S::FedBack, A::Feedback | A::SubmitPart) => refuse("already answered"),
        (S::Signed | S::FedBack, A::Return) => {
            refuse("already signed: only an assignment not yet signed for can be returned")
        }
        (S::ReturnRequested, A::Sign | A::Feedback | A::SubmitPart | A::Return) => {
            refuse("a return is waiting for the centre's decision")
        }
        (S::PendingSign | S::Signed | S::FedBack | S::Withdrawn, A::RejectReturn) => {
            refuse("no return is waiting for a decision")
        }
        (S::FedBack, A::Withdraw) => refuse("already answered; it cannot be withdrawn"),
        (S::Withdrawn, _) => refuse("the ticket was sent elsewhere"),
    }
}

/// A return is possible only within the sign-off limit.
pub fn check_return_in_time(
    now: DateTime<Utc>,
    sign_deadline: DateTime<Utc>,
) -> Result<(), ApiError> {
    if now > sign_deadline {
        return Err(ApiError::precondition(format!(
            "the sign-off limit ran out at {}; the assignment can no longer be returned",
            sign_deadline.to_rfc3339()
        )));
    }
    Ok(())
}

/// Where a return (退单) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnState {
    Pending,
    Accepted,
    Rejected,
}

impl ReturnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnState::Pending => "pending",
            ReturnState::Accepted => "accepted",
            ReturnState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnState> {
        [
            ReturnState::Pending,
            ReturnState::Accepted,
            ReturnState::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Why a unit returns an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnReason {
    NotOurDuty,
    NotOurArea,
    WrongCategory,
    InsufficientInformation,
}

impl ReturnReason {
    pub const ALL: [ReturnReason; 4] = [
        ReturnReason::NotOurDuty,
        ReturnReason::NotOurArea,
        ReturnReason::WrongCategory,
        ReturnReason::InsufficientInformation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReturnReason::NotOurDuty => "not_our_duty",
            ReturnReason::NotOurArea => "not_our_area",
            ReturnReason::WrongCategory => "wrong_category",
            ReturnReason::InsufficientInformation => "insufficient_information",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnReason> {
        ReturnReason::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A return that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReturn {
    pub reason: ReturnReason,
    pub duty_rule: String,
    pub note: String,
}

/// Checks a return's fields: a reason code and the duty rule relied on.
pub fn parse_return(
    reason: Option<ReturnReason>,
    duty_rule: &str,
    note: &str,
    f: &mut Fields,
) -> Option<NewReturn> {
    if reason.is_none() {
        f.add(
            "reason",
            "not_our_duty, not_our_area, wrong_category or insufficient_information",
        );
    }
    let duty_rule = f.text("duty_rule", duty_rule, 500);
    let note = f.optional_text("note", note, 2000);
    Some(NewReturn {
        reason: reason?,
        duty_rule,
        note,
    })
}

/// The limits of one whistle (街乡吹哨).
pub const MAX_SUMMONED: usize = 20;

/// The street and township units: the ones that may blow the whistle.
pub fn may_blow_whistle(unit_id: &str) -> bool {
    unit_id.starts_with("street-")
}

/// A whistle that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWhistle {
    pub summoned: Vec<String>,
    pub arrive_by: DateTime<Utc>,
    pub place: String,
    pub matter: String,
}

/// Checks a whistle: distinct departments other than the caller, an
/// arrival time still to come, a place and a matter.
pub fn parse_whistle(
    f: &mut Fields,
    caller: &str,
    summoned: &[String],
    arrive_by: Result<Option<DateTime<Utc>>, String>,
    now: DateTime<Utc>,
    place: &str,
    matter: &str,
) -> Option<NewWhistle> {
    let mut units: Vec<String> = Vec::new();
    if summoned.is_empty() || summoned.len() > MAX_SUMMONED {
        f.add(
            "summoned_unit_ids",
            format!("1 to {MAX_SUMMONED} departments"),
        );
    }
    for (i, raw) in summoned.iter().enumerate() {
        let u = f.code(&format!("summoned_unit_ids[{i}]"), raw, 64);
        if u.is_empty() {
            continue;
        }
        if u == caller {
            f.add(
                &format!("summoned_unit_ids[{i}]"),
                "a unit does not summon itself",
            );
        } else if units.contains(&u) {
            f.add(&format!("summoned_unit_ids[{i}]"), format!("{u:?} twice"));
        } else {
            units.push(u);
        }
    }
    match &arrive_by {
        Err(problem) => f.add("arrive_by", problem.clone()),
        Ok(None) => f.add("arrive_by", "required"),
        Ok(Some(t)) if *t <= now => f.add("arrive_by", "must be later than now"),
        Ok(Some(_)) => {}
    }
    let place = f.text("place", place, 500);
    let matter = f.text("matter", matter, 2000);
    Some(NewWhistle {
        summoned: units,
        arrive_by: arrive_by.ok()??,
        place,
        matter,
    })
}

/// Multi-unit work: only the lead unit gives the ticket's feedback, once
/// every co-unit's part is in; co-units submit parts.
pub fn check_role(lead: bool, action: Action, parts_missing: &[String]) -> Result<(), ApiError> {
    match (lead, action) {
        (false, Action::Feedback) => Err(ApiError::precondition(
            "a co-unit does not answer the requester: it submits its part to the lead unit (SubmitPart)",
        )),
        (true, Action::SubmitPart) => Err(ApiError::precondition(
            "the lead unit gives the feedback itself (SubmitFeedback)",
        )),
        (true, Action::Feedback) if !parts_missing.is_empty() => {
            Err(ApiError::precondition(format!(
                "waiting for the parts of co-units: {}",
                parts_missing.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

/// Checks that feedback carries what the standard requires for its
/// outcome; every missing part is named.
pub fn check_feedback(fb: Option<&Feedback>) -> Result<(), ApiError> {
    let Some(fb) = fb else {
        return Err(ApiError::invalid("feedback", "required"));
    };
    let mut f = Fields::new();
    f.text("feedback.summary", &fb.summary, MAX_FEEDBACK_TEXT);
    for (name, v) in [
        ("feedback.responsible_unit", &fb.responsible_unit),
        ("feedback.reason", &fb.reason),
        ("feedback.next_measures", &fb.next_measures),
        ("feedback.referral_channel", &fb.referral_channel),
    ] {
        f.optional_text(name, v, MAX_FEEDBACK_TEXT);
    }
    match FeedbackOutcome::try_from(fb.outcome) {
        Ok(FeedbackOutcome::Resolved) => {}
        Ok(FeedbackOutcome::Unresolved) => {
            // 主责单位、未解决原因、下一步工作措施、落实时间
            for (name, v) in [
                ("feedback.responsible_unit", &fb.responsible_unit),
                ("feedback.reason", &fb.reason),
                ("feedback.next_measures", &fb.next_measures),
            ] {
                if v.trim().is_empty() {
                    f.add(name, "required when the request is not resolved");
                }
            }
            if fb.measures_due.is_none() {
                f.add(
                    "feedback.measures_due",
                    "required when the request is not resolved",
                );
            }
        }
        Ok(FeedbackOutcome::CannotResolve) => {
            // 原因或困难、有无研究工作措施
            if fb.reason.trim().is_empty() {
                f.add(
                    "feedback.reason",
                    "required when the request cannot be resolved",
                );
            }
        }
        Ok(FeedbackOutcome::Explained) => {
            if fb.referral_channel.trim().is_empty() {
                f.add(
                    "feedback.referral_channel",
                    "required when the request is answered by explanation",
                );
            }
        }
        Ok(FeedbackOutcome::Unspecified) => f.add("feedback.outcome", "required"),
        Err(_) => f.add(
            "feedback.outcome",
            format!("unknown outcome {}", fb.outcome),
        ),
    }
    f.finish()
}

/// Where an extension request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionState {
    Pending,
    Approved,
    Rejected,
}

impl ExtensionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionState::Pending => "pending",
            ExtensionState::Approved => "approved",
            ExtensionState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ExtensionState> {
        [
            ExtensionState::Pending,
            ExtensionState::Approved,
            ExtensionState::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Checks an extension (延期) request: for a stage still running, asked
/// before its limit runs out, for a later deadline.
pub fn check_extension(
    assignment: State,
    stage: Stage,
    now: DateTime<Utc>,
    current_deadline: DateTime<Utc>,
    requested: DateTime<Utc>,
) -> Result<(), ApiError> {
    let running = match stage {
        Stage::SignOff => matches!(assignment, State::PendingSign | State::ReturnRequested),
        Stage::Feedback => assignment.open(),
        Stage::Dispatch | Stage::ReportIn | Stage::ManualDispatch => {
            return Err(ApiError::invalid(
                "stage",
                "only sign_off or feedback can be extended",
            ));
        }
    };
    if !running {
        return Err(ApiError::precondition(format!(
            "the {} stage is done: the assignment is {assignment}",
            stage.as_str()
        )));
    }
    if now >= current_deadline {
        return Err(ApiError::precondition(format!(
            "the {} limit has already run out; extensions are asked for before it",
            stage.as_str()
        )));
    }
    if requested <= current_deadline {
        return Err(ApiError::invalid(
            "requested_deadline",
            "must be later than the current deadline",
        ));
    }
    Ok(())
}

/// The centre's decision on a pending request.
pub fn decide_extension(from: ExtensionState, approve: bool) -> Result<ExtensionState, ApiError> {
    match from {
        ExtensionState::Pending if approve => Ok(ExtensionState::Approved),
        ExtensionState::Pending => Ok(ExtensionState::Rejected),
        done => Err(ApiError::precondition(format!(
            "the extension is already {}",
            done.as_str()
        ))),
    }
}

/// What a unit records while handling (contacts, progress, site visits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// 联系诉求人
    Contact,
    /// 办理进展
    Progress,
    /// 现场核查
    SiteVisit,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Progress => "progress",
            RecordKind::SiteVisit => "site_visit",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        [
            RecordKind::Contact,
            RecordKind::Progress,
            RecordKind::SiteVisit,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A handling record that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: RecordKind,
    pub occurred_at: DateTime<Utc>,
    pub way: String,
    pub result: String,
    pub note: String,
}

/// Checks a handling record's fields: a contact says how and with what
/// result, a site visit says where, nothing happened in the future.
pub fn parse_record(
    kind: Option<RecordKind>,
    occurred_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    way: &str,
    result: &str,
    note: &str,
) -> Result<NewRecord, ApiError> {
    let mut f = Fields::new();
    let way = f.optional_text("way", way, 200);
    let result = f.optional_text("result", result, 200);
    let note = f.optional_text("note", note, 2000);
    match kind {
        None => f.add("kind", "contact, progress or site_visit"),
        Some(RecordKind::Contact) => {
            if way.is_empty() {
                f.add(
                    "way",
                    "required for a contact: how the requester was reached",
                );
            }
            if result.is_empty() {
                f.add("result", "required for a contact");
            }
        }
        Some(RecordKind::SiteVisit) if way.is_empty() => {
            f.add("way", "required for a site visit: where");
        }
        Some(RecordKind::Progress) if note.is_empty() => {
            f.add("note", "required for a progress note")
        }
        Some(_) => {}
    }
    let occurred_at = occurred_at.unwrap_or(now);
    if occurred_at > now + chrono::Duration::minutes(1) {
        f.add("occurred_at", "must not be in the future");
    }
    f.finish()?;
    Ok(NewRecord {
        kind: kind.expect("checked"),
        occurred_at,
        way,
        result,
        note,
    })
}

/// Handling is recorded, and whistles blown, between sign-off and
/// feedback.
pub fn record_allowed(state: State) -> Result<(), ApiError> {
    match state {
        State::Signed => Ok(()),
        State::PendingSign | State::ReturnRequested => Err(ApiError::precondition(format!(
            "not signed yet: the assignment is {state}; sign for it first"
        ))),
        State::FedBack => Err(ApiError::precondition(
            "feedback already given: the assignment is fed back",
        )),
        State::Withdrawn => Err(ApiError::precondition(
            "the ticket was sent elsewhere: the assignment is withdrawn",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;

    #[test]
    fn every_state_and_action_is_decided() {
        for from in State::ALL {
            for action in Action::ALL {
                let legal = matches!(
                    (from, action),
                    (State::PendingSign, Action::Sign | Action::Return)
                        | (State::Signed, Action::Feedback | Action::SubmitPart)
                        | (State::ReturnRequested, Action::RejectReturn)
                        | (
                            State::PendingSign | State::Signed | State::ReturnRequested,
                            Action::Withdraw
                        )
                );
                match transition(from, action) {
                    Ok(_) => assert!(legal, "{from:?} {action:?} should be refused"),
                    Err(e) => {
                        assert!(!legal, "{from:?} {action:?} should be allowed");
                        assert_eq!(e.code, ErrorCode::FailedPrecondition);
                    }
                }
            }
        }
        assert!(
            transition(State::Signed, Action::Sign)
                .unwrap_err()
                .message
                .contains("already signed")
        );
        // Every refusal says where the assignment stands.
        for from in State::ALL {
            for action in Action::ALL {
                if let Err(e) = transition(from, action) {
                    assert!(
                        e.message.contains(&from.to_string()),
                        "{from:?} {action:?}: {}",
                        e.message
                    );
                }
            }
            if let Err(e) = record_allowed(from) {
                assert!(
                    e.message.contains(&from.to_string()),
                    "{from:?}: {}",
                    e.message
                );
            }
        }
    }

    fn fb(outcome: FeedbackOutcome) -> Feedback {
        Feedback {
            outcome: outcome as i32,
            summary: "已联系诉求人".into(),
            ..Default::default()
        }
    }

    #[test]
    fn resolved_needs_only_a_summary() {
        check_feedback(Some(&fb(FeedbackOutcome::Resolved))).unwrap();
        let mut empty = fb(FeedbackOutcome::Resolved);
        empty.summary.clear();
        assert!(
            check_feedback(Some(&empty))
                .unwrap_err()
                .message
                .contains("feedback.summary")
        );
    }

    #[test]
    fn unresolved_names_each_missing_part() {
        let e = check_feedback(Some(&fb(FeedbackOutcome::Unresolved))).unwrap_err();
        for part in [
            "responsible_unit",
            "reason",
            "next_measures",
            "measures_due",
        ] {
            assert!(
                e.message.contains(&format!("feedback.{part}")),
                "{part}: {}",
                e.message
            );
        }
    }

    #[test]
    fn cannot_resolve_and_explained_have_their_parts() {
        assert!(
            check_feedback(Some(&fb(FeedbackOutcome::CannotResolve)))
                .unwrap_err()
                .message
                .contains("feedback.reason")
        );
        assert!(
            check_feedback(Some(&fb(FeedbackOutcome::Explained)))
                .unwrap_err()
                .message
                .contains("feedback.referral_channel")
        );
        assert!(
            check_feedback(Some(&fb(FeedbackOutcome::Unspecified)))
                .unwrap_err()
                .message
                .contains("feedback.outcome")
        );
        assert!(check_feedback(None).is_err());
    }

    #[test]
    fn returns_come_in_time_with_a_reason_and_a_duty_rule() {
        let t = |m: i64| DateTime::from_timestamp(1_764_000_000 + m * 60, 0).unwrap();
        check_return_in_time(t(10), t(10)).unwrap();
        let e = check_return_in_time(t(11), t(10)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        assert!(e.message.contains("sign-off limit"), "{}", e.message);

        let mut f = Fields::new();
        let r = parse_return(Some(ReturnReason::NotOurDuty), "三定方案第三条", "", &mut f);
        assert!(f.finish().is_ok());
        assert_eq!(r.unwrap().reason, ReturnReason::NotOurDuty);
        let mut f = Fields::new();
        assert!(parse_return(None, " ", "", &mut f).is_none());
        let e = f.finish().unwrap_err();
        assert!(
            e.message.contains("reason") && e.message.contains("duty_rule"),
            "{}",
            e.message
        );
        for r in ReturnReason::ALL {
            assert_eq!(ReturnReason::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn whistles_summon_other_departments_to_come_later() {
        let t = |m: i64| DateTime::from_timestamp(1_764_000_000 + m * 60, 0).unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut f = Fields::new();
        let w = parse_whistle(
            &mut f,
            "street-110105001",
            &ids(&["bj-urban-management", "bj-housing"]),
            Ok(Some(t(30))),
            t(0),
            "建外街道某小区",
            "楼道堆物清理",
        );
        assert!(f.finish().is_ok());
        assert_eq!(w.unwrap().summoned.len(), 2);
        let mut f = Fields::new();
        parse_whistle(
            &mut f,
            "street-110105001",
            &ids(&["street-110105001", "bj-housing", "bj-housing"]),
            Ok(Some(t(0))),
            t(0),
            "",
            "",
        );
        let e = f.finish().unwrap_err();
        for part in [
            "summoned_unit_ids[0]",
            "summoned_unit_ids[2]",
            "arrive_by",
            "place",
            "matter",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
        assert!(may_blow_whistle("street-110105001"));
        assert!(!may_blow_whistle("bj-housing"));
    }

    #[test]
    fn extensions_are_asked_in_time_for_a_running_stage() {
        let t = |m: i64| DateTime::from_timestamp(1_764_000_000 + m * 60, 0).unwrap();
        check_extension(State::PendingSign, Stage::SignOff, t(0), t(10), t(20)).unwrap();
        check_extension(State::Signed, Stage::Feedback, t(0), t(10), t(20)).unwrap();
        let e = check_extension(State::Signed, Stage::SignOff, t(0), t(10), t(20)).unwrap_err();
        assert_eq!(e.code, ErrorCode::FailedPrecondition);
        let e =
            check_extension(State::PendingSign, Stage::SignOff, t(10), t(10), t(20)).unwrap_err();
        assert!(e.message.contains("already run out"));
        let e = check_extension(State::PendingSign, Stage::SignOff, t(0), t(10), t(5)).unwrap_err();
        assert!(e.message.contains("requested_deadline"));
        let e =
            check_extension(State::PendingSign, Stage::Dispatch, t(0), t(10), t(20)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
    }

    #[test]
    fn an_extension_is_decided_once() {
        assert_eq!(
            decide_extension(ExtensionState::Pending, true),
            Ok(ExtensionState::Approved)
        );
        assert_eq!(
            decide_extension(ExtensionState::Pending, false),
            Ok(ExtensionState::Rejected)
        );
        for done in [ExtensionState::Approved, ExtensionState::Rejected] {
            assert!(
                decide_extension(done, true)
                    .unwrap_err()
                    .message
                    .contains("already")
            );
        }
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use hotline_common::ErrorCode;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn feedback_checks_never_panic(
            outcome in -2i32..8,
            summary in any::<String>(),
            unit in any::<String>(),
            reason in any::<String>(),
            measures in any::<String>(),
            referral in any::<String>(),
            long in 0usize..6000,
        ) {
            let fb = Feedback {
                outcome,
                summary: summary + &"x".repeat(long),
                responsible_unit: unit,
                reason,
                next_measures: measures,
                measures_due: None,
                measures_under_study: false,
                referral_channel: referral,
            };
            if let Err(e) = check_feedback(Some(&fb)) {
                prop_assert_eq!(e.code, ErrorCode::InvalidArgument);
                prop_assert!(e.message.contains("feedback."));
            }
        }
    }

    #[test]
    fn handling_records_say_what_the_standard_needs() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let ok = parse_record(Some(RecordKind::Contact), None, now, "电话", "已联系", "").unwrap();
        assert_eq!(ok.occurred_at, now);
        let e = parse_record(Some(RecordKind::Contact), None, now, "", "", "").unwrap_err();
        assert!(
            e.message.contains("way") && e.message.contains("result"),
            "{}",
            e.message
        );
        assert!(parse_record(Some(RecordKind::SiteVisit), None, now, "", "", "x").is_err());
        assert!(parse_record(Some(RecordKind::Progress), None, now, "", "", "").is_err());
        assert!(
            parse_record(None, None, now, "a", "b", "c")
                .unwrap_err()
                .message
                .contains("kind")
        );
        let later = now + chrono::Duration::hours(1);
        assert!(
            parse_record(Some(RecordKind::Progress), Some(later), now, "", "", "n")
                .unwrap_err()
                .message
                .contains("occurred_at")
        );
        assert!(record_allowed(State::Signed).is_ok());
        assert_eq!(
            record_allowed(State::PendingSign).unwrap_err().code,
            ErrorCode::FailedPrecondition
        );
        assert_eq!(
            record_allowed(State::FedBack).unwrap_err().code,
            ErrorCode::FailedPrecondition
        );
    }

    #[test]
    fn the_lead_answers_once_the_parts_are_in() {
        let missing = vec!["bj-cdc".to_string()];
        assert!(
            check_role(true, Action::Feedback, &missing)
                .unwrap_err()
                .message
                .contains("bj-cdc")
        );
        assert!(check_role(true, Action::Feedback, &[]).is_ok());
        assert!(check_role(false, Action::Feedback, &[]).is_err());
        assert!(check_role(false, Action::SubmitPart, &[]).is_ok());
        assert!(check_role(true, Action::SubmitPart, &[]).is_err());
        assert!(check_role(false, Action::Sign, &[]).is_ok());
    }
}
