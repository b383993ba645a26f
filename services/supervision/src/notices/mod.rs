//! Public notices (通报): for a period, the units that were late, did not
//! arrive or refused coordination or division, counted from supervision's
//! own facts (cases, on-site divisions) with the tickets behind each line.
//! A supervisor drafts one (the lines are generated then, and again on each
//! revision), a leader publishes it or sends it back; once published each
//! unit sees the lines about itself, and each ticket behind a line has the
//! publication on its timeline. Every step is audited.
//!
//! - `rules`: states, the period, what each cause counts (pure)
//! - `store`: the SQL, the generating statement among it

pub mod rules;
pub mod store;

use std::collections::BTreeMap;

use hotline_common::ApiError;
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::outbox::Tx;
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::now;
use hotline_common::validate::Fields;
use hotline_proto::events::v1::Workflow;
use hotline_proto::supervision::v1 as pb;

use self::rules::NoticeState;
use self::store::{Line, Notice};
use crate::ids::NoticeId;
use crate::workflows::Workflows;

/// The one audit entry of a notice's step (notices concern no one ticket).
fn entry(who: &Identity, action: &'static str, n: &Notice, detail: String) -> Entry {
    Entry::by(who, action, "", format!("notice={} {detail}", n.notice_id))
}

fn not_found(id: NoticeId) -> ApiError {
    ApiError::not_found(format!("no notice {id}"))
}

async fn locked(tx: &mut Tx, id: NoticeId) -> Result<Notice, ApiError> {
    store::lock(tx, id).await?.ok_or_else(|| not_found(id))
}

async fn reply(tx: &mut Tx, n: &Notice) -> Result<pb::Notice, ApiError> {
    let lines = store::lines(&mut **tx, &[n.notice_id], None).await?;
    n.to_proto(&lines)
}

/// DraftNotice: a new notice or a revision, its lines generated.
pub async fn draft(
    app: &Workflows,
    who: Identity,
    r: pb::DraftNoticeRequest,
) -> Result<pb::DraftNoticeResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.optional_id::<NoticeId>("notice_id", &r.notice_id);
    let title = f.text("title", &r.title, rules::MAX_TITLE);
    let period = rules::period(&mut f, r.period_from.as_ref(), r.period_to.as_ref(), now());
    f.finish()?;
    let period = period.expect("checked");
    app.keys
        .once(&who, &r, async |tx| {
            let at = now();
            let (n, action) = match id {
                None => (
                    store::insert(tx, &title, period, &who.subject, at).await?,
                    "notice.drafted",
                ),
                Some(id) => {
                    let old = locked(tx, id).await?;
                    rules::may_revise(id, old.state()?)?;
                    (
                        store::revise(tx, id, &title, period, at).await?,
                        "notice.revised",
                    )
                }
            };
            let detail = format!(
                "from={} to={}",
                period.0.to_rfc3339(),
                period.1.to_rfc3339()
            );
            audit::append(tx, &[entry(&who, action, &n, detail)]).await?;
            Ok(pb::DraftNoticeResponse {
                notice: Some(reply(tx, &n).await?),
            })
        })
        .await
}

/// SubmitNotice.
pub async fn submit(
    app: &Workflows,
    who: Identity,
    r: pb::SubmitNoticeRequest,
) -> Result<pb::SubmitNoticeResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<NoticeId>("notice_id", &r.notice_id);
    f.finish()?;
    let id = id.expect("checked");
    app.keys
        .once(&who, &r, async |tx| {
            let old = locked(tx, id).await?;
            rules::may_submit(id, old.state()?)?;
            let n = store::set_state(tx, id, NoticeState::Submitted, now(), None).await?;
            audit::append(tx, &[entry(&who, "notice.submitted", &n, String::new())]).await?;
            Ok(pb::SubmitNoticeResponse {
                notice: Some(reply(tx, &n).await?),
            })
        })
        .await
}

