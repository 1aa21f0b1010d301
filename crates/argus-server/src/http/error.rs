//! HTTP errors: each kind maps to one status code and a JSON body saying what was wrong.
//!
//! Two body shapes exist because two families of clients read them: ingest errors use
//! `{"error", "code", "message", "line", "column"}` (Influx clients read `code`/`message`),
//! query errors use Prometheus's `{"status":"error","errorType","error"}`.

use crate::ingest::Refused;
use crate::pipeline::PublishError;
use crate::pipeline::publish::retry_secs;
use crate::state::AppState;
use crate::store::agent_configs::ConfigFault;
use crate::store::hosts::HostFault;
use crate::store::tokens::Denied;
use crate::store::users::UserFault;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered by an ingest or general endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadLine {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    BadRequest(String),
    /// A rule of [`crate::ingest::rules`] broken at `at` (a line, series or data point).
    #[error("{at}: {message}")]
    Invalid {
        at: String,
        reason: &'static str,
        message: String,
    },
    #[error("missing or invalid token")]
    Unauthorized,
    /// A login with a wrong name or password (which of the two is not said).
    #[error("wrong user name or password")]
    BadLogin,
    #[error("{0}")]
    Forbidden(String),
    /// The ingest queue is full: come back later.
    #[error("the server is busy: its ingest queue is full; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// The ingest queue cannot be reached (NATS down): come back later.
    #[error("the server cannot queue the data now: {message}; retry in {retry_after_secs} s")]
    Unavailable {
        retry_after_secs: u64,
        message: String,
    },
    #[error("no such path: {0}")]
    NotFound(String),
    /// A named object that does not exist (a user, host, token): the message says which.
    #[error("{0}")]
    Missing(String),
    /// The request clashes with what exists (a duplicate name).
    #[error("{0}")]
    Conflict(String),
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Storage(#[from] argus_core::StorageError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadLine { .. }
            | ApiError::Invalid { .. }
            | ApiError::BadRequest(_)
            | ApiError::Storage(argus_core::StorageError::Rejected(_)) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadLogin => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound(_) | ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Storage(argus_core::StorageError::Limit(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Storage(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable code (Influx v2 error codes where one fits).
    /// The reason counted in `argus_ingest_rejected_total` when ingest answers this.
    pub fn reject_reason(&self) -> &'static str {
        match self {
            ApiError::BadLine { .. } => "bad_line",
            ApiError::Invalid { reason, .. } => reason,
            ApiError::TooLarge { .. } => "too_large",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Forbidden(_) => "forbidden_namespace",
            ApiError::Busy { .. } => "queue_full",
            ApiError::Unavailable { .. } => "queue_unavailable",
            ApiError::Storage(argus_core::StorageError::Limit(_)) => "series_limit",
            ApiError::Storage(argus_core::StorageError::Rejected(_)) => "rejected_by_storage",
            _ => "internal",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadLine { .. }
            | ApiError::Invalid { .. }
            | ApiError::BadRequest(_)
            | ApiError::Storage(argus_core::StorageError::Rejected(_)) => "invalid",
            ApiError::Unauthorized | ApiError::BadLogin => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Busy { .. } => "too many requests",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::NotFound(_) | ApiError::Missing(_) => "not found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge { .. } => "request too large",
            ApiError::Storage(argus_core::StorageError::Limit(_)) => "unprocessable entity",
            ApiError::Storage(_) | ApiError::Internal(_) => "internal error",
        }
    }
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> ApiError {
        match e {
            Refused::BadLine {
                line,
                column,
                message,
            } => ApiError::BadLine {
                line,
                column,
                message,
            },
            Refused::Invalid {
                at,
                reason,
                message,
            } => ApiError::Invalid {
                at,
                reason,
                message,
            },
            Refused::Forbidden(m) => ApiError::Forbidden(m),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> ApiError {
        match e {
            PublishError::Full { retry_after } => ApiError::Busy {
                retry_after_secs: retry_secs(retry_after),
            },
            PublishError::Unavailable {
                retry_after,
                message,
            } => ApiError::Unavailable {
                retry_after_secs: retry_secs(retry_after),
                message,
            },
            PublishError::TooLarge { max } => ApiError::TooLarge {
                limit: max as usize,
            },
            e @ PublishError::InvalidTopic(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> ApiError {
        ApiError::Forbidden(e.0)
    }
}

impl From<ConfigFault> for ApiError {
    fn from(e: ConfigFault) -> ApiError {
        match e {
            ConfigFault::Db(e) => e.into(),
            e @ ConfigFault::Missing(_) => ApiError::Missing(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    /// A query string that does not fit the route's parameters: 400 with the JSON body
    /// every other error has, naming the parameter (axum's own answer is plain text).
    fn from(e: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        tracing::error!(error = %e, "database error");
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<UserFault> for ApiError {
    fn from(e: UserFault) -> ApiError {
        match e {
            UserFault::Db(e) => e.into(),
            e @ UserFault::Field { .. } => ApiError::BadRequest(e.to_string()),
            e @ UserFault::Exists(_) => ApiError::Conflict(e.to_string()),
            e @ (UserFault::NoUser(_) | UserFault::NoToken(_)) => ApiError::Missing(e.to_string()),
            UserFault::Denied(m) => ApiError::Forbidden(m),
            UserFault::Crypto(m) => ApiError::Internal(m),
        }
    }
}

impl From<HostFault> for ApiError {
    fn from(e: HostFault) -> ApiError {
        match e {
            HostFault::Db(e) => e.into(),
            e @ HostFault::Field { .. } => ApiError::BadRequest(e.to_string()),
            HostFault::Exists(m) => ApiError::Conflict(m),
            e @ HostFault::NoHost(_) => ApiError::Missing(e.to_string()),
        }
    }
}

/// Counts a refused write by its reason at `/metrics` (`argus_ingest_rejected_total`),
/// then answers it.
pub fn counted<T>(state: &AppState, result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        state.telemetry.rejected(e.reject_reason());
    }
    result
}

/// A blocking task that panicked or was cancelled.
pub fn joined(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(e.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        let mut body = json!({ "error": message, "code": self.code(), "message": message });
        if let ApiError::BadLine { line, column, .. } = &self {
            body["line"] = json!(line);
            body["column"] = json!(column);
        }
        if let ApiError::Invalid { at, reason, .. } = &self {
            body["at"] = json!(at);
            body["reason"] = json!(reason);
        }
        let mut resp = (status, Json(body)).into_response();
        if let ApiError::Busy { retry_after_secs }
        | ApiError::Unavailable {
            retry_after_secs, ..
        } = &self
            && let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
