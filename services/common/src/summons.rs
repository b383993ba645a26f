//! Summonses: units called to a place by a set time, each with an arrival
//! clock. Street and township whistles (街乡吹哨、部门报到) use them today;
//! on-site division (现场核分) and consultation meetings (会议协商) are the
//! same mechanism with another owner.
//!
//! The pure rules (who may be summoned, when they may be told to arrive,
//! whether an arrival is late) and the SQL of the summons rows and their
//! clocks live here once. A service keeps its summonses in a table of its
//! own schema, of this shape, next to the table of what summons them (the
//! owner: a whistle, a meeting):
//!
//! ```sql
//! CREATE TABLE <table> (
//!     <owner>    UUID NOT NULL REFERENCES <owners> (<owner>),
//!     unit_id    TEXT NOT NULL,
//!     arrive_by  TIMESTAMPTZ NOT NULL,
//!     arrived_at TIMESTAMPTZ,
//!     PRIMARY KEY (<owner>, unit_id)
//! );
//! ```
//!
//! Each summoned unit's clock runs in the owner's stage, one clock per
//! owner (its id is the clock's instance), from the summons to `arrive_by`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use hotline_sla::{Policy, Stage};
use sqlx::{AssertSqlSafe, PgConnection, Row};
use uuid::Uuid;

use crate::clock::{self, ClockSpec};
use crate::error::ApiError;
use crate::ids::{Id, TicketNo, UnitId};
use crate::outbox::Tx;
use crate::validate::Fields;

/// Where one kind of summons is kept, and the stage its clocks run in.
#[derive(Debug, Clone, Copy)]
pub struct Summonses {
    /// The table, in the service's own schema (a fixed identifier).
    pub table: &'static str,
    /// The column naming the owner (a fixed identifier).
    pub owner: &'static str,
    pub stage: Stage,
}

/// One summoned unit, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summoned {
    pub unit_id: UnitId,
    pub arrive_by: DateTime<Utc>,
    pub arrived_at: Option<DateTime<Utc>>,
}

impl Summoned {
    /// Arrived after the time set.
    pub fn late(&self) -> bool {
        self.arrived_at.is_some_and(|a| is_late(a, self.arrive_by))
    }
}

/// What one summons asks of the units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub units: Vec<UnitId>,
    pub arrive_by: DateTime<Utc>,
}

/// How a kind of summons is bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most units one summons calls.
    pub max_units: usize,
    /// Latest arrival time, counted from the summons.
    pub max_ahead: Duration,
}

/// Checks the units called (1 to `max_units`, distinct, not the caller)
/// under `field`, and the arrival time under `arrive_field` (later than
/// `now`, at most `max_ahead` after it). Every problem goes to `f`.
pub fn check_call(
    f: &mut Fields,
    (field, arrive_field): (&str, &str),
    caller: &UnitId,
    raw_units: &[String],
    arrive_by: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    limits: Limits,
) -> Option<Call> {
    if raw_units.is_empty() || raw_units.len() > limits.max_units {
        f.add(field, format!("1 to {} units", limits.max_units));
    }
    let mut units: Vec<UnitId> = Vec::new();
    for (i, raw) in raw_units.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let Some(u) = f.id::<UnitId>(&at, raw) else {
            continue;
        };
        if &u == caller {
            f.add(&at, "a unit does not summon itself");
        } else if units.contains(&u) {
            f.add(&at, format!("{:?} twice", u.as_str()));
        } else {
            units.push(u);
        }
    }
    let arrive_by = match arrive_by {
        None => {
            f.add(arrive_field, "required");
            None
        }
        Some(t) if t <= now => {
            f.add(arrive_field, "must be later than now");
            None
        }
        Some(t) if t > now + limits.max_ahead => {
            f.add(
                arrive_field,
                format!(
                    "at most {} days ahead, not {}",
                    limits.max_ahead.num_days(),
                    t.to_rfc3339()
                ),
            );
            None
        }
        Some(t) => Some(t),
    };
    Some(Call {
        units,
        arrive_by: arrive_by?,
    })
}

