//! Reading a request body within the configured limit, gzip-decoded when the client says so.
//!
//! The limit applies both to the bytes on the wire and to the decompressed size, so a small
//! gzip bomb is refused with 413 like a large plain body.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_ENCODING;
use std::io::Read;

pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge { limit })?;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(raw.len() * 4);
            flate2::read::MultiGzDecoder::new(&raw[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::BadRequest(format!("cannot decode gzip body: {e}")))?;
            if out.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            Ok(Bytes::from(out))
        }
        other => Err(ApiError::BadRequest(format!(
            "unsupported Content-Encoding {other:?}: send gzip or no encoding"
        ))),
    }
}
