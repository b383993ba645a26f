//! Idempotency keys of state-changing calls: a unit's system (or an
//! operator's) that lost an answer retries with the same key and gets the
//! first call's response, without acting twice.
//!
//! - A key belongs to the caller (subject and unit) and the method.
//! - A retry with the same key and the same request (the request's encoded
//!   bytes without the key, hashed with SHA-256) gets the first response,
//!   byte for byte, whatever happened since.
//! - The same key with a different request is `INVALID_ARGUMENT` naming
//!   `idempotency_key` (reason `IDEMPOTENCY_KEY_REUSED`).
//! - The key's row is the first write of the change's transaction, and its
//!   response the last: a change and its key commit together or not at
//!   all, so a failed call stores nothing and its retry runs afresh. A
//!   concurrent call with the same key waits on the row's primary key until
//!   the first transaction ends, then replays its response (or, if it
//!   failed, runs itself).
//! - Keys are kept for the retention (`HOTLINE_IDEMPOTENCY_RETENTION_SECONDS`,
//!   7 days by default); a key older than that counts as new, and
//!   [`Keys::run_sweeper`] deletes expired rows.
//!
//! Each handler makes one call, [`Keys::once`], with its change as an
//! async closure over the transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

use crate::auth::Identity;
use crate::error::{ApiError, Reason};
use crate::outbox::Tx;
use crate::time::now;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/idempotency");

/// The longest key, in characters (printable ASCII).
pub const MAX_KEY_CHARS: usize = 128;
/// The variable setting how long keys are kept, in seconds.
pub const ENV_RETENTION: &str = "HOTLINE_IDEMPOTENCY_RETENTION_SECONDS";
/// How long keys are kept unless configured: a week.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often expired keys are deleted (or the retention, when shorter).
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per statement by the sweep, to keep its transactions short.
const SWEEP_BATCH: i64 = 10_000;

/// The transaction a change runs in: a [`Tx`] (it derefs to one), in a
/// type without lifetime parameters so that a handler's async closure is
/// general over its borrow (the compiler's `Send` check of the handler's
/// future requires it).
pub struct Change(Tx);

impl std::ops::Deref for Change {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.0
    }
}

impl std::ops::DerefMut for Change {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.0
    }
}

/// A request that may carry an idempotency key.
pub trait Keyed: Message + Clone {
    /// The RPC's full path, e.g.
    /// `/hotline.undertaking.v1.UndertakingService/SignAssignment`: the
    /// key's scope besides the caller.
    const METHOD: &'static str;
    /// The key as sent (empty: none).
    fn idempotency_key(&self) -> &str;
    /// The request without its key: what makes two requests the same.
    fn without_key(&self) -> Self;
}

macro_rules! keyed {
    ($($ty:ty => $method:literal,)*) => {
        $(
            impl Keyed for $ty {
                const METHOD: &'static str = $method;
                fn idempotency_key(&self) -> &str {
                    &self.idempotency_key
                }
                fn without_key(&self) -> Self {
                    let mut r = self.clone();
                    r.idempotency_key.clear();
                    r
                }
            }
        )*

        /// Every method whose request is [`Keyed`].
        pub const KEYED_METHODS: &[&str] = &[$($method),*];
    };
}

use hotline_proto::dispatch::v1 as dispatch;
use hotline_proto::intake::v1 as intake;
use hotline_proto::supervision::v1 as supervision;
use hotline_proto::undertaking::v1 as undertaking;