/// An arrival at `at` for a summons to arrive by `arrive_by` is late.
pub fn is_late(at: DateTime<Utc>, arrive_by: DateTime<Utc>) -> bool {
    at > arrive_by
}

/// May `unit` report its arrival? Not summoned is "not found" (`what`
/// names the owner, e.g. "whistle 0190…"); arrived already is a wrong
/// state.
pub fn check_arrival<'a>(
    summoned: &'a [Summoned],
    unit: &UnitId,
    what: &str,
) -> Result<&'a Summoned, ApiError> {
    let s = summoned
        .iter()
        .find(|s| &s.unit_id == unit)
        .ok_or_else(|| ApiError::not_found(format!("unit {unit} is not summoned by {what}")))?;
    if let Some(at) = s.arrived_at {
        return Err(ApiError::precondition(
            crate::Reason::AlreadyReportedIn,
            format!("{unit} has already reported in, at {}", at.to_rfc3339()),
        )
        .with("unit_id", unit)
        .with("arrived_at", at.to_rfc3339()));
    }
    Ok(s)
}

impl Summonses {
    /// The id of a summoned unit's arrival clock.
    pub fn clock_id(&self, ticket_no: &TicketNo, unit: &UnitId, owner: Uuid) -> String {
        clock::instance_clock_id(ticket_no, self.stage, unit, Some(&owner.to_string()))
    }

    /// Records the summons of `owner` in the caller's transaction, with an
    /// arrival clock per unit from `at` to the call's arrival time.
    pub async fn insert(
        &self,
        tx: &mut Tx,
        policy: &Policy,
        owner: Uuid,
        ticket_no: &TicketNo,
        call: &Call,
        at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let instance = owner.to_string();
        for unit in &call.units {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} ({}, unit_id, arrive_by) VALUES ($1, $2, $3)",
                self.table, self.owner
            )))
            .bind(owner)
            .bind(unit)
            .bind(call.arrive_by)
            .execute(&mut **tx)
            .await?;
            clock::start(
                tx,
                policy,
                &ClockSpec {
                    ticket_no,
                    stage: self.stage,
                    unit_id: unit,
                    instance: Some(&instance),
                    started_at: at,
                    deadline: call.arrive_by,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Locks the summonses of one owner, in the caller's transaction.
    pub async fn lock(&self, tx: &mut Tx, owner: Uuid) -> Result<Vec<Summoned>, ApiError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT unit_id, arrive_by, arrived_at FROM {} WHERE {} = $1 \
             ORDER BY unit_id FOR UPDATE",
            self.table, self.owner
        )))
        .bind(owner)
        .fetch_all(&mut **tx)
        .await?;
        rows.iter().map(summoned).collect()
    }

    /// A summoned unit arrives: recorded, and its clock stops (late or
    /// not). Returns false when it was not waited for.
    pub async fn arrive(
        &self,
        tx: &mut Tx,
        owner: Uuid,
        ticket_no: &TicketNo,
        unit: &UnitId,
        at: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET arrived_at = $3 WHERE {} = $1 AND unit_id = $2 AND arrived_at IS NULL",
            self.table, self.owner
        )))
        .bind(owner)
        .bind(unit)
        .bind(at)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        clock::stop(tx, &self.clock_id(ticket_no, unit, owner), at).await?;
        Ok(true)
    }

    /// The summonses of some owners, by owner, units in order.
    pub async fn of(
        &self,
        conn: &mut PgConnection,
        owners: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Summoned>>, ApiError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {0} AS owner, unit_id, arrive_by, arrived_at FROM {1} \
             WHERE {0} = ANY($1) ORDER BY {0}, unit_id",
            self.owner, self.table
        )))
        .bind(owners)
        .fetch_all(&mut *conn)
        .await?;
        let mut out: HashMap<Uuid, Vec<Summoned>> = HashMap::new();
        for r in &rows {
            out.entry(r.get("owner")).or_default().push(summoned(r)?);
        }
        Ok(out)
    }
}

