//! Influx line protocol ingest: `POST /write` (v1) and `POST /api/v2/write` (v2).
//!
//! A body is accepted or rejected whole: the first bad line fails the request with 400
//! naming it, and nothing from that body is stored, so a client can fix and resend without
//! creating duplicates. `db` (v1) or `bucket` (v2) becomes the `ns` label.

use super::body::read_body;
use super::validate::{Rules, Violation, valid_namespace};
use crate::api::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use argus_core::TimeSeries;
use argus_core::line_protocol::{Line, Precision, line_to_series, parse};
use axum::Extension;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};

/// Which API flavour a request came in on: it decides the namespace parameter's name.
#[derive(Clone, Copy)]
enum Flavour {
    V1,
    V2,
}

pub async fn write_v1(
    state: State<AppState>,
    access: Extension<Access>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    write(state, access, query, headers, body, Flavour::V1).await
}

pub async fn write_v2(
    state: State<AppState>,
    access: Extension<Access>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    write(state, access, query, headers, body, Flavour::V2).await
}

async fn write(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
    flavour: Flavour,
) -> Result<StatusCode, ApiError> {
    let result = ingest(&state, &access, query.as_deref(), &headers, body, flavour).await;
    if let Err(e) = &result {
        state.telemetry.rejected(e.reject_reason());
    }
    result
}

/// The error for a rule broken on line `line`.
fn invalid_line(line: usize, v: Violation) -> ApiError {
    ApiError::Invalid {
        at: format!("line {line}"),
        reason: v.reason,
        message: v.message,
    }
}

/// Checks what a parsed line will become: its labels (tags, plus the name and `ns`) and
/// its timestamp.
fn check_line(
    rules: &Rules,
    line: &Line<'_>,
    ts: i64,
    has_ns: bool,
    now: i64,
) -> Result<(), Violation> {
    let tags = line
        .tags
        .iter()
        .filter(|(k, _)| !k.is_empty() && k != "ns")
        .count();
    rules.check_label_count(tags + 1 + usize::from(has_ns))?;
    for (k, v) in &line.tags {
        if v.len() > rules.max_label_value_bytes {
            rules.check_label(&argus_core::line_protocol::label_name(k), v)?;
        }
    }
    rules.check_ts(ts, now)
}

/// A namespace token's line whose `ns` tag names another namespace: refused (403), as
/// remote write and OpenTSDB refuse such a label, rather than silently moved.
fn check_line_ns(access: &Access, line: &Line<'_>, line_no: usize) -> Result<(), ApiError> {
    let Some(own) = &access.ns else {
        return Ok(());
    };
    match line.tags.iter().find(|(k, _)| k == "ns") {
        Some((_, v)) if !v.is_empty() && v.as_ref() != own.as_ref() => {
            Err(ApiError::Forbidden(format!(
                "line {line_no}: token {:?} belongs to namespace {own:?} and cannot write into {:?} (tag ns)",
                access.name,
                v.as_ref()
            )))
        }
        _ => Ok(()),
    }
}

