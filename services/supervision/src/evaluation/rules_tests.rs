use super::*;
use crate::evaluation::facts::REOPENED;
use hotline_sla::{Month, Policy};

fn v(month: &str) -> EvaluationVersion {
    Policy::beijing()
        .evaluation
        .version_for(Month::parse(month).unwrap())
        .unwrap()
        .clone()
}

fn counts(pairs: &[(usize, i64)]) -> Counts {
    let mut c = Counts::default();
    for (i, n) in pairs {
        c.0[*i] = *n;
    }
    c
}

#[test]
fn rates_use_the_version_s_shares() {
    let c = counts(&[
        (RESPONSE_DUE, 4),
        (RESPONSE_SIGNED, 3),
        (RESOLUTION, 2),
        (RESOLUTION + 1, 1),
        (RESOLUTION + 2, 1),
        (SATISFACTION + 1, 1),
        (SATISFACTION + 2, 1),
        (SATISFACTION + 4, 2),
    ]);
    let [r, s, t, g] = rates(&c, &v("2025-03"));
    assert_eq!((r.numerator, r.denominator, r.rounded()), (3.0, 4, 0.75));
    assert_eq!((s.numerator, s.denominator), (2.5, 4), "partly counts 0.5");
    assert_eq!(t.numerator, 1.0 + 0.6, "基本满意 0.6 in 2025");
    assert_eq!(t.denominator, 4);
    assert!(!g.applicable());
    let [_, _, t24, _] = rates(&c, &v("2024-03"));
    assert_eq!(t24.numerator, 1.0 + 0.8, "基本满意 0.8 in 2023–2024");
}

#[test]
fn the_composite_leaves_out_rates_with_nothing_to_count() {
    let c = counts(&[
        (RESPONSE_DUE, 4),
        (RESPONSE_SIGNED, 3),
        (RESOLUTION, 1),
        (RESOLUTION + 2, 1),
    ]);
    // Street 2025: response 0.2, resolution 0.4, satisfaction 0.3, rating
    // 0.1; only the first two apply: (0.2 × 0.75 + 0.4 × 0.5) / 0.6.
    let s = score(&c, &v("2025-01"), UnitClass::Street);
    assert_eq!(s.composite, Some(round(100.0 * (0.15 + 0.2) / 0.6, 2)));
    assert_eq!(s.composite, Some(58.33));
    let none = score(&Counts::default(), &v("2025-01"), UnitClass::Street);
    assert_eq!(none.composite, None);
    // A rate whose weight is 0 never makes a unit scored.
    let only_rating = counts(&[(RATING, 1)]);
    assert_eq!(
        score(&only_rating, &v("2025-01"), UnitClass::Department).composite,
        None
    );
    assert_eq!(
        score(&only_rating, &v("2025-01"), UnitClass::Street).composite,
        Some(100.0)
    );
}

#[test]
fn rounding_is_half_away_from_zero() {
    assert_eq!(round(0.12345, 4), 0.1235);
    assert_eq!(round(2.0 / 3.0, 4), 0.6667);
    assert_eq!(round(58.333333, 2), 58.33);
    assert_eq!(round(0.125, 2), 0.13);
    assert_eq!(round(0.0, 4), 0.0);
}

#[test]
fn equal_scores_share_a_rank() {
    assert_eq!(
        ranks(&[Some(90.0), Some(80.0), Some(90.0), None, Some(70.0)]),
        [1, 3, 1, 0, 4]
    );
}

#[test]
fn lines_rank_within_each_class() {
    let u = |id: &str, kind: UnitKind, due: i64, signed: i64| UnitCounts {
        unit_id: id.into(),
        kind,
        counts: counts(&[
            (RESPONSE_DUE, due),
            (RESPONSE_SIGNED, signed),
            (REOPENED, 1),
        ]),
    };
    let all = [
        u("s-b", UnitKind::Street, 2, 1),
        u("d-a", UnitKind::Department, 2, 1),
        u("s-a", UnitKind::Street, 2, 2),
        u("x", UnitKind::Unspecified, 2, 2),
        u("z", UnitKind::Street, 0, 0),
    ];
    let l = lines(&all, &v("2025-01"));
    let shown: Vec<(&str, i32, i32)> = l
        .iter()
        .map(|x| (x.unit_id.as_str(), x.rank, x.ranked_in_class))
        .collect();
    assert_eq!(
        shown,
        [
            ("s-a", 1, 2),
            ("s-b", 2, 2),
            ("z", 0, 2),
            ("x", 1, 2),
            ("d-a", 2, 2)
        ],
        "streets before departments; an unknown kind is ranked with departments"
    );
    assert_eq!(l[0].reopened, 1);
}

#[test]
fn numerator_levels_follow_the_weights() {
    let v = v("2025-01");
    assert_eq!(numerator_levels(Metric::Satisfaction, &v), [1, 2, 3]);
    assert_eq!(numerator_levels(Metric::Resolution, &v), [1, 2]);
    assert_eq!(numerator_value(Metric::Resolution, 2, true, &v), 0.5);
    assert_eq!(numerator_value(Metric::Rating, 3, true, &v), 0.6);
    assert_eq!(numerator_value(Metric::Response, 0, false, &v), 0.0);
}
