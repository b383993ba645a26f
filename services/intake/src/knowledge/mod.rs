//! The knowledge base (知识库) and direct answers (直接答复): units propose
//! articles, the centre approves or withdraws them, operators search the
//! offered ones while the requester is on the line and answer
//! consultations from them (`tickets::submit` closes such a ticket at
//! once); the direct-answer share per period is reported.

pub mod rules;
pub mod segment;
pub mod store;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::Reason;
use hotline_common::auth::Identity;
use hotline_common::time::{now, to_proto};
use hotline_proto::intake::v1::*;

use crate::app::App;
use rules::ArticleState;
use store::{Head, VersionRow};

/// A version as shown: an approved one past its validity is EXPIRED.
fn version_to_proto(v: VersionRow, at: DateTime<Utc>) -> ArticleVersion {
    let stored = ArticleState::from_sql(&v.state).unwrap_or(ArticleState::Expired);
    let lapsed = v.valid_until.is_some_and(|u| u <= at);
    let state = match stored {
        ArticleState::Approved if lapsed => ArticleState::Expired,
        s => s,
    };
    ArticleVersion {
        version: v.version,
        state: state.to_proto() as i32,
        question: v.question,
        answer: v.answer,
        category_code: v.category_code,
        valid_from: v.valid_from.map(to_proto),
        valid_until: v.valid_until.map(to_proto),
        proposed_by: v.proposed_by,
        proposed_at: Some(to_proto(v.proposed_at)),
        approved_by: v.approved_by.unwrap_or_default(),
        approved_at: v.approved_at.map(to_proto),
    }
}

/// The articles of these heads with their versions, in the heads' order.
async fn articles(app: &App, heads: Vec<Head>) -> Result<Vec<Article>, ApiError> {
    let ids: Vec<String> = heads.iter().map(|h| h.article_id.clone()).collect();
    let mut by_id: HashMap<String, Vec<ArticleVersion>> = HashMap::new();
    let at = now();
    for (id, v) in store::versions(app.tickets.pool(), &ids).await? {
        by_id.entry(id).or_default().push(version_to_proto(v, at));
    }
    Ok(heads
        .into_iter()
        .map(|h| Article {
            versions: by_id.remove(&h.article_id).unwrap_or_default(),
            article_id: h.article_id,
            owning_unit_id: h.owning_unit_id,
        })
        .collect())
}

async fn one(app: &App, id: &str) -> Result<Article, ApiError> {
    let head = store::head(app.tickets.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no article {id}")))?;
    articles(app, vec![head])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("article vanished"))
}

/// ProposeArticle: a new article or a new draft version of one.
pub async fn propose(
    app: &App,
    who: Identity,
    req: ProposeArticleRequest,
) -> Result<ProposeArticleResponse, ApiError> {
    let known = app.codes.get(true).await?;
    let p = rules::parse_propose(&req, |c| known.categories.contains(c))?;
    let id = app
        .keys
        .once(&who, &req, async |tx| {
            let head = match &p.article_id {
                Some(id) => Some(store::lock(tx, id).await?),
                None => None,
            };
            let unit = rules::proposing_unit(
                &who,
                p.owning_unit.as_ref(),
                head.as_ref().map(|h| h.owning_unit_id.as_str()),
            )?;
            let id = store::propose(tx, &p, head.as_ref(), &unit, &who, now()).await?;
            tracing::info!(article_id = %id, unit = %unit, by = %who.subject, "article proposed");
            Ok(ProposeArticleResponse {
                article: Some(Article {
                    article_id: id,
                    ..Default::default()
                }),
            })
        })
        .await?;
    let id = id.article.map(|a| a.article_id).unwrap_or_default();
    Ok(ProposeArticleResponse {
        article: Some(one(app, &id).await?),
    })
}

