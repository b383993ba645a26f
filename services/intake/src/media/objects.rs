//! The object store media bytes live in: the local filesystem (a `file://`
//! URL, the default) or an S3-compatible store (`s3://bucket/prefix`, with
//! the `AWS_*` variables `object_store` reads: credentials, region,
//! endpoint).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use hotline_common::ApiError;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};

/// Opens the store a URL names; a local directory is created if missing.
pub fn open(url: &str) -> Result<Arc<dyn ObjectStore>, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    match parsed.scheme() {
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| format!("{url:?}: not a local path"))?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let fs = LocalFileSystem::new_with_prefix(&dir).map_err(|e| e.to_string())?;
            Ok(Arc::new(fs))
        }
        "s3" => {
            let s3 = AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| e.to_string())?;
            let prefix = parsed.path().trim_matches('/');
            Ok(if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            })
        }
        other => Err(format!("{url:?}: scheme {other:?} is neither file nor s3")),
    }
}

fn failed(e: object_store::Error) -> ApiError {
    match e {
        object_store::Error::NotFound { path, .. } => {
            ApiError::not_found(format!("media bytes missing at {path}"))
        }
        e => ApiError::unavailable(format!("media store: {e}")),
    }
}

pub async fn put(store: &dyn ObjectStore, path: &str, bytes: Bytes) -> Result<(), ApiError> {
    store
        .put(&Path::from(path), bytes.into())
        .await
        .map_err(failed)?;
    Ok(())
}

/// Copies the parts, in order, into the media's place, hashing them on
/// the way: the SHA-256 of what was written (the write is abandoned when it
/// is not `expected`).
pub async fn assemble(
    store: &dyn ObjectStore,
    parts: &[String],
    to: &str,
    expected: &str,
) -> Result<String, ApiError> {
    let upload = store.put_multipart(&Path::from(to)).await.map_err(failed)?;
    let mut w = WriteMultipart::new(upload);
    let mut hash = Sha256::new();
    for p in parts {
        let bytes = match store.get(&Path::from(p.as_str())).await {
            Ok(got) => got.bytes().await.map_err(failed)?,
            Err(e) => {
                w.abort().await.ok();
                return Err(failed(e));
            }
        };
        hash.update(&bytes);
        w.write(&bytes);
    }
    let got = super::rules::hex(&hash.finalize());
    if got == expected {
        w.finish().await.map_err(failed)?;
    } else {
        w.abort().await.ok();
    }
    Ok(got)
}

/// Deletes parts no longer needed (one never written is no error); a
/// failure leaves them behind, logged.
pub async fn delete(store: &dyn ObjectStore, paths: &[String]) {
    for p in paths {
        match store.delete(&Path::from(p.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(path = %p, error = %e, "media part not deleted"),
        }
    }
}

/// The bytes of a piece of media, as a stream.
pub async fn read(
    store: &dyn ObjectStore,
    path: &str,
) -> Result<BoxStream<'static, Result<Bytes, ApiError>>, ApiError> {
    let got = store.get(&Path::from(path)).await.map_err(failed)?;
    Ok(got.into_stream().map_err(failed).boxed())
}
