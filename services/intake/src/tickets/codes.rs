//! The category and area codes requests are checked against, read from
//! dispatch's catalogue, refreshed in the background, and saved so that a
//! restart while dispatch is down still has them.

use hotline_common::startup::Peer;
use std::sync::Arc;
use std::time::Duration;

use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_proto::dispatch::v1::dispatch_service_client::DispatchServiceClient;
use hotline_proto::dispatch::v1::{AreaKind, Catalogue, GetCatalogueRequest};
use tokio::sync::RwLock;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::rules::KnownCodes;
use super::store::Tickets;

/// A refresh on demand (an unknown code) happens at most this often.
const MIN_REFRESH_GAP: Duration = Duration::from_secs(2);

/// The codes in force and when they were read.
type Loaded = (Arc<KnownCodes>, Instant);

#[derive(Clone)]
pub struct Codes {
    client: DispatchServiceClient<Peer>,
    store: Tickets,
    current: Arc<RwLock<Option<Loaded>>>,
}

impl Codes {
    pub fn new(client: DispatchServiceClient<Peer>, store: Tickets) -> Codes {
        Codes {
            client,
            store,
            current: Arc::new(RwLock::new(None)),
        }
    }

    /// Loads the codes saved by an earlier run, if any.
    pub async fn load_saved(&self) -> Result<bool, ApiError> {
        match self.store.saved_catalogue().await? {
            Some(cat) => {
                self.install(cat).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn is_loaded(&self) -> bool {
        self.current.read().await.is_some()
    }

    async fn install(&self, cat: Catalogue) -> Arc<KnownCodes> {
        let mut known = KnownCodes {
            version: cat.version,
            ..KnownCodes::default()
        };
        known.categories = cat.categories.into_iter().map(|c| c.code).collect();
        for a in cat.areas {
            if a.kind == AreaKind::District as i32 {
                known.districts.insert(a.code);
            } else if a.kind == AreaKind::Street as i32 {
                known.streets.insert(a.code, a.parent_code);
            }
        }
        let known = Arc::new(known);
        *self.current.write().await = Some((known.clone(), Instant::now()));
        known
    }

    async fn fetch(&self) -> Result<Arc<KnownCodes>, ApiError> {
        let cat = self
            .client
            .clone()
            .get_catalogue(GetCatalogueRequest::default())
            .await
            .map_err(|s| from_peer("dispatch", s))?
            .into_inner()
            .catalogue
            .ok_or_else(|| ApiError::unavailable("dispatch sent no catalogue"))?;
        let changed = self
            .current
            .read()
            .await
            .as_ref()
            .is_none_or(|(k, _)| k.version != cat.version);
        if changed {
            self.store.save_catalogue(&cat).await?;
        }
        let known = self.install(cat).await;
        Ok(known)
    }

    /// The codes in force. `stale_ok` false forces a refresh unless the
    /// last one is very recent (used before refusing an unknown code).
    pub async fn get(&self, stale_ok: bool) -> Result<Arc<KnownCodes>, ApiError> {
        if let Some((known, at)) = self.current.read().await.as_ref()
            && (stale_ok || at.elapsed() < MIN_REFRESH_GAP)
        {
            return Ok(known.clone());
        }
        match self.fetch().await {
            Ok(k) => Ok(k),
            Err(e) => match self.current.read().await.as_ref() {
                // Dispatch is down: keep accepting with the codes we have.
                Some((known, _)) => Ok(known.clone()),
                None => Err(ApiError::unavailable(format!(
                    "the dispatch catalogue has not been read yet ({})",
                    e.message
                ))),
            },
        }
    }

    /// Refreshes every `every` until shutdown.
    pub async fn refresh_loop(self, every: Duration, token: CancellationToken) {
        loop {
            match self.fetch().await {
                Ok(k) => tracing::debug!(version = %k.version, "catalogue codes refreshed"),
                Err(e) => tracing::warn!(error = %e.message, "catalogue codes not refreshed"),
            }
            let wait = if self.current.read().await.is_some() {
                every
            } else {
                Duration::from_secs(1)
            };
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
