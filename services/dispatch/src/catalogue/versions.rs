//! The catalogue in force, as every replica reads it: one small read per
//! call says which version is in force; its parsed form is cached until
//! another version is put in force (by this replica or another).

use std::sync::Arc;

use hotline_common::ApiError;
use hotline_proto::dispatch::v1 as pb;
use tokio::sync::RwLock;

use super::model::Catalogue;
use super::store::Versions;

/// A catalogue as parsed and as the API shows it.
pub struct Loaded {
    pub catalogue: Catalogue,
    pub proto: pb::Catalogue,
}

impl Loaded {
    pub fn new(catalogue: Catalogue) -> Loaded {
        Loaded {
            proto: catalogue.to_proto(),
            catalogue,
        }
    }
}

pub struct InForce {
    pub store: Versions,
    cached: RwLock<Arc<Loaded>>,
}

impl InForce {
    pub fn new(store: Versions, startup: Loaded) -> InForce {
        InForce {
            store,
            cached: RwLock::new(Arc::new(startup)),
        }
    }

    /// The catalogue in force now.
    pub async fn get(&self) -> Result<Arc<Loaded>, ApiError> {
        let version = self.store.in_force().await?;
        self.version(&version, true)
            .await?
            .ok_or_else(|| ApiError::internal("the catalogue in force is not stored"))
    }

    /// A stored version, parsed; the one `in_force` replaces the cache.
    pub async fn version(
        &self,
        version: &str,
        in_force: bool,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        let cached = self.cached.read().await.clone();
        if cached.catalogue.version == version {
            return Ok(Some(cached));
        }
        let Some(stored) = self.store.get(version).await? else {
            return Ok(None);
        };
        let parsed = Catalogue::from_proto(&stored)
            .map_err(|e| ApiError::internal(format!("stored catalogue {version}: {e}")))?;
        let loaded = Arc::new(Loaded::new(parsed));
        if in_force {
            *self.cached.write().await = loaded.clone();
        }
        Ok(Some(loaded))
    }

    /// A version this replica just put in force.
    pub async fn install(&self, loaded: Loaded) {
        *self.cached.write().await = Arc::new(loaded);
    }
}
