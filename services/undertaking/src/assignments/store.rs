//! The SQL of assignments: record a hop's, read, lock, sign, withdraw.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::clock::{self, ClockSpec};
use hotline_common::ids::{AssignmentId, TicketNo, UnitId};
use hotline_common::outbox::Tx;
use hotline_common::paging::Cursor;
use hotline_proto::common::v1::{Feedback, TicketSummary};
use hotline_sla::{Policy, Stage};
use prost::Message;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use super::rules::{Assignment, NewAssignment, Role, State};

/// The columns `from_row` reads.
pub const COLUMNS: &str = "assignment_id, ticket_no, unit_id, role, state, ticket, dispatched_at, \
     sign_deadline, feedback_deadline, signed_at, fed_back_at, feedback, part, hop, round";

/// The id of an assignment's clock for a stage: each hop, and each
/// handling round of a hop, has its own.
pub fn clock_id(
    ticket_no: &TicketNo,
    stage: Stage,
    unit_id: &UnitId,
    hop: i32,
    round: i32,
) -> String {
    clock::instance_clock_id(ticket_no, stage, unit_id, instance(hop, round).as_deref())
}

/// The instance of an assignment's clocks: none for the first round of
/// hop 1 (the ids clocks had before hops), `hop2` for a later hop,
/// `hop1-round2` for a re-handling round.
pub fn instance(hop: i32, round: i32) -> Option<String> {
    if round > 1 {
        Some(format!("hop{hop}-round{round}"))
    } else {
        clock::hop_instance(hop)
    }
}

pub fn from_row(row: &PgRow) -> Result<Assignment, ApiError> {
    let ticket: Vec<u8> = row.get("ticket");
    let ticket = TicketSummary::decode(ticket.as_slice())
        .map_err(|e| ApiError::internal(format!("stored ticket: {e}")))?;
    let feedback: Option<Vec<u8>> = row.get("feedback");
    let feedback = feedback
        .map(|b| Feedback::decode(b.as_slice()))
        .transpose()
        .map_err(|e| ApiError::internal(format!("stored feedback: {e}")))?;
    Ok(Assignment {
        id: row.get("assignment_id"),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        role: Role::from_sql(row.get("role"))?,
        state: State::from_sql(row.get("state"))?,
        hop: row.get("hop"),
        round: row.get("round"),
        ticket,
        dispatched_at: row.get("dispatched_at"),
        sign_deadline: row.get("sign_deadline"),
        feedback_deadline: row.get("feedback_deadline"),
        signed_at: row.get("signed_at"),
        fed_back_at: row.get("fed_back_at"),
        feedback,
        part: row.get("part"),
    })
}

/// The ticket an assignment belongs to (it never changes), unlocked.
pub async fn ticket_of(
    conn: &mut PgConnection,
    id: AssignmentId,
) -> Result<Option<TicketNo>, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT ticket_no FROM assignments WHERE assignment_id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Locks one assignment inside the caller's transaction.
pub async fn lock(tx: &mut Tx, id: AssignmentId) -> Result<Option<Assignment>, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assignments WHERE assignment_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records one assignment of a hop with its sign-off and feedback clocks,
/// both counted from dispatch. An assignment already recorded for the same
/// ticket, hop and unit (in any handling round: a hop's units are recorded
/// once, a re-handling round adds its lead by [`insert_round`]) is kept as
/// it is: returns false. The caller holds the ticket's hop row.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    policy: &Policy,
    ticket: &TicketSummary,
    ticket_no: &TicketNo,
    hop: i32,
    round: i32,
    dispatched_at: DateTime<Utc>,
    a: &NewAssignment,
) -> Result<bool, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, \
         dispatched_at, sign_deadline, feedback_deadline, hop, round) \
         SELECT $1, $2, $3, $4, 'pending_sign', $5, $6, $7, $8, $9, $10 \
         WHERE NOT EXISTS (SELECT 1 FROM assignments \
             WHERE ticket_no = $2 AND hop = $9 AND unit_id = $3) \
         ON CONFLICT ON CONSTRAINT assignments_ticket_hop_round_unit_unique DO NOTHING",
    )
    .bind(AssignmentId::new())
    .bind(ticket_no)
    .bind(&a.unit_id)
    .bind(a.role.as_sql())
    .bind(ticket.encode_to_vec())
    .bind(dispatched_at)
    .bind(a.sign_deadline)
    .bind(a.feedback_deadline)
    .bind(hop)
    .bind(round)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    start_clocks(tx, policy, ticket_no, hop, round, dispatched_at, a).await?;
    Ok(true)
}

