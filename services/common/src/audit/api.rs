//! The `AuditService` every service serves over its own trail.

use sqlx::{PgPool, Row};

use hotline_proto::common::v1 as pb;

use super::rules::Seal;
use super::seal::{head_and_unsealed, verify};
use crate::error::ApiError;

/// The `AuditService` every service serves over its own trail.
pub struct AuditApi {
    pub pool: PgPool,
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        req: tonic::Request<pb::ListAuditEntriesRequest>,
    ) -> Result<tonic::Response<pb::ListAuditEntriesResponse>, tonic::Status> {
        let r = req.into_inner();
        let mut f = crate::validate::Fields::new();
        let ticket = if r.ticket_no.trim().is_empty() {
            None
        } else {
            f.id::<crate::ids::TicketNo>("ticket_no", &r.ticket_no)
        };
        let size = crate::paging::Page::parse(&mut f, r.page_size, "", &[]).size;
        if r.after_seq < 0 {
            f.add("after_seq", "must not be negative");
        }
        f.finish()?;
        let rows = sqlx::query(
            "SELECT seq, at, actor, actor_unit, action, ticket_no, detail, hash FROM audit_log \
             WHERE seq > $1 AND ($2::text IS NULL OR ticket_no = $2) ORDER BY seq LIMIT $3",
        )
        .bind(r.after_seq)
        .bind(ticket)
        .bind(size)
        .fetch_all(&self.pool)
        .await
        .map_err(ApiError::from)?;
        let entries = rows
            .iter()
            .map(|r| pb::AuditEntry {
                seq: r.get("seq"),
                at: Some(crate::time::to_proto(r.get("at"))),
                actor: r.get("actor"),
                actor_unit: r.get("actor_unit"),
                action: r.get("action"),
                ticket_no: r.get("ticket_no"),
                detail: r.get("detail"),
                hash: hex::encode(r.get::<Vec<u8>, _>("hash")),
            })
            .collect();
        Ok(tonic::Response::new(pb::ListAuditEntriesResponse {
            entries,
        }))
    }

    async fn verify_audit(
        &self,
        req: tonic::Request<pb::VerifyAuditRequest>,
    ) -> Result<tonic::Response<pb::VerifyAuditResponse>, tonic::Status> {
        let expected =
            match req.into_inner().expected {
                None => None,
                Some(x) => Some(Seal::parse(x.entries, &x.hash).map_err(|(field, why)| {
                    ApiError::invalid(&format!("expected.{field}"), &why)
                })?),
            };
        let v = verify(&self.pool, expected).await?;
        let (broken_at, reason) = v.broken.unwrap_or((0, String::new()));
        Ok(tonic::Response::new(pb::VerifyAuditResponse {
            intact: broken_at == 0,
            entries: v.rows as i64,
            broken_at,
            reason,
            unsealed: v.unsealed,
            seal: Some(v.head.to_proto()),
        }))
    }

    async fn get_audit_seal(
        &self,
        _req: tonic::Request<pb::GetAuditSealRequest>,
    ) -> Result<tonic::Response<pb::GetAuditSealResponse>, tonic::Status> {
        let (head, unsealed) = head_and_unsealed(&self.pool).await?;
        Ok(tonic::Response::new(pb::GetAuditSealResponse {
            seal: Some(head.to_proto()),
            unsealed,
        }))
    }
}
