//! The rules of concentrated requests (集中反映): points and the grid they
//! are looked up on, distances, who counts as a distinct requester, and
//! when requests form a cluster or join one. Pure.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use geographiclib_rs::{Geodesic, InverseGeodesic};
use hotline_common::validate::Fields;
use hotline_proto::common::v1 as common;
use hotline_proto::intake::v1 as pb;
use sha2::{Digest, Sha256};

hotline_common::uuid_id!(
    /// A concentrated request (集中反映).
    ClusterId,
    "a cluster id"
);

/// A point on the map, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

/// Checks `location.coordinates`: finite degrees in range.
pub fn parse_point(f: &mut Fields, c: Option<&common::Coordinates>) -> Option<Point> {
    let c = c?;
    let mut ok = true;
    if !(c.latitude.is_finite() && (-90.0..=90.0).contains(&c.latitude)) {
        f.add("location.coordinates.latitude", "−90 to 90 degrees");
        ok = false;
    }
    if !(c.longitude.is_finite() && (-180.0..=180.0).contains(&c.longitude)) {
        f.add("location.coordinates.longitude", "−180 to 180 degrees");
        ok = false;
    }
    ok.then_some(Point {
        latitude: c.latitude,
        longitude: c.longitude,
    })
}

/// The grid's cell size in degrees, both ways.
pub const CELL_DEG: f64 = 0.01;
const LON_CELLS: i64 = 100_000;

fn cell_at(lat_index: i64, lon_index: i64) -> i64 {
    lat_index * LON_CELLS + lon_index.rem_euclid((360.0 / CELL_DEG) as i64)
}

fn indices(p: Point) -> (i64, i64) {
    (
        ((p.latitude + 90.0) / CELL_DEG).floor() as i64,
        ((p.longitude + 180.0) / CELL_DEG).floor() as i64,
    )
}

/// The grid cell a point lies in.
pub fn cell_of(p: Point) -> i64 {
    let (la, lo) = indices(p);
    cell_at(la, lo)
}

/// The cells any point within `radius_m` of `p` may lie in (its own
/// first), so that two points within the radius of each other each find
/// the other's cell among theirs.
pub fn cells_near(p: Point, radius_m: u32) -> Vec<i64> {
    let (la, lo) = indices(p);
    let metres_per_deg_lat = 111_000.0;
    let metres_per_deg_lon = (111_320.0 * p.latitude.to_radians().cos()).max(1_000.0);
    let k_lat = (f64::from(radius_m) / metres_per_deg_lat / CELL_DEG).ceil() as i64;
    let k_lon = ((f64::from(radius_m) / metres_per_deg_lon / CELL_DEG).ceil() as i64).min(50);
    let mut out = vec![cell_at(la, lo)];
    for dy in -k_lat..=k_lat {
        for dx in -k_lon..=k_lon {
            if (dy, dx) != (0, 0) {
                out.push(cell_at(la + dy, lo + dx));
            }
        }
    }
    out
}

/// The distance between two points on the WGS-84 ellipsoid, in metres.
pub fn distance_m(a: Point, b: Point) -> f64 {
    Geodesic::wgs84().inverse(a.latitude, a.longitude, b.latitude, b.longitude)
}

/// Who a request counts as: its phone, or the ticket itself when
/// anonymous (anonymous requesters cannot be told apart, so each counts).
pub fn requester_key(phone_digits: Option<&str>, ticket_no: &str) -> String {
    match phone_digits {
        Some(p) => format!("phone:{p}"),
        None => format!("ticket:{ticket_no}"),
    }
}

/// The advisory-lock keys a request takes before it looks for a cluster,
/// in ascending order (so two requests never wait on each other in a
/// circle): its category at its street, or at each cell near its point.
/// Requests that could join one cluster share a key; unrelated ones
/// share none.
pub fn lock_keys(category: &str, place: &Place) -> Vec<i64> {
    let names: Vec<String> = match place {
        Place::Street(s) => vec![format!("street:{category}:{s}")],
        Place::Near(p, r) => cells_near(*p, *r)
            .into_iter()
            .map(|c| format!("cell:{category}:{c}"))
            .collect(),
    };
    let mut keys: Vec<i64> = names
        .iter()
        .map(|n| {
            let d = Sha256::digest(format!("hotline.cluster:{n}").as_bytes());
            i64::from_be_bytes(d[..8].try_into().unwrap_or_default())
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Where a request is looked for a cluster: by distance when it has
/// coordinates, else at its street; a request with neither is not.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Street(String),
    /// The point and the policy's radius.
    Near(Point, u32),
}

pub fn place_of(point: Option<Point>, street: Option<&str>, radius_m: u32) -> Option<Place> {
    match (point, street) {
        (Some(p), _) => Some(Place::Near(p, radius_m)),
        (None, Some(s)) => Some(Place::Street(s.to_string())),
        (None, None) => None,
    }
}

/// A request gathered at the place within the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathered {
    pub ticket_no: String,
    pub requester: String,
    pub point: Option<Point>,
}

/// The requests that form a cluster with the new one, or `None` when they
/// are fewer than `min` distinct requesters: those within the radius of
/// its point (all of them, at a street).
pub fn forming(place: &Place, gathered: Vec<Gathered>, min: u32) -> Option<Vec<Gathered>> {
    let members: Vec<Gathered> = gathered
        .into_iter()
        .filter(|g| match place {
            Place::Street(_) => true,
            Place::Near(p, r) => g.point.is_some_and(|q| distance_m(*p, q) <= f64::from(*r)),
        })
        .collect();
    (distinct_requesters(&members) as u64 >= u64::from(min)).then_some(members)
}

/// How many distinct requesters the requests come from.
pub fn distinct_requesters(members: &[Gathered]) -> usize {
    members
        .iter()
        .map(|g| g.requester.as_str())
        .collect::<HashSet<&str>>()
        .len()
}

/// A cluster as read to be joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Active {
    pub cluster_id: ClusterId,
    pub centre: Option<Point>,
    pub last_at: DateTime<Utc>,
}