/// ApproveArticle: the centre approves a draft.
pub async fn approve(
    app: &App,
    who: Identity,
    req: ApproveArticleRequest,
) -> Result<ApproveArticleResponse, ApiError> {
    let (id, version) = rules::parse_approve(&req)?;
    app.keys
        .once(&who, &req, async |tx| {
            let head = store::lock(tx, &id).await?;
            store::approve(tx, &head, version, &who, now()).await?;
            tracing::info!(article_id = %id, version, by = %who.subject, "article approved");
            Ok(ApproveArticleResponse::default())
        })
        .await?;
    Ok(ApproveArticleResponse {
        article: Some(one(app, &id).await?),
    })
}

/// ExpireArticle: the centre withdraws the approved version.
pub async fn expire(
    app: &App,
    who: Identity,
    req: ExpireArticleRequest,
) -> Result<ExpireArticleResponse, ApiError> {
    let (id, reason) = rules::parse_expire(&req)?;
    app.keys
        .once(&who, &req, async |tx| {
            let head = store::lock(tx, &id).await?;
            store::expire(tx, &head, &reason, &who).await?;
            tracing::info!(article_id = %id, by = %who.subject, "article withdrawn");
            Ok(ExpireArticleResponse::default())
        })
        .await?;
    Ok(ExpireArticleResponse {
        article: Some(one(app, &id).await?),
    })
}

/// GetArticle: unit staff read their own unit's.
pub async fn get(
    app: &App,
    who: Identity,
    req: GetArticleRequest,
) -> Result<GetArticleResponse, ApiError> {
    let id = rules::parse_get(&req)?;
    let article = one(app, &id).await?;
    if !rules::may_read(&who, &article.owning_unit_id) {
        return Err(ApiError::permission(
            Reason::ArticleOfAnotherUnit,
            format!("article {id} is another unit's"),
        )
        .with("article_id", &id));
    }
    Ok(GetArticleResponse {
        article: Some(article),
    })
}

/// ListArticles: oldest first, by the newest version's state.
pub async fn list(
    app: &App,
    who: Identity,
    req: ListArticlesRequest,
) -> Result<ListArticlesResponse, ApiError> {
    let (state, page) = rules::parse_list(&req)?;
    let mut heads = store::list(app.tickets.pool(), state, who.unit_scope(), &page, now()).await?;
    let next_page_token = page.cut(&mut heads, store::cursor);
    Ok(ListArticlesResponse {
        articles: articles(app, heads).await?,
        next_page_token,
    })
}

/// SearchArticles: the offered versions, best first.
pub async fn search(
    app: &App,
    _who: Identity,
    req: SearchArticlesRequest,
) -> Result<SearchArticlesResponse, ApiError> {
    let s = rules::parse_search(&req, &app.synonyms)?;
    let hits = store::search(
        app.tickets.pool(),
        &s.terms,
        s.category.as_ref().map(|c| c.as_str()),
        now(),
        s.limit,
    )
    .await?;
    Ok(SearchArticlesResponse {
        hits: hits
            .into_iter()
            .map(|h| ArticleHit {
                article_id: h.article_id,
                version: h.version,
                question: h.question,
                answer: h.answer,
                category_code: h.category_code,
                owning_unit_id: h.owning_unit_id,
                score: h.score,
            })
            .collect(),
    })
}

/// GetDirectAnswerShare: accepted and directly answered, by request type.
pub async fn share(
    app: &App,
    _who: Identity,
    req: GetDirectAnswerShareRequest,
) -> Result<GetDirectAnswerShareResponse, ApiError> {
    let (from, to) = rules::parse_share(&req)?;
    let rows = store::share(app.tickets.pool(), from, to).await?;
    let accepted: i64 = rows.iter().map(|r| r.1).sum();
    let directly_answered: i64 = rows.iter().map(|r| r.2).sum();
    Ok(GetDirectAnswerShareResponse {
        accepted,
        directly_answered,
        share: if accepted == 0 {
            0.0
        } else {
            directly_answered as f64 / accepted as f64
        },
        by_request_type: rows
            .into_iter()
            .map(
                |(request_type, accepted, directly_answered)| DirectAnswerCount {
                    request_type,
                    accepted,
                    directly_answered,
                },
            )
            .collect(),
    })
}