keyed! {
    undertaking::SignAssignmentRequest => "/hotline.undertaking.v1.UndertakingService/SignAssignment",
    undertaking::SubmitFeedbackRequest => "/hotline.undertaking.v1.UndertakingService/SubmitFeedback",
    undertaking::SubmitPartRequest => "/hotline.undertaking.v1.UndertakingService/SubmitPart",
    undertaking::RequestExtensionRequest => "/hotline.undertaking.v1.UndertakingService/RequestExtension",
    undertaking::DecideExtensionRequest => "/hotline.undertaking.v1.UndertakingService/DecideExtension",
    undertaking::AddHandlingRecordRequest => "/hotline.undertaking.v1.UndertakingService/AddHandlingRecord",
    undertaking::ReturnAssignmentRequest => "/hotline.undertaking.v1.UndertakingService/ReturnAssignment",
    undertaking::RejectReturnRequest => "/hotline.undertaking.v1.UndertakingService/RejectReturn",
    undertaking::BlowWhistleRequest => "/hotline.undertaking.v1.UndertakingService/BlowWhistle",
    undertaking::ReportInRequest => "/hotline.undertaking.v1.UndertakingService/ReportIn",
    dispatch::RedispatchTicketRequest => "/hotline.dispatch.v1.DispatchService/RedispatchTicket",
    dispatch::PublishCatalogueRequest => "/hotline.dispatch.v1.DispatchService/PublishCatalogue",
    dispatch::ActivateCatalogueRequest => "/hotline.dispatch.v1.DispatchService/ActivateCatalogue",
    intake::SetSurgeModeRequest => "/hotline.intake.v1.IntakeService/SetSurgeMode",
    intake::MarkCallerRequest => "/hotline.intake.v1.IntakeService/MarkCaller",
    intake::AcceptRequestRequest => "/hotline.intake.v1.IntakeService/AcceptRequest",
    intake::RefuseRequestRequest => "/hotline.intake.v1.IntakeService/RefuseRequest",
    intake::ProposeArticleRequest => "/hotline.intake.v1.KnowledgeService/ProposeArticle",
    intake::ApproveArticleRequest => "/hotline.intake.v1.KnowledgeService/ApproveArticle",
    intake::ExpireArticleRequest => "/hotline.intake.v1.KnowledgeService/ExpireArticle",
    intake::RateContactRequest => "/hotline.intake.v1.IntakeService/RateContact",
    intake::RecordCheckBackRequest => "/hotline.intake.v1.IntakeService/RecordCheckBack",
    intake::AppealRatingRequest => "/hotline.intake.v1.IntakeService/AppealRating",
    intake::DecideAppealRequest => "/hotline.intake.v1.IntakeService/DecideAppeal",
    intake::TakeReturnVisitRequest => "/hotline.intake.v1.IntakeService/TakeReturnVisit",
    intake::RecordVisitAttemptRequest => "/hotline.intake.v1.IntakeService/RecordVisitAttempt",
    supervision::ExcludeTicketRequest => "/hotline.supervision.v1.SupervisionService/ExcludeTicket",
    supervision::DecideExclusionRequest => "/hotline.supervision.v1.SupervisionService/DecideExclusion",
    supervision::ReverseExclusionRequest => "/hotline.supervision.v1.SupervisionService/ReverseExclusion",
    supervision::AppealEvaluationRequest => "/hotline.supervision.v1.SupervisionService/AppealEvaluation",
    supervision::DecideEvaluationAppealRequest => "/hotline.supervision.v1.SupervisionService/DecideEvaluationAppeal",
    supervision::DraftSpecialReportRequest => "/hotline.supervision.v1.SupervisionService/DraftSpecialReport",
    supervision::SubmitSpecialReportRequest => "/hotline.supervision.v1.SupervisionService/SubmitSpecialReport",
    supervision::DecideSpecialReportRequest => "/hotline.supervision.v1.SupervisionService/DecideSpecialReport",
    supervision::SubmitReportFeedbackRequest => "/hotline.supervision.v1.SupervisionService/SubmitReportFeedback",
    supervision::DecideReportFeedbackRequest => "/hotline.supervision.v1.SupervisionService/DecideReportFeedback",
    supervision::OpenShirkingCaseRequest => "/hotline.supervision.v1.SupervisionService/OpenShirkingCase",
    supervision::CloseCaseRequest => "/hotline.supervision.v1.SupervisionService/CloseCase",
    supervision::StartOnSiteDivisionRequest => "/hotline.supervision.v1.SupervisionService/StartOnSiteDivision",
    supervision::ArriveOnSiteRequest => "/hotline.supervision.v1.SupervisionService/ArriveOnSite",
    supervision::RecordDivisionRequest => "/hotline.supervision.v1.SupervisionService/RecordDivision",
    supervision::DraftNoticeRequest => "/hotline.supervision.v1.SupervisionService/DraftNotice",
    supervision::SubmitNoticeRequest => "/hotline.supervision.v1.SupervisionService/SubmitNotice",
    supervision::DecideNoticeRequest => "/hotline.supervision.v1.SupervisionService/DecideNotice",
    supervision::OpenInspectionRequest => "/hotline.supervision.v1.SupervisionService/OpenInspection",
    supervision::ReportRectificationRequest => "/hotline.supervision.v1.SupervisionService/ReportRectification",
    supervision::CloseInspectionRequest => "/hotline.supervision.v1.SupervisionService/CloseInspection",
    supervision::ConveneMeetingRequest => "/hotline.supervision.v1.SupervisionService/ConveneMeeting",
    supervision::AttendMeetingRequest => "/hotline.supervision.v1.SupervisionService/AttendMeeting",
    supervision::RecordMeetingMinutesRequest => "/hotline.supervision.v1.SupervisionService/RecordMeetingMinutes",
    supervision::CompleteMeetingActionRequest => "/hotline.supervision.v1.SupervisionService/CompleteMeetingAction",
}

/// The key of a request, checked: `None` when it carries none. Surrounding
/// blanks are dropped, as intake's Submit does.
pub fn check_key(raw: &str) -> Result<Option<&str>, ApiError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > MAX_KEY_CHARS || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "idempotency_key",
            &format!("1–{MAX_KEY_CHARS} printable ASCII characters"),
        ));
    }
    Ok(Some(key))
}

