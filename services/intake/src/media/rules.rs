//! The rules of media: what an upload may be, where its parts and its
//! content are kept in the object store, and whether a chunk fits. Pure.

use hotline_common::validate::Fields;
use hotline_common::{ApiError, Reason};
use hotline_proto::common::v1::MediaKind;
use hotline_proto::intake::v1 as pb;
use hotline_sla::MediaLimits;

hotline_common::uuid_id!(
    /// An upload of one piece of media, resumable until complete.
    UploadId,
    "an upload id"
);

/// A chunk's largest size.
pub const MAX_CHUNK: usize = 1024 * 1024;
/// The bytes of each download message.
pub const DOWNLOAD_CHUNK: usize = 256 * 1024;
pub const MAX_FILE_NAME: usize = 255;

hotline_common::sql_enum!(
    /// The kind of a piece of media, as the policy and the store name it.
    Kind, MediaKind, "media kind", {
        Voice = "voice",
        Text = "text",
        Image = "image",
        Video = "video",
    }
);

/// A new upload, checked against the policy's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub kind: Kind,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub file_name: String,
}

pub use hotline_common::validate::{hex, is_sha256};

/// Checks a beginning upload's `start`.
pub fn parse_start(s: &pb::UploadStart, limits: &MediaLimits) -> Result<Declared, ApiError> {
    let mut f = Fields::new();
    let kind = Kind::filter_field(&mut f, "start.kind", s.kind);
    if kind.is_none() && s.kind == 0 {
        f.add("start.kind", "required: voice, text, image or video");
    }
    let content_type = f
        .text("start.content_type", &s.content_type, 255)
        .to_lowercase();
    let file_name = f.optional_text("start.file_name", &s.file_name, MAX_FILE_NAME);
    if !is_sha256(&s.sha256) {
        f.add("start.sha256", "64 lowercase hexadecimal digits");
    }
    if s.offset != 0 {
        f.add("start.offset", "0 when beginning an upload");
    }
    if let Some(k) = kind
        && let Some(limit) = limits.of(k.as_sql())
    {
        if !content_type.is_empty() && !limit.types.contains(&content_type) {
            f.add(
                "start.content_type",
                format!("{} takes {}", k.as_sql(), limit.types.join(", ")),
            );
        }
        if s.size_bytes < 1 || s.size_bytes as u64 > limit.max_bytes {
            f.add(
                "start.size_bytes",
                format!("1 to {} bytes for {}", limit.max_bytes, k.as_sql()),
            );
        }
    }
    f.finish()?;
    let kind = kind.ok_or_else(|| ApiError::internal("a checked field is missing"))?;
    Ok(Declared {
        kind,
        content_type,
        size_bytes: s.size_bytes,
        sha256: s.sha256.clone(),
        file_name,
    })
}

/// Checks a chunk against the upload: not empty, at most [`MAX_CHUNK`], not
/// past the declared size.
pub fn check_chunk(len: usize, received: i64, size: i64) -> Result<(), ApiError> {
    if len == 0 || len > MAX_CHUNK {
        return Err(ApiError::invalid(
            "chunk",
            &format!("1 to {MAX_CHUNK} bytes, got {len}"),
        ));
    }
    if received + len as i64 > size {
        return Err(ApiError::invalid(
            "chunk",
            &format!(
                "{} bytes past the declared size of {size}",
                received + len as i64 - size
            ),
        ));
    }
    Ok(())
}

/// A resumed upload must start where the bytes held end.
pub fn check_offset(id: UploadId, offset: i64, received: i64) -> Result<(), ApiError> {
    if offset == received {
        return Ok(());
    }
    Err(ApiError::precondition(
        Reason::UploadOffsetMismatch,
        format!("upload {id} holds {received} bytes: resume at offset {received}"),
    )
    .with("upload_id", id)
    .with("received_bytes", received))
}

/// Where a part of an upload is kept until it completes.
pub fn part_path(id: UploadId, part: i32) -> String {
    format!("uploads/{id}/{part:06}")
}

/// Where a piece of media is kept: by its SHA-256, two levels of fan-out.
pub fn media_path(sha256: &str) -> String {
    format!("media/{}/{}/{sha256}", &sha256[..2], &sha256[2..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(kind: MediaKind, content_type: &str, size: i64) -> pb::UploadStart {
        pb::UploadStart {
            kind: kind as i32,
            content_type: content_type.into(),
            size_bytes: size,
            sha256: "a".repeat(64),
            ..Default::default()
        }
    }

    #[test]
    fn kinds_types_and_sizes_are_the_policy_s() {
        let limits = MediaLimits::default();
        assert!(parse_start(&start(MediaKind::Image, "image/jpeg", 1000), &limits).is_ok());
        let e = parse_start(&start(MediaKind::Image, "video/mp4", 11 << 20), &limits)
            .unwrap_err()
            .message;
        assert!(
            e.contains("start.content_type") && e.contains("start.size_bytes"),
            "{e}"
        );
        let mut bad = start(MediaKind::Unspecified, "", 0);
        bad.sha256 = "ABC".into();
        let e = parse_start(&bad, &limits).unwrap_err().message;
        for field in ["start.kind", "start.content_type", "start.sha256"] {
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn chunks_fit_the_declared_size_and_offsets_the_bytes_held() {
        assert!(check_chunk(10, 0, 10).is_ok());
        assert!(check_chunk(0, 0, 10).is_err());
        assert!(check_chunk(11, 0, 10).is_err());
        assert!(check_chunk(MAX_CHUNK + 1, 0, i64::MAX).is_err());
        let id = UploadId::new();
        assert!(check_offset(id, 5, 5).is_ok());
        let e = check_offset(id, 0, 5).unwrap_err();
        assert_eq!(e.reason, Some(Reason::UploadOffsetMismatch));
    }

    #[test]
    fn paths_are_by_content() {
        let sha = "ab".repeat(32);
        assert_eq!(media_path(&sha), format!("media/ab/ab/{sha}"));
        assert!(part_path(UploadId::new(), 3).ends_with("/000003"));
        assert_eq!(hex(&[0, 255]), "00ff");
    }
}