/// Records the lead unit's assignment of a re-handling round `round` of
/// `hop` (the caller holds the ticket's hop row exclusively and moved it
/// to that round), with its clocks from `dispatched_at`. Returns it.
#[allow(clippy::too_many_arguments)]
pub async fn insert_round(
    tx: &mut Tx,
    policy: &Policy,
    ticket: &TicketSummary,
    ticket_no: &TicketNo,
    hop: i32,
    round: i32,
    dispatched_at: DateTime<Utc>,
    a: &NewAssignment,
) -> Result<Assignment, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, \
         dispatched_at, sign_deadline, feedback_deadline, hop, round) \
         VALUES ($1, $2, $3, $4, 'pending_sign', $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(AssignmentId::new())
    .bind(ticket_no)
    .bind(&a.unit_id)
    .bind(a.role.as_sql())
    .bind(ticket.encode_to_vec())
    .bind(dispatched_at)
    .bind(a.sign_deadline)
    .bind(a.feedback_deadline)
    .bind(hop)
    .bind(round)
    .fetch_one(&mut **tx)
    .await?;
    start_clocks(tx, policy, ticket_no, hop, round, dispatched_at, a).await?;
    from_row(&row)
}

/// Starts an assignment's sign-off and feedback clocks.
async fn start_clocks(
    tx: &mut Tx,
    policy: &Policy,
    ticket_no: &TicketNo,
    hop: i32,
    round: i32,
    dispatched_at: DateTime<Utc>,
    a: &NewAssignment,
) -> Result<(), ApiError> {
    let instance = instance(hop, round);
    for (stage, deadline) in [
        (Stage::SignOff, a.sign_deadline),
        (Stage::Feedback, a.feedback_deadline),
    ] {
        clock::start(
            tx,
            policy,
            &ClockSpec {
                ticket_no,
                stage,
                unit_id: &a.unit_id,
                instance: instance.as_deref(),
                started_at: dispatched_at,
                deadline,
            },
        )
        .await?;
    }
    Ok(())
}

/// Withdraws the open assignments of the ticket's hops before `hop`:
/// their clocks stop. Returns them as they were.
pub async fn withdraw_before(
    tx: &mut Tx,
    ticket_no: &TicketNo,
    hop: i32,
    at: DateTime<Utc>,
) -> Result<Vec<Assignment>, ApiError> {
    let open: Vec<&str> = State::ALL
        .iter()
        .filter(|s| s.open())
        .map(|s| s.as_sql())
        .collect();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assignments WHERE ticket_no = $1 AND hop < $2 \
         AND state = ANY($3) ORDER BY hop, assignment_id FOR UPDATE"
    )))
    .bind(ticket_no)
    .bind(hop)
    .bind(&open)
    .fetch_all(&mut **tx)
    .await?;
    let withdrawn: Vec<Assignment> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    let ids: Vec<AssignmentId> = withdrawn.iter().map(|a| a.id).collect();
    sqlx::query(
        "UPDATE assignments SET state = $2, withdrawn_at = $3 WHERE assignment_id = ANY($1)",
    )
    .bind(&ids)
    .bind(State::Withdrawn.as_sql())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    for a in &withdrawn {
        for stage in [Stage::SignOff, Stage::Feedback] {
            clock::stop(tx, &a.clock_id(stage), at).await?;
        }
    }
    Ok(withdrawn)
}

