//! One error type for every service, mapped once to `tonic::Code`.
//!
//! Handlers return [`ApiError`]; storage errors are classified here (a
//! database that cannot be reached is `UNAVAILABLE`, never `INTERNAL`), and
//! each store turns its named constraint violations into precise errors.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// What went wrong, as a caller must act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed; the message names the field(s).
    InvalidArgument,
    /// The thing asked for does not exist (or is not the caller's to see).
    NotFound,
    /// The thing exists but is in the wrong state ("already signed").
    FailedPrecondition,
    /// The caller may not do this.
    PermissionDenied,
    /// The caller is not identified.
    Unauthenticated,
    /// A limit was hit.
    ResourceExhausted,
    /// A dependency is down; retrying later may work.
    Unavailable,
    /// A bug. Logged with detail; the caller gets a generic message.
    Internal,
}

impl ErrorCode {
    pub fn grpc(self) -> Code {
        match self {
            ErrorCode::InvalidArgument => Code::InvalidArgument,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ErrorCode::PermissionDenied => Code::PermissionDenied,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::ResourceExhausted => Code::ResourceExhausted,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::Internal => Code::Internal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Field violations (field path, description) for INVALID_ARGUMENT.
    pub fields: Vec<(String, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// One invalid field: `"<field>: <problem>"`.
    pub fn invalid(field: &str, problem: &str) -> ApiError {
        ApiError::invalid_fields(vec![(field.to_string(), problem.to_string())])
    }

    /// Several invalid fields, all named in the message.
    pub fn invalid_fields(fields: Vec<(String, String)>) -> ApiError {
        let message = fields
            .iter()
            .map(|(f, p)| format!("{f}: {p}"))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            code: ErrorCode::InvalidArgument,
            message,
            fields,
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn precondition(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::FailedPrecondition, message)
    }

    pub fn permission(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::PermissionDenied, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e.code {
            ErrorCode::Internal => {
                tracing::error!(error = %e.message, "internal error");
                Status::internal("internal error")
            }
            ErrorCode::InvalidArgument if !e.fields.is_empty() => {
                let violations: Vec<FieldViolation> = e
                    .fields
                    .iter()
                    .map(|(f, d)| FieldViolation::new(f.clone(), d.clone()))
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    e.message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            code => Status::new(code.grpc(), e.message),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        classify_sqlx(&e)
    }
}

/// The generic classification of a storage error, for errors a store did
/// not recognise itself.
pub fn classify_sqlx(e: &sqlx::Error) -> ApiError {
    match e {
        sqlx::Error::RowNotFound => ApiError::not_found("not found"),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::unavailable("database unavailable, retry later")
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("40001") => {
            ApiError::unavailable("concurrent update, retry")
        }
        _ => ApiError::internal(format!("database: {e}")),
    }
}

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// A peer service's error, seen from the caller: its own codes pass
/// through when they concern the caller's input; a peer that is down is
/// `UNAVAILABLE`.
pub fn from_peer(peer: &str, s: Status) -> ApiError {
    let code = match s.code() {
        Code::InvalidArgument => ErrorCode::InvalidArgument,
        Code::NotFound => ErrorCode::NotFound,
        Code::FailedPrecondition => ErrorCode::FailedPrecondition,
        Code::PermissionDenied => ErrorCode::PermissionDenied,
        Code::ResourceExhausted => ErrorCode::ResourceExhausted,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
            ErrorCode::Unavailable
        }
        _ => ErrorCode::Internal,
    };
    ApiError::new(code, format!("{peer}: {}", s.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_every_field() {
        let s: Status = ApiError::invalid_fields(vec![
            ("content".into(), "required".into()),
            ("requester.phone".into(), "required".into()),
        ])
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("content: required"));
        assert!(s.message().contains("requester.phone: required"));
        let details = s.get_error_details();
        assert_eq!(details.bad_request().unwrap().field_violations.len(), 2);
    }

    #[test]
    fn internal_hides_detail() {
        let s: Status = ApiError::internal("secret sql").into();
        assert_eq!(s.message(), "internal error");
    }

    #[test]
    fn pool_timeout_is_unavailable() {
        assert_eq!(
            classify_sqlx(&sqlx::Error::PoolTimedOut).code,
            ErrorCode::Unavailable
        );
    }
}
