//! Media (语音、图片、视频) held by the hotline: uploaded in chunks, each
//! stored before the next is read so an upload resumes where it stopped;
//! checked against its SHA-256 and stored once by it; attached to a request
//! at Submit (`tickets::submit`); downloaded by those who may read the
//! ticket, every read audited.

pub mod objects;
pub mod rules;
pub mod store;
pub mod sweep;

use futures_util::{Stream, StreamExt};
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::ids::{Id, TicketNo};
use hotline_common::time::now;
use hotline_common::{ApiError, ErrorCode};
use hotline_proto::intake::v1::upload_request::Part;
use hotline_proto::intake::v1::*;
use tonic::Streaming;

use crate::app::App;
use rules::UploadId;
use store::Upload;

fn progress(u: &Upload, media: Option<&store::Held>) -> UploadProgress {
    UploadProgress {
        upload_id: u.id.to_string(),
        received_bytes: u.received,
        complete: media.is_some(),
        media: media.map(store::Held::to_proto),
    }
}

fn answer(p: UploadProgress) -> UploadResponse {
    UploadResponse { progress: Some(p) }
}

async fn next(stream: &mut Streaming<UploadRequest>) -> Result<Option<Part>, ApiError> {
    match stream.message().await {
        Ok(Some(m)) => m
            .part
            .map(Some)
            .ok_or_else(|| ApiError::invalid("part", "a start or a chunk")),
        Ok(None) => Ok(None),
        Err(s) => Err(ApiError::new(
            ErrorCode::Unavailable,
            format!("the upload stream broke: {}", s.message()),
        )),
    }
}

/// Upload: `start`, then chunks; see the contract.
pub async fn upload(
    app: &App,
    who: Identity,
    mut stream: Streaming<UploadRequest>,
) -> Result<UploadResponse, ApiError> {
    let pool = app.tickets.pool();
    let Some(Part::Start(start)) = next(&mut stream).await? else {
        return Err(ApiError::invalid(
            "start",
            "the first message names the upload",
        ));
    };
    let mut u = if start.upload_id.is_empty() {
        let d = rules::parse_start(&start, &app.policy.media)?;
        if let Some(held) = store::held(pool, &d.sha256).await? {
            // Held already: stored once, whatever bytes follow.
            tracing::info!(sha256 = %d.sha256, "media held already");
            return Ok(answer(UploadProgress {
                upload_id: String::new(),
                received_bytes: held.size_bytes,
                complete: true,
                media: Some(held.to_proto()),
            }));
        }
        store::begin(pool, &d, &who.subject, now()).await?
    } else {
        let id = UploadId::parse(&start.upload_id)
            .map_err(|p| ApiError::invalid("start.upload_id", &p))?;
        let u = store::upload(pool, id)
            .await?
            .filter(|u| u.started_by == who.subject)
            .ok_or_else(|| ApiError::not_found(format!("no upload {id} of yours")))?;
        if u.complete {
            let held = store::held(pool, &u.declared.sha256).await?;
            return Ok(answer(progress(&u, held.as_ref())));
        }
        rules::check_offset(id, start.offset, u.received)?;
        u
    };
    while let Some(part) = next(&mut stream).await? {
        let Part::Chunk(bytes) = part else {
            return Err(ApiError::invalid("start", "only the first message"));
        };
        rules::check_chunk(bytes.len(), u.received, u.declared.size_bytes)?;
        let len = bytes.len() as i64;
        objects::put(
            app.media.as_ref(),
            &rules::part_path(u.id, u.parts),
            bytes.into(),
        )
        .await?;
        if !store::advance(pool, u.id, u.received, len, now()).await? {
            let now_held = store::upload(pool, u.id).await?.map_or(0, |x| x.received);
            return Err(rules::check_offset(u.id, u.received, now_held)
                .err()
                .unwrap_or_else(|| ApiError::unavailable("the upload moved on; ask again")));
        }
        u.received += len;
        u.parts += 1;
        if u.received == u.declared.size_bytes {
            return finish(app, &u)
                .await
                .map(|held| answer(progress(&u, Some(&held))));
        }
    }
    Ok(answer(progress(&u, None)))
}

/// Every byte arrived: the parts become the media, if their SHA-256 is the
/// one declared.
async fn finish(app: &App, u: &Upload) -> Result<store::Held, ApiError> {
    let parts: Vec<String> = (0..u.parts).map(|i| rules::part_path(u.id, i)).collect();
    let sha = &u.declared.sha256;
    let got = objects::assemble(app.media.as_ref(), &parts, &rules::media_path(sha), sha).await?;
    objects::delete(app.media.as_ref(), &parts).await;
    if &got != sha {
        store::drop_upload(app.tickets.pool(), u.id).await?;
        tracing::warn!(upload_id = %u.id, declared = %sha, got, "upload dropped: its content does not match its sha256");
        return Err(ApiError::invalid(
            "start.sha256",
            &format!("the content's SHA-256 is {got}: the upload is dropped, upload again"),
        ));
    }
    let held = store::complete(app.tickets.pool(), u, now()).await?;
    tracing::info!(upload_id = %u.id, sha256 = %sha, size = u.declared.size_bytes, kind = u.declared.kind.as_sql(), "media stored");
    Ok(held)
}

