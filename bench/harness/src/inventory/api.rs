//! The **hosts API** as the benchmark uses it: heartbeats in, pages of the inventory out,
//! placements patched; every answer other than the expected status is an error naming the
//! request.

use crate::system::{Server, truncate};
use anyhow::{Context, bail};
use reqwest::blocking::Client;
use serde_json::Value;
use std::time::Instant;

/// One page of `GET /api/argus/hosts`.
pub struct Page {
    /// Hosts matching the filters, on every page (`total`).
    pub total: u64,
    pub hosts: Vec<Value>,
}

/// A host as listed: the fields the benchmark reads.
pub struct Listed {
    /// Its `id`, as the path of `PATCH /api/argus/hosts/{id}` takes it.
    pub id: String,
    pub hostname: String,
    pub last_seen_ms: Option<i64>,
}

impl Listed {
    pub fn from_json(v: &Value) -> anyhow::Result<Listed> {
        let id = match &v["id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => bail!("a listed host has no id (\"id\": {other}): {v}"),
        };
        let hostname = v["hostname"]
            .as_str()
            .with_context(|| format!("a listed host has no hostname: {v}"))?
            .to_string();
        Ok(Listed {
            id,
            hostname,
            last_seen_ms: v["last_seen_ms"].as_i64(),
        })
    }
}

pub struct Api<'a> {
    pub server: &'a Server,
}

impl Api<'_> {
    /// `POST /api/argus/heartbeat`: acknowledged (2xx, 204 expected) once queued.
    pub fn heartbeat(&self, client: &Client, body: String) -> anyhow::Result<()> {
        let r = self
            .server
            .auth(client.post(format!("{}/api/argus/heartbeat", self.server.base)))
            .header("content-type", "application/json")
            .body(body)
            .send()?;
        let status = r.status();
        if !status.is_success() {
            bail!(
                "POST /api/argus/heartbeat: {status}: {}",
                truncate(&r.text().unwrap_or_default(), 300)
            );
        }
        Ok(())
    }

    /// `PATCH /api/argus/hosts/{id}` with `body`.
    pub fn patch(&self, client: &Client, id: &str, body: &Value) -> anyhow::Result<()> {
        let r = self
            .server
            .auth(client.patch(format!("{}/api/argus/hosts/{id}", self.server.base)))
            .json(body)
            .send()?;
        let status = r.status();
        if !status.is_success() {
            bail!(
                "PATCH /api/argus/hosts/{id}: {status}: {}",
                truncate(&r.text().unwrap_or_default(), 300)
            );
        }
        Ok(())
    }

    /// `GET /api/argus/hosts?{query}`: the page, and how long from sending the request to
    /// the last byte of the answer, in ms (parsing not included).
    pub fn list(&self, client: &Client, query: &str) -> anyhow::Result<(Page, f64)> {
        let url = format!("{}/api/argus/hosts?{query}", self.server.base);
        let started = Instant::now();
        let r = self.server.auth(client.get(&url)).send()?;
        let status = r.status();
        let body = r.bytes()?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() {
            bail!(
                "GET /api/argus/hosts?{query}: {status}: {}",
                truncate(&String::from_utf8_lossy(&body), 300)
            );
        }
        Ok((
            parse_page(&body).context(format!("GET /api/argus/hosts?{query}"))?,
            ms,
        ))
    }
}

/// `{"status":"success","data":[…],"total":N}`; an answer without `total` comes from a
/// server older than the paged inventory (issue 13).
fn parse_page(body: &[u8]) -> anyhow::Result<Page> {
    let v: Value = serde_json::from_slice(body).context("answer is not JSON")?;
    if v["status"] != "success" {
        bail!("status is not success: {}", truncate(&v.to_string(), 300));
    }
    let hosts = v["data"]
        .as_array()
        .cloned()
        .context("answer has no data array")?;
    let total = v["total"].as_u64().with_context(|| {
        format!(
            "answer has no \"total\" (a server without the paged inventory of issue 13?): {} hosts in data",
            hosts.len()
        )
    })?;
    Ok(Page { total, hosts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_need_status_data_and_total() {
        let body = br#"{"status":"success","total":3,"data":[{"id":7,"hostname":"host-00001","last_seen_ms":5}]}"#;
        let page = parse_page(body).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!((page.total, page.hosts.len()), (3, 1));
        let h = Listed::from_json(&page.hosts[0]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            (h.id.as_str(), h.hostname.as_str(), h.last_seen_ms),
            ("7", "host-00001", Some(5))
        );
        let old = br#"{"status":"success","data":[]}"#;
        let e = parse_page(old)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("no \"total\""), "{e}");
        assert!(parse_page(b"<html>").is_err());
        assert!(Listed::from_json(&serde_json::json!({"hostname": "x"})).is_err());
    }
}
