//! What the suites share: a fixed clock, a fast retry policy, notifications to send, and
//! the **recorder**, a local HTTP server that keeps every request it gets and answers
//! with replies the test scripts.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use argus_channels::{Channel, Clock, ConfigError, RetryPolicy};
use argus_notify::{Alert, Config, IntegrationConfig, LabelSet as Kv, Notification, Templates};
use axum::{
    Router,
    body::{Bytes, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use jiff::Timestamp;
use tokio::{sync::Notify, task::JoinHandle};

/// The time every test's clock shows.
pub const NOW: &str = "2026-12-07T10:00:00Z";

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("a test time")
}

pub fn clock() -> Clock {
    Clock::fixed(ts(NOW))
}

/// Retries quickly, at most three attempts, so the retry tests take milliseconds.
pub fn fast() -> RetryPolicy {
    RetryPolicy {
        timeout: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(3),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_attempts: 3,
    }
}

/// The integration an `alertmanager.yml` makes of one `<kind>_configs` entry, written
/// as JSON with its kind: `{"kind": "webhook", "url": …}` is the receiver
/// `{name: <receiver>, webhook_configs: [{url: …}]}` (JSON is YAML). `globals` is the
/// file's `global` section.
pub fn load_integration(
    receiver: &str,
    config: serde_json::Value,
    globals: serde_json::Value,
) -> Result<IntegrationConfig, argus_notify::ConfigError> {
    load_with_templates(receiver, config, globals).map(|(ic, _)| ic)
}

/// [`load_integration`] with the configuration's templates.
pub fn load_with_templates(
    receiver: &str,
    config: serde_json::Value,
    globals: serde_json::Value,
) -> Result<(IntegrationConfig, Arc<Templates>), argus_notify::ConfigError> {
    let mut entry = config;
    let kind = entry
        .as_object_mut()
        .and_then(|o| o.remove("kind"))
        .and_then(|k| k.as_str().map(str::to_owned))
        .expect("a kind");
    let file = serde_json::json!({
        "global": globals,
        "route": {"receiver": receiver},
        "receivers": [{"name": receiver, format!("{kind}_configs"): [entry]}],
    });
    let cfg = Config::load(&file.to_string(), "am.yml")?;
    let ic = cfg.receivers[0]
        .iter()
        .map(|(_, c)| c.clone())
        .next()
        .expect("one integration");
    Ok((ic, cfg.notification_templates))
}

/// A channel from one integration, or why the file or the channel is refused.
pub fn try_channel(receiver: &str, config: serde_json::Value) -> Result<Channel, String> {
    let (ic, templates) =
        load_with_templates(receiver, config, serde_json::json!({})).map_err(|e| e.to_string())?;
    Channel::new(receiver, &ic, templates).map_err(|e: ConfigError| e.to_string())
}

/// A channel from JSON config, with the test clock and the fast policy.
pub fn channel(receiver: &str, config: serde_json::Value) -> Channel {
    try_channel(receiver, config)
        .expect("a valid channel")
        .with_clock(clock())
        .with_policy(fast())
}

pub fn kv(pairs: &[(&str, &str)]) -> Kv {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An alert that started at 09:55:00.25; a resolved one ended at 09:59, before `NOW`.
pub fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)], resolved: bool) -> Alert {
    Alert {
        labels: kv(labels),
        annotations: kv(annotations),
        starts_at: ts("2026-12-07T09:55:00.25Z"),
        ends_at: resolved.then(|| ts("2026-12-07T09:59:00Z")),
        generator_url: "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into(),
        updated_at: ts("2026-12-07T09:55:00.25Z"),
        timeout: false,
    }
}

/// A notification of `alerts` at `NOW` grouped by `alertname`, as Alertmanager's
/// template data builds it (status, common labels and annotations, fingerprints).
pub fn notification(receiver: &str, alerts: Vec<Alert>) -> Notification {
    let group_labels: Kv = alerts
        .first()
        .and_then(|a| a.labels.get("alertname"))
        .map(|v| kv(&[("alertname", v)]))
        .unwrap_or_default();
    let group_key = format!(
        "{{}}:{{alertname={:?}}}",
        group_labels.get("alertname").cloned().unwrap_or_default()
    );
    Notification::new(
        receiver,
        &group_key,
        &group_labels,
        &alerts,
        "http://argus.example:9090",
        ts(NOW),
    )
}

/// Two firing `HighCPU` alerts on db1 and db2 whose summary holds `&`, `<` and `>`.
pub fn high_cpu() -> Notification {
    notification(
        "ops",
        vec![
            alert(
                &[
                    ("alertname", "HighCPU"),
                    ("host", "db1"),
                    ("severity", "page"),
                ],
                &[
                    ("summary", "CPU <busy> & hot on db1"),
                    ("runbook", "https://wiki/cpu"),
                ],
                false,
            ),
            alert(
                &[
                    ("alertname", "HighCPU"),
                    ("host", "db2"),
                    ("severity", "page"),
                ],
                &[
                    ("summary", "CPU <busy> & hot on db2"),
                    ("runbook", "https://wiki/cpu"),
                ],
                false,
            ),
        ],
    )
}

/// One request as the recorder got it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A query parameter, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// A query parameter as sent, not decoded.
    pub fn raw_query(&self, name: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        q.split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }
}

/// A reply the recorder gives.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

struct Shared {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Reply>,
    arrived: Notify,
}

/// A local HTTP server that records requests; stopped when dropped.
pub struct Recorder {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Recorder {
    /// Starts on a free port of 127.0.0.1, answering 200 with `fallback_body` unless
    /// `then` scripts otherwise.
    pub async fn start(fallback_body: &str) -> Recorder {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(Reply::new(200, fallback_body)),
            arrived: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these replies, in order, before the fallback again.
    pub fn then(&self, reply: Reply) -> &Self {
        self.shared.script.lock().expect("lock").push_back(reply);
        self
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("lock").clone()
    }

    /// Waits until `n` requests have arrived (for senders outside the test's control,
    /// such as Alertmanager), at most `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.arrived.notified();
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("{} requests within {within:?}, wanted {n}", got.len());
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let reply = {
        let next = shared.script.lock().expect("lock").pop_front();
        next.unwrap_or_else(|| shared.fallback.lock().expect("lock").clone())
    };
    shared.requests.lock().expect("lock").push(Recorded {
        method: parts.method.to_string(),
        uri: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    });
    shared.arrived.notify_waiters();
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (
        StatusCode::from_u16(reply.status).expect("a status"),
        reply.body,
    )
        .into_response();
    for (k, v) in reply.headers {
        resp.headers_mut()
            .insert(k, v.parse().expect("a header value"));
    }
    resp
}

/// A port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Waits until `port` on 127.0.0.1 accepts connections, failing early if `child` exits:
/// how a test knows a server it started is ready, without guessing a sleep.
pub async fn wait_for_port(port: u16, child: &mut tokio::process::Child, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {port}: {status}");
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what} not listening on {port} within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// HMAC-SHA256 and base64, written here apart from the crate's own signing code so the
/// tests check the signatures independently.
pub fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    use base64::Engine as _;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, msg).as_ref())
}
