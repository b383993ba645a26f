//! The rules of the knowledge base: what a well-formed article and search
//! are, the review states, and who may touch which unit's articles. Pure.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::auth::{Identity, Role};
use hotline_common::ids::{CategoryCode, UnitId};
use hotline_common::paging::Page;
use hotline_common::validate::Fields;
use hotline_proto::intake::v1 as pb;

pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_ANSWER_CHARS: usize = 8000;
pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_QUERY_CHARS: usize = 500;
pub const MAX_NOTE_CHARS: usize = 2000;
pub const DEFAULT_HITS: usize = 5;
pub const MAX_HITS: usize = 20;
pub const MAX_SHARE_DAYS: i64 = 400;

hotline_common::sql_enum!(
    /// The review state of one version.
    ArticleState, pb::ArticleState, "article state", {
        Draft = "draft",
        Approved = "approved",
        Superseded = "superseded",
        Expired = "expired",
    }
);

/// The number of the `seq`-th article, e.g. `KB000123`.
pub fn article_id(seq: i64) -> String {
    format!("KB{seq:06}")
}

/// An article id as given: "KB" and digits.
fn parse_article_id(f: &mut Fields, field: &str, raw: &str) -> Option<String> {
    let v = raw.trim();
    let ok = v.len() <= 20
        && v.strip_prefix("KB")
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
    if v.is_empty() {
        f.add(field, "required");
        None
    } else if !ok {
        f.add(field, "\"KB\" and digits, e.g. \"KB000123\"");
        None
    } else {
        Some(v.to_string())
    }
}

/// A proposal that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// `None`: a new article.
    pub article_id: Option<String>,
    pub owning_unit: Option<UnitId>,
    pub question: String,
    pub answer: String,
    pub category_code: CategoryCode,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

fn optional_time(
    f: &mut Fields,
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Option<DateTime<Utc>> {
    t.and_then(|t| f.time(field, Some(t)))
}

/// Checks a proposal; `categories` are the catalogue's codes.
pub fn parse_propose(
    req: &pb::ProposeArticleRequest,
    is_category: impl Fn(&str) -> bool,
) -> Result<Proposal, ApiError> {
    let mut f = Fields::new();
    let article_id = if req.article_id.trim().is_empty() {
        None
    } else {
        parse_article_id(&mut f, "article_id", &req.article_id)
    };
    let owning_unit = f.optional_id::<UnitId>("owning_unit_id", &req.owning_unit_id);
    let question = f.text("question", &req.question, MAX_QUESTION_CHARS);
    let answer = f.text("answer", &req.answer, MAX_ANSWER_CHARS);
    let category_code = f.id::<CategoryCode>("category_code", &req.category_code);
    if let Some(c) = &category_code
        && !is_category(c.as_str())
    {
        f.add(
            "category_code",
            format!("unknown category {:?}", c.as_str()),
        );
    }
    let valid_from = optional_time(&mut f, "valid_from", req.valid_from.as_ref());
    let valid_until = optional_time(&mut f, "valid_until", req.valid_until.as_ref());
    if let (Some(a), Some(b)) = (valid_from, valid_until)
        && b <= a
    {
        f.add("valid_until", "must be after valid_from");
    }
    f.finish()?;
    let Some(category_code) = category_code else {
        return Err(ApiError::internal("a checked field is missing"));
    };
    Ok(Proposal {
        article_id,
        owning_unit,
        question,
        answer,
        category_code,
        valid_from,
        valid_until,
    })
}

/// The unit a proposal is for: unit staff their own (naming another is
/// refused), the centre the unit it names (required for a new article).
pub fn proposing_unit(
    who: &Identity,
    named: Option<&UnitId>,
    existing: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(own) = who.unit_scope() {
        let target = existing.or(named.map(UnitId::as_str)).unwrap_or(own);
        if target != own {
            return Err(ApiError::permission(
                hotline_common::Reason::ArticleOfAnotherUnit,
                format!("the article is unit {target}'s, not {own}'s"),
            ));
        }
        return Ok(own.to_string());
    }
    match (existing, named) {
        (Some(e), _) => Ok(e.to_string()),
        (None, Some(n)) => Ok(n.to_string()),
        (None, None) => Err(ApiError::invalid(
            "owning_unit_id",
            "required for a new article proposed by the centre",
        )),
    }
}

/// Whether `who` may read the articles of `unit` (unit staff: their own).
pub fn may_read(who: &Identity, unit: &str) -> bool {
    who.unit_scope().is_none_or(|own| own == unit) || !who.has(Role::UnitStaff)
}

pub fn parse_approve(req: &pb::ApproveArticleRequest) -> Result<(String, i32), ApiError> {
    let mut f = Fields::new();
    let id = parse_article_id(&mut f, "article_id", &req.article_id);
    if req.version < 1 {
        f.add("version", "1 or more");
    }
    f.finish()?;
    Ok((id.unwrap_or_default(), req.version))
}

pub fn parse_expire(req: &pb::ExpireArticleRequest) -> Result<(String, String), ApiError> {
    let mut f = Fields::new();
    let id = parse_article_id(&mut f, "article_id", &req.article_id);
    let reason = f.text("reason", &req.reason, MAX_REASON_CHARS);
    f.finish()?;
    Ok((id.unwrap_or_default(), reason))
}

pub fn parse_get(req: &pb::GetArticleRequest) -> Result<String, ApiError> {
    let mut f = Fields::new();
    let id = parse_article_id(&mut f, "article_id", &req.article_id);
    f.finish()?;
    Ok(id.unwrap_or_default())
}

/// A list request: the state and the page.
pub fn parse_list(req: &pb::ListArticlesRequest) -> Result<(Option<ArticleState>, Page), ApiError> {
    let mut f = Fields::new();
    let state = ArticleState::filter_field(&mut f, "state", req.state);
    let filter = state.map_or("", ArticleState::as_sql);
    let page = Page::parse(&mut f, req.page_size, &req.page_token, &[filter]);
    f.finish()?;
    Ok((state, page))
}

/// A search that passed every check.
pub struct Search {
    pub terms: Vec<String>,
    pub category: Option<CategoryCode>,
    pub limit: usize,
}

pub fn parse_search(
    req: &pb::SearchArticlesRequest,
    synonyms: &super::segment::Synonyms,
) -> Result<Search, ApiError> {
    let mut f = Fields::new();
    let query = f.text("query", &req.query, MAX_QUERY_CHARS);
    let category = f.optional_id::<CategoryCode>("category_code", &req.category_code);
    let limit = match req.limit {
        0 => DEFAULT_HITS,
        n if (1..=MAX_HITS as i32).contains(&n) => n as usize,
        n => {
            f.add("limit", format!("0–{MAX_HITS}, got {n}"));
            DEFAULT_HITS
        }
    };
    f.finish()?;
    Ok(Search {
        terms: super::segment::query_terms(&query, synonyms),
        category,
        limit,
    })
}

/// An offered version holding some of a search's words.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub article_id: String,
    pub version: i32,
    /// Its length in words.
    pub word_count: i32,
    /// The search's words it holds, by index from 1.
    pub held: Vec<i32>,
    /// Those of them in its question.
    pub asked: Vec<i32>,
}

