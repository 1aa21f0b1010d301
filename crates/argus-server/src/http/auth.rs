//! Authentication and roles at the edge: every path except `/health`,
//! `POST /api/argus/login` and the web UI's files (`GET /`, `GET /ui/*`) needs a
//! credential, which the request carries on as its [`Access`]; paths that change or
//! manage things also need a role ([`need`]).
//!
//! Clients send the credential in the form they already know: `Authorization: Bearer <t>`
//! (Prometheus, Grafana, the agent), `Authorization: Token <t>` (Influx v2 clients), HTTP
//! Basic with the token as password, the `argus_session` cookie (the web UI, after login),
//! or `?p=<t>` (Influx v1 clients such as Telegraf's `influxdb` output).

use super::error::ApiError;
use crate::state::AppState;
use crate::store::tokens::Access;
use crate::store::users::Role;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64_lite::decode_basic_password;

/// The cookie a login sets.
pub const SESSION_COOKIE: &str = "argus_session";

/// The token a request presents, in any accepted form.
pub fn presented_token(req: &Request) -> Option<String> {
    if let Some(h) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    {
        let h = h.trim();
        if let Some((scheme, rest)) = h.split_once(' ') {
            let rest = rest.trim();
            match scheme.to_ascii_lowercase().as_str() {
                "bearer" | "token" => return Some(rest.to_string()),
                "basic" => return decode_basic_password(rest),
                _ => {}
            }
        }
    }
    if let Some(t) = session_cookie(req.headers()) {
        return Some(t);
    }
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "p")
        .map(|(_, v)| v.into_owned())
}

/// The value of the session cookie, if the request has one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_string())
        })
}

/// What a route asks of the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing (`/health`, login).
    Nothing,
    /// Any valid credential; what it may touch is limited by its namespaces (ingest, the
    /// Prometheus API, events, analysis, the agent's paths). The handler may ask more.
    Credential,
    /// A credential for every namespace with at least this role.
    Role(Role),
}

/// The one table of who may call what. Reads of the inventory need a viewer; changes to
/// hosts and configurations an editor; users' administration, the audit log and the
/// storage admin paths an admin. Ingest and the Prometheus API keep the token rules they
/// had: any valid token, within its namespaces. Users and tokens are checked further by
/// their handlers (anyone may change their own password and manage their own tokens).
pub fn need(method: &Method, path: &str) -> Need {
    let read = method == Method::GET || method == Method::HEAD;
    let change = if read {
        Need::Role(Role::Viewer)
    } else {
        Need::Role(Role::Editor)
    };
    match path {
        "/health" | "/api/argus/login" => Need::Nothing,
        // The web UI's page and assets: public files; what the page shows comes from the
        // APIs below, with the session its login set.
        "/" if read => Need::Nothing,
        p if read && p.starts_with("/ui/") => Need::Nothing,
        // The notifier's configuration holds its secrets (viewers read it masked in
        // /api/v2/status).
        "/api/argus/audit" | "/api/argus/notifier/config" => Need::Role(Role::Admin),
        p if p.starts_with("/api/argus/admin/") => Need::Role(Role::Admin),
        "/api/argus/hosts"
        | "/api/argus/locations"
        | "/api/argus/groups"
        | "/api/argus/agent/configs" => change,
        p if p.starts_with("/api/argus/hosts/") && !p.ends_with("/summary") => change,
        // Plugins: read by viewers, uploaded and assigned by editors. Agents fetch theirs
        // under /api/argus/agent/plugins with any credential.
        "/api/argus/plugins" => change,
        p if p.starts_with("/api/argus/plugins/") => change,
        "/api/argus/agent/config" if !read => Need::Role(Role::Editor),
        // A task runs what it says on hosts, and its output may hold anything: reading
        // tasks needs an editor too.
        "/api/argus/tasks" => Need::Role(Role::Editor),
        p if p.starts_with("/api/argus/tasks/") => Need::Role(Role::Editor),
        // Alerts are of every namespace: a credential for every namespace reads or posts
        // them (a namespace's token would otherwise see every team's alerts).
        "/api/v1/rules" | "/api/v1/alerts" | "/api/v2/alerts" | "/api/v2/status" => {
            Need::Role(Role::Viewer)
        }
        // Silences and maintenance windows: read by viewers, set by editors.
        "/api/v2/silences"
        | "/api/argus/maintenance"
        | "/api/argus/notifications"
        | "/api/argus/alerts"
        | "/api/argus/alerts/history"
        | "/api/argus/rules"
        | "/api/argus/receivers" => change,
        p if p.starts_with("/api/v2/silence/")
            || p.starts_with("/api/argus/maintenance/")
            || p.starts_with("/api/argus/receivers/")
            || p.starts_with("/api/argus/rules/") =>
        {
            change
        }
        _ => Need::Credential,
    }
}

pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let need = need(req.method(), req.uri().path());
    if need == Need::Nothing {
        return next.run(req).await;
    }
    let access = match presented_token(&req) {
        Some(t) => match state.tokens.check(&t).await {
            Ok(a) => a,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    let Some(access) = access else {
        state.telemetry.unauthorized();
        return ApiError::Unauthorized.into_response();
    };
    if let Need::Role(role) = need
        && let Err(d) = access.require(role)
    {
        return ApiError::from(d).into_response();
    }
    req.extensions_mut().insert::<Access>(access);
    next.run(req).await
}

/// Basic-auth decoding. Hand-written because it is twenty lines and the only base64 use in
/// the server; a crate would add a dependency for one call.
mod base64_lite {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }

    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let s = s.trim_end_matches('=');
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in s.bytes() {
            acc = (acc << 6) | val(c)?;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }

    /// The password of a Basic credential `base64(user:password)`.
    pub fn decode_basic_password(b64: &str) -> Option<String> {
        let raw = String::from_utf8(decode(b64)?).ok()?;
        raw.split_once(':').map(|(_, p)| p.to_string())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn decodes_basic_credentials() {
            // "user:s3cret"
            assert_eq!(
                super::decode_basic_password("dXNlcjpzM2NyZXQ="),
                Some("s3cret".to_string())
            );
            assert_eq!(super::decode_basic_password("!!"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_group_needs_what_the_table_says() {
        let get = |p: &str| need(&Method::GET, p);
        let post = |p: &str| need(&Method::POST, p);
        assert_eq!(get("/health"), Need::Nothing);
        assert_eq!(post("/api/argus/login"), Need::Nothing);
        assert_eq!(get("/"), Need::Nothing);
        assert_eq!(get("/ui/app.js"), Need::Nothing);
        assert_eq!(post("/"), Need::Credential);
        assert_eq!(post("/ui/app.js"), Need::Credential);
        assert_eq!(post("/api/v1/write"), Need::Credential);
        assert_eq!(get("/api/v1/query"), Need::Credential);
        assert_eq!(get("/api/argus/hosts"), Need::Role(Role::Viewer));
        assert_eq!(post("/api/argus/hosts"), Need::Role(Role::Editor));
        assert_eq!(
            need(&Method::PATCH, "/api/argus/hosts/m1"),
            Need::Role(Role::Editor)
        );
        assert_eq!(get("/api/argus/hosts/h1/summary"), Need::Credential);
        assert_eq!(get("/api/argus/agent/config"), Need::Credential);
        assert_eq!(
            need(&Method::PUT, "/api/argus/agent/config"),
            Need::Role(Role::Editor)
        );
        assert_eq!(get("/api/argus/tasks"), Need::Role(Role::Editor));
        assert_eq!(get("/api/argus/tasks/t1"), Need::Role(Role::Editor));
        assert_eq!(post("/api/argus/tasks/t1/cancel"), Need::Role(Role::Editor));
        assert_eq!(get("/api/argus/agent/tasks"), Need::Credential);
        assert_eq!(post("/api/argus/agent/tasks/t1/result"), Need::Credential);
        assert_eq!(get("/api/argus/audit"), Need::Role(Role::Admin));
        assert_eq!(get("/api/argus/plugins/disk"), Need::Role(Role::Viewer));
        assert_eq!(
            need(&Method::PUT, "/api/argus/plugins/disk"),
            Need::Role(Role::Editor)
        );
        assert_eq!(
            post("/api/argus/plugins/disk/sync"),
            Need::Role(Role::Editor)
        );
        assert_eq!(get("/api/argus/agent/plugins/disk/abc"), Need::Credential);
        assert_eq!(post("/api/argus/admin/flush"), Need::Role(Role::Admin));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            COOKIE,
            axum::http::HeaderValue::from_static("theme=dark; argus_session=abc; x=1"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        h.insert(
            COOKIE,
            axum::http::HeaderValue::from_static("argus_session="),
        );
        assert_eq!(session_cookie(&h), None);
    }
}
