//! Token authentication.
//!
//! Every path except `/health` needs the server's token. Clients send it in the form they
//! already know: `Authorization: Bearer <t>` (Prometheus, Grafana, the agent),
//! `Authorization: Token <t>` (Influx v2 clients), HTTP Basic with the token as password,
//! or `?p=<t>` (Influx v1 clients such as Telegraf's `influxdb` output).

use crate::api::AppState;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64_lite::decode_basic_password;

/// Compares in time independent of where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

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

pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    match presented_token(&req) {
        Some(t) if constant_time_eq(t.as_bytes(), state.token.as_bytes()) => next.run(req).await,
        _ => {
            state.telemetry.unauthorized();
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Generates a fresh token: 32 random bytes, hex-encoded.
pub fn generate_token() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
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
    fn tokens_are_64_hex_chars_and_differ() {
        let a = generate_token().unwrap_or_default();
        let b = generate_token().unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
