//! The dispatch catalogue (派单目录): categories, areas, units and their
//! kinds, rules; its versions, published by ops, one in force for routing.

#[cfg(test)]
mod fixture;
pub mod load;
pub mod model;
pub mod route;
pub mod store;
pub mod versions;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::ids::{AreaCode, CategoryCode, Id};
use hotline_common::paging::{self, Page};
use hotline_common::validate::Fields;
use hotline_proto::dispatch::v1::*;

pub use model::{Catalogue, Unit as CatalogueUnit, UnitKind};
pub use versions::Loaded;

use crate::app::App;
use crate::ids::CatalogueVersionId;

/// GetCatalogue: a version (by default the one in force).
pub async fn get(
    app: &App,
    _who: Identity,
    req: GetCatalogueRequest,
) -> Result<GetCatalogueResponse, ApiError> {
    let mut f = Fields::new();
    let version = f.optional_id::<CatalogueVersionId>("version", &req.version);
    f.finish()?;
    let loaded = match version {
        None => app.catalogue.get().await?,
        Some(v) => app
            .catalogue
            .version(&v, false)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no catalogue version {v:?}")))?,
    };
    Ok(GetCatalogueResponse {
        catalogue: Some(loaded.proto.clone()),
    })
}

/// SuggestRouting: what the catalogue in force says, routing nothing.
pub async fn suggest(
    app: &App,
    _who: Identity,
    req: SuggestRoutingRequest,
) -> Result<SuggestRoutingResponse, ApiError> {
    let mut f = Fields::new();
    let category = f.id::<CategoryCode>("category_code", &req.category_code);
    let district = f.id::<AreaCode>("district_code", &req.district_code);
    let street = f.optional_id::<AreaCode>("street_code", &req.street_code);
    f.finish()?;
    let (Some(category), Some(district)) = (category, district) else {
        return Err(ApiError::internal("checked fields missing"));
    };
    let loaded = app.catalogue.get().await?;
    let route = loaded
        .catalogue
        .route(&category, Some(&district), street.as_ref())
        .map_err(|e| e.invalid(""))?;
    Ok(SuggestRoutingResponse {
        catalogue_version: loaded.catalogue.version.clone(),
        basis: route.basis.to_proto() as i32,
        units: std::iter::once(&route.lead)
            .chain(&route.co)
            .map(CatalogueUnit::to_proto)
            .collect(),
    })
}

/// PublishCatalogue: a new version, checked whole, put in force.
pub async fn publish(
    app: &App,
    who: Identity,
    req: PublishCatalogueRequest,
) -> Result<PublishCatalogueResponse, ApiError> {
    let Some(raw) = &req.catalogue else {
        return Err(ApiError::invalid("catalogue", "required"));
    };
    let parsed = Catalogue::from_proto(raw).map_err(|e| {
        ApiError::invalid_fields(
            e.0.into_iter()
                .map(|p| ("catalogue".to_string(), p))
                .collect(),
        )
    })?;
    let loaded = Loaded::new(parsed);
    app.keys
        .once(&who, &req, async |tx| {
            let version = store::publish(tx, &loaded.proto, loaded.catalogue.rule_count(), &who)
                .await?;
            tracing::info!(version = %version.version, rules = version.rules, by = %who.subject, "catalogue published and in force");
            // The parse cache only: which version is in force is read from
            // the database on every call.
            app.catalogue.install(loaded).await;
            Ok(PublishCatalogueResponse {
                version: Some(version),
            })
        })
        .await
}

/// ActivateCatalogue: an earlier version back in force.
pub async fn activate(
    app: &App,
    who: Identity,
    req: ActivateCatalogueRequest,
) -> Result<ActivateCatalogueResponse, ApiError> {
    let version = CatalogueVersionId::parse_field("version", &req.version)?;
    app.keys
        .once(&who, &req, async |tx| {
            let v = store::activate(tx, &version, &who).await?;
            tracing::info!(version = %version, by = %who.subject, "catalogue put in force");
            Ok(ActivateCatalogueResponse { version: Some(v) })
        })
        .await
}

/// ListCatalogueVersions: newest first, a page at a time.
pub async fn list_versions(
    app: &App,
    _who: Identity,
    req: ListCatalogueVersionsRequest,
) -> Result<ListCatalogueVersionsResponse, ApiError> {
    let mut f = Fields::new();
    let page = Page::parse(&mut f, req.page_size, &req.page_token, &[]);
    f.finish()?;
    let mut versions = app
        .catalogue
        .store
        .list(page.after.as_ref(), page.fetch())
        .await?;
    let next_page_token = page.cut(&mut versions, |v| {
        paging::cursor_of(v.published_at.as_ref(), &v.version)
    });
    Ok(ListCatalogueVersionsResponse {
        versions,
        next_page_token,
    })
}
