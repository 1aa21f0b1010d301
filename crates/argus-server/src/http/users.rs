//! Users and who they are: `POST /api/argus/login` and `/logout`, `GET /api/argus/me`,
//! `/api/argus/users[/{name}]` (admin; anyone may change their own password),
//! `/api/argus/tokens[/{id}]` (one's own tokens; an admin sees everyone's) and
//! `GET /api/argus/audit` (admin).

use super::auth::{SESSION_COOKIE, session_cookie};
use super::error::ApiError;
use crate::state::AppState;
use crate::store::audit::{self, Filter};
use crate::store::tokens::{Access, hash_hex};
use crate::store::users::{NewToken, NewUser, Role, UserPatch};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A JSON body read with its error named: unknown or missing fields and wrong types answer
/// 400 with the field, where axum's own extractor would answer 422 with its wording.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    name: String,
    password: String,
}

/// `POST /api/argus/login`: a session token, also set as an HttpOnly cookie.
pub async fn login(
    State(state): State<AppState>,
    bytes: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let l: Login = body(&bytes)?;
    let Some(user) = state.users.authenticate(&l.name, &l.password).await? else {
        tracing::warn!(user = %l.name, "failed login");
        state.telemetry.unauthorized();
        return Err(ApiError::BadLogin);
    };
    let ttl_ms = (state.auth.session_hours.max(1) as i64).saturating_mul(3_600_000);
    let (token, expires_at) = state.users.login(&user, ttl_ms).await?;
    // SameSite=Strict: another site's page cannot make the browser send it (no CSRF).
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        ttl_ms / 1000
    );
    let mut resp = Json(json!({
        "token": token,
        "expires_at": expires_at,
        "user": user,
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `POST /api/argus/logout`: ends the session presented (bearer or cookie) and clears the
/// cookie.
pub async fn logout(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = match (&access.session, session_cookie(&headers)) {
        (Some(h), _) => h.to_string(),
        (None, Some(c)) => hash_hex(&c),
        (None, None) => {
            return Err(ApiError::BadRequest(
                "no session to end: this credential is an API token (revoke it at /api/argus/tokens)"
                    .into(),
            ));
        }
    };
    state.users.logout(&hash).await?;
    state.tokens.forget_all();
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("argus_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

/// `GET /api/argus/me`: who the credential acts for, and what it may do.
pub async fn me(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<Value>, ApiError> {
    let user = if access.user.is_empty() {
        None
    } else {
        state.users.get(&access.user).await?
    };
    Ok(Json(json!({
        "name": access.name.as_ref(),
        "user": user,
        "role": access.role,
        "namespaces": access.namespaces.as_deref().map(|n| n.iter().map(|n| n.as_ref()).collect::<Vec<_>>()),
        "session": access.session.is_some(),
    })))
}

/// `GET /api/argus/users`.
pub async fn list(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<Value>, ApiError> {
    access.require(Role::Admin)?;
    Ok(Json(
        json!({ "status": "success", "data": state.users.list().await? }),
    ))
}

/// `POST /api/argus/users`.
pub async fn create(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    access.require(Role::Admin)?;
    let new: NewUser = body(&bytes)?;
    let user = state.users.create(&access.actor(), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "status": "success", "data": user })),
    ))
}

/// `GET /api/argus/users/{name}`: admins, or the user themself.
pub async fn get(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if access.user.as_ref() != name {
        access.require(Role::Admin)?;
    }
    let user = state
        .users
        .get(&name)
        .await?
        .ok_or_else(|| ApiError::Missing(format!("no user {name:?}")))?;
    Ok(Json(json!({ "status": "success", "data": user })))
}

/// `PATCH /api/argus/users/{name}`: an admin changes anything; a user, logged in, their
/// own password, display name and email (not their role). An API token cannot change its
/// user (a leaked token must not give away the account), except an admin's unlimited one.
pub async fn update(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let patch: UserPatch = body(&bytes)?;
    let own = access.user.as_ref() == name && access.session.is_some();
    if !own || patch.role.is_some() {
        access.require(Role::Admin).map_err(|d| {
            if access.user.as_ref() == name {
                ApiError::Forbidden(format!(
                    "{d}; to change your own password or details, log in (POST /api/argus/login) and use that session"
                ))
            } else {
                d.into()
            }
        })?;
    }
    let user = state
        .users
        .update(&access.actor(), &name, patch, access.session.as_deref())
        .await?;
    state.tokens.forget_all();
    Ok(Json(json!({ "status": "success", "data": user })))
}

/// `DELETE /api/argus/users/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    access.require(Role::Admin)?;
    state.users.delete(&access.actor(), &name).await?;
    state.tokens.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses a credential that acts for no user (a token from the configuration), or that is
/// limited to namespaces (which must not manage its user's other tokens).
fn require_user(access: &Access) -> Result<(), ApiError> {
    if access.user.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "token {:?} comes from the configuration and belongs to no user: log in, or use a user's token",
            access.name
        )));
    }
    access.require(Role::Viewer)?;
    Ok(())
}

