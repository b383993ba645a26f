//! The evaluation's reads: a period's table (GetEvaluation, and as CSV,
//! ExportEvaluation), one number's tickets (ExplainEvaluation), a unit's
//! months (GetUnitTrend).

use chrono::{NaiveDate, NaiveTime};
use hotline_common::ApiError;
use hotline_common::auth::Identity;
use hotline_common::paging::{Cursor, Page};
use hotline_common::time::opt_to_proto;
use hotline_common::validate::Fields;
use hotline_proto::dispatch::v1::UnitKind;
use hotline_proto::supervision::v1 as pb;
use hotline_sla::{EvaluationVersion, Month};

use super::facts::Metric;
use super::period::{self, Period};
use super::rules::{self, Line, UnitCounts};
use super::store::{self, Side};
use super::{
    Eval, kind_filter, known_unit, optional_unit, period_field, unit_field, unit_for, version_of,
};

fn rate(r: &rules::Rate) -> pb::Rate {
    pb::Rate {
        numerator: rules::round(r.numerator, rules::RATE_PLACES),
        denominator: r.denominator,
        rate: r.rounded(),
        applicable: r.applicable(),
    }
}

/// A line as sent.
pub fn line_proto(l: &Line) -> pb::EvaluationLine {
    pb::EvaluationLine {
        unit_id: l.unit_id.clone(),
        unit_kind: l.kind as i32,
        response: Some(rate(&l.scored.response)),
        resolution: Some(rate(&l.scored.resolution)),
        satisfaction: Some(rate(&l.scored.satisfaction)),
        rating: Some(rate(&l.scored.rating)),
        composite: l.scored.composite.unwrap_or(0.0),
        scored: l.scored.composite.is_some(),
        rank: l.rank,
        ranked_in_class: l.ranked_in_class,
        reopened: l.reopened,
    }
}

fn counts(s: Vec<store::UnitSums>) -> Vec<UnitCounts> {
    s.into_iter()
        .map(|u| UnitCounts {
            unit_id: u.unit_id,
            kind: u.kind,
            counts: u.counts,
        })
        .collect()
}

/// Every unit's line of a period, ranked; then filtered by class.
pub async fn table(
    eval: &Eval,
    p: &Period,
    v: &EvaluationVersion,
    kind: Option<UnitKind>,
) -> Result<Vec<Line>, ApiError> {
    let sums = store::sums(&eval.pool, p.from, p.to).await?;
    let all = rules::lines(&counts(sums), v);
    Ok(match kind {
        None => all,
        Some(k) => {
            let class = rules::class_of(k);
            all.into_iter().filter(|l| l.class == class).collect()
        }
    })
}

/// GetEvaluation.
pub async fn get(
    eval: &Eval,
    who: Identity,
    r: pb::GetEvaluationRequest,
) -> Result<pb::GetEvaluationResponse, ApiError> {
    let mut f = Fields::new();
    let p = period_field(&mut f, "period", &r.period);
    let kind = kind_filter(&mut f, "unit_kind", r.unit_kind);
    let unit = optional_unit(&mut f, "unit_id", &r.unit_id);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[r.period.trim(), &r.unit_kind.to_string(), r.unit_id.trim()],
    );
    f.finish()?;
    let p = p.expect("checked");
    let unit = unit_for(&who, unit)?;
    let v = version_of(eval.evaluation(), "period", &p)?;
    let mut lines = table(eval, &p, v, kind).await?;
    if let Some(u) = &unit {
        lines.retain(|l| l.unit_id == u.as_str());
    }
    let (lines, next_page_token) = page.window(lines);
    Ok(pb::GetEvaluationResponse {
        from_date: p.from.to_string(),
        to_date: p.to.to_string(),
        policy_version: v.name.clone(),
        lines: lines.iter().map(line_proto).collect(),
        next_page_token,
    })
}

fn metric_of(f: &mut Fields, raw: i32) -> Option<Metric> {
    match pb::EvaluationMetric::try_from(raw) {
        Ok(pb::EvaluationMetric::Response) => Some(Metric::Response),
        Ok(pb::EvaluationMetric::Resolution) => Some(Metric::Resolution),
        Ok(pb::EvaluationMetric::Satisfaction) => Some(Metric::Satisfaction),
        Ok(pb::EvaluationMetric::Rating) => Some(Metric::Rating),
        Ok(pb::EvaluationMetric::Unspecified) => {
            f.add("metric", "required");
            None
        }
        Err(_) => {
            f.add("metric", format!("unknown metric {raw}"));
            None
        }
    }
}

