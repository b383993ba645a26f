//! The rules of repeats (重复件): which open tickets a request being taken
//! may repeat, how alike two texts are, and what a link may be. Pure.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::ids::{AreaCode, CategoryCode, TicketNo};
use hotline_common::reason::Reason;
use hotline_common::validate::Fields;
use hotline_proto::intake::v1 as pb;

use crate::knowledge::segment;
use crate::tickets::rules::{MAX_CONTENT_CHARS, check_phone};

/// Candidates offered at most.
pub const MAX_CANDIDATES: usize = 20;
/// Open tickets at a place read at most, newest first, to compare texts.
pub const PLACE_SCAN: i64 = 200;

/// A FindRepeats request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The phone as digits, when given.
    pub phone: Option<String>,
    pub district: Option<AreaCode>,
    pub street: Option<AreaCode>,
    pub category: Option<CategoryCode>,
    pub content: String,
}

pub fn parse_find(req: &pb::FindRepeatsRequest) -> Result<Probe, ApiError> {
    let mut f = Fields::new();
    let phone = req.phone.trim();
    let digits = check_phone(&mut f, "phone", phone);
    let (district, street) = match &req.location {
        None => (None, None),
        Some(l) => {
            let district = f.optional_id::<AreaCode>("location.district_code", &l.district_code);
            let street = f.optional_id::<AreaCode>("location.street_code", &l.street_code);
            f.optional_text("location.address", &l.address, 500);
            if !l.other_district_codes.is_empty() {
                f.add("location.other_district_codes", "not used to find repeats");
            }
            (district, street)
        }
    };
    let category = f.optional_id::<CategoryCode>("category_code", &req.category_code);
    let content = f.text("content", &req.content, MAX_CONTENT_CHARS);
    f.finish()?;
    Ok(Probe {
        phone: (!phone.is_empty()).then_some(digits),
        district,
        street,
        category,
        content,
    })
}

/// The words two texts are compared on: the segmenter's words and the
/// character bigrams, without single characters (too common to tell texts
/// apart).
pub fn words(text: &str) -> HashSet<String> {
    segment::words(text)
        .into_iter()
        .filter(|w| w.chars().count() > 1)
        .collect()
}

/// How alike two texts are: the share of the shorter one's words found in
/// the other (the overlap coefficient, so that a short call-back "暖气还是
/// 不热" still meets the longer first account), 0 when either has none.
pub fn similarity(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let shorter = a.len().min(b.len());
    if shorter == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / shorter as f64
}

/// An open ticket as read to be offered.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub ticket_no: String,
    pub accepted_at: DateTime<Utc>,
    pub category_code: String,
    pub district_code: String,
    pub street_code: Option<String>,
    pub phone_digits: Option<String>,
    pub content: String,
    pub times_raised: i32,
}