/// DecideNotice: a leader publishes (each ticket behind a line gets the
/// publication on its timeline) or sends back.
pub async fn decide(
    app: &Workflows,
    who: Identity,
    r: pb::DecideNoticeRequest,
) -> Result<pb::DecideNoticeResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<NoticeId>("notice_id", &r.notice_id);
    let note = if r.approve {
        f.optional_text("note", &r.note, rules::MAX_NOTE)
    } else {
        f.text("note", &r.note, rules::MAX_NOTE)
    };
    f.finish()?;
    let id = id.expect("checked");
    app.keys
        .once(&who, &r, async |tx| {
            let old = locked(tx, id).await?;
            rules::may_decide(id, old.state()?)?;
            let at = now();
            let decided = Some((who.subject.as_str(), note.as_str()));
            let n = if r.approve {
                let n = store::set_state(tx, id, NoticeState::Published, at, decided).await?;
                publish_steps(tx, &n, at).await?;
                audit::append(tx, &[entry(&who, "notice.published", &n, String::new())]).await?;
                n
            } else {
                let n = store::set_state(tx, id, NoticeState::SentBack, at, decided).await?;
                audit::append(tx, &[entry(&who, "notice.sent_back", &n, String::new())]).await?;
                n
            };
            Ok(pb::DecideNoticeResponse {
                notice: Some(reply(tx, &n).await?),
            })
        })
        .await
}

/// One timeline step per ticket and unit behind the published lines.
async fn publish_steps(
    tx: &mut Tx,
    n: &Notice,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let lines = store::lines(&mut **tx, &[n.notice_id], None).await?;
    // (ticket, unit) → causes, so that a ticket behind two causes of one
    // unit gets one step.
    let mut behind: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for l in &lines {
        for t in &l.ticket_nos {
            behind
                .entry((t.clone(), l.unit_id.clone()))
                .or_default()
                .push(l.cause.clone());
        }
    }
    let mut called: Vec<&str> = lines.iter().map(|l| l.unit_id.as_str()).collect();
    called.dedup();
    for unit in called {
        crate::steps::call(
            tx,
            crate::steps::Call {
                workflow: "notice",
                ref_id: n.notice_id.to_string(),
                step: "published",
                ticket_no: "",
                unit_id: unit,
                due: None,
                detail: n.title.clone(),
                at,
            },
        )
        .await?;
    }
    for ((ticket, unit), causes) in behind {
        crate::steps::publish(
            tx,
            &[ticket],
            crate::steps::Step {
                workflow: Workflow::Notice,
                ref_id: n.notice_id.to_string(),
                step: "published",
                unit_id: &unit,
                detail: format!("{}: {}", n.title, causes.join(", ")),
                at,
            },
        )
        .await?;
    }
    Ok(())
}

/// What the caller may see of notices: unit staff published ones, their
/// own lines.
fn own_lines(who: &Identity) -> Option<&str> {
    who.unit_scope()
}

/// GetNotice.
pub async fn get(
    app: &Workflows,
    who: Identity,
    r: pb::GetNoticeRequest,
) -> Result<pb::GetNoticeResponse, ApiError> {
    let mut f = Fields::new();
    let id = f.id::<NoticeId>("notice_id", &r.notice_id);
    f.finish()?;
    let id = id.expect("checked");
    let n = store::get(&app.pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let unit = own_lines(&who);
    if unit.is_some() && n.state()? != NoticeState::Published {
        return Err(not_found(id));
    }
    let lines = store::lines(&app.pool, &[id], unit).await?;
    Ok(pb::GetNoticeResponse {
        notice: Some(n.to_proto(&lines)?),
    })
}

/// ListNotices.
pub async fn list(
    app: &Workflows,
    who: Identity,
    r: pb::ListNoticesRequest,
) -> Result<pb::ListNoticesResponse, ApiError> {
    let mut f = Fields::new();
    let state = NoticeState::filter_field(&mut f, "state", r.state);
    let page = Page::parse(&mut f, r.page_size, &r.page_token, &[&r.state.to_string()]);
    f.finish()?;
    let unit = own_lines(&who);
    let state = match (unit, state) {
        (None, s) => s,
        (Some(_), None | Some(NoticeState::Published)) => Some(NoticeState::Published),
        (Some(_), Some(_)) => return Ok(pb::ListNoticesResponse::default()),
    };
    let mut rows = store::list(&app.pool, state, page.after.as_ref(), page.fetch()).await?;
    let next_page_token = page.cut(&mut rows, |n| {
        Cursor::new(n.drafted_at, n.notice_id.to_string())
    });
    let ids: Vec<NoticeId> = rows.iter().map(|n| n.notice_id).collect();
    let lines: Vec<Line> = store::lines(&app.pool, &ids, unit).await?;
    Ok(pb::ListNoticesResponse {
        notices: rows
            .iter()
            .map(|n| n.to_proto(&lines))
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}
