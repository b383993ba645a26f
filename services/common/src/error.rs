//! One error type for every service, mapped once to `tonic::Code`.
//!
//! Handlers return [`ApiError`]; storage errors are classified here (a
//! database that cannot be reached is `UNAVAILABLE`, never `INTERNAL`), and
//! each store turns its named constraint violations into precise errors.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

pub use crate::reason::{DOMAIN, Reason};

/// What went wrong, as a caller must act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed; the message names the field(s).
    InvalidArgument,
    /// The thing asked for does not exist (or is not the caller's to see).
    NotFound,
    /// The thing exists but is in the wrong state ("already signed").
    FailedPrecondition,
    /// A second of something there may be only one of ("already rated").
    AlreadyExists,
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
            ErrorCode::AlreadyExists => Code::AlreadyExists,
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
    /// The stable reason, sent as `google.rpc.ErrorInfo.reason`.
    pub reason: Option<Reason>,
    /// `ErrorInfo.metadata`: the current state, the ids concerned.
    pub metadata: Vec<(String, String)>,
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
            reason: None,
            metadata: Vec::new(),
        }
    }

    /// The same error, with its stable reason.
    pub fn because(mut self, reason: Reason) -> ApiError {
        self.reason = Some(reason);
        self
    }

    /// The same error, with one more metadata entry (`state`, `ticket_no`,
    /// `hop`, ...) for its ErrorInfo.
    pub fn with(mut self, key: &str, value: impl std::fmt::Display) -> ApiError {
        self.metadata.push((key.to_string(), value.to_string()));
        self
    }

    /// One invalid field: `"<field>: <problem>"`.
    pub fn invalid(field: &str, problem: &str) -> ApiError {
        ApiError::invalid_fields(vec![(field.to_string(), problem.to_string())])
    }

    /// Several invalid fields, all named in the message.
    pub fn invalid_fields(fields: Vec<(String, String)>) -> ApiError {
        let message = fields
            .iter()
            .map(|(f, p)| format!("{}: {}", clip(f, 200), clip(p, MAX_MESSAGE_CHARS)))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            code: ErrorCode::InvalidArgument,
            message,
            fields,
            reason: None,
            metadata: Vec::new(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// A wrong state: every one names its reason, and the message the
    /// state the thing is in.
    pub fn precondition(reason: Reason, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::FailedPrecondition, message).because(reason)
    }

    /// A second of something there may be only one of, with its reason.
    pub fn already_exists(reason: Reason, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AlreadyExists, message).because(reason)
    }

    pub fn permission(reason: Reason, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::PermissionDenied, message).because(reason)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

impl ApiError {
    /// The message in Chinese, for the operators and integrators who read
    /// it: the kind of error in zh-CN, then the English detail (field
    /// names are identifiers either way).
    pub fn zh_cn(&self) -> String {
        let lead = match self.code {
            ErrorCode::InvalidArgument => "请求参数有误",
            ErrorCode::NotFound => "未找到",
            ErrorCode::FailedPrecondition => "当前状态不允许此操作",
            ErrorCode::AlreadyExists => "已存在",
            ErrorCode::PermissionDenied => "无权执行此操作",
            ErrorCode::Unauthenticated => "身份未认证",
            ErrorCode::ResourceExhausted => "请求过于频繁或过大",
            ErrorCode::Unavailable => "服务暂时不可用，请稍后重试",
            ErrorCode::Internal => return "系统内部错误".to_string(),
        };
        let detail = if self.fields.is_empty() {
            self.message.clone()
        } else {
            self.fields
                .iter()
                .map(|(f, p)| format!("{f}：{}", zh_problem(p)))
                .collect::<Vec<_>>()
                .join("；")
        };
        format!("{lead}：{detail}")
    }
}

/// The usual field problems in Chinese; others stay as they are.
fn zh_problem(p: &str) -> String {
    const PHRASES: &[(&str, &str)] = &[
        ("required", "必填"),
        ("too long", "过长"),
        ("contains control characters", "含有控制字符"),
        ("contains the direction control", "含有文字方向控制字符"),
        ("contains the invisible character", "含有不可见字符"),
        ("contains a byte-order mark", "含有字节顺序标记"),
        (
            "only letters, digits",
            "只能包含字母、数字、'-'、'_' 和 '.'",
        ),
        ("not a valid protobuf message", "不是有效的 protobuf 消息"),
        ("timestamp outside", "时间超出允许范围"),
        (
            "not a token this service issued",
            "不是本服务签发的分页令牌",
        ),
        (
            "issued for a query with other filters",
            "分页令牌与查询条件不符",
        ),
        ("unknown", "未知取值"),
    ];
    match PHRASES.iter().find(|(en, _)| p.starts_with(en)) {
        Some((_, zh)) => format!("{zh}（{p}）"),
        None => p.to_string(),
    }
}

