//! The one error type of Opsdeck: stable numeric and snake_case codes, one mapping to HTTP.
use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable error codes. The numbers are part of the API contract (seed 003 gives 30001, 30002, 300001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UndefinedPermission,
    NoGrantPermission,
    WrongOriginalPassword,
    Validation,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    TooManyRequests,
    /// The request body is larger than the endpoint takes (64 KB; imports 21 MB).
    PayloadTooLarge,
    /// A request (approval subject) was already approved (seed 003: 30001 申请单已批准).
    AlreadyApproved,
    /// A request is closed, rejected or finished (seed 003: 30002 申请单已关闭/已完成).
    RequestClosed,
    /// The executor could not act on a host (seed 003 host tasks: 30001).
    ExecFailed,
    /// The host is running already (seed 003 start: 30002 主机正在运行中).
    HostRunning,
    /// A deploy script of that name exists (seed 003: 30001 脚本名称已存在).
    ScriptNameTaken,
    /// A deploy script's language is not supported (seed 003: 30002).
    ScriptLanguage,
    /// A deploy script's template engine is not supported (seed 003: 30003).
    ScriptEngine,
    /// The Zabbix API failed (seed 003 change-zabbix-opts: 30001).
    ZabbixFailed,
    /// A Zabbix template does not exist (seed 003: 30002 模板不存在).
    ZabbixTemplateMissing,
    /// A Zabbix host group does not exist (seed 003: 30003 zabbix group 不存在).
    ZabbixGroupMissing,
    /// Starting a host failed at its provider (seed 003 start: 30003 重启失败).
    StartFailed,
    /// The CloudStack API refused or failed (seed 003 stop/restart: 30002).
    CloudStackFailed,
    /// The Tencent Cloud CVM API refused or failed (seed 003 stop/restart: 30003).
    TencentFailed,
    /// The Tencent Cloud CPM (黑石) API refused or failed (seed 003 stop/restart: 30004).
    TencentCpmFailed,
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// The numeric `error_code` sent to clients.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::UndefinedPermission => 30001,
            ErrorCode::NoGrantPermission => 30002,
            ErrorCode::WrongOriginalPassword => 300001,
            ErrorCode::Validation => 40000,
            ErrorCode::Unauthenticated => 40100,
            ErrorCode::Forbidden => 40300,
            ErrorCode::NotFound => 40400,
            ErrorCode::Conflict => 40900,
            ErrorCode::TooManyRequests => 42900,
            ErrorCode::PayloadTooLarge => 41300,
            ErrorCode::AlreadyApproved => 30001,
            ErrorCode::RequestClosed => 30002,
            ErrorCode::ExecFailed => 30001,
            ErrorCode::HostRunning => 30002,
            ErrorCode::StartFailed => 30003,
            ErrorCode::ZabbixFailed => 30001,
            ErrorCode::ScriptNameTaken => 30001,
            ErrorCode::ScriptLanguage => 30002,
            ErrorCode::ScriptEngine => 30003,
            ErrorCode::ZabbixTemplateMissing => 30002,
            ErrorCode::ZabbixGroupMissing => 30003,
            ErrorCode::CloudStackFailed => 30002,
            ErrorCode::TencentFailed => 30003,
            ErrorCode::TencentCpmFailed => 30004,
            ErrorCode::Internal => 50000,
            ErrorCode::Unavailable => 50300,
        }
    }

    /// The HTTP status this code maps to.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::UndefinedPermission
            | ErrorCode::NoGrantPermission
            | ErrorCode::WrongOriginalPassword
            | ErrorCode::ZabbixTemplateMissing
            | ErrorCode::ZabbixGroupMissing
            | ErrorCode::ScriptLanguage
            | ErrorCode::ScriptEngine
            | ErrorCode::Validation => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict
            | ErrorCode::AlreadyApproved
            | ErrorCode::RequestClosed
            | ErrorCode::ScriptNameTaken
            | ErrorCode::HostRunning => 409,
            ErrorCode::ExecFailed
            | ErrorCode::ZabbixFailed
            | ErrorCode::StartFailed
            | ErrorCode::CloudStackFailed
            | ErrorCode::TencentFailed
            | ErrorCode::TencentCpmFailed => 502,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// An error as clients see it: `{"error_code": 40400, "code": "not_found", "message": "…"}`.
/// `field` names the input field at fault, so forms can show the error inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppError {
    pub error_code: u32,
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An error with a code and a human message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error_code: code.number(),
            code,
            message: message.into(),
            field: None,
        }
    }
    /// Bad input in one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_string()),
            ..Self::new(ErrorCode::Validation, message)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation, message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "authentication required")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    /// An internal failure: the cause is logged here, once, and never sent to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        #[cfg(feature = "ssr")]
        tracing::error!(error = %cause, "internal error");
        #[cfg(not(feature = "ssr"))]
        let _ = cause;
        Self::new(ErrorCode::Internal, "internal error")
    }
    /// A unique-value conflict (`Conflict`, from the database) as `message` about `field`;
    /// any other error as it is.
    pub fn taken(self, field: &str, message: impl Into<String>) -> Self {
        if self.code == ErrorCode::Conflict {
            Self::conflict(message).with_field(field)
        } else {
            self
        }
    }
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for AppError {}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    /// Errors of the server-function framework itself (unreadable arguments, transport). The
    /// framework's text can quote the request or name internals, so the caller gets a generic
    /// message and the detail is logged here, once.
    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        let (code, message) = match &value {
            E::Request(_) | E::Response(_) => {
                (ErrorCode::Unavailable, "the server could not be reached")
            }
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) | E::Serialization(_) => {
                (ErrorCode::Validation, "the request could not be read")
            }
            _ => return Self::internal(format!("server function: {value}")),
        };
        #[cfg(feature = "ssr")]
        tracing::warn!(error = %value, "server function request refused");
        Self::new(code, message)
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                Self::conflict("an object with the same unique value already exists")
            }
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::conflict("the object is referenced by or refers to a missing object")
            }
            _ if unstorable_text(&e) => {
                Self::bad_request("text may not contain a NUL character (\\u0000)")
            }
            _ => Self::internal(e),
        }
    }
}

/// PostgreSQL refused a text value it cannot store (a NUL character: 22021 "invalid byte
/// sequence", 22P05 "untranslatable character"). The HTTP extractors refuse NUL first; this is
/// the backstop for text that reaches the database another way.
#[cfg(feature = "ssr")]
fn unstorable_text(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let (DbErr::Exec(RuntimeErr::SqlxError(s))
    | DbErr::Query(RuntimeErr::SqlxError(s))
    | DbErr::Conn(RuntimeErr::SqlxError(s))) = e
    else {
        return false;
    };
    match &**s {
        sea_orm::sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("22021") | Some("22P05"))
        }
        _ => false,
    }
}

#[cfg(feature = "ssr")]
impl From<casbin::Error> for AppError {
    fn from(e: casbin::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.code.http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self)).into_response()
    }
}