/// BM25's term-frequency saturation; with distinct words (tf = 1) it
/// scales every word alike.
const K1: f64 = 1.2;
/// BM25's length normalisation: how much a long version is damped.
const B: f64 = 0.75;
/// A word in the question weighs this many times one in the answer.
const QUESTION_BOOST: f64 = 2.0;
/// A single character (kept for recall: "暖气" meets "供暖") weighs this
/// much of a word.
const CHARACTER_WEIGHT: f64 = 1.0;

/// Ranks candidates by BM25 over distinct words: each word held counts its
/// inverse document frequency (rare words weigh more; the frequency is
/// counted over the candidates, which are every offered version holding
/// any word), damped for long versions, boosted in the question; best
/// first, at most `limit`, ties by id.
pub fn rank<'a>(
    terms: &[String],
    candidates: &'a [Candidate],
    offered: i64,
    avg_words: f64,
    limit: usize,
) -> Vec<(&'a Candidate, f64)> {
    let mut df = vec![0f64; terms.len()];
    for c in candidates {
        for &i in &c.held {
            if let Some(d) = df.get_mut(i as usize - 1) {
                *d += 1.0;
            }
        }
    }
    let n = (offered as f64).max(candidates.len() as f64);
    let avg = avg_words.max(1.0);
    let weight: Vec<f64> = terms
        .iter()
        .zip(&df)
        .map(|(t, d)| {
            let idf = (1.0 + (n - d + 0.5) / (d + 0.5)).ln();
            if t.chars().count() == 1 {
                idf * CHARACTER_WEIGHT
            } else {
                idf
            }
        })
        .collect();
    let mut scored: Vec<(&Candidate, f64)> = candidates
        .iter()
        .map(|c| {
            let norm = 1.0 - B + B * f64::from(c.word_count) / avg;
            let tf = (K1 + 1.0) / (1.0 + K1 * norm);
            let score = c
                .held
                .iter()
                .filter_map(|&i| weight.get(i as usize - 1).map(|w| (i, w)))
                .map(|(i, w)| {
                    let boost = if c.asked.contains(&i) {
                        QUESTION_BOOST
                    } else {
                        1.0
                    };
                    w * tf * boost
                })
                .sum::<f64>();
            (c, score)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| a.0.article_id.cmp(&b.0.article_id))
    });
    scored.truncate(limit);
    scored
}

/// The tsquery text matching one word anywhere, and in the question only.
pub fn term_queries(term: &str) -> (String, String) {
    let quoted = term.replace('\'', "''").replace('\\', "\\\\");
    (format!("'{quoted}'"), format!("'{quoted}':A"))
}