/// The candidates among the open tickets read (the requester's and those
/// of the category at the place): accepted since `since`, each once, with
/// every basis that applies; a ticket at the place only when its text is
/// alike enough (a given street must match too); most similar first, then
/// newest; at most [`MAX_CANDIDATES`].
pub fn candidates(
    probe: &Probe,
    read: Vec<Open>,
    min_similarity: f64,
    since: DateTime<Utc>,
) -> Vec<pb::RepeatCandidate> {
    let mine = words(&probe.content);
    let mut seen = HashSet::new();
    let mut out: Vec<(f64, DateTime<Utc>, pb::RepeatCandidate)> = Vec::new();
    for t in read {
        if t.accepted_at < since || !seen.insert(t.ticket_no.clone()) {
            continue;
        }
        let similarity = similarity(&mine, &words(&t.content));
        let mut bases = Vec::new();
        if probe.phone.is_some() && t.phone_digits == probe.phone {
            bases.push(pb::RepeatBasis::SameRequester as i32);
        }
        let same_place = probe
            .category
            .as_ref()
            .is_some_and(|c| c.as_str() == t.category_code)
            && probe
                .district
                .as_ref()
                .is_some_and(|d| d.as_str() == t.district_code)
            && probe
                .street
                .as_ref()
                .is_none_or(|s| t.street_code.as_deref() == Some(s.as_str()));
        if same_place && similarity >= min_similarity {
            bases.push(pb::RepeatBasis::SamePlace as i32);
        }
        if bases.is_empty() {
            continue;
        }
        out.push((
            similarity,
            t.accepted_at,
            pb::RepeatCandidate {
                ticket_no: t.ticket_no,
                bases,
                similarity,
                accepted_at: Some(hotline_common::time::to_proto(t.accepted_at)),
                category_code: t.category_code,
                content: t.content,
                times_raised: t.times_raised,
            },
        ));
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    out.into_iter()
        .take(MAX_CANDIDATES)
        .map(|(_, _, c)| c)
        .collect()
}

/// Checks a submission's `repeat_of`: a ticket number, not with a direct
/// answer or a referral.
pub fn parse_link(raw: &str, diverted: bool) -> Result<TicketNo, ApiError> {
    let mut f = Fields::new();
    let no = f.id::<TicketNo>("repeat_of", raw);
    if diverted {
        f.add(
            "repeat_of",
            "a repeat is not also answered directly or referred",
        );
    }
    f.finish()?;
    no.ok_or_else(|| ApiError::internal("a checked field is missing"))
}

/// The parent a link goes to, as read under its lock: the ticket itself,
/// or the first ticket when it is a repeat; never a closed one.
#[derive(Debug, Clone, PartialEq)]
pub struct Parent {
    pub ticket_no: String,
    pub repeat_of: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// The ticket a repeat is linked to (the first of a chain), or why not.
pub fn link_target(named: &str, p: Option<Parent>) -> Result<String, ApiError> {
    let Some(p) = p else {
        return Err(ApiError::not_found(format!(
            "ticket {named} (repeat_of) does not exist"
        )));
    };
    if let Some(at) = p.closed_at {
        return Err(ApiError::precondition(
            Reason::TicketClosed,
            format!(
                "ticket {} is closed: submit the request as a new one",
                p.ticket_no
            ),
        )
        .with("ticket_no", &p.ticket_no)
        .with("closed_at", at.to_rfc3339()));
    }
    Ok(p.repeat_of.unwrap_or(p.ticket_no))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hotline_common::ids::Id;

    fn open(no: &str, content: &str, phone: Option<&str>, street: Option<&str>) -> Open {
        Open {
            ticket_no: no.into(),
            accepted_at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            category_code: "heating".into(),
            district_code: "110105".into(),
            street_code: street.map(Into::into),
            phone_digits: phone.map(Into::into),
            content: content.into(),
            times_raised: 1,
        }
    }

    fn probe(content: &str, phone: Option<&str>) -> Probe {
        Probe {
            phone: phone.map(Into::into),
            district: AreaCode::parse("110105").ok(),
            street: AreaCode::parse("110105001").ok(),
            category: CategoryCode::parse("heating").ok(),
            content: content.into(),
        }
    }

    #[test]
    fn alike_texts_score_higher_than_unrelated_ones() {
        let a = words("我家暖气不热，室温只有十五度");
        let b = words("暖气不热，家里室温才十五度左右");
        let c = words("小区门口的路灯坏了");
        assert!(similarity(&a, &b) > 0.4, "{}", similarity(&a, &b));
        assert!(similarity(&a, &c) < 0.1, "{}", similarity(&a, &c));
        assert_eq!(similarity(&HashSet::new(), &HashSet::new()), 0.0);
    }

    #[test]
    fn the_requester_own_tickets_and_alike_ones_at_the_place_are_offered() {
        let read = vec![
            open("A", "小区门口的路灯坏了", Some("13811112222"), None),
            open(
                "B",
                "暖气不热，家里室温才十五度左右",
                None,
                Some("110105001"),
            ),
            open(
                "C",
                "暖气不热，家里室温才十五度左右",
                None,
                Some("110105002"),
            ),
            open("D", "楼上装修噪音大", None, Some("110105001")),
            open(
                "B",
                "暖气不热，家里室温才十五度左右",
                None,
                Some("110105001"),
            ),
        ];
        let got = candidates(
            &probe("我家暖气不热，室温只有十五度", Some("13811112222")),
            read,
            0.4,
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        );
        let nos: Vec<&str> = got.iter().map(|c| c.ticket_no.as_str()).collect();
        assert_eq!(nos, ["B", "A"], "{got:?}");
        assert_eq!(got[0].bases, [pb::RepeatBasis::SamePlace as i32]);
        assert_eq!(got[1].bases, [pb::RepeatBasis::SameRequester as i32]);
    }

    #[test]
    fn a_link_goes_to_the_first_open_ticket() {
        let p = |repeat_of: Option<&str>, closed: bool| Parent {
            ticket_no: "BJ2".into(),
            repeat_of: repeat_of.map(Into::into),
            closed_at: closed.then(Utc::now),
        };
        assert_eq!(link_target("BJ2", Some(p(None, false))).unwrap(), "BJ2");
        assert_eq!(
            link_target("BJ2", Some(p(Some("BJ1"), false))).unwrap(),
            "BJ1"
        );
        let e = link_target("BJ2", Some(p(None, true))).unwrap_err();
        assert_eq!(e.reason, Some(Reason::TicketClosed));
        assert!(
            link_target("BJ9", None)
                .unwrap_err()
                .message
                .contains("BJ9")
        );
        assert!(parse_link("BJ2", true).is_err());
        assert!(parse_link("", false).is_err());
    }

    #[test]
    fn bad_input_is_named() {
        let e = parse_find(&pb::FindRepeatsRequest {
            phone: "abc".into(),
            category_code: "no such".into(),
            content: String::new(),
            ..Default::default()
        })
        .unwrap_err()
        .message;
        for field in ["phone", "category_code", "content"] {
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
