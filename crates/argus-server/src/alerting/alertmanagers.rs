//! Alerts to external Alertmanagers, as Prometheus sends them (notifier/notifier.go in
//! 2.42): `POST <url>/api/v2/alerts` with a JSON array of
//! `{annotations, endsAt, startsAt, generatorURL, labels}`, at most 64 alerts a request,
//! to every Alertmanager in parallel with a 10 s timeout and no retry (the next
//! evaluation sends again); a batch counts as sent when any Alertmanager took it.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One alert to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (Prometheus: FiredAt).
    pub starts_at_ms: i64,
    /// When it resolved, or until when it holds while firing.
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
}

/// The wire form, fields in the order Prometheus writes them.
#[derive(Serialize)]
struct Postable<'a> {
    annotations: &'a BTreeMap<String, String>,
    #[serde(rename = "endsAt", skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    labels: &'a BTreeMap<String, String>,
}

/// Most alerts in one request (Prometheus's `maxBatchSize`).
pub const BATCH: usize = 64;

/// `2006-01-02T15:04:05.000Z`, the form Prometheus sends.
pub fn rfc3339_ms(ms: i64) -> String {
    let t = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH
    };
    humantime::format_rfc3339_millis(t).to_string()
}

/// The Alertmanagers of `[alerting] alertmanagers`.
pub struct Alertmanagers {
    urls: Vec<String>,
    client: reqwest::Client,
}

impl Alertmanagers {
    pub fn new(urls: &[String]) -> Result<Alertmanagers, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("Argus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Alertmanagers {
            urls: urls
                .iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            client,
        })
    }

    /// Sends `alerts` in batches; the number of batches some Alertmanager took, or an error
    /// naming every Alertmanager that refused the first batch none took.
    pub async fn send(&self, alerts: &[Alert]) -> Result<usize, String> {
        let mut sent = 0;
        for batch in alerts.chunks(BATCH) {
            let body: Vec<Postable<'_>> = batch
                .iter()
                .map(|a| Postable {
                    annotations: &a.annotations,
                    ends_at: a.ends_at_ms.map(rfc3339_ms),
                    starts_at: rfc3339_ms(a.starts_at_ms),
                    generator_url: &a.generator_url,
                    labels: &a.labels,
                })
                .collect();
            let calls = self.urls.iter().map(|u| {
                let req = self
                    .client
                    .post(format!("{u}/api/v2/alerts"))
                    .json(&body)
                    .send();
                async move {
                    match req.await {
                        Ok(r) if r.status().is_success() => Ok(()),
                        Ok(r) => Err(format!("{u}: {}", r.status())),
                        Err(e) => Err(format!("{u}: {e}")),
                    }
                }
            });
            let results = futures_util::future::join_all(calls).await;
            if results.iter().any(Result::is_ok) {
                sent += 1;
            } else {
                let why: Vec<String> = results.into_iter().filter_map(Result::err).collect();
                return Err(format!(
                    "no Alertmanager took the alerts: {}",
                    why.join("; ")
                ));
            }
        }
        Ok(sent)
    }
}

/// Now, in ms (for callers that stamp alerts).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_testkit::alertmanager::{Alertmanager, QUIET_CONFIG};

    fn alert(i: usize, now: i64) -> Alert {
        Alert {
            labels: [
                ("alertname".to_string(), "HighCPU".to_string()),
                ("host".to_string(), format!("web{i}")),
                ("severity".to_string(), "page".to_string()),
            ]
            .into(),
            annotations: [("summary".to_string(), format!("web{i} is busy"))].into(),
            starts_at_ms: now - 60_000,
            ends_at_ms: Some(now + 3_600_000),
            generator_url: "http://argus.example/graph?g0.expr=cpu".into(),
        }
    }

    #[test]
    fn times_are_written_as_prometheus_writes_them() {
        assert_eq!(rfc3339_ms(1_675_245_600_123), "2023-02-01T10:00:00.123Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[tokio::test]
    async fn alerts_reach_a_real_alertmanager_in_batches_of_64() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let am = Alertmanager::start(QUIET_CONFIG).unwrap_or_else(|e| panic!("{e}"));
        // One Alertmanager down beside it: the batch still counts as sent.
        let dead = "http://127.0.0.1:9".to_string();
        let ams = Alertmanagers::new(&[dead.clone(), am.url()]).unwrap_or_else(|e| panic!("{e}"));
        let now = now_ms();
        let alerts: Vec<Alert> = (0..70).map(|i| alert(i, now)).collect();
        assert_eq!(ams.send(&alerts).await, Ok(2));
        let got: serde_json::Value = reqwest::get(format!("{}/api/v2/alerts", am.url()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        let list = got.as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 70, "{got}");
        let web7 = list
            .iter()
            .find(|a| a["labels"]["host"] == "web7")
            .unwrap_or_else(|| panic!("no web7 in {got}"));
        assert_eq!(web7["annotations"]["summary"], "web7 is busy");
        assert_eq!(web7["status"]["state"], "active");
        assert_eq!(web7["startsAt"], rfc3339_ms(now - 60_000));
        assert_eq!(
            web7["generatorURL"],
            "http://argus.example/graph?g0.expr=cpu"
        );
        // Nobody answering: an error naming each.
        let none = Alertmanagers::new(&[dead]).unwrap_or_else(|e| panic!("{e}"));
        let e = none.send(&alerts[..1]).await.err().unwrap_or_default();
        assert!(e.contains("127.0.0.1:9"), "{e}");
    }
}