/// GetUpload: only the caller's own uploads.
pub async fn get_upload(
    app: &App,
    who: Identity,
    req: GetUploadRequest,
) -> Result<GetUploadResponse, ApiError> {
    let id = UploadId::parse(&req.upload_id).map_err(|p| ApiError::invalid("upload_id", &p))?;
    let pool = app.tickets.pool();
    let u = store::upload(pool, id)
        .await?
        .filter(|u| u.started_by == who.subject)
        .ok_or_else(|| ApiError::not_found(format!("no upload {id} of yours")))?;
    let held = if u.complete {
        store::held(pool, &u.declared.sha256).await?
    } else {
        None
    };
    Ok(GetUploadResponse {
        progress: Some(progress(&u, held.as_ref())),
    })
}

/// Download: for those who may read the ticket; on the audit trail.
pub async fn download(
    app: &App,
    who: Identity,
    req: DownloadRequest,
) -> Result<impl Stream<Item = Result<DownloadResponse, ApiError>> + Send + 'static, ApiError> {
    let mut f = hotline_common::validate::Fields::new();
    let no = f.id::<TicketNo>("ticket_no", &req.ticket_no);
    if !rules::is_sha256(&req.sha256) {
        f.add("sha256", "64 lowercase hexadecimal digits");
    }
    f.finish()?;
    let no = no.ok_or_else(|| ApiError::internal("a checked field is missing"))?;
    crate::tickets::visible(app, &who, &no).await?;
    let pool = app.tickets.pool();
    let held = store::attached(pool, no.as_str(), &req.sha256)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("ticket {no} has no media {}", req.sha256)))?;
    let bytes = objects::read(app.media.as_ref(), &rules::media_path(&held.sha256)).await?;
    audit::record(
        pool,
        &[Entry::by(
            &who,
            "media.read",
            no.as_str(),
            format!("sha256={}", held.sha256),
        )],
    )
    .await?;
    let head = DownloadResponse {
        part: Some(download_response::Part::Media(held.to_proto())),
    };
    Ok(
        futures_util::stream::once(async move { Ok(head) }).chain(bytes.map(|b| {
            b.map(|chunk| DownloadResponse {
                part: Some(download_response::Part::Chunk(chunk.to_vec())),
            })
        })),
    )
}

/// The held media a submission's attachments name (an attachment with a
/// SHA-256 and no URI): each must be held, and is described as stored.
pub async fn resolve(
    app: &App,
    attachments: &mut [hotline_proto::common::v1::Attachment],
) -> Result<Vec<String>, ApiError> {
    let named: Vec<String> = attachments
        .iter()
        .filter(|a| a.uri.is_empty())
        .map(|a| a.sha256.clone())
        .collect();
    if named.is_empty() {
        return Ok(named);
    }
    let held = store::held_of(app.tickets.pool(), &named).await?;
    for (i, a) in attachments.iter_mut().enumerate() {
        if !a.uri.is_empty() {
            continue;
        }
        let Some(h) = held.iter().find(|h| h.sha256 == a.sha256) else {
            return Err(ApiError::precondition(
                hotline_common::Reason::MediaNotHeld,
                format!(
                    "attachments[{i}]: no media {} is held: upload it first",
                    a.sha256
                ),
            )
            .with("sha256", &a.sha256));
        };
        a.kind = h.kind.to_proto() as i32;
        a.content_type = h.content_type.clone();
        a.size_bytes = h.size_bytes;
    }
    Ok(named)
}

/// At most this many media attached by one call.
pub const MAX_ATTACHED: usize = 20;

/// AttachMedia: held media linked to a ticket, by a hotline service.
pub async fn attach(
    app: &App,
    _who: Identity,
    req: AttachMediaRequest,
) -> Result<AttachMediaResponse, ApiError> {
    let mut f = hotline_common::validate::Fields::new();
    let no = f.id::<TicketNo>("ticket_no", &req.ticket_no);
    if req.sha256.is_empty() || req.sha256.len() > MAX_ATTACHED {
        f.add("sha256", format!("1 to {MAX_ATTACHED}"));
    }
    for (i, s) in req.sha256.iter().enumerate().take(MAX_ATTACHED) {
        if !rules::is_sha256(s) {
            f.add(&format!("sha256[{i}]"), "64 lowercase hexadecimal digits");
        }
    }
    f.finish()?;
    let no = no.ok_or_else(|| ApiError::internal("a checked field is missing"))?;
    if app.tickets.get(&no).await?.is_none() {
        return Err(ApiError::not_found(format!("no ticket {no}")));
    }
    let pool = app.tickets.pool();
    let held = store::held_of(pool, &req.sha256).await?;
    if let Some(missing) = req
        .sha256
        .iter()
        .find(|s| !held.iter().any(|h| &h.sha256 == *s))
    {
        return Err(ApiError::precondition(
            hotline_common::Reason::MediaNotHeld,
            format!("no media {missing} is held: upload it first"),
        )
        .with("sha256", missing));
    }
    let mut tx = pool.begin().await?;
    store::attach(&mut tx, no.as_str(), &req.sha256).await?;
    tx.commit().await?;
    Ok(AttachMediaResponse {
        media: held.iter().map(store::Held::to_proto).collect(),
    })
}