/// What makes two requests the same: SHA-256 of the encoded request
/// without its key.
pub fn fingerprint<Q: Keyed>(req: &Q) -> Vec<u8> {
    Sha256::digest(req.without_key().encode_to_vec()).to_vec()
}

/// The idempotency keys of one service's schema.
#[derive(Clone)]
pub struct Keys {
    pool: PgPool,
    retention: Duration,
}

/// What claiming a key found.
enum Claim {
    /// The key is this call's: its change runs.
    Fresh,
    /// A call with the key committed already.
    Stored {
        fingerprint: Vec<u8>,
        response: Option<Vec<u8>>,
    },
}

impl Keys {
    pub fn new(pool: PgPool, retention: Duration) -> Keys {
        Keys { pool, retention }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `change` in one transaction and commits it, once per key: a
    /// request with a key already used (by this caller, for this method,
    /// within the retention) gets the stored response instead, and
    /// `change` does not run. Without a key, `change` simply runs.
    pub async fn once<Q, R, F>(&self, who: &Identity, req: &Q, change: F) -> Result<R, ApiError>
    where
        Q: Keyed,
        R: Message + Default,
        F: AsyncFnOnce(&mut Change) -> Result<R, ApiError>,
    {
        let Some(key) = check_key(req.idempotency_key())? else {
            let mut tx = Change(self.pool.begin().await?);
            let response = change(&mut tx).await?;
            tx.0.commit().await?;
            return Ok(response);
        };
        let print = fingerprint(req);
        let unit = who.unit.as_deref().unwrap_or("");
        let at = now();
        let mut tx = self.pool.begin().await?;
        let claim = claim(
            &mut tx,
            [&who.subject, unit, Q::METHOD, key],
            &print,
            at,
            self.expired_before(at),
        )
        .await?;
        match claim {
            Claim::Fresh => {
                let mut tx = Change(tx);
                let response = change(&mut tx).await?;
                let mut tx = tx.0;
                sqlx::query(
                    "UPDATE idempotency_keys SET response = $5 \
                     WHERE subject = $1 AND unit_id = $2 AND method = $3 AND key = $4",
                )
                .bind(&who.subject)
                .bind(unit)
                .bind(Q::METHOD)
                .bind(key)
                .bind(response.encode_to_vec())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(response)
            }
            Claim::Stored {
                fingerprint,
                response,
            } => {
                drop(tx);
                replay::<Q, R>(who, &print, &fingerprint, response)
            }
        }
    }

    /// [`Keys::once`] for a change that first asks other services:
    /// `prepare` runs with no transaction open (no transaction spans a
    /// network call), then `change` runs with what it found, in the key's
    /// transaction. A key answered already is replayed before `prepare`
    /// runs; one answered meanwhile by a concurrent call with the same key
    /// is replayed after it, so what `prepare` does must be harmless to do
    /// twice (reads, and calls idempotent by their own ids).
    pub async fn once_after<Q, R, P, G, F>(
        &self,
        who: &Identity,
        req: &Q,
        prepare: G,
        change: F,
    ) -> Result<R, ApiError>
    where
        Q: Keyed,
        R: Message + Default,
        G: AsyncFnOnce() -> Result<P, ApiError>,
        F: AsyncFnOnce(P, &mut Change) -> Result<R, ApiError>,
    {
        if let Some(key) = check_key(req.idempotency_key())? {
            let unit = who.unit.as_deref().unwrap_or("");
            let found: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
                "SELECT fingerprint, response FROM idempotency_keys \
                 WHERE subject = $1 AND unit_id = $2 AND method = $3 AND key = $4 \
                 AND created_at >= $5",
            )
            .bind(&who.subject)
            .bind(unit)
            .bind(Q::METHOD)
            .bind(key)
            .bind(self.expired_before(now()))
            .fetch_optional(&self.pool)
            .await?;
            // A row without a response is a call still in flight: `once`
            // below waits for it.
            if let Some((stored, response @ Some(_))) = found {
                return replay::<Q, R>(who, &fingerprint(req), &stored, response);
            }
        }
        let prepared = prepare().await?;
        self.once(who, req, async move |tx| change(prepared, tx).await)
            .await
    }