/// The active cluster a request joins: at a street, the latest; by
/// distance, the nearest whose centre is within the radius.
pub fn to_join(place: &Place, active: Vec<Active>) -> Option<ClusterId> {
    match place {
        Place::Street(_) => active.into_iter().max_by_key(|a| a.last_at),
        Place::Near(p, r) => active
            .into_iter()
            .filter_map(|a| a.centre.map(|c| (distance_m(*p, c), a)))
            .filter(|(d, _)| *d <= f64::from(*r))
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, a)| a),
    }
    .map(|a| a.cluster_id)
}

hotline_common::sql_enum!(
    /// What holds a cluster together.
    Basis, pb::ClusterBasis, "cluster basis", {
        Street = "street",
        Distance = "distance",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    const GUOMAO: Point = Point {
        latitude: 39.9087,
        longitude: 116.4605,
    };

    fn east(p: Point, metres: f64) -> Point {
        Point {
            latitude: p.latitude,
            longitude: p.longitude + metres / (111_320.0 * p.latitude.to_radians().cos()),
        }
    }

    fn g(no: &str, who: &str, point: Option<Point>) -> Gathered {
        Gathered {
            ticket_no: no.into(),
            requester: who.into(),
            point,
        }
    }

    #[test]
    fn distances_are_metres_on_the_ellipsoid() {
        let d = distance_m(GUOMAO, east(GUOMAO, 250.0));
        assert!((d - 250.0).abs() < 2.0, "{d}");
        assert_eq!(distance_m(GUOMAO, GUOMAO), 0.0);
    }

    #[test]
    fn points_within_the_radius_find_each_other_on_the_grid() {
        for metres in [0.0, 150.0, 299.0, 999.0] {
            let (a, b) = (GUOMAO, east(GUOMAO, metres));
            assert!(cells_near(a, 1000).contains(&cell_of(b)), "{metres}");
            assert!(cells_near(b, 1000).contains(&cell_of(a)), "{metres}");
            let shared: Vec<i64> = lock_keys("flood", &Place::Near(a, 1000))
                .into_iter()
                .filter(|k| lock_keys("flood", &Place::Near(b, 1000)).contains(k))
                .collect();
            assert!(!shared.is_empty(), "{metres}");
        }
        assert_eq!(cells_near(GUOMAO, 300)[0], cell_of(GUOMAO));
        let keys = lock_keys("flood", &Place::Near(GUOMAO, 300));
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "ascending");
        assert!(
            !lock_keys("noise", &Place::Street("110105001".into()))
                .iter()
                .any(|k| lock_keys("flood", &Place::Street("110105001".into())).contains(k))
        );
    }

    #[test]
    fn n_distinct_requesters_form_a_cluster_and_n_minus_one_do_not() {
        let street = Place::Street("110105001".into());
        let four = vec![
            g("1", "phone:1", None),
            g("2", "phone:2", None),
            g("3", "phone:2", None),
            g("4", "ticket:4", None),
            g("5", "phone:3", None),
        ];
        assert!(forming(&street, four.clone(), 5).is_none());
        assert_eq!(forming(&street, four, 4).map(|m| m.len()), Some(5));
        let near = Place::Near(GUOMAO, 300);
        let spread = vec![
            g("1", "phone:1", Some(east(GUOMAO, 100.0))),
            g("2", "phone:2", Some(east(GUOMAO, 290.0))),
            g("3", "phone:3", Some(east(GUOMAO, 400.0))),
            g("4", "phone:4", None),
        ];
        assert!(forming(&near, spread.clone(), 3).is_none());
        assert_eq!(forming(&near, spread, 2).map(|m| m.len()), Some(2));
    }

    #[test]
    fn a_request_joins_the_nearest_cluster_in_reach() {
        let at = Utc::now();
        let a = |id: u128, m: f64| Active {
            cluster_id: ClusterId::from(hotline_common::ids::RawUuid::from_u128(id)),
            centre: Some(east(GUOMAO, m)),
            last_at: at,
        };
        let near = Place::Near(GUOMAO, 300);
        assert_eq!(
            to_join(&near, vec![a(1, 250.0), a(2, 100.0), a(3, 10.0 + 300.0)]),
            Some(ClusterId::from(hotline_common::ids::RawUuid::from_u128(2)))
        );
        assert_eq!(to_join(&near, vec![a(3, 310.0)]), None);
    }

    #[test]
    fn coordinates_out_of_range_are_named() {
        let mut f = Fields::new();
        let bad = common::Coordinates {
            latitude: f64::NAN,
            longitude: 200.0,
        };
        assert!(parse_point(&mut f, Some(&bad)).is_none());
        let e = f.finish().unwrap_err().message;
        assert!(e.contains("latitude") && e.contains("longitude"), "{e}");
    }
}
