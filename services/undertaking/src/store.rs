//! Undertaking's storage: assignments. All of its SQL lives here.

use chrono::{DateTime, Utc};
use hotline_common::ApiError;
use hotline_common::time::{opt_to_proto, to_proto};
use hotline_proto::common::v1::{AssignmentRole, Feedback, TicketSummary};
use hotline_proto::undertaking::v1::{Assignment, AssignmentState, Extension, HandlingRecord};
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::domain::{ExtensionState, NewRecord, RecordKind, State};
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
     sign_deadline, feedback_deadline, signed_at, fed_back_at, feedback, part";

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
        } as i32,
        dispatched_at: Some(to_proto(row.get("dispatched_at"))),
        sign_deadline: Some(to_proto(row.get("sign_deadline"))),
        signed_at: opt_to_proto(row.get("signed_at")),
        feedback_deadline: Some(to_proto(row.get("feedback_deadline"))),
        fed_back_at: opt_to_proto(row.get("fed_back_at")),
        feedback,
        ticket: Some(ticket),
        part: row.get::<Option<String>, _>("part").unwrap_or_default(),
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

    /// Records a ticket's assignments; those already recorded (same ticket
    /// and unit) are kept as they are. Returns all of the ticket's.
    pub async fn create(
        &self,
        ticket: &TicketSummary,
        dispatched_at: DateTime<Utc>,
        assignments: &[NewAssignment],
        policy: &Policy,
        who: &Identity,
    ) -> Result<(Vec<Stored>, usize), ApiError> {
        let mut tx = self.pool.begin().await?;
        let bytes = ticket.encode_to_vec();
        let mut created = 0;
        let mut entries = Vec::new();
        for a in assignments {
            let inserted = sqlx::query(
                "INSERT INTO assignments (assignment_id, ticket_no, unit_id, role, state, ticket, \
                 dispatched_at, sign_deadline, feedback_deadline) \
                 VALUES ($1, $2, $3, $4, 'pending_sign', $5, $6, $7, $8) \
                 ON CONFLICT ON CONSTRAINT assignments_ticket_unit_unique DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(&ticket.ticket_no)
            .bind(&a.unit_id)
            .bind(if a.lead { "lead" } else { "co" })
            .bind(&bytes)
            .bind(dispatched_at)
            .bind(a.sign_deadline)
            .bind(a.feedback_deadline)
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
                format!("unit={} lead={}", a.unit_id, a.lead),
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
             ORDER BY (role = 'lead') DESC, unit_id"
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
        let (at, id) = cursor.unzip();
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assignments WHERE assignment_id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let stored = row.as_ref().map(from_row).transpose()?;
        Ok((tx, stored))
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
            &clock::clock_id(&s.proto.ticket_no, Stage::SignOff, &s.unit_id),
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
            &clock::clock_id(&s.proto.ticket_no, Stage::Feedback, &s.unit_id),
            at,
        )
        .await?;
        Ok(s)
    }

    /// Co-units of a ticket whose part is not in yet.
    pub async fn parts_missing(
        tx: &mut Transaction<'static, Postgres>,
        ticket_no: &str,
    ) -> Result<Vec<String>, ApiError> {
        Ok(sqlx::query_scalar(
            "SELECT unit_id FROM assignments WHERE ticket_no = $1 AND role = 'co' \
             AND state <> 'fed_back' ORDER BY unit_id",
        )
        .bind(ticket_no)
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
            Stage::Dispatch => return Err(ApiError::internal("dispatch is not undertaking's")),
        };
        let id = Uuid::parse_str(&ext.assignment_id)
            .map_err(|_| ApiError::internal("stored assignment id"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET {column} = $2 WHERE assignment_id = $1"
        )))
        .bind(id)
        .bind(new_deadline)
        .execute(&mut **tx)
        .await?;
        clock::extend(
            tx,
            policy,
            &clock::clock_id(&ext.ticket_no, stage, &ext.unit_id),
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