    /// Keys created before this count as gone.
    fn expired_before(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(self.retention)
            .ok()
            .and_then(|r| at.checked_sub_signed(r))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Deletes the keys past the retention; returns how many.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let before = self.expired_before(now());
        let mut deleted = 0;
        loop {
            let n = sqlx::query(
                "DELETE FROM idempotency_keys WHERE ctid IN \
                 (SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(SWEEP_BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
            deleted += n;
            if n < SWEEP_BATCH as u64 {
                return Ok(deleted);
            }
        }
    }

    /// Sweeps expired keys now and then every [`SWEEP_EVERY`] (or every
    /// retention, when shorter) until `token` is cancelled.
    pub async fn run_sweeper(self, token: CancellationToken) {
        let every = SWEEP_EVERY.min(self.retention).max(Duration::from_secs(1));
        loop {
            match self.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired idempotency keys deleted"),
                Err(e) => tracing::warn!(error = %e.message, "sweeping idempotency keys failed"),
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// The stored response of a key, or the error for a key reused with a
/// different request.
fn replay<Q: Keyed, R: Message + Default>(
    who: &Identity,
    print: &[u8],
    stored_print: &[u8],
    response: Option<Vec<u8>>,
) -> Result<R, ApiError> {
    if stored_print != print {
        return Err(
            ApiError::invalid("idempotency_key", "already used for a different request")
                .because(Reason::IdempotencyKeyReused)
                .with("method", Q::METHOD),
        );
    }
    let bytes = response.ok_or_else(|| {
        ApiError::internal(format!(
            "idempotency key of {} without a response",
            Q::METHOD
        ))
    })?;
    tracing::info!(method = Q::METHOD, subject = %who.subject, "idempotent replay");
    R::decode(bytes.as_slice())
        .map_err(|e| ApiError::internal(format!("stored response of {}: {e}", Q::METHOD)))
}

/// Claims the key for this transaction, or finds the call that holds it.
/// An expired row is taken over as if new. A concurrent claim of the same
/// key waits here until the other transaction ends.
async fn claim(
    tx: &mut Tx,
    [subject, unit, method, key]: [&str; 4],
    print: &[u8],
    at: DateTime<Utc>,
    expired_before: DateTime<Utc>,
) -> Result<Claim, ApiError> {
    let fresh: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (subject, unit_id, method, key, fingerprint, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO UPDATE \
         SET fingerprint = EXCLUDED.fingerprint, response = NULL, created_at = EXCLUDED.created_at \
         WHERE idempotency_keys.created_at < $7 \
         RETURNING true",
    )
    .bind(subject)
    .bind(unit)
    .bind(method)
    .bind(key)
    .bind(print)
    .bind(at)
    .bind(expired_before)
    .fetch_optional(&mut **tx)
    .await?;
    if fresh.is_some() {
        return Ok(Claim::Fresh);
    }
    let (fingerprint, response): (Vec<u8>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT fingerprint, response FROM idempotency_keys \
         WHERE subject = $1 AND unit_id = $2 AND method = $3 AND key = $4",
    )
    .bind(subject)
    .bind(unit)
    .bind(method)
    .bind(key)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Claim::Stored {
        fingerprint,
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn keys_are_short_printable_ascii() {
        assert_eq!(check_key("").unwrap(), None);
        assert_eq!(check_key("   ").unwrap(), None);
        assert_eq!(check_key(" k-1 ").unwrap(), Some("k-1"));
        assert_eq!(check_key(&"a".repeat(128)).unwrap().unwrap().len(), 128);
        for bad in [
            "a".repeat(129),
            "a b".into(),
            "钥匙".into(),
            "a\u{7}".into(),
        ] {
            let e = check_key(&bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert_eq!(e.fields[0].0, "idempotency_key");
        }
    }

    #[test]
    fn the_fingerprint_ignores_the_key_only() {
        let a = undertaking::SignAssignmentRequest {
            assignment_id: "a1".into(),
            unit_id: "u1".into(),
            idempotency_key: "k1".into(),
        };
        let mut b = a.clone();
        b.idempotency_key = "k2".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b.unit_id = "u2".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    /// Every RPC whose request has an `idempotency_key` is keyed here
    /// (but intake's Submit, whose key is the ticket's own), and every
    /// method keyed here exists with that field.
    #[test]
    fn the_keyed_methods_are_the_contracts() {
        let fds = prost_types::FileDescriptorSet::decode(hotline_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut with_key = Vec::new();
        for file in &fds.file {
            let package = file.package();
            let keyed_messages: Vec<String> = file
                .message_type
                .iter()
                .filter(|m| m.field.iter().any(|f| f.name() == "idempotency_key"))
                .map(|m| format!(".{package}.{}", m.name()))
                .collect();
            for service in &file.service {
                for m in &service.method {
                    if keyed_messages.iter().any(|k| k == m.input_type()) {
                        with_key.push(format!("/{package}.{}/{}", service.name(), m.name()));
                    }
                }
            }
        }
        with_key.retain(|m| m != "/hotline.intake.v1.IntakeService/Submit");
        with_key.sort();
        let mut listed: Vec<String> = KEYED_METHODS.iter().map(|m| m.to_string()).collect();
        listed.sort();
        assert_eq!(with_key, listed);
    }
}
