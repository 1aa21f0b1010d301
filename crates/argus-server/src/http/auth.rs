//! Authentication at the edge: every path except `/health` needs a token, which the
//! request carries on as its [`Access`](crate::store::tokens::Access).
//!
//! Clients send the token in the form they already know: `Authorization: Bearer <t>`
//! (Prometheus, Grafana, the agent), `Authorization: Token <t>` (Influx v2 clients), HTTP
//! Basic with the token as password, or `?p=<t>` (Influx v1 clients such as Telegraf's
//! `influxdb` output).

use super::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64_lite::decode_basic_password;

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
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "p")
        .map(|(_, v)| v.into_owned())
}

pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    match presented_token(&req).and_then(|t| state.tokens.check(&t)) {
        Some(access) => {
            req.extensions_mut().insert(access);
            next.run(req).await
        }
        None => {
            state.telemetry.unauthorized();
            ApiError::Unauthorized.into_response()
        }
    }
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