async fn ingest(
    state: &AppState,
    access: &Access,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    flavour: Flavour,
) -> Result<StatusCode, ApiError> {
    let mut precision = Precision::Nanoseconds;
    let mut ns = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match (k.as_ref(), flavour) {
            ("precision", _) => {
                precision = v.parse().map_err(|e| {
                    ApiError::BadRequest(format!("invalid query parameter \"precision\": {e}"))
                })?
            }
            ("db", Flavour::V1) | ("bucket", Flavour::V2) => ns = Some(v.into_owned()),
            _ => {}
        }
    }
    let ns = access.write_ns(ns.as_deref())?;
    if let Some(n) = &ns
        && !valid_namespace(n)
    {
        return Err(ApiError::Invalid {
            at: if matches!(flavour, Flavour::V1) {
                "parameter db"
            } else {
                "parameter bucket"
            }
            .into(),
            reason: "invalid_namespace",
            message: format!("namespace {n:?} is not 1 to 128 of [A-Za-z0-9_.-]"),
        });
    }
    let bytes = read_body(headers, body, state.max_body_bytes).await?;
    if let Some((line, len)) = state.rules.long_line(&bytes) {
        return Err(ApiError::Invalid {
            at: format!("line {line}"),
            reason: "line_too_long",
            message: format!(
                "{len} bytes, longer than {} (server.max_line_bytes)",
                state.rules.max_line_bytes
            ),
        });
    }
    std::str::from_utf8(&bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        ApiError::BadLine {
            line,
            column: at - line_start + 1,
            message: format!("line {line}, column {}: invalid UTF-8", at - line_start + 1),
        }
    })?;

    let now = argus_core::now_ms();
    let len = bytes.len() as u64;
    if let Some(pipeline) = &state.pipeline {
        // Checked here, whole; queued as text and parsed again by the samples handler.
        let rules = state.rules.clone();
        let has_ns = ns.is_some();
        let access = access.clone();
        let (bytes, counts) = tokio::task::spawn_blocking(move || {
            let text = std::str::from_utf8(&bytes).unwrap_or_default();
            check_lines(&rules, &access, text, precision, has_ns, now).map(|c| (bytes, c))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        pipeline
            .publish_lines(ns.as_deref(), precision, now, text)
            .await?;
        state
            .telemetry
            .ingested(counts.lines, counts.samples, len, counts.strings);
        return Ok(StatusCode::NO_CONTENT);
    }
    let st = state.clone();
    let access = access.clone();
    let counts = tokio::task::spawn_blocking(move || {
        // `bytes` was checked to be UTF-8 above.
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        // A namespace token's body naming another namespace in an `ns` tag: 403 first.
        if access.ns.is_some() {
            check_lines(&st.rules, &access, text, precision, ns.is_some(), now)?;
        }
        match &st.tsdb {
            Some(db) => store_tsdb(db, &st.rules, text, precision, ns.as_deref(), now),
            None => store_generic(
                st.store.as_ref(),
                &st.rules,
                text,
                precision,
                ns.as_deref(),
                now,
            ),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    state
        .telemetry
        .ingested(counts.lines, counts.samples, len, counts.strings);
    Ok(StatusCode::NO_CONTENT)
}

/// What a body held.
struct Counts {
    lines: u64,
    samples: u64,
    strings: u64,
}

fn bad_line(e: argus_core::line_protocol::ParseError) -> ApiError {
    ApiError::BadLine {
        line: e.line,
        column: e.column,
        message: e.to_string(),
    }
}

/// Any store: build every series' labels, then append.
fn store_generic(
    store: &dyn argus_core::Storage,
    rules: &Rules,
    text: &str,
    precision: Precision,
    ns: Option<&str>,
    now: i64,
) -> Result<Counts, ApiError> {
    let (series, counts) = collect_series(rules, text, precision, ns, now)?;
    store.append(series)?;
    Ok(counts)
}

/// Parses and checks a whole body into series (the first bad line is the error).
fn collect_series(
    rules: &Rules,
    text: &str,
    precision: Precision,
    ns: Option<&str>,
    now: i64,
) -> Result<(Vec<TimeSeries>, Counts), ApiError> {
    let extra: Vec<(&str, &str)> = ns.map(|n| ("ns", n)).into_iter().collect();
    let mut series: Vec<TimeSeries> = Vec::new();
    let (mut lines, mut strings) = (0u64, 0u64);
    let mut it = parse(text);
    while let Some(parsed) = it.next() {
        let line = parsed.map_err(bad_line)?;
        lines += 1;
        let ts = line.timestamp.map_or(now, |t| precision.to_millis(t));
        check_line(rules, &line, ts, ns.is_some(), now)
            .map_err(|v| invalid_line(it.current_line(), v))?;
        strings += line_to_series(&line, precision, now, &extra, &mut series) as u64;
    }
    let samples = series.iter().map(|s| s.samples.len() as u64).sum();
    Ok((
        series,
        Counts {
            lines,
            samples,
            strings,
        },
    ))
}

/// Parses and checks a whole body without storing it (the first bad line is the error).
fn check_lines(
    rules: &Rules,
    access: &Access,
    text: &str,
    precision: Precision,
    has_ns: bool,
    now: i64,
) -> Result<Counts, ApiError> {
    let (mut lines, mut strings, mut samples) = (0u64, 0u64, 0u64);
    let mut it = parse(text);
    while let Some(parsed) = it.next() {
        let line = parsed.map_err(bad_line)?;
        lines += 1;
        let ts = line.timestamp.map_or(now, |t| precision.to_millis(t));
        check_line(rules, &line, ts, has_ns, now)
            .map_err(|v| invalid_line(it.current_line(), v))?;
        check_line_ns(access, &line, it.current_line())?;
        for (_, value) in &line.fields {
            if value.as_f64().is_some() {
                samples += 1;
            } else {
                strings += 1;
            }
        }
    }
    Ok(Counts {
        lines,
        samples,
        strings,
    })
}

/// One queued line-protocol entry, as the samples handler applies it.
pub struct QueuedLines<'a> {
    pub ns: Option<&'a str>,
    pub precision: Precision,
    pub now_ms: i64,
    pub text: &'a str,
}

/// Applies queued line-protocol entries: on the embedded engine all in one commit, or
/// entry by entry when that fails, each then on its own. Returns, per entry that storage
/// refused as data (out of order, a limit), why; `Err` when storage failed otherwise (retry).
pub fn apply_lines(
    store: &dyn argus_core::Storage,
    tsdb: Option<&argus_tsdb::Db>,
    rules: &Rules,
    entries: &[QueuedLines<'_>],
) -> Result<Vec<String>, ApiError> {
    if let Some(db) = tsdb
        && entries.len() > 1
    {
        let mut app = db.appender();
        let all = entries.iter().try_for_each(|e| {
            add_lines(&mut app, rules, e.text, e.precision, e.ns, e.now_ms).map(drop)
        });
        if all.is_ok()
            && app
                .commit()
                .map_err(|e| ApiError::Storage(e.into()))
                .is_ok()
        {
            return Ok(Vec::new());
        }
    }
    let mut refused = Vec::new();
    for e in entries {
        let r = match tsdb {
            Some(db) => store_tsdb(db, rules, e.text, e.precision, e.ns, e.now_ms),
            None => store_generic(store, rules, e.text, e.precision, e.ns, e.now_ms),
        };
        match r {
            Ok(_) => {}
            Err(
                e @ (ApiError::BadLine { .. }
                | ApiError::Invalid { .. }
                | ApiError::Storage(
                    argus_core::StorageError::Rejected(_) | argus_core::StorageError::Limit(_),
                )),
            ) => refused.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(refused)
}

/// The embedded engine: series are found by the line's raw key (namespace, measurement,
/// tags, field), so labels are built only the first time a series is seen. A bad line
/// anywhere leaves the batch uncommitted: nothing of the body is stored.
fn store_tsdb(
    db: &argus_tsdb::Db,
    rules: &Rules,
    text: &str,
    precision: Precision,
    ns: Option<&str>,
    now: i64,
) -> Result<Counts, ApiError> {
    let mut app = db.appender();
    let counts = add_lines(&mut app, rules, text, precision, ns, now)?;
    app.commit().map_err(|e| ApiError::Storage(e.into()))?;
    Ok(counts)
}

/// Adds a body's samples to an appender (not committed).
fn add_lines(
    app: &mut argus_tsdb::db::Appender<'_>,
    rules: &Rules,
    text: &str,
    precision: Precision,
    ns: Option<&str>,
    now: i64,
) -> Result<Counts, ApiError> {
    let extra: Vec<(&str, &str)> = ns.map(|n| ("ns", n)).into_iter().collect();
    let (mut lines, mut strings, mut samples) = (0u64, 0u64, 0u64);
    let mut key: Vec<u8> = Vec::with_capacity(256);
    let mut scratch: Vec<TimeSeries> = Vec::new();
    let mut it = parse(text);
    while let Some(parsed) = it.next() {
        let line = parsed.map_err(bad_line)?;
        lines += 1;
        let ts = line.timestamp.map_or(now, |t| precision.to_millis(t));
        check_line(rules, &line, ts, ns.is_some(), now)
            .map_err(|v| invalid_line(it.current_line(), v))?;
        key.clear();
        key.extend_from_slice(ns.unwrap_or("").as_bytes());
        key.push(0);
        key.extend_from_slice(line.measurement.as_bytes());
        for (k, v) in &line.tags {
            key.push(0);
            key.extend_from_slice(k.as_bytes());
            key.push(b'=');
            key.extend_from_slice(v.as_bytes());
        }
        key.push(0);
        let prefix = key.len();
        for (field, value) in &line.fields {
            let Some(v) = value.as_f64() else {
                strings += 1;
                continue;
            };
            key.truncate(prefix);
            key.extend_from_slice(field.as_bytes());
            let r = app
                .series_keyed(&key, || {
                    // First sight of this series: map this field alone the standard way.
                    let one = Line {
                        measurement: line.measurement.clone(),
                        tags: line.tags.clone(),
                        fields: vec![(field.clone(), value.clone())],
                        timestamp: line.timestamp,
                    };
                    scratch.clear();
                    line_to_series(&one, precision, now, &extra, &mut scratch);
                    scratch.pop().map(|s| s.labels).unwrap_or_default()
                })
                .map_err(|e| ApiError::Storage(e.into()))?;
            app.add(&r, ts, v)
                .map_err(|e| ApiError::Storage(e.into()))?;
            samples += 1;
        }
    }
    Ok(Counts {
        lines,
        samples,
        strings,
    })
}