/// `POST /api/argus/tokens`: a token for the caller (or, for an admin, for `user`),
/// limited to `namespaces` and `role` if given. The token is in this answer only.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_user(&access)?;
    let new: NewToken = body(&bytes)?;
    let (token, info) = state.users.create_token(&access, new).await?;
    let mut data = serde_json::to_value(&info).unwrap_or_default();
    data["token"] = token.into();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "status": "success", "data": data })),
    ))
}

/// `GET /api/argus/tokens[?user=]`: the caller's tokens; an admin's call lists everyone's
/// (or one user's).
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    require_user(&access)?;
    let user = match q.get("user") {
        Some(u) if u != access.user.as_ref() => {
            access.require(Role::Admin)?;
            Some(u.as_str())
        }
        Some(u) => Some(u.as_str()),
        None if access.require(Role::Admin).is_ok() => None,
        None => Some(access.user.as_ref()),
    };
    let tokens = state.users.list_tokens(user).await?;
    Ok(Json(json!({ "status": "success", "data": tokens })))
}

/// `DELETE /api/argus/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_user(&access)?;
    state.users.revoke_token(&access, &id).await?;
    state.tokens.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    user: Option<String>,
    object: Option<String>,
    object_id: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<i64>,
}

/// A time as RFC 3339 or Unix seconds (the forms the Prometheus API takes), in ms.
fn time_param(name: &str, v: &str) -> Result<i64, ApiError> {
    crate::query::params::parse_time(v).map_err(|e| {
        ApiError::BadRequest(format!(
            "parameter {name:?}: {v:?} is not a time (RFC 3339 or Unix seconds): {e}"
        ))
    })
}

/// `GET /api/argus/audit?user=&object=&object_id=&start=&end=&limit=`: changes, newest
/// first. `object` is a kind (`user`, `token`, `host`, `config`, `session`), or
/// `kind:id` for one object.
pub async fn audit(
    State(state): State<AppState>,
    q: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let (kind, id) = match q.object.as_deref() {
        Some(o) => match o.split_once(':') {
            Some((k, i)) => (Some(k.to_string()), Some(i.to_string())),
            None => (Some(o.to_string()), q.object_id.clone()),
        },
        None => (None, q.object_id.clone()),
    };
    let filter = Filter {
        actor: q.user.clone(),
        object_kind: kind,
        object_id: id,
        from_ms: q
            .start
            .as_deref()
            .map(|v| time_param("start", v))
            .transpose()?,
        to_ms: q.end.as_deref().map(|v| time_param("end", v)).transpose()?,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    };
    let entries = audit::list(state.users.db(), &filter).await?;
    Ok(Json(json!({ "status": "success", "data": entries })))
}