/// The longest message or field description sent back, in characters: a
/// message that quotes what the caller sent must not grow with it (gRPC
/// carries messages in HTTP/2 headers, which peers cap at a few KiB).
pub const MAX_MESSAGE_CHARS: usize = 300;

/// `text` cut to `max` characters, marked with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

impl From<ApiError> for Status {
    fn from(mut e: ApiError) -> Status {
        e.message = clip(&e.message, MAX_MESSAGE_CHARS);
        for (field, problem) in &mut e.fields {
            *field = clip(field, 200);
            *problem = clip(problem, MAX_MESSAGE_CHARS / 2);
        }
        if e.code == ErrorCode::Internal {
            tracing::error!(error = %e.message, "internal error");
            return Status::with_error_details(
                Code::Internal,
                "internal error",
                ErrorDetails::with_localized_message("zh-CN", e.zh_cn()),
            );
        }
        let mut details = ErrorDetails::with_localized_message("zh-CN", e.zh_cn());
        if e.code == ErrorCode::InvalidArgument && !e.fields.is_empty() {
            let violations: Vec<FieldViolation> = e
                .fields
                .iter()
                .map(|(f, d)| FieldViolation::new(f.clone(), d.clone()))
                .collect();
            details.set_bad_request(violations);
        }
        if e.code == ErrorCode::Unavailable {
            details.set_retry_info(Some(std::time::Duration::from_secs(1)));
        }
        if let Some(reason) = e.reason {
            let metadata: std::collections::HashMap<String, String> = e
                .metadata
                .iter()
                .map(|(k, v)| (clip(k, 64), clip(v, MAX_MESSAGE_CHARS / 2)))
                .collect();
            details.set_error_info(reason.as_str(), DOMAIN, metadata);
        }
        Status::with_error_details(e.code.grpc(), e.message, details)
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
        // The connection is gone or was never had: a pool that cannot
        // connect, a socket cut, a server that went away mid-reply, or a
        // BEGIN whose connection came back out of a transaction (a pooled
        // connection the server dropped while it sat idle).
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::unavailable("database unavailable, retry later")
        }
        sqlx::Error::Database(db) if connection_lost(db.as_ref()) => {
            tracing::warn!(sqlstate = db.code().as_deref().unwrap_or(""), error = %e, "database connection lost");
            ApiError::unavailable("database unavailable, retry later")
        }
        sqlx::Error::Database(db) => classify_sqlstate(db.code().as_deref().unwrap_or(""), e),
        _ => ApiError::internal(format!("database: {e}")),
    }
}

/// A server error that ends the session (severity FATAL or PANIC: a
/// shutdown, an administrator's termination, a crash of another backend,
/// an idle-in-transaction timeout): whatever its SQLSTATE, the statement
/// was not done, the transaction is rolled back, and another connection
/// may succeed.
fn connection_lost(db: &dyn sqlx::error::DatabaseError) -> bool {
    use sqlx::postgres::{PgDatabaseError, PgSeverity};
    db.try_downcast_ref::<PgDatabaseError>()
        .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic))
}

