//! What feedback (反馈) must contain per outcome, and who gives it: the lead
//! unit, once every co-unit's part is in. Pure: no IO.

use chrono::{DateTime, Utc};
use hotline_common::ids::UnitId;
use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::{Feedback, FeedbackOutcome};

use crate::assignments::rules::Action;
use crate::window::{self, MAX_MEASURES_AHEAD, Window};

pub const MAX_FEEDBACK_TEXT: usize = 4000;

/// 有无研究工作措施: whether measures are being studied, as stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasuresStudied {
    NotStated,
    Yes,
    No,
}

impl MeasuresStudied {
    /// What a feedback says: `Feedback.measures_under_study` has presence
    /// (`optional bool`), so "not stated" is told from "no".
    pub fn of(fb: &Feedback) -> MeasuresStudied {
        match fb.measures_under_study {
            Some(true) => MeasuresStudied::Yes,
            Some(false) => MeasuresStudied::No,
            None => MeasuresStudied::NotStated,
        }
    }
}

/// Checks that feedback carries what the standard requires for its
/// outcome; every missing part is named.
pub fn check_feedback(fb: Option<&Feedback>) -> Result<(), ApiError> {
    let Some(fb) = fb else {
        return Err(ApiError::invalid("feedback", "required"));
    };
    check_content(fb, MeasuresStudied::of(fb))
}

/// The content rules, with 有无研究工作措施 as stated.
pub fn check_content(fb: &Feedback, studied: MeasuresStudied) -> Result<(), ApiError> {
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
            if studied == MeasuresStudied::NotStated {
                f.add(
                    "feedback.measures_under_study",
                    "required when the request cannot be resolved: say whether measures are being studied",
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
    window::read(&mut f, "feedback.measures_due", fb.measures_due.as_ref());
    f.finish()
}

/// 落实时间, when stated: not before the ticket was accepted, at most
/// [`MAX_MEASURES_AHEAD`] from now.
pub fn check_measures_due(
    fb: &Feedback,
    accepted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut f = Fields::new();
    if let Some(due) = window::read(&mut f, "feedback.measures_due", fb.measures_due.as_ref()) {
        Window::planned(
            accepted_at.map(|t| (t, "the ticket was accepted")),
            now,
            MAX_MEASURES_AHEAD,
            "three years from now",
        )
        .check(&mut f, "feedback.measures_due", due);
    }
    f.finish()
}

/// Multi-unit work: only the lead unit gives the ticket's feedback, once
/// every co-unit's part is in; co-units submit parts.
pub fn check_role(lead: bool, action: Action, parts_missing: &[UnitId]) -> Result<(), ApiError> {
    match (lead, action) {
        (false, Action::Feedback) => Err(ApiError::precondition(
            Reason::LeadUnitOnly,
            "a co-unit does not answer the requester: it submits its part to the lead unit (SubmitPart)",
        )),
        (true, Action::SubmitPart) => Err(ApiError::precondition(
            Reason::CoUnitOnly,
            "the lead unit gives the feedback itself (SubmitFeedback)",
        )),
        (true, Action::Feedback) if !parts_missing.is_empty() => {
            let missing = parts_missing
                .iter()
                .map(UnitId::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            Err(ApiError::precondition(
                Reason::PartsMissing,
                format!("waiting for the parts of co-units: {missing}"),
            )
            .with("unit_ids", missing.replace(' ', "")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_common::ErrorCode;
    use hotline_common::ids::Id;
    use hotline_common::time::to_proto;

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
    fn cannot_resolve_states_the_reason_and_whether_measures_are_studied() {
        let mut cannot = fb(FeedbackOutcome::CannotResolve);
        let e = check_feedback(Some(&cannot)).unwrap_err();
        assert!(e.message.contains("feedback.reason"), "{}", e.message);
        cannot.reason = "涉及历史遗留产权问题".into();
        for studied in [MeasuresStudied::Yes, MeasuresStudied::No] {
            check_content(&cannot, studied).unwrap();
        }
        let e = check_content(&cannot, MeasuresStudied::NotStated).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.fields.len(), 1, "{}", e.message);
        assert_eq!(e.fields[0].0, "feedback.measures_under_study");
        // Only an unresolvable request has to say it.
        check_content(&fb(FeedbackOutcome::Resolved), MeasuresStudied::NotStated).unwrap();
        cannot.measures_under_study = Some(true);
        assert_eq!(MeasuresStudied::of(&cannot), MeasuresStudied::Yes);
        cannot.measures_under_study = Some(false);
        assert_eq!(MeasuresStudied::of(&cannot), MeasuresStudied::No);
        cannot.measures_under_study = None;
        assert_eq!(MeasuresStudied::of(&cannot), MeasuresStudied::NotStated);
    }

    #[test]
    fn explained_and_unspecified_have_their_parts() {
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
    fn measures_are_due_after_acceptance_and_not_absurdly_late() {
        let accepted = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let now = accepted + chrono::Duration::days(2);
        let due = |t: DateTime<Utc>| Feedback {
            measures_due: Some(to_proto(t)),
            ..fb(FeedbackOutcome::Unresolved)
        };
        check_measures_due(&due(now + chrono::Duration::days(30)), Some(accepted), now).unwrap();
        check_measures_due(&fb(FeedbackOutcome::Resolved), Some(accepted), now).unwrap();
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        for bad in [accepted - chrono::Duration::hours(1), year_255000] {
            let e = check_measures_due(&due(bad), Some(accepted), now).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert_eq!(e.fields[0].0, "feedback.measures_due", "{}", e.message);
        }
    }

    #[test]
    fn the_lead_answers_once_the_parts_are_in() {
        let missing = vec![UnitId::parse("bj-cdc").unwrap()];
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
            due in proptest::option::of((any::<i64>(), any::<i32>())),
            studied in proptest::option::of(any::<bool>()),
        ) {
            let fb = Feedback {
                outcome,
                summary: summary + &"x".repeat(long),
                responsible_unit: unit,
                reason,
                next_measures: measures,
                measures_due: due.map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
                measures_under_study: studied,
                referral_channel: referral,
            };
            let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
            for r in [check_feedback(Some(&fb)), check_measures_due(&fb, Some(now), now)] {
                if let Err(e) = r {
                    prop_assert_eq!(e.code, ErrorCode::InvalidArgument);
                    prop_assert!(e.message.contains("feedback."));
                }
            }
        }
    }
}