fn side_of(f: &mut Fields, raw: i32) -> Option<pb::EvaluationSide> {
    match pb::EvaluationSide::try_from(raw) {
        Ok(pb::EvaluationSide::Unspecified) => {
            f.add("side", "required");
            None
        }
        Ok(s) => Some(s),
        Err(_) => {
            f.add("side", format!("unknown side {raw}"));
            None
        }
    }
}

fn cursor_of(day: NaiveDate, ticket: &str, item: &str) -> Cursor {
    Cursor::new(
        day.and_time(NaiveTime::MIN).and_utc(),
        format!("{ticket}/{item}"),
    )
}

fn after_of(c: &Cursor) -> Option<(NaiveDate, String, String)> {
    let (t, i) = c.key.split_once('/')?;
    Some((c.at.date_naive(), t.to_string(), i.to_string()))
}

/// ExplainEvaluation.
pub async fn explain(
    eval: &Eval,
    who: Identity,
    r: pb::ExplainEvaluationRequest,
) -> Result<pb::ExplainEvaluationResponse, ApiError> {
    let mut f = Fields::new();
    let unit = unit_field(&mut f, "unit_id", &r.unit_id);
    let p = period_field(&mut f, "period", &r.period);
    let metric = metric_of(&mut f, r.metric);
    let side = side_of(&mut f, r.side);
    let page = Page::parse(
        &mut f,
        r.page_size,
        &r.page_token,
        &[
            r.unit_id.trim(),
            r.period.trim(),
            &r.metric.to_string(),
            &r.side.to_string(),
        ],
    );
    f.finish()?;
    let (p, metric, side) = (
        p.expect("checked"),
        metric.expect("checked"),
        side.expect("checked"),
    );
    let unit = unit_for(&who, unit)?.expect("a required unit");
    let v = version_of(eval.evaluation(), "period", &p)?;
    known_unit(&eval.pool, "unit_id", &unit).await?;
    let which = match (side, metric) {
        (pb::EvaluationSide::Denominator, _) => Side::Denominator,
        (_, Metric::Response) => Side::Numerator,
        (_, m) => Side::Levels(rules::numerator_levels(m, v)),
    };
    let after = page.after.as_ref().and_then(after_of);
    let mut rows = store::explain(
        &eval.pool,
        unit.as_str(),
        metric,
        p.from,
        p.to,
        &which,
        after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.cut(&mut rows, |x| cursor_of(x.day, &x.ticket_no, &x.item_id));
    let items = rows
        .iter()
        .map(|x| pb::ExplainedItem {
            ticket_no: x.ticket_no.clone(),
            item_id: x.item_id.clone(),
            day: x.day.to_string(),
            at: opt_to_proto(x.at),
            deadline: opt_to_proto(x.deadline),
            level: x.level as i32,
            numerator_value: if x.counts() {
                rules::numerator_value(x.metric, x.level, x.listed_num, v)
            } else {
                0.0
            },
            counted: x.counts() && x.listed_den,
            excluded: x.exclusion_id.is_some(),
            exclusion_id: x.exclusion_id.map(|e| e.to_string()).unwrap_or_default(),
            set_aside: x.set_aside,
            why: x.why.clone(),
        })
        .collect();
    Ok(pb::ExplainEvaluationResponse {
        policy_version: v.name.clone(),
        items,
        next_page_token,
    })
}

/// GetUnitTrend: every unit's months are summed, so that each month's
/// rank is the unit's rank in its class that month.
pub async fn trend(
    eval: &Eval,
    who: Identity,
    r: pb::GetUnitTrendRequest,
) -> Result<pb::GetUnitTrendResponse, ApiError> {
    let mut f = Fields::new();
    let unit = unit_field(&mut f, "unit_id", &r.unit_id);
    let months = match period::months(&r.from_month, &r.to_month) {
        Ok(m) => m,
        Err((field, e)) => {
            f.add(field, e);
            vec![]
        }
    };
    f.finish()?;
    let unit = unit_for(&who, unit)?.expect("a required unit");
    let e = eval.evaluation();
    for m in &months {
        version_of(e, "from_month", &Period::month(*m))?;
    }
    known_unit(&eval.pool, "unit_id", &unit).await?;
    let first = months.first().expect("at least one month").first_day();
    let last = months.last().expect("at least one month").last_day();
    let rows = store::sums_by_month(&eval.pool, first, last).await?;
    let mut out = Vec::new();
    for m in months {
        let v = version_of(e, "from_month", &Period::month(m))?;
        let of_month: Vec<UnitCounts> = rows
            .iter()
            .filter(|(d, _)| Month::of(*d) == m)
            .map(|(_, u)| UnitCounts {
                unit_id: u.unit_id.clone(),
                kind: u.kind,
                counts: u.counts,
            })
            .collect();
        let lines = rules::lines(&of_month, v);
        let line = lines
            .iter()
            .find(|l| l.unit_id == unit.as_str())
            .map(line_proto)
            .unwrap_or_else(|| {
                let empty = UnitCounts {
                    unit_id: unit.to_string(),
                    kind: UnitKind::Unspecified,
                    counts: Default::default(),
                };
                line_proto(&rules::lines(&[empty], v)[0])
            });
        out.push(pb::TrendMonth {
            month: m.to_string(),
            policy_version: v.name.clone(),
            line: Some(line),
        });
    }
    Ok(pb::GetUnitTrendResponse { months: out })
}

/// The CSV columns, in order (docs/ARCHITECTURE.md lists them).
pub const CSV_HEADER: [&str; 21] = [
    "unit_id",
    "unit_kind",
    "rank",
    "ranked_in_class",
    "composite",
    "response_numerator",
    "response_denominator",
    "response_rate",
    "resolution_numerator",
    "resolution_denominator",
    "resolution_rate",
    "satisfaction_numerator",
    "satisfaction_denominator",
    "satisfaction_rate",
    "rating_numerator",
    "rating_denominator",
    "rating_rate",
    "reopened",
    "policy_version",
    "from_date",
    "to_date",
];

/// One CSV field: quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn kind_name(k: UnitKind) -> &'static str {
    match k {
        UnitKind::Unspecified => "",
        UnitKind::Department => "department",
        UnitKind::Utility => "utility",
        UnitKind::DistrictGovernment => "district_government",
        UnitKind::Street => "street",
    }
}

