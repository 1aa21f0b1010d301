//! The web UI: static assets from `crates/argus-server/ui/`, embedded in the binary
//! (rust-embed; a debug build reads them from the source tree instead, so an edit shows
//! at the next page load). `GET /` answers the page, `GET /ui/<path>` its scripts, styles
//! and the vendored uPlot. The page reads everything through the public JSON APIs with
//! the session cookie that `POST /api/argus/login` sets, so the assets need no credential
//! ([`super::auth::need`]).
//!
//! Every answer carries its content's SHA-256 as a strong `ETag` with
//! `Cache-Control: no-cache`: a browser revalidates each load and gets `304` while the
//! binary is the same, and never runs a stale script after an upgrade. These routes
//! gzip what they send to clients that accept it (the API's routes have no compression
//! layer; this one is theirs alone).

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;
use tower_http::compression::CompressionLayer;

use super::error::ApiError;

/// The assets, by path below `ui/`.
#[derive(Embed)]
#[folder = "ui/"]
pub struct Assets;

/// What the page may load and connect to: this server only (the page needs no other
/// network), no inline script, no framing by another site. uPlot sizes its elements
/// through `element.style`, which a style policy does not restrict.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The routes of the UI, compressed; merged into the server's router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*path}", get(asset))
        .layer(CompressionLayer::new().gzip(true))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The content type of an asset, from its extension; `None`: not a kind the UI ships, so
/// it is not served (a stray file in `ui/` stays unreachable).
pub fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ if path.ends_with("LICENSE") => "text/plain; charset=utf-8",
        _ => return None,
    })
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    // Release builds hold only the embedded files, but a debug build reads the source
    // tree: never let a path climb out of ui/.
    let climbs = path.starts_with('/') || path.split(['/', '\\']).any(|p| p == "..");
    let (false, Some(file), Some(ctype)) = (climbs, Assets::get(path), content_type(path)) else {
        return ApiError::NotFound(format!("/ui/{path}")).into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut resp = if headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = file.data.into_owned().into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if path == "index.html" {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    resp
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::collections::BTreeSet;
    use std::io::Write;

    /// Issue 15: all JS and CSS together under 300 KB gzipped.
    const BUDGET_GZIP_BYTES: usize = 300 * 1024;

    fn gzipped_len(data: &[u8]) -> usize {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap_or_else(|e| panic!("gzip: {e}"));
        enc.finish().unwrap_or_else(|e| panic!("gzip: {e}")).len()
    }

    fn text(path: &str) -> String {
        let f = Assets::get(path).unwrap_or_else(|| panic!("no asset {path}"));
        String::from_utf8(f.data.into_owned()).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn scripts_and_styles_fit_the_size_budget() {
        let mut total = 0;
        let mut files = 0;
        for path in Assets::iter() {
            if path.ends_with(".js") || path.ends_with(".css") {
                let f = Assets::get(&path).unwrap_or_else(|| panic!("no asset {path}"));
                total += gzipped_len(&f.data);
                files += 1;
            }
        }
        assert!(files >= 5, "only {files} scripts and styles found");
        assert!(
            total < BUDGET_GZIP_BYTES,
            "JS and CSS weigh {total} bytes gzipped; the budget is {BUDGET_GZIP_BYTES}"
        );
        eprintln!("ui: {files} JS/CSS files, {total} bytes gzipped");
    }

    /// The page needs no network beyond the Argus server: no asset names another origin
    /// outside comments (uPlot's licence header and our own comments may cite sources).
    #[test]
    fn no_asset_loads_from_another_origin() {
        for path in Assets::iter() {
            if content_type(&path).is_none() || path.ends_with("LICENSE") || path.ends_with(".md") {
                continue;
            }
            let body = strip_comments(&text(&path), &path);
            for scheme in ["http://", "https://", "//cdn", "//fonts."] {
                // XML namespaces are identifiers, not loads.
                let hits = body
                    .match_indices(scheme)
                    .filter(|(i, _)| !body[*i..].starts_with("http://www.w3.org/"))
                    .count();
                assert_eq!(hits, 0, "{path} references {scheme}");
            }
        }
    }

    /// Removes `/* … */` everywhere and `// …` line comments in scripts (a `//` inside a
    /// string is not a comment, but the UI's strings hold no URLs).
    fn strip_comments(s: &str, path: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("/*") {
            out.push_str(&rest[..i]);
            rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
        }
        out.push_str(rest);
        if path.ends_with(".js") {
            out = out
                .lines()
                .map(|l| match l.find("//") {
                    Some(i) if !l[..i].ends_with(':') => &l[..i],
                    _ => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        out
    }

    /// Every string of the UI is translated: both catalogs hold the same keys.
    #[test]
    fn both_catalogs_have_the_same_keys() {
        let keys = |path: &str| -> BTreeSet<String> {
            text(path)
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let (k, _) = l.split_once(':')?;
                    let k = k.trim();
                    let k = k.strip_prefix('\'')?.strip_suffix('\'')?;
                    Some(k.to_string())
                })
                .collect()
        };
        let en = keys("i18n/en.js");
        let zh = keys("i18n/zh-CN.js");
        assert!(en.len() > 50, "only {} keys in en.js", en.len());
        let missing_zh: Vec<_> = en.difference(&zh).collect();
        let missing_en: Vec<_> = zh.difference(&en).collect();
        assert!(missing_zh.is_empty(), "not in zh-CN.js: {missing_zh:?}");
        assert!(missing_en.is_empty(), "not in en.js: {missing_en:?}");
    }

    /// Every key a script asks `t()` for is in the catalog.
    #[test]
    fn every_key_the_scripts_use_is_in_the_catalog() {
        let catalog = text("i18n/en.js");
        let re = regex::Regex::new(r#"\bt\(\s*'([A-Za-z0-9_.]+)'\s*[,)]"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut used = 0;
        for path in Assets::iter() {
            if !path.ends_with(".js") || path.starts_with("vendor/") || path.starts_with("i18n/") {
                continue;
            }
            for c in re.captures_iter(&text(&path)) {
                used += 1;
                assert!(
                    catalog.contains(&format!("'{}':", &c[1])),
                    "{path} uses t('{}'), which en.js lacks",
                    &c[1]
                );
            }
        }
        assert!(used > 50, "only {used} uses of t() found");
    }

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let first = serve("js/main.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[CACHE_CONTROL], "no-cache");
        let etag = first.headers()[ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, etag.clone());
        let again = serve("js/main.js", &h);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[ETAG], etag);
        let other = serve("app.css", &HeaderMap::new());
        assert_ne!(other.headers()[ETAG], etag);
        assert_eq!(other.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    }

    #[test]
    fn a_path_out_of_the_assets_is_not_found() {
        let h = HeaderMap::new();
        assert_eq!(serve("index.html", &h).status(), StatusCode::OK);
        for p in [
            "../ui/index.html",
            "js/../../ui/index.html",
            "/index.html",
            "nope.js",
        ] {
            assert_eq!(serve(p, &h).status(), StatusCode::NOT_FOUND, "{p}");
        }
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(
            content_type("app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            content_type("vendor/uplot/LICENSE"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(content_type("secret.toml"), None);
        assert!(Assets::get("index.html").is_some());
        assert!(Assets::get("vendor/uplot/uPlot.iife.min.js").is_some());
    }
}