fn summoned(r: &sqlx::postgres::PgRow) -> Result<Summoned, ApiError> {
    let unit: String = r.get("unit_id");
    Ok(Summoned {
        unit_id: UnitId::parse(&unit)
            .map_err(|p| ApiError::internal(format!("stored unit id {unit:?}: {p}")))?,
        arrive_by: r.get("arrive_by"),
        arrived_at: r.get("arrived_at"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_units: 3,
        max_ahead: Duration::days(30),
    };

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + minutes * 60, 0).unwrap()
    }

    fn unit(s: &str) -> UnitId {
        UnitId::parse(s).unwrap()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_call_names_other_distinct_units_and_a_time_to_come() {
        let me = unit("street-110105001");
        let mut f = Fields::new();
        let call = check_call(
            &mut f,
            ("units", "arrive_by"),
            &me,
            &ids(&["bj-housing", "bj-cmc"]),
            Some(t(30)),
            t(0),
            LIMITS,
        )
        .unwrap();
        assert!(f.finish().is_ok());
        assert_eq!(call.units, vec![unit("bj-housing"), unit("bj-cmc")]);
        assert_eq!(call.arrive_by, t(30));

        let mut f = Fields::new();
        let call = check_call(
            &mut f,
            ("units", "arrive_by"),
            &me,
            &ids(&["street-110105001", "bj-housing", "bj-housing", "bad id"]),
            Some(t(0)),
            t(0),
            LIMITS,
        );
        assert!(call.is_none());
        let e = f.finish().unwrap_err();
        for field in ["units[0]", "units[2]", "units[3]", "arrive_by", "1 to 3"] {
            assert!(e.message.contains(field), "{field}: {}", e.message);
        }
    }

    #[test]
    fn an_arrival_time_is_bounded() {
        let me = unit("street-110105001");
        let far = t(0) + Duration::days(31);
        let year_255000 = DateTime::from_timestamp(7_984_000_000_000, 0).unwrap();
        for bad in [None, Some(t(-1)), Some(far), Some(year_255000)] {
            let mut f = Fields::new();
            let call = check_call(
                &mut f,
                ("units", "arrive_by"),
                &me,
                &ids(&["bj-housing"]),
                bad,
                t(0),
                LIMITS,
            );
            assert!(call.is_none(), "{bad:?}");
            let e = f.finish().unwrap_err();
            assert_eq!(e.fields.len(), 1, "{bad:?}: {}", e.message);
            assert_eq!(e.fields[0].0, "arrive_by");
        }
        let mut f = Fields::new();
        let edge = t(0) + Duration::days(30);
        let call = check_call(
            &mut f,
            ("units", "arrive_by"),
            &me,
            &ids(&["bj-housing"]),
            Some(edge),
            t(0),
            LIMITS,
        );
        assert_eq!(call.map(|c| c.arrive_by), Some(edge));
    }

    #[test]
    fn an_arrival_is_once_and_late_after_the_time_set() {
        let waiting = Summoned {
            unit_id: unit("bj-housing"),
            arrive_by: t(10),
            arrived_at: None,
        };
        let arrived = Summoned {
            unit_id: unit("bj-cmc"),
            arrive_by: t(10),
            arrived_at: Some(t(11)),
        };
        let all = [waiting.clone(), arrived.clone()];
        assert_eq!(
            check_arrival(&all, &unit("bj-housing"), "whistle w").unwrap(),
            &waiting
        );
        let e = check_arrival(&all, &unit("bj-cmc"), "whistle w").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::FailedPrecondition);
        assert!(e.message.contains("already reported in"), "{}", e.message);
        let e = check_arrival(&all, &unit("bj-nobody"), "whistle w").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::NotFound);
        assert!(e.message.contains("whistle w"), "{}", e.message);
        assert!(arrived.late());
        assert!(!waiting.late());
        assert!(!is_late(t(10), t(10)));
        assert!(is_late(t(11), t(10)));
    }
}