pub fn parse_share(
    req: &pb::GetDirectAnswerShareRequest,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let mut f = Fields::new();
    let from = f.time("from", req.from.as_ref());
    let to = f.time("to", req.to.as_ref());
    if let (Some(a), Some(b)) = (from, to) {
        if b <= a {
            f.add("to", "must be after from");
        } else if (b - a).num_days() > MAX_SHARE_DAYS {
            f.add("to", format!("a period of at most {MAX_SHARE_DAYS} days"));
        }
    }
    f.finish()?;
    match (from, to) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(ApiError::internal("a checked field is missing")),
    }
}

/// A direct answer on a submission, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Direct {
    pub article_id: String,
    pub version: i32,
    pub note: String,
}

/// Checks a submission's direct answer against the ticket it closes:
/// only a consultation with a category is answered directly.
pub fn parse_direct(
    d: &pb::DirectAnswer,
    consultation: bool,
    has_category: bool,
) -> Result<Direct, ApiError> {
    let mut f = Fields::new();
    let id = parse_article_id(&mut f, "direct_answer.article_id", &d.article_id);
    if d.article_version < 1 {
        f.add("direct_answer.article_version", "1 or more");
    }
    let note = f.optional_text("direct_answer.note", &d.note, MAX_NOTE_CHARS);
    if !consultation {
        f.add(
            "request_type",
            "only a consultation (CONSULTATION) is answered directly",
        );
    }
    if !has_category {
        f.add(
            "category_code",
            "required when answering directly from an article",
        );
    }
    f.finish()?;
    Ok(Direct {
        article_id: id.unwrap_or_default(),
        version: d.article_version,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn propose() -> pb::ProposeArticleRequest {
        pb::ProposeArticleRequest {
            question: "供暖季从什么时候开始？".into(),
            answer: "每年11月15日开始。".into(),
            category_code: "heating".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_proposal_names_every_bad_field() {
        let ok = parse_propose(&propose(), |c| c == "heating").unwrap();
        assert_eq!(ok.article_id, None);
        let mut r = propose();
        r.article_id = "X1".into();
        r.question = String::new();
        r.category_code = "nope".into();
        r.answer = "x".repeat(MAX_ANSWER_CHARS + 1);
        r.valid_from = Some(prost_types::Timestamp {
            seconds: 2_000_000_000,
            nanos: 0,
        });
        r.valid_until = Some(prost_types::Timestamp {
            seconds: 1_900_000_000,
            nanos: 0,
        });
        let e = parse_propose(&r, |c| c == "heating").unwrap_err().message;
        for field in [
            "article_id",
            "question",
            "answer",
            "category_code",
            "valid_until",
        ] {
            assert!(e.contains(field), "{field} in {e}");
        }
    }

    #[test]
    fn a_direct_answer_is_for_a_classified_consultation() {
        let d = pb::DirectAnswer {
            article_id: "KB000001".into(),
            article_version: 1,
            note: String::new(),
        };
        assert!(parse_direct(&d, true, true).is_ok());
        let e = parse_direct(&d, false, false).unwrap_err().message;
        assert!(
            e.contains("request_type") && e.contains("category_code"),
            "{e}"
        );
    }

    fn cand(id: &str, words: i32, held: &[i32], asked: &[i32]) -> Candidate {
        Candidate {
            article_id: id.into(),
            version: 1,
            word_count: words,
            held: held.to_vec(),
            asked: asked.to_vec(),
        }
    }

    #[test]
    fn rare_words_in_the_question_rank_first() {
        let terms = ["公积金".to_string(), "提取".to_string(), "办".to_string()];
        let mut c = vec![
            // Holds only the common character.
            cand("KB1", 50, &[3], &[3]),
            // The rare word in its answer.
            cand("KB2", 50, &[1, 3], &[]),
            // The rare word in its question.
            cand("KB3", 50, &[1, 3], &[1]),
            // Both words in its answer, and longer.
            cand("KB4", 100, &[1, 2], &[]),
        ];
        // The character is common: many versions hold it.
        c.extend((10..30).map(|i| cand(&format!("KB{i}"), 50, &[3], &[])));
        let ranked: Vec<&str> = rank(&terms, &c, 100, 60.0, 3)
            .iter()
            .map(|(c, _)| c.article_id.as_str())
            .collect();
        // The rare word in the question first; two rare words in a longer
        // answer next; one in an answer last; the common character alone
        // is not among the three.
        assert_eq!(ranked, ["KB3", "KB4", "KB2"]);
    }

    #[test]
    fn search_limits_and_quoting() {
        let r = pb::SearchArticlesRequest {
            query: "公积金".into(),
            limit: 21,
            ..Default::default()
        };
        assert!(parse_search(&r, &Default::default()).is_err());
        assert_eq!(term_queries("a'b").0, "'a''b'");
    }
}