/// The table as CSV (pure).
pub fn csv(lines: &[Line], version: &str, p: &Period) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push_str("\r\n");
    let r = |x: &rules::Rate| {
        [
            format!("{}", rules::round(x.numerator, rules::RATE_PLACES)),
            x.denominator.to_string(),
            if x.applicable() {
                format!("{:.4}", x.rounded())
            } else {
                String::new()
            },
        ]
    };
    for l in lines {
        let mut row = vec![
            l.unit_id.clone(),
            kind_name(l.kind).to_string(),
            l.rank.to_string(),
            l.ranked_in_class.to_string(),
            l.scored
                .composite
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
        ];
        for x in [
            &l.scored.response,
            &l.scored.resolution,
            &l.scored.satisfaction,
            &l.scored.rating,
        ] {
            row.extend(r(x));
        }
        row.push(l.reopened.to_string());
        row.push(version.to_string());
        row.push(p.from.to_string());
        row.push(p.to.to_string());
        let fields: Vec<String> = row.iter().map(|s| csv_field(s)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// ExportEvaluation.
pub async fn export(
    eval: &Eval,
    _who: Identity,
    r: pb::ExportEvaluationRequest,
) -> Result<pb::ExportEvaluationResponse, ApiError> {
    let mut f = Fields::new();
    let p = period_field(&mut f, "period", &r.period);
    let kind = kind_filter(&mut f, "unit_kind", r.unit_kind);
    f.finish()?;
    let p = p.expect("checked");
    let v = version_of(eval.evaluation(), "period", &p)?;
    let lines = table(eval, &p, v, kind).await?;
    Ok(pb::ExportEvaluationResponse {
        csv: csv(&lines, &v.name, &p).into_bytes(),
        file_name: format!("evaluation-{}.csv", p.label()),
        policy_version: v.name.clone(),
    })
}
