//! Concentrated requests (集中反映): each request accepted with a category
//! and a street or coordinates joins the active cluster at its place, or
//! forms one when the policy's number of distinct requesters gathered
//! there within its window (`tickets::store::insert`, `[clusters]`);
//! supervisors list them, and their tickets reach supervision as
//! consultation-meeting candidates through the `clustered` fact.

pub mod rules;
pub mod store;

use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::ids::Id;
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::{now, to_proto};
use hotline_common::validate::Fields;
use hotline_proto::common::v1::Coordinates;
use hotline_proto::intake::v1::*;

use crate::app::App;
use rules::ClusterId;

fn to_pb(s: &store::Stored, active_since: chrono::DateTime<chrono::Utc>) -> Cluster {
    Cluster {
        cluster_id: s.cluster_id.to_string(),
        basis: s.basis.to_proto() as i32,
        category_code: s.category_code.clone(),
        district_code: s.district_code.clone(),
        street_code: s.street_code.clone().unwrap_or_default(),
        centre: s.centre.map(|p| Coordinates {
            latitude: p.latitude,
            longitude: p.longitude,
        }),
        radius_m: s.radius_m.unwrap_or_default(),
        requesters: s.requesters,
        tickets: s.tickets,
        formed_at: Some(to_proto(s.formed_at)),
        last_at: Some(to_proto(s.last_at)),
        active: s.last_at >= active_since,
    }
}

fn active_since(app: &App) -> chrono::DateTime<chrono::Utc> {
    hotline_common::time::minus(now(), app.policy.clusters.window)
}

/// ListClusters.
pub async fn list(
    app: &App,
    _who: Identity,
    req: ListClustersRequest,
) -> Result<ListClustersResponse, ApiError> {
    let mut f = Fields::new();
    let filter = if req.active_only { "active" } else { "all" };
    let page = Page::parse(&mut f, req.page_size, &req.page_token, &[filter]);
    f.finish()?;
    let since = active_since(app);
    let mut rows = store::list(
        app.tickets.pool(),
        req.active_only.then_some(since),
        page.after.as_ref(),
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |s| {
        Cursor::new(s.formed_at, s.cluster_id.to_string())
    });
    Ok(ListClustersResponse {
        clusters: rows.iter().map(|s| to_pb(s, since)).collect(),
        next_page_token,
    })
}

/// GetCluster.
pub async fn get(
    app: &App,
    _who: Identity,
    req: GetClusterRequest,
) -> Result<GetClusterResponse, ApiError> {
    let id = ClusterId::parse(&req.cluster_id).map_err(|p| ApiError::invalid("cluster_id", &p))?;
    let Some((s, ticket_nos)) = store::get(app.tickets.pool(), id).await? else {
        return Err(ApiError::not_found(format!("no cluster {id}")));
    };
    Ok(GetClusterResponse {
        cluster: Some(to_pb(&s, active_since(app))),
        ticket_nos,
    })
}
