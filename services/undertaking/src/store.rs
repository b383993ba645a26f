//! Undertaking's storage: assignments. All of its SQL lives here.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::common::v1::{AssignmentRole, Feedback, TicketSummary};
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentReturn, AssignmentState, Extension, HandlingRecord, Whistle,
};
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::domain::{
    ExtensionState, NewRecord, NewReturn, NewWhistle, RecordKind, ReturnReason, ReturnState, State,
};
use hotline_common::audit::{self, Entry};
use hotline_common::auth::Identity;
use hotline_common::clock::{self, ClockSpec};
use hotline_common::error::violated_constraint;
use hotline_proto::undertaking::v1 as pb;
use hotline_sla::{Policy, Stage};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// One assignment to record.
pub struct NewAssignment {
    pub unit_id: String,
    pub lead: bool,
    pub sign_deadline: DateTime<Utc>,
    pub feedback_deadline: DateTime<Utc>,
}

/// What an assignment is answered with: the lead unit's feedback, or a
/// co-unit's part.
#[derive(Clone, Copy)]
pub enum Answer<'a> {
    Feedback(&'a Feedback),
    Part(&'a str),
}

/// A stored assignment with its state.
pub struct Stored {
    pub id: Uuid,
    pub unit_id: String,
    pub state: State,
    pub proto: Assignment,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

const COLUMNS: &str = "assignment_id, ticket_no, unit_id, role, state, ticket, dispatched_at, \
     sign_deadline, feedback_deadline, signed_at, fed_back_at, feedback, part, hop";

/// The id of an assignment's clock for a stage: each hop has its own.
pub fn assignment_clock(ticket_no: &str, stage: Stage, unit_id: &str, hop: i32) -> String {
    clock::instance_clock_id(
        ticket_no,
        stage,
        unit_id,
        clock::hop_instance(hop).as_deref(),
    )
}

fn from_row(row: &PgRow) -> Result<Stored, ApiError> {
    let state_text: String = row.get("state");
    let state = State::parse(&state_text)
        .ok_or_else(|| ApiError::internal(format!("stored state {state_text:?}")))?;
    let ticket: Vec<u8> = row.get("ticket");
    let ticket = TicketSummary::decode(ticket.as_slice())
        .map_err(|e| ApiError::internal(format!("stored ticket: {e}")))?;
    let feedback: Option<Vec<u8>> = row.get("feedback");
    let feedback = feedback
        .map(|b| Feedback::decode(b.as_slice()))
        .transpose()
        .map_err(|e| ApiError::internal(format!("stored feedback: {e}")))?;
    let role: String = row.get("role");
    let id: Uuid = row.get("assignment_id");
    let unit_id: String = row.get("unit_id");
    let proto = Assignment {
        assignment_id: id.to_string(),
        ticket_no: row.get("ticket_no"),
        unit_id: unit_id.clone(),
        role: if role == "lead" {
            AssignmentRole::Lead
        } else {
            AssignmentRole::Co
        } as i32,
        state: match state {
            State::PendingSign => AssignmentState::PendingSign,
            State::Signed => AssignmentState::Signed,
            State::FedBack => AssignmentState::FedBack,
            State::ReturnRequested => AssignmentState::ReturnRequested,
            State::Withdrawn => AssignmentState::Withdrawn,
        } as i32,
        dispatched_at: Some(to_proto(row.get("dispatched_at"))),
        sign_deadline: Some(to_proto(row.get("sign_deadline"))),
        signed_at: opt_to_proto(row.get("signed_at")),
        feedback_deadline: Some(to_proto(row.get("feedback_deadline"))),
        fed_back_at: opt_to_proto(row.get("fed_back_at")),
        feedback,
        ticket: Some(ticket),
        part: row.get::<Option<String>, _>("part").unwrap_or_default(),
        hop: row.get("hop"),
    };
    Ok(Stored {
        id,
        unit_id,
        state,
        proto,
    })
}

pub use hotline_common::paging::Cursor;

impl Store {
    pub fn new(pool: PgPool) -> Store {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Records the assignments of a ticket's routing hop. Recording a hop
    /// withdraws the open assignments of earlier hops (their clocks stop,
    /// their pending returns are accepted); a hop older than one already
    /// recorded changes nothing, and assignments already recorded (same
    /// hop and unit) are kept as they are. Returns all of the ticket's.
    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        &self,
        ticket: &TicketSummary,
        hop: i32,
        dispatched_at: DateTime<Utc>,
        assignments: &[NewAssignment],
        accepted_return: Option<&Uuid>,
        policy: &Policy,
        who: &Identity,
    ) -> Result<(Vec<Stored>, usize), ApiError> {
        let mut tx = self.pool.begin().await?;
        let existing: Vec<(Uuid, i32, String, String)> = sqlx::query_as(
            "SELECT assignment_id, hop, state, unit_id FROM assignments \
             WHERE ticket_no = $1 ORDER BY hop FOR UPDATE",
        )
        .bind(&ticket.ticket_no)
        .fetch_all(&mut *tx)
        .await?;
        if existing.iter().any(|(_, h, _, _)| *h > hop) {
            drop(tx);
            return Ok((self.by_ticket(&ticket.ticket_no).await?, 0));
        }
        let now = hotline_common::time::now();
        let mut entries = Vec::new();
        for (id, old_hop, state, unit_id) in &existing {
            let open = State::parse(state).is_some_and(State::open);
            if *old_hop >= hop || !open {
                continue;
            }
            sqlx::query(
                "UPDATE assignments SET state = 'withdrawn', withdrawn_at = $2 WHERE assignment_id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE returns SET state = 'accepted', decided_at = $2, \
                 decision_note = 'the ticket was re-dispatched' \
                 WHERE assignment_id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for stage in [Stage::SignOff, Stage::Feedback] {
                clock::stop(
                    &mut tx,
                    &assignment_clock(&ticket.ticket_no, stage, unit_id, *old_hop),
                    now,
                )
                .await?;
            }
            entries.push(Entry::by(
                who,
                "assignment.withdrawn",
                &ticket.ticket_no,
                format!("assignment={id} unit={unit_id} hop={old_hop} new_hop={hop}"),
            ));
        }
        if let Some(id) = accepted_return {
            // The re-dispatch won, whatever was decided on the return meanwhile.
            let changed = sqlx::query(
                "UPDATE returns SET state = 'accepted', decided_at = $2, \
                 decision_note = $3 WHERE return_id = $1 AND state <> 'accepted'",
            )
            .bind(id)
            .bind(now)
            .bind(format!("accepted by the re-dispatch to hop {hop}"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                entries.push(Entry::by(
                    who,
                    "return.accepted",
                    &ticket.ticket_no,
                    format!("return={id} hop={hop}"),
                ));
            }
        }
        let bytes = ticket.encode_to_vec();
        let mut created = 0;
        let instance = clock::hop_instance(hop);
        for a in assignments {
            let inserted = sqlx::query(
                "INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, \
                 dispatched_at, sign_deadline, feedback_deadline, hop) \
                 VALUES ($1, $2, $3, $4, 'pending_sign', $5, $6, $7, $8, $9) \
                 ON CONFLICT ON CONSTRAINT assignments_ticket_hop_unit_unique DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(&ticket.ticket_no)
            .bind(&a.unit_id)
            .bind(if a.lead { "lead" } else { "co" })
            .bind(&bytes)
            .bind(dispatched_at)
            .bind(a.sign_deadline)
            .bind(a.feedback_deadline)
            .bind(hop)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                continue;
            }
            created += 1;
            entries.push(Entry::by(
                who,
                "assignment.created",
                &ticket.ticket_no,
                format!("unit={} lead={} hop={hop}", a.unit_id, a.lead),
            ));
            // Sign-off and feedback are both counted from dispatch.
            for (stage, deadline) in [
                (Stage::SignOff, a.sign_deadline),
                (Stage::Feedback, a.feedback_deadline),
            ] {
                clock::start(
                    &mut tx,
                    policy,
                    &ClockSpec {
                        ticket_no: &ticket.ticket_no,
                        stage,
                        unit_id: &a.unit_id,
                        instance: instance.as_deref(),
                        started_at: dispatched_at,
                        deadline,
                    },
                )
                .await?;
            }
        }
        audit::append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok((self.by_ticket(&ticket.ticket_no).await?, created))
    }

    pub async fn by_ticket(&self, ticket_no: &str) -> Result<Vec<Stored>, ApiError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assignments WHERE ticket_no = $1 \
             ORDER BY hop, (role = 'lead') DESC, unit_id"
        )))
        .bind(ticket_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// One unit's assignments, newest first, after `cursor`.
    pub async fn by_unit(
        &self,
        unit_id: &str,
        state: Option<State>,
        cursor: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<Stored>, ApiError> {
        let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assignments WHERE unit_id = $1 \
             AND ($2::text IS NULL OR state = $2) \
             AND ($3::timestamptz IS NULL OR (dispatched_at, assignment_id) < ($3, $4)) \
             ORDER BY dispatched_at DESC, assignment_id DESC LIMIT $5"
        )))
        .bind(unit_id)
        .bind(state.map(State::as_str))
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Locks one assignment for a state change.
    pub async fn lock(
        &self,
        id: Uuid,
    ) -> Result<(Transaction<'static, Postgres>, Option<Stored>), ApiError> {
        let mut tx = self.pool.begin().await?;
        let stored = Store::lock_in(&mut tx, id).await?;
        Ok((tx, stored))
    }

    /// Locks one assignment inside the caller's transaction.
    pub async fn lock_in(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
    ) -> Result<Option<Stored>, ApiError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assignments WHERE assignment_id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Moves a locked assignment to a state that has no clock of its own
    /// to stop (a return asked for or rejected).
    pub async fn set_state(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
        state: State,
    ) -> Result<Stored, ApiError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET state = $2 WHERE assignment_id = $1 RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(state.as_str())
        .fetch_one(&mut **tx)
        .await?;
        from_row(&row)
    }

    /// Signed: the sign-off clock stops.
    pub async fn mark_signed(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Stored, ApiError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET state = 'signed', signed_at = $2 \
             WHERE assignment_id = $1 RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(at)
        .fetch_one(&mut **tx)
        .await?;
        let s = from_row(&row)?;
        clock::stop(
            tx,
            &assignment_clock(&s.proto.ticket_no, Stage::SignOff, &s.unit_id, s.proto.hop),
            at,
        )
        .await?;
        Ok(s)
    }

    /// Fed back: the feedback clock stops.
    pub async fn mark_fed_back(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
        at: DateTime<Utc>,
        answer: Answer<'_>,
    ) -> Result<Stored, ApiError> {
        let (feedback, part) = match answer {
            Answer::Feedback(f) => (Some(f.encode_to_vec()), None),
            Answer::Part(p) => (None, Some(p)),
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET state = 'fed_back', fed_back_at = $2, feedback = $3, part = $4 \
             WHERE assignment_id = $1 RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(at)
        .bind(feedback)
        .bind(part)
        .fetch_one(&mut **tx)
        .await?;
        let s = from_row(&row)?;
        clock::stop(
            tx,
            &assignment_clock(&s.proto.ticket_no, Stage::Feedback, &s.unit_id, s.proto.hop),
            at,
        )
        .await?;
        Ok(s)
    }

    /// Co-units of a ticket's hop whose part is not in yet.
    pub async fn parts_missing(
        tx: &mut Transaction<'static, Postgres>,
        ticket_no: &str,
        hop: i32,
    ) -> Result<Vec<String>, ApiError> {
        Ok(sqlx::query_scalar(
            "SELECT unit_id FROM assignments WHERE ticket_no = $1 AND hop = $2 AND role = 'co' \
             AND state <> 'fed_back' ORDER BY unit_id",
        )
        .bind(ticket_no)
        .bind(hop)
        .fetch_all(&mut **tx)
        .await?)
    }

    /// Records an extension request against a locked assignment. A second
    /// pending request for the same stage is a wrong state.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_extension(
        tx: &mut Transaction<'static, Postgres>,
        a: &Stored,
        stage: Stage,
        reason: &str,
        previous: DateTime<Utc>,
        requested: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Extension, ApiError> {
        let row = sqlx::query(
            "INSERT INTO extensions (extension_id, assignment_id, ticket_no, unit_id, stage, reason, \
             previous_deadline, requested_deadline, state, requested_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(a.id)
        .bind(&a.proto.ticket_no)
        .bind(&a.unit_id)
        .bind(stage.as_str())
        .bind(reason)
        .bind(previous)
        .bind(requested)
        .bind(at)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("extensions_one_pending") => ApiError::precondition(format!(
                "an extension of the {} stage is already waiting for a decision",
                stage.as_str()
            )),
            _ => e.into(),
        })?;
        extension_from_row(&row)
    }

    /// Locks one extension for a decision.
    pub async fn lock_extension(
        &self,
        id: Uuid,
    ) -> Result<
        (
            Transaction<'static, Postgres>,
            Option<(Extension, ExtensionState)>,
        ),
        ApiError,
    > {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT * FROM extensions WHERE extension_id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let found = match row {
            None => None,
            Some(r) => {
                let state: String = r.get("state");
                let state = ExtensionState::parse(&state).ok_or_else(|| {
                    ApiError::internal(format!("stored extension state {state:?}"))
                })?;
                Some((extension_from_row(&r)?, state))
            }
        };
        Ok((tx, found))
    }

    pub async fn decide_extension(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
        state: ExtensionState,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<Extension, ApiError> {
        let row = sqlx::query(
            "UPDATE extensions SET state = $2, decision_note = $3, decided_at = $4 \
             WHERE extension_id = $1 RETURNING *",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(note)
        .bind(at)
        .fetch_one(&mut **tx)
        .await?;
        extension_from_row(&row)
    }

    /// Moves an assignment's deadline for a stage (an approved extension),
    /// with its clock.
    pub async fn move_deadline(
        tx: &mut Transaction<'static, Postgres>,
        policy: &Policy,
        ext: &Extension,
        stage: Stage,
        new_deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let column = match stage {
            Stage::SignOff => "sign_deadline",
            Stage::Feedback => "feedback_deadline",
            Stage::Dispatch | Stage::ReportIn | Stage::ManualDispatch => {
                return Err(ApiError::internal("only assignment stages are extended"));
            }
        };
        let id = Uuid::parse_str(&ext.assignment_id)
            .map_err(|_| ApiError::internal("stored assignment id"))?;
        let hop: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET {column} = $2 WHERE assignment_id = $1 RETURNING hop"
        )))
        .bind(id)
        .bind(new_deadline)
        .fetch_one(&mut **tx)
        .await?;
        clock::extend(
            tx,
            policy,
            &assignment_clock(&ext.ticket_no, stage, &ext.unit_id, hop),
            new_deadline,
            now,
        )
        .await?;
        Ok(())
    }

    pub async fn extensions_by_ticket(&self, ticket_no: &str) -> Result<Vec<Extension>, ApiError> {
        let rows = sqlx::query(
            "SELECT * FROM extensions WHERE ticket_no = $1 ORDER BY requested_at DESC, extension_id DESC",
        )
        .bind(ticket_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(extension_from_row).collect()
    }

    /// Records what a unit did on a locked, signed assignment.
    pub async fn insert_record(
        tx: &mut Transaction<'static, Postgres>,
        a: &Stored,
        r: &NewRecord,
        at: DateTime<Utc>,
    ) -> Result<HandlingRecord, ApiError> {
        let row = sqlx::query(
            "INSERT INTO handling_records (record_id, assignment_id, ticket_no, unit_id, kind, \
             occurred_at, way, result, note, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(a.id)
        .bind(&a.proto.ticket_no)
        .bind(&a.unit_id)
        .bind(r.kind.as_str())
        .bind(r.occurred_at)
        .bind(&r.way)
        .bind(&r.result)
        .bind(&r.note)
        .bind(at)
        .fetch_one(&mut **tx)
        .await?;
        record_from_row(&row)
    }

    pub async fn records_by_ticket(
        &self,
        ticket_no: &str,
    ) -> Result<Vec<HandlingRecord>, ApiError> {
        let rows = sqlx::query(
            "SELECT * FROM handling_records WHERE ticket_no = $1 ORDER BY occurred_at, record_id",
        )
        .bind(ticket_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Records a unit's return of a locked assignment.
    pub async fn insert_return(
        tx: &mut Transaction<'static, Postgres>,
        a: &Stored,
        r: &NewReturn,
        at: DateTime<Utc>,
    ) -> Result<AssignmentReturn, ApiError> {
        let row = sqlx::query(
            "INSERT INTO returns (return_id, assignment_id, ticket_no, unit_id, hop, reason, \
             duty_rule, note, state, requested_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(a.id)
        .bind(&a.proto.ticket_no)
        .bind(&a.unit_id)
        .bind(a.proto.hop)
        .bind(r.reason.as_str())
        .bind(&r.duty_rule)
        .bind(&r.note)
        .bind(at)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("returns_one_pending") => {
                ApiError::precondition("a return of this assignment is already waiting")
            }
            _ => e.into(),
        })?;
        return_from_row(&row)
    }

    /// Locks one return inside the caller's transaction, with its state.
    pub async fn lock_return(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
    ) -> Result<Option<(AssignmentReturn, ReturnState)>, ApiError> {
        let row = sqlx::query("SELECT * FROM returns WHERE return_id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| {
            let state: String = r.get("state");
            let state = ReturnState::parse(&state)
                .ok_or_else(|| ApiError::internal(format!("stored return state {state:?}")))?;
            Ok((return_from_row(&r)?, state))
        })
        .transpose()
    }

    pub async fn reject_return(
        tx: &mut Transaction<'static, Postgres>,
        id: Uuid,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<AssignmentReturn, ApiError> {
        let row = sqlx::query(
            "UPDATE returns SET state = 'rejected', decision_note = $2, decided_at = $3 \
             WHERE return_id = $1 RETURNING *",
        )
        .bind(id)
        .bind(note)
        .bind(at)
        .fetch_one(&mut **tx)
        .await?;
        return_from_row(&row)
    }

    pub async fn get_return(&self, id: Uuid) -> Result<Option<AssignmentReturn>, ApiError> {
        let row = sqlx::query("SELECT * FROM returns WHERE return_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(return_from_row).transpose()
    }

    /// One ticket's returns, or (no ticket) every pending one; oldest first.
    pub async fn returns(
        &self,
        ticket_no: Option<&str>,
    ) -> Result<Vec<AssignmentReturn>, ApiError> {
        let rows =
            match ticket_no {
                Some(no) => sqlx::query(
                    "SELECT * FROM returns WHERE ticket_no = $1 ORDER BY requested_at, return_id",
                )
                .bind(no)
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query(
                        "SELECT * FROM returns WHERE state = 'pending' \
                     ORDER BY requested_at, return_id LIMIT 500",
                    )
                    .fetch_all(&self.pool)
                    .await?
                }
            };
        rows.iter().map(return_from_row).collect()
    }

    /// Records a whistle on a locked assignment, with an arrival clock per
    /// summoned department.
    pub async fn insert_whistle(
        tx: &mut Transaction<'static, Postgres>,
        policy: &Policy,
        a: &Stored,
        w: &NewWhistle,
        at: DateTime<Utc>,
    ) -> Result<Uuid, ApiError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO whistles (whistle_id, assignment_id, ticket_no, unit_id, matter, place, \
             blown_at, arrive_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(a.id)
        .bind(&a.proto.ticket_no)
        .bind(&a.unit_id)
        .bind(&w.matter)
        .bind(&w.place)
        .bind(at)
        .bind(w.arrive_by)
        .execute(&mut **tx)
        .await?;
        let instance = id.to_string();
        for unit in &w.summoned {
            sqlx::query("INSERT INTO summonses (whistle_id, unit_id) VALUES ($1, $2)")
                .bind(id)
                .bind(unit)
                .execute(&mut **tx)
                .await?;
            clock::start(
                tx,
                policy,
                &ClockSpec {
                    ticket_no: &a.proto.ticket_no,
                    stage: Stage::ReportIn,
                    unit_id: unit,
                    instance: Some(&instance),
                    started_at: at,
                    deadline: w.arrive_by,
                },
            )
            .await?;
        }
        Ok(id)
    }

    /// A summoned department reports in: its arrival clock stops. Returns
    /// false when it is not summoned by this whistle, or reported already.
    pub async fn report_in(
        tx: &mut Transaction<'static, Postgres>,
        whistle: &Whistle,
        unit_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let id = Uuid::parse_str(&whistle.whistle_id)
            .map_err(|_| ApiError::internal("stored whistle id"))?;
        let updated = sqlx::query(
            "UPDATE summonses SET arrived_at = $3 \
             WHERE whistle_id = $1 AND unit_id = $2 AND arrived_at IS NULL",
        )
        .bind(id)
        .bind(unit_id)
        .bind(at)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        clock::stop(
            tx,
            &clock::instance_clock_id(
                &whistle.ticket_no,
                Stage::ReportIn,
                unit_id,
                Some(&whistle.whistle_id),
            ),
            at,
        )
        .await?;
        Ok(true)
    }

    /// One whistle with its summonses; inside a transaction it is locked.
    pub async fn whistle(
        conn: &mut sqlx::PgConnection,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Whistle>, ApiError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM whistles WHERE whistle_id = $1{}",
            if lock { " FOR UPDATE" } else { "" }
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut w = whistle_from_row(&row);
        w.summonses = summonses(conn, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(Some(w))
    }

    pub async fn whistles_by_ticket(&self, ticket_no: &str) -> Result<Vec<Whistle>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT * FROM whistles WHERE ticket_no = $1 ORDER BY blown_at, whistle_id",
        )
        .bind(ticket_no)
        .fetch_all(&mut *conn)
        .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get("whistle_id")).collect();
        let mut by_whistle = summonses(&mut conn, &ids).await?;
        Ok(rows
            .iter()
            .zip(&ids)
            .map(|(r, id)| {
                let mut w = whistle_from_row(r);
                w.summonses = by_whistle.remove(id).unwrap_or_default();
                w
            })
            .collect())
    }
}

