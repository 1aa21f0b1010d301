//! The Prometheus API's envelope: its error shape, its JSON bodies, and the request
//! parameters (query string or form) with the checks every endpoint shares.

use crate::query::params::{Params, parse_time};
use crate::state::AppState;
use crate::storage::scoped::for_namespaces;
use crate::store::tokens::Access;
use argus_core::Storage;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// A Prometheus-shaped error: `{"status":"error","errorType":…,"error":…}`.
#[derive(Debug)]
pub struct PromError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl PromError {
    pub fn bad_data(message: impl Into<String>) -> Self {
        PromError {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_data",
            message: message.into(),
        }
    }

    pub fn execution(message: impl Into<String>) -> Self {
        PromError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "execution",
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        PromError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "internal",
            message: message.into(),
        }
    }
}

impl IntoResponse for PromError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.kind,
            "error": self.message,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// A JSON body with the right content type.
pub fn json_response(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = PromError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_string);
        let is_form = req.method() == Method::POST
            && req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let form = if is_form {
            Some(
                axum::body::Bytes::from_request(req, state)
                    .await
                    .map_err(|e| PromError::bad_data(format!("cannot read form body: {e}")))?,
            )
        } else {
            None
        };
        Ok(Params::parse(query.as_deref(), form.as_deref()))
    }
}

pub fn required<'a>(p: &'a Params, key: &str) -> Result<&'a str, PromError> {
    p.get(key)
        .ok_or_else(|| PromError::bad_data(format!("missing parameter {key:?}")))
}

pub fn time_param(p: &Params, key: &str, default: i64) -> Result<i64, PromError> {
    match p.get(key) {
        None | Some("") => Ok(default),
        Some(s) => parse_time(s).map_err(|e| {
            PromError::bad_data(format!(
                "invalid parameter {key:?}: Invalid time value for '{key}': {e}"
            ))
        }),
    }
}

/// The store as `access` may see it: a namespace token sees its namespace only.
pub fn scoped(state: &AppState, access: &Access) -> Result<Arc<dyn Storage>, PromError> {
    for_namespaces(&state.store, access.namespaces.as_deref())
        .map_err(|e| PromError::bad_data(e.to_string()))
}

/// Runs storage work on a blocking thread: the real engine reads files.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, argus_core::StorageError> + Send + 'static,
) -> Result<T, PromError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PromError::internal(e.to_string()))?
        .map_err(|e| match e {
            argus_core::StorageError::Limit(m) => PromError::execution(m),
            e @ argus_core::StorageError::OverRead { .. } => PromError::execution(e.to_string()),
            other => PromError::internal(other.to_string()),
        })
}

/// A `limit` parameter: absent, empty or `0` means no limit.
pub fn limit_param(p: &Params) -> Result<Option<usize>, PromError> {
    match p.get("limit") {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<usize>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(PromError::bad_data(format!(
                "invalid parameter \"limit\": {s:?} is not a count (a whole number, 0 for none)"
            ))),
        },
    }
}

/// The series and label endpoints select label sets only, but a selector such as
/// `{__name__=~".+"}` on a large store still lists every series: the `[query]`
/// `max_series` limit applies to them as to a query (422 `execution` over it).
pub fn check_series_limit(n: usize, max: usize) -> Result<(), argus_core::StorageError> {
    if n > max {
        return Err(argus_core::StorageError::Limit(format!(
            "the selectors match more than {max} series (query.max_series); narrow match[] or the time range"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_zero_means_none_and_junk_is_refused() {
        let p = |q: &str| Params::parse(Some(q), None);
        assert_eq!(limit_param(&p("limit=3")).ok(), Some(Some(3)));
        assert_eq!(limit_param(&p("limit=0")).ok(), Some(None));
        assert_eq!(limit_param(&p("x=1")).ok(), Some(None));
        let e = limit_param(&p("limit=-1")).err().map(|e| e.message);
        assert!(e.is_some_and(|m| m.starts_with("invalid parameter \"limit\"")));
    }
}