/// The classes of SQLSTATE a caller can act on. Class 22 (data exception:
/// a NUL byte, a value out of range, text that is not UTF-8) is the
/// caller's input, and so is 54000 (a value too large for an index): every store is meant to refuse such input before the
/// database sees it, so this is the net under that rule, not the rule.
/// Classes 08 (connection), 57P0x (the server is shutting down or
/// starting), 57014 (a statement cancelled, by a timeout or an operator),
/// 53 (out of resources), 58 (the server's own I/O) and serialisation
/// failures are passing: retry. Anything else is a bug: INTERNAL, logged
/// with its SQLSTATE.
fn classify_sqlstate(code: &str, e: &sqlx::Error) -> ApiError {
    match code {
        c if c.starts_with("22") || c == "54000" => {
            tracing::info!(sqlstate = c, error = %e, "input the database refused");
            ApiError::invalid_fields(vec![(
                "request".to_string(),
                format!("a value the database cannot store (SQLSTATE {c})"),
            )])
        }
        "40001" | "40P01" => ApiError::unavailable("concurrent update, retry"),
        c if c.starts_with("08")
            || c.starts_with("57P")
            || c == "57014"
            || c.starts_with("53")
            || c.starts_with("58") =>
        {
            tracing::warn!(sqlstate = c, error = %e, "database unavailable");
            ApiError::unavailable("database unavailable, retry later")
        }
        c => ApiError::internal(format!("database (SQLSTATE {c}): {e}")),
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
        Code::AlreadyExists => ErrorCode::AlreadyExists,
        Code::PermissionDenied => ErrorCode::PermissionDenied,
        Code::ResourceExhausted => ErrorCode::ResourceExhausted,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
            ErrorCode::Unavailable
        }
        _ => ErrorCode::Internal,
    };
    let mut e = ApiError::new(code, format!("{peer}: {}", s.message()));
    // The peer's reason passes through, so that a caller of this service
    // branches as a caller of the peer would.
    if let Some(info) = s.get_details_error_info()
        && info.domain == DOMAIN
        && let Some(reason) = Reason::parse(&info.reason)
        && code != ErrorCode::Internal
    {
        e.reason = Some(reason);
        let mut metadata: Vec<(String, String)> = info.metadata.into_iter().collect();
        metadata.sort();
        e.metadata = metadata;
    }
    e
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
    fn every_error_carries_a_chinese_message() {
        let s: Status = ApiError::invalid("content", "required").into();
        let zh = s.get_error_details().localized_message().unwrap().clone();
        assert_eq!(zh.locale, "zh-CN");
        assert!(zh.message.contains("content：必填"), "{}", zh.message);
        let s: Status = ApiError::unavailable("database unavailable").into();
        assert!(s.get_error_details().retry_info().is_some());
    }

    #[test]
    fn data_exceptions_are_the_callers_and_shutdowns_are_passing() {
        let e = sqlx::Error::Protocol("x".into());
        assert_eq!(
            classify_sqlstate("22021", &e).code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            classify_sqlstate("22008", &e).code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(classify_sqlstate("57P01", &e).code, ErrorCode::Unavailable);
        assert_eq!(classify_sqlstate("08006", &e).code, ErrorCode::Unavailable);
        assert_eq!(classify_sqlstate("42P01", &e).code, ErrorCode::Internal);
    }

    #[test]
    fn messages_do_not_grow_with_the_input() {
        let huge = "字".repeat(100_000);
        let s: Status = ApiError::invalid("version", &format!("unknown version {huge}")).into();
        assert!(s.message().chars().count() <= MAX_MESSAGE_CHARS + 1);
        let s: Status = ApiError::not_found(format!("no ticket {huge}")).into();
        assert!(s.message().chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert_eq!(clip("abc", 2), "ab…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn a_reason_travels_as_error_info_and_through_a_peer() {
        let s: Status = ApiError::precondition(Reason::AssignmentAlreadySigned, "already signed")
            .with("state", "signed")
            .into();
        let info = s.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "ASSIGNMENT_ALREADY_SIGNED");
        assert_eq!(info.domain, DOMAIN);
        assert_eq!(
            info.metadata.get("state").map(String::as_str),
            Some("signed")
        );
        let relayed = from_peer("undertaking", s);
        assert_eq!(relayed.code, ErrorCode::FailedPrecondition);
        assert_eq!(relayed.reason, Some(Reason::AssignmentAlreadySigned));
        assert_eq!(relayed.metadata, vec![("state".into(), "signed".into())]);
        let plain: Status = ApiError::not_found("no such thing").into();
        assert!(plain.get_details_error_info().is_none());
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

    #[test]
    fn a_lost_connection_is_unavailable_whatever_the_variant() {
        for e in [
            sqlx::Error::BeginFailed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
            sqlx::Error::Protocol("unexpected end".into()),
        ] {
            let api = classify_sqlx(&e);
            assert_eq!(api.code, ErrorCode::Unavailable, "{e}");
            let s: Status = api.into();
            assert!(s.get_error_details().retry_info().is_some(), "{e}");
        }
        let e = sqlx::Error::Protocol("x".into());
        for c in ["57014", "58030", "53300", "40001"] {
            assert_eq!(classify_sqlstate(c, &e).code, ErrorCode::Unavailable, "{c}");
        }
        assert!(classify_sqlstate("42P01", &e).message.contains("42P01"));
    }
}