async fn summonses(
    conn: &mut sqlx::PgConnection,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<pb::Summons>>, ApiError> {
    let rows = sqlx::query(
        "SELECT s.whistle_id, s.unit_id, s.arrived_at, w.arrive_by FROM summonses s \
         JOIN whistles w USING (whistle_id) WHERE s.whistle_id = ANY($1) ORDER BY s.unit_id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: std::collections::HashMap<Uuid, Vec<pb::Summons>> = Default::default();
    for r in rows {
        let arrived: Option<DateTime<Utc>> = r.get("arrived_at");
        let arrive_by: DateTime<Utc> = r.get("arrive_by");
        out.entry(r.get("whistle_id"))
            .or_default()
            .push(pb::Summons {
                unit_id: r.get("unit_id"),
                arrived_at: opt_to_proto(arrived),
                late: arrived.is_some_and(|a| a > arrive_by),
            });
    }
    Ok(out)
}

fn whistle_from_row(row: &PgRow) -> Whistle {
    Whistle {
        whistle_id: row.get::<Uuid, _>("whistle_id").to_string(),
        ticket_no: row.get("ticket_no"),
        assignment_id: row.get::<Uuid, _>("assignment_id").to_string(),
        unit_id: row.get("unit_id"),
        matter: row.get("matter"),
        place: row.get("place"),
        blown_at: Some(to_proto(row.get("blown_at"))),
        arrive_by: Some(to_proto(row.get("arrive_by"))),
        summonses: Vec::new(),
    }
}

fn return_from_row(row: &PgRow) -> Result<AssignmentReturn, ApiError> {
    let reason: String = row.get("reason");
    let reason = match ReturnReason::parse(&reason) {
        Some(ReturnReason::NotOurDuty) => pb::ReturnReason::NotOurDuty,
        Some(ReturnReason::NotOurArea) => pb::ReturnReason::NotOurArea,
        Some(ReturnReason::WrongCategory) => pb::ReturnReason::WrongCategory,
        Some(ReturnReason::InsufficientInformation) => pb::ReturnReason::InsufficientInformation,
        None => {
            return Err(ApiError::internal(format!(
                "stored return reason {reason:?}"
            )));
        }
    };
    let state: String = row.get("state");
    let state = match ReturnState::parse(&state) {
        Some(ReturnState::Pending) => pb::ReturnState::Pending,
        Some(ReturnState::Accepted) => pb::ReturnState::Accepted,
        Some(ReturnState::Rejected) => pb::ReturnState::Rejected,
        None => return Err(ApiError::internal(format!("stored return state {state:?}"))),
    };
    Ok(AssignmentReturn {
        return_id: row.get::<Uuid, _>("return_id").to_string(),
        assignment_id: row.get::<Uuid, _>("assignment_id").to_string(),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        hop: row.get("hop"),
        reason: reason as i32,
        duty_rule: row.get("duty_rule"),
        note: row.get("note"),
        state: state as i32,
        requested_at: Some(to_proto(row.get("requested_at"))),
        decided_at: opt_to_proto(row.get("decided_at")),
        decision_note: row.get("decision_note"),
    })
}

fn record_from_row(row: &PgRow) -> Result<HandlingRecord, ApiError> {
    let kind: String = row.get("kind");
    let kind = match RecordKind::parse(&kind) {
        Some(RecordKind::Contact) => pb::HandlingRecordKind::Contact,
        Some(RecordKind::Progress) => pb::HandlingRecordKind::Progress,
        Some(RecordKind::SiteVisit) => pb::HandlingRecordKind::SiteVisit,
        None => return Err(ApiError::internal(format!("stored record kind {kind:?}"))),
    };
    Ok(HandlingRecord {
        record_id: row.get::<Uuid, _>("record_id").to_string(),
        assignment_id: row.get::<Uuid, _>("assignment_id").to_string(),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        kind: kind as i32,
        occurred_at: Some(to_proto(row.get("occurred_at"))),
        way: row.get("way"),
        result: row.get("result"),
        note: row.get("note"),
        recorded_at: Some(to_proto(row.get("recorded_at"))),
    })
}

fn extension_from_row(row: &PgRow) -> Result<Extension, ApiError> {
    let stage: String = row.get("stage");
    let stage: Stage = stage
        .parse()
        .map_err(|e: String| ApiError::internal(format!("stored stage: {e}")))?;
    let state: String = row.get("state");
    let state = match ExtensionState::parse(&state) {
        Some(ExtensionState::Pending) => pb::ExtensionState::Pending,
        Some(ExtensionState::Approved) => pb::ExtensionState::Approved,
        Some(ExtensionState::Rejected) => pb::ExtensionState::Rejected,
        None => {
            return Err(ApiError::internal(format!(
                "stored extension state {state:?}"
            )));
        }
    };
    Ok(Extension {
        extension_id: row.get::<Uuid, _>("extension_id").to_string(),
        assignment_id: row.get::<Uuid, _>("assignment_id").to_string(),
        ticket_no: row.get("ticket_no"),
        unit_id: row.get("unit_id"),
        stage: hotline_common::convert::stage_to_proto(stage) as i32,
        reason: row.get("reason"),
        previous_deadline: Some(to_proto(row.get("previous_deadline"))),
        requested_deadline: Some(to_proto(row.get("requested_deadline"))),
        state: state as i32,
        requested_at: Some(to_proto(row.get("requested_at"))),
        decided_at: opt_to_proto(row.get("decided_at")),
        decision_note: row.get("decision_note"),
    })
}
