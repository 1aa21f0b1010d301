//! API errors: each kind maps to one status code and a JSON body saying what was wrong.
//!
//! Two body shapes exist because two families of clients read them: ingest errors use
//! `{"error", "code", "message", "line", "column"}` (Influx clients read `code`/`message`),
//! query errors use Prometheus's `{"status":"error","errorType","error"}`.

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
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("no such path: {0}")]
    NotFound(String),
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
            | ApiError::BadRequest(_)
            | ApiError::Storage(argus_core::StorageError::Rejected(_)) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Storage(argus_core::StorageError::Limit(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Storage(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable code (Influx v2 error codes where one fits).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadLine { .. }
            | ApiError::BadRequest(_)
            | ApiError::Storage(argus_core::StorageError::Rejected(_)) => "invalid",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not found",
            ApiError::TooLarge { .. } => "request too large",
            ApiError::Storage(argus_core::StorageError::Limit(_)) => "unprocessable entity",
            ApiError::Storage(_) | ApiError::Internal(_) => "internal error",
        }
    }
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
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
