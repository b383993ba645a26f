//! Media through gRPC: a voice message and two photos uploaded in chunks,
//! one photo interrupted and resumed where it stopped; a duplicate stored
//! once; a content that does not match its SHA-256 dropped; the media
//! attached at Submit, downloaded by the unit the ticket was sent to (on the
//! audit trail) and refused to another unit; the photos of a site visit
//! and of an on-site division attached to their ticket the same way; an
//! upload left unfinished dropped with its parts, a finished one kept.

mod support;

use hotline_common::auth::Role;
use hotline_proto::common::v1::{Attachment, MediaKind};
use hotline_proto::intake::v1::media_service_client::MediaServiceClient;
use hotline_proto::intake::v1::upload_request::Part;
use hotline_proto::intake::v1::*;
use hotline_tests::{Authed, Options, System, heating_request, reason_of};
use sha2::{Digest, Sha256};
use support::{hop_assignments, submit};
use tonic::Code;

const CHUNK: usize = 64 * 1024;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes that look like nothing in particular, `n` of them.
fn content(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

fn start(kind: MediaKind, content_type: &str, bytes: &[u8]) -> UploadStart {
    UploadStart {
        kind: kind as i32,
        content_type: content_type.into(),
        size_bytes: bytes.len() as i64,
        sha256: hex(&Sha256::digest(bytes)),
        file_name: "现场.jpg".into(),
        ..Default::default()
    }
}

fn messages(start: UploadStart, bytes: &[u8]) -> Vec<UploadRequest> {
    std::iter::once(UploadRequest {
        part: Some(Part::Start(start)),
    })
    .chain(bytes.chunks(CHUNK).map(|c| UploadRequest {
        part: Some(Part::Chunk(c.to_vec())),
    }))
    .collect()
}

async fn media_as(sys: &System, role: Role, unit: Option<&str>) -> MediaServiceClient<Authed> {
    MediaServiceClient::new(sys.channel_with("intake", sys.token(&[role], unit)).await)
}

async fn send(
    client: &mut MediaServiceClient<Authed>,
    msgs: Vec<UploadRequest>,
) -> Result<UploadProgress, tonic::Status> {
    client
        .upload(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner().progress.expect("progress"))
}

async fn download(
    client: &mut MediaServiceClient<Authed>,
    ticket_no: &str,
    sha256: &str,
) -> Result<(Media, Vec<u8>), tonic::Status> {
    use tokio_stream::StreamExt;
    let mut stream = client
        .download(DownloadRequest {
            ticket_no: ticket_no.into(),
            sha256: sha256.into(),
        })
        .await?
        .into_inner();
    let mut media = None;
    let mut bytes = Vec::new();
    while let Some(m) = stream.next().await {
        match m?.part {
            Some(download_response::Part::Media(x)) => media = Some(x),
            Some(download_response::Part::Chunk(c)) => bytes.extend(c),
            None => {}
        }
    }
    Ok((media.expect("the media first"), bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_uploaded_resumed_stored_once_and_downloaded_by_the_holding_unit() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut desk = media_as(&sys, Role::Operator, None).await;
    let voice = content(1, 150_000);
    let photo = content(2, 300_000);
    let second = content(3, 200_000);

    let v = send(
        &mut desk,
        messages(start(MediaKind::Voice, "audio/amr", &voice), &voice),
    )
    .await
    .expect("voice");
    assert!(
        v.complete && v.received_bytes == voice.len() as i64,
        "{v:?}"
    );
    let p = send(
        &mut desk,
        messages(start(MediaKind::Image, "image/jpeg", &photo), &photo),
    )
    .await
    .expect("photo");
    assert!(p.complete);

    // The second photo stops after two chunks; it resumes where it stopped.
    let all = messages(start(MediaKind::Image, "image/jpeg", &second), &second);
    let cut = send(&mut desk, all[..3].to_vec())
        .await
        .expect("part of it");
    assert!(!cut.complete);
    assert_eq!(cut.received_bytes, 2 * CHUNK as i64);
    let held = desk
        .get_upload(GetUploadRequest {
            upload_id: cut.upload_id.clone(),
        })
        .await
        .expect("where it stands")
        .into_inner()
        .progress
        .expect("progress");
    assert_eq!(held.received_bytes, 2 * CHUNK as i64);
    let resume = |offset: i64| UploadRequest {
        part: Some(Part::Start(UploadStart {
            upload_id: cut.upload_id.clone(),
            offset,
            ..Default::default()
        })),
    };
    let e = send(&mut desk, vec![resume(0)]).await.unwrap_err();
    let meta = reason_of(&e, Code::FailedPrecondition, "UPLOAD_OFFSET_MISMATCH");
    assert_eq!(
        meta.get("received_bytes").map(String::as_str),
        Some("131072")
    );
    let mut rest = vec![resume(2 * CHUNK as i64)];
    rest.extend(all[3..].iter().cloned());
    let done = send(&mut desk, rest).await.expect("resumed");
    assert!(done.complete, "{done:?}");
    assert_eq!(
        done.media.as_ref().unwrap().sha256,
        hex(&Sha256::digest(&second))
    );
    // Another caller cannot see or resume it.
    let stranger = sys.auth.mint(
        "another-desk",
        None,
        &[Role::Operator],
        std::time::Duration::from_secs(60),
    );
    let e = MediaServiceClient::new(sys.channel_with("intake", stranger).await)
        .get_upload(GetUploadRequest {
            upload_id: cut.upload_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // The same photo again: held already, stored once.
    let again = send(
        &mut desk,
        messages(start(MediaKind::Image, "image/jpeg", &photo), &photo),
    )
    .await
    .expect("again");
    assert!(again.complete && again.upload_id.is_empty(), "{again:?}");
    let stored: Vec<_> = walk(&sys.dir.join("media").join("media"));
    assert_eq!(stored.len(), 3, "{stored:?}");

    // Bytes that are not what was declared: dropped.
    let mut lie = start(MediaKind::Image, "image/png", &photo);
    lie.sha256 = hex(&Sha256::digest(b"something else"));
    let e = send(&mut desk, messages(lie, &photo)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("start.sha256"), "{}", e.message());
    // Limits: a video as an image, too large for an image.
    let e = send(
        &mut desk,
        vec![UploadRequest {
            part: Some(Part::Start(UploadStart {
                size_bytes: 11 << 20,
                ..start(MediaKind::Image, "video/mp4", &photo)
            })),
        }],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("start.content_type") && e.message().contains("start.size_bytes"),
        "{}",
        e.message()
    );

    // Attached at Submit by SHA-256; unknown media is refused.
    let held_att = |bytes: &[u8]| Attachment {
        sha256: hex(&Sha256::digest(bytes)),
        ..Default::default()
    };
    let mut req = heating_request("media-1");
    req.attachments = vec![held_att(&voice), held_att(&photo), held_att(&second)];
    let no = submit(&sys, req).await;
    let mut unknown = heating_request("media-2");
    unknown.attachments = vec![held_att(b"never uploaded")];
    let e = sys.intake().await.submit(unknown).await.unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "MEDIA_NOT_HELD");

    // The unit it was sent to downloads it; another unit learns nothing.
    let lead = hop_assignments(&sys, &no, 1).await[0].unit_id.clone();
    let mut unit = media_as(&sys, Role::UnitStaff, Some(&lead)).await;
    let (m, bytes) = download(&mut unit, &no, &hex(&Sha256::digest(&voice)))
        .await
        .expect("the holding unit downloads");
    assert_eq!(bytes, voice);
    assert_eq!(m.kind, MediaKind::Voice as i32);
    assert_eq!(m.content_type, "audio/amr");
    let (_, bytes) = download(&mut unit, &no, &hex(&Sha256::digest(&second)))
        .await
        .expect("the resumed photo");
    assert_eq!(bytes, second);
    let mut other = media_as(&sys, Role::UnitStaff, Some("bj-water-group")).await;
    let e = download(&mut other, &no, &hex(&Sha256::digest(&voice)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    let t = support::ticket_of(&sys, &no).await;
    assert_eq!(t.attachments[1].kind, MediaKind::Image as i32);
    assert_eq!(t.attachments[1].size_bytes, photo.len() as i64);
    let reads = sys
        .audit_actions("intake", &no)
        .await
        .into_iter()
        .filter(|a| a == "media.read")
        .count();
    assert_eq!(reads, 2, "each download on the record, the refused one not");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_visit_s_photos_are_attached_to_its_ticket_for_those_who_read_it() {
    use hotline_proto::undertaking::v1::{AddHandlingRecordRequest, HandlingRecordKind};
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("visit-1")).await;
    hop_assignments(&sys, &no, 1).await;
    let lead = hotline_tests::sign_as_lead(&sys, &no).await;
    let mut unit_media = media_as(&sys, Role::UnitStaff, Some(&lead.unit_id)).await;
    let photo = content(9, 180_000);
    let sha = hex(&Sha256::digest(&photo));
    let up = send(
        &mut unit_media,
        messages(start(MediaKind::Image, "image/jpeg", &photo), &photo),
    )
    .await
    .expect("the unit uploads its photo");
    assert!(up.complete);
    let record = |media: Vec<String>, key: &str| AddHandlingRecordRequest {
        assignment_id: lead.assignment_id.clone(),
        unit_id: lead.unit_id.clone(),
        kind: HandlingRecordKind::SiteVisit as i32,
        way: "3号楼供热管井".into(),
        note: "现场检查阀门，已调节。".into(),
        media_sha256: media,
        idempotency_key: key.into(),
        ..Default::default()
    };
    let saved = sys
        .undertaking_as(&lead.unit_id)
        .await
        .add_handling_record(record(vec![sha.clone()], "visit-rec-1"))
        .await
        .expect("recorded with its photo")
        .into_inner()
        .record
        .unwrap();
    assert_eq!(saved.media_sha256, std::slice::from_ref(&sha));
    let e = sys
        .undertaking_as(&lead.unit_id)
        .await
        .add_handling_record(record(vec!["1".repeat(64)], "visit-rec-2"))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "MEDIA_NOT_HELD");

    // The centre downloads it from intake; a unit never sent the ticket
    // learns nothing.
    let (_, bytes) = download(&mut media_as(&sys, Role::Supervisor, None).await, &no, &sha)
        .await
        .expect("the supervisor downloads the photo");
    assert_eq!(bytes, photo);
    let e = download(
        &mut media_as(&sys, Role::UnitStaff, Some("bj-water-group")).await,
        &no,
        &sha,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_site_division_s_photos_are_attached_for_the_unit_it_names() {
    use hotline_proto::supervision::v1::{
        ArriveOnSiteRequest, GetOnSiteDivisionRequest, RecordDivisionRequest,
        StartOnSiteDivisionRequest,
    };
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = submit(&sys, heating_request("division-1")).await;
    let first = hop_assignments(&sys, &no, 1).await[0].unit_id.clone();
    let named = "bj-water-group";
    assert_ne!(first, named);
    // A water request makes the water group known to supervision.
    let mut water = heating_request("division-water");
    water.category_code = "water-supply".into();
    let water = submit(&sys, water).await;
    assert!(
        hop_assignments(&sys, &water, 1)
            .await
            .iter()
            .any(|a| a.unit_id == named)
    );
    let mut sup = sys.supervision_as(&[Role::Supervisor], None).await;
    let start_req = StartOnSiteDivisionRequest {
        ticket_no: no.clone(),
        unit_ids: vec![first.clone(), named.into()],
        place: "3号楼供热管井".into(),
        reason: "权属不清：供热管线还是供水管线".into(),
        arrive_by: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() + 3600,
            nanos: 0,
        }),
        idempotency_key: "division-start-1".into(),
    };
    let division = hotline_tests::supervision::start_division_when_known(&sys, start_req).await;
    for unit in [first.as_str(), named] {
        sys.supervision_as(&[Role::UnitStaff], Some(unit))
            .await
            .arrive_on_site(ArriveOnSiteRequest {
                division_id: division.division_id.clone(),
                idempotency_key: format!("arrive-{unit}"),
            })
            .await
            .expect("arrived");
    }

    // The supervisor on site uploads a photo and records the division
    // with it; a photo intake does not hold is refused first.
    let photo = content(11, 120_000);
    let sha = hex(&Sha256::digest(&photo));
    let up = send(
        &mut media_as(&sys, Role::Supervisor, None).await,
        messages(start(MediaKind::Image, "image/jpeg", &photo), &photo),
    )
    .await
    .expect("the supervisor uploads the photo");
    assert!(up.complete);
    let record = |media: Vec<String>, key: &str| RecordDivisionRequest {
        division_id: division.division_id.clone(),
        lead_unit_id: named.into(),
        result: "现场确认为供水管线渗漏，由自来水集团处置".into(),
        media_sha256: media,
        idempotency_key: key.into(),
        ..Default::default()
    };
    let e = sup
        .record_division(record(vec!["2".repeat(64)], "divide-x"))
        .await
        .unwrap_err();
    reason_of(&e, Code::FailedPrecondition, "MEDIA_NOT_HELD");
    let e = sup
        .record_division(record(vec![sha.clone(), sha.clone()], "divide-y"))
        .await
        .unwrap_err();
    assert!(
        e.code() == Code::InvalidArgument && e.message().contains("media_sha256[1]"),
        "{e:?}"
    );
    let d = sup
        .record_division(record(vec![sha.clone()], "divide-1"))
        .await
        .expect("divided with its photo")
        .into_inner()
        .division
        .unwrap();
    assert_eq!(d.media_sha256, std::slice::from_ref(&sha));
    let read = sup
        .get_on_site_division(GetOnSiteDivisionRequest {
            division_id: d.division_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .division
        .unwrap();
    assert_eq!(read.media_sha256, d.media_sha256);

    // The unit the division named holds the ticket now and downloads the
    // photo; a unit never sent it learns nothing.
    assert_eq!(hop_assignments(&sys, &no, 2).await[0].unit_id, named);
    let (_, bytes) = download(
        &mut media_as(&sys, Role::UnitStaff, Some(named)).await,
        &no,
        &sha,
    )
    .await
    .expect("the named unit downloads the photo");
    assert_eq!(bytes, photo);
    let e = download(
        &mut media_as(&sys, Role::UnitStaff, Some("bj-lighting")).await,
        &no,
        &sha,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let trail = sys.audit_actions("intake", &no).await;
    assert!(trail.iter().any(|a| a == "media.read"), "{trail:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_left_unfinished_is_dropped_with_its_parts() {
    let sys = System::start(Options {
        env: vec![("HOTLINE_UPLOAD_ABANDONED_AFTER_SECONDS".into(), "2".into())],
        ..Default::default()
    })
    .await
    .expect("system starts");
    let mut desk = media_as(&sys, Role::Operator, None).await;
    // Finished first, so older than the one left unfinished.
    let done = content(21, 100_000);
    let finished = send(
        &mut desk,
        messages(start(MediaKind::Image, "image/jpeg", &done), &done),
    )
    .await
    .expect("finished");
    assert!(finished.complete);
    let left = content(22, 300_000);
    let all = messages(start(MediaKind::Image, "image/jpeg", &left), &left);
    let cut = send(&mut desk, all[..3].to_vec())
        .await
        .expect("part of it");
    assert!(!cut.complete);
    let parts = sys.dir.join("media").join("uploads").join(&cut.upload_id);
    assert_eq!(walk(&parts).len(), 2, "two parts stored");

    let reader = desk.clone();
    let get = |id: String| {
        let mut reader = reader.clone();
        async move { reader.get_upload(GetUploadRequest { upload_id: id }).await }
    };
    hotline_tests::eventually(
        std::time::Duration::from_secs(20),
        "the unfinished upload dropped",
        || async {
            match get(cut.upload_id.clone()).await {
                Err(e) if e.code() == Code::NotFound => Some(()),
                _ => None,
            }
        },
    )
    .await;
    // Its row goes first, then its parts.
    hotline_tests::eventually(
        std::time::Duration::from_secs(10),
        "its parts deleted",
        || async { walk(&parts).is_empty().then_some(()) },
    )
    .await;
    let e = send(
        &mut desk,
        vec![UploadRequest {
            part: Some(Part::Start(UploadStart {
                upload_id: cut.upload_id.clone(),
                offset: cut.received_bytes,
                ..Default::default()
            })),
        }],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "it cannot be resumed");
    let kept = get(finished.upload_id.clone())
        .await
        .expect("the finished upload is kept")
        .into_inner();
    assert!(kept.progress.unwrap().complete);
}