/// Moves a locked assignment to a state that has no clock of its own to
/// stop (a return asked for or rejected).
pub async fn set_state(
    tx: &mut Tx,
    id: AssignmentId,
    state: State,
) -> Result<Assignment, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE assignments SET state = $2 WHERE assignment_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(state.as_sql())
    .fetch_one(&mut **tx)
    .await?;
    from_row(&row)
}

/// Signed: the sign-off clock stops.
pub async fn mark_signed(
    tx: &mut Tx,
    id: AssignmentId,
    at: DateTime<Utc>,
) -> Result<Assignment, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE assignments SET state = $2, signed_at = $3 \
         WHERE assignment_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(State::Signed.as_sql())
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    let a = from_row(&row)?;
    clock::stop(tx, &a.clock_id(Stage::SignOff), at).await?;
    Ok(a)
}

/// A ticket's assignments, hop by hop, lead unit first (a reopened hop's
/// leads round by round), read by `assignments_ticket_hop_round_unit_unique`
/// (a ticket has few: they are sorted in memory).
pub const BY_TICKET: &str = "SELECT assignment_id, ticket_no, unit_id, role, state, ticket, \
     dispatched_at, sign_deadline, feedback_deadline, signed_at, fed_back_at, feedback, part, hop, round \
     FROM assignments WHERE ticket_no = $1 ORDER BY hop, (role = 'lead') DESC, round, unit_id";

/// A ticket's assignments, hop by hop, lead unit first.
pub async fn by_ticket(
    conn: &mut PgConnection,
    ticket_no: &TicketNo,
) -> Result<Vec<Assignment>, ApiError> {
    let rows = sqlx::query(BY_TICKET)
        .bind(ticket_no)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// One unit's assignments, newest first, after (`$2`, `$3`) (NULL: from
/// the newest): served by `assignments_by_unit` with no row read that is
/// not returned. The columns are [`COLUMNS`].
pub const BY_UNIT: &str = "SELECT assignment_id, ticket_no, unit_id, role, state, ticket, \
     dispatched_at, sign_deadline, feedback_deadline, signed_at, fed_back_at, feedback, part, hop, round \
     FROM assignments WHERE unit_id = $1 \
     AND (dispatched_at, assignment_id) < (COALESCE($2::timestamptz, 'infinity'), \
          COALESCE($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
     ORDER BY dispatched_at DESC, assignment_id DESC LIMIT $4";

/// [`BY_UNIT`] in one state (`$2`; a unit's pending work): served by
/// `assignments_by_unit_state`, so that the unit's closed history is never
/// read.
pub const BY_UNIT_IN_STATE: &str = "SELECT assignment_id, ticket_no, unit_id, role, state, ticket, \
     dispatched_at, sign_deadline, feedback_deadline, signed_at, fed_back_at, feedback, part, hop, round \
     FROM assignments WHERE unit_id = $1 AND state = $2 \
     AND (dispatched_at, assignment_id) < (COALESCE($3::timestamptz, 'infinity'), \
          COALESCE($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
     ORDER BY dispatched_at DESC, assignment_id DESC LIMIT $5";

/// One unit's assignments, newest first, after `cursor`.
pub async fn by_unit(
    pool: &PgPool,
    unit_id: &UnitId,
    state: Option<State>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<Assignment>, ApiError> {
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    let rows = match state {
        Some(state) => {
            sqlx::query(BY_UNIT_IN_STATE)
                .bind(unit_id)
                .bind(state.as_sql())
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        None => {
            sqlx::query(BY_UNIT)
                .bind(unit_id)
                .bind(at)
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_unit_lists_read_the_columns_from_row_reads() {
        for sql in [super::BY_UNIT, super::BY_UNIT_IN_STATE, super::BY_TICKET] {
            assert!(
                sql.contains(&format!("SELECT {} FROM", super::COLUMNS)),
                "{sql}"
            );
        }
    }
}
