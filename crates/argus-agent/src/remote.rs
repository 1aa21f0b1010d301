//! Remote configuration: the agent pulls its configuration from the server
//! (`GET /api/argus/agent/config?host=&id=`), with an ETag so an unchanged one costs a 304.
//! The last good copy is kept in the data directory and used when no server answers. The
//! list of plugins the server assigns to the host is pulled the same way
//! ([`pull_plugins`], applied by [`crate::distributed`]), and their archives downloaded
//! ([`download_plugin`]).
//!
//! Both requests here name the host twice: by its host name, and by its **machine id**
//! ([`crate::heartbeat::machine_id`]), the stable id the server's host inventory keys hosts
//! by. [`whoami`] asks that inventory what it knows of this host.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a pull found.
#[derive(Debug, Clone, PartialEq)]
pub enum Pulled {
    /// The server has none for this host.
    None,
    /// Same as the copy we have.
    Unchanged,
    /// A new configuration (TOML text) and its ETag.
    New { text: String, etag: String },
}

/// Where the last good remote configuration and its ETag are kept.
pub fn saved_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    (
        data_dir.join("remote-config.toml"),
        data_dir.join("remote-config.etag"),
    )
}

/// Percent-encodes a query parameter's value: everything but letters, digits and `-._`,
/// byte by byte, so a host name or id of any shape reaches the server as it is.
pub(crate) fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `{server}{path}?host=&id=`: the server finds the host's configuration by name, and its
/// inventory entry (groups, namespaces) by machine id.
pub(crate) fn host_url(server: &str, path: &str, host: &str, id: &str) -> String {
    format!(
        "{}{path}?host={}&id={}",
        server.trim_end_matches('/'),
        query_value(host),
        query_value(id)
    )
}

/// Asks the servers in turn; the first that answers decides. `id` is the machine id.
pub async fn pull(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    id: &str,
    etag: Option<&str>,
) -> anyhow::Result<Pulled> {
    pull_from(
        client,
        servers,
        token,
        host,
        id,
        etag,
        "/api/argus/agent/config",
    )
    .await
}

/// `GET {server}{path}?host=&id=` with `If-None-Match: etag`, asking the servers in turn:
/// the first that answers 2xx, 304 or 404 decides; another status or no answer moves on.
async fn pull_from(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    id: &str,
    etag: Option<&str>,
    path: &str,
) -> anyhow::Result<Pulled> {
    let mut last_err = anyhow::anyhow!("no server configured");
    for s in servers {
        let url = host_url(s, path, host, id);
        let mut req = client
            .get(&url)
            .timeout(Duration::from_secs(10))
            .bearer_auth(token);
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        match req.send().await {
            Ok(r) if r.status().as_u16() == 304 => return Ok(Pulled::Unchanged),
            Ok(r) if r.status().as_u16() == 404 => return Ok(Pulled::None),
            Ok(r) if r.status().is_success() => {
                let etag = r
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let text = r.text().await?;
                return Ok(Pulled::New { text, etag });
            }
            Ok(r) => last_err = anyhow::anyhow!("{url}: {}", r.status()),
            Err(e) => last_err = anyhow::anyhow!("{url}: {}", error_chain(&e.without_url())),
        }
    }
    Err(last_err)
}

/// What a pull of the plugin list found (`GET /api/argus/agent/plugins?host=&id=`).
#[derive(Debug, Clone, PartialEq)]
pub enum PulledPlugins {
    /// Same as the list we have (304).
    Unchanged,
    /// The list (JSON text) and its ETag.
    New { text: String, etag: String },
}

/// Asks the servers in turn for the plugins this host runs, with the ETag of the list
/// applied last; the first that answers decides, as in [`pull`]. A 404 (a server without
/// plugin distribution) is an error: the list in force stays.
pub async fn pull_plugins(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    id: &str,
    etag: Option<&str>,
) -> anyhow::Result<PulledPlugins> {
    let path = "/api/argus/agent/plugins";
    match pull_from(client, servers, token, host, id, etag, path).await? {
        Pulled::Unchanged => Ok(PulledPlugins::Unchanged),
        Pulled::New { text, etag } => Ok(PulledPlugins::New { text, etag }),
        Pulled::None => anyhow::bail!("{path}: 404: the server does not distribute plugins"),
    }
}

/// Downloads one version of a plugin's archive (`name` and `version` are checked by the
/// caller to be plain words) for this host, at most `max_bytes`, from the first server
/// that has it.
pub async fn download_plugin(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    (host, id): (&str, &str),
    (name, version): (&str, &str),
    max_bytes: usize,
) -> anyhow::Result<Vec<u8>> {
    let mut last_err = anyhow::anyhow!("no server configured");
    for s in servers {
        let url = host_url(
            s,
            &format!("/api/argus/agent/plugins/{name}/{version}"),
            host,
            id,
        );
        let reply = client
            .get(&url)
            .timeout(Duration::from_secs(60))
            .bearer_auth(token)
            .send()
            .await;
        match reply {
            Ok(r) if r.status().is_success() => {
                if r.content_length().is_some_and(|n| n > max_bytes as u64) {
                    anyhow::bail!("{url}: larger than {max_bytes} bytes");
                }
                let bytes = r.bytes().await?;
                if bytes.len() > max_bytes {
                    anyhow::bail!("{url}: larger than {max_bytes} bytes");
                }
                return Ok(bytes.to_vec());
            }
            Ok(r) => last_err = anyhow::anyhow!("{url}: {}", r.status()),
            Err(e) => last_err = anyhow::anyhow!("{url}: {}", error_chain(&e.without_url())),
        }
    }
    Err(last_err)
}

/// Saves a pulled configuration as the last good copy (after it was validated).
pub fn save(data_dir: &Path, text: &str, etag: &str) -> std::io::Result<()> {
    let (cfg, tag) = saved_paths(data_dir);
    std::fs::create_dir_all(data_dir)?;
    let tmp = cfg.with_extension("toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &cfg)?;
    std::fs::write(tag, etag)
}

/// Forgets the saved copy (the server says there is none).
pub fn clear(data_dir: &Path) {
    let (cfg, tag) = saved_paths(data_dir);
    let _ = std::fs::remove_file(cfg);
    let _ = std::fs::remove_file(tag);
}

/// The ETag of the saved remote configuration, if there is one.
pub fn saved_etag(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(saved_paths(data_dir).1)
        .ok()
        .filter(|s| !s.is_empty())
}

/// What the server's host inventory says about this host (`GET /api/argus/agent/me`).
#[derive(Debug, Clone, PartialEq)]
pub enum Me {
    /// The host is in the inventory: the server's answer (`id`, `hostname`, `namespaces`,
    /// `groups`), kept whole so that a field a newer server adds still reaches the caller.
    Known(serde_json::Map<String, serde_json::Value>),
    /// The host is not in the inventory (404): the server's message.
    Unknown(String),
}

/// Why [`whoami`] has no answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WhoamiError {
    #[error("no server configured")]
    NoServer,
    /// Each server tried, with what went wrong there (`<server>: <reason>`).
    #[error("no server answered: {}", .0.join("; "))]
    NoAnswer(Vec<String>),
}

/// Asks the servers in turn which namespaces and groups this host (`host`, machine id `id`)
/// belongs to; the first that answers (200 or 404) decides, as in [`pull`]. Any other
/// status, a body that is not a JSON object, or no connection moves on to the next server.
pub async fn whoami(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    id: &str,
) -> Result<Me, WhoamiError> {
    if servers.is_empty() {
        return Err(WhoamiError::NoServer);
    }
    let mut tried = Vec::new();
    for s in servers {
        let base = s.trim_end_matches('/');
        let url = host_url(s, "/api/argus/agent/me", host, id);
        let reply = client
            .get(&url)
            .timeout(Duration::from_secs(10))
            .bearer_auth(token)
            .send()
            .await;
        let r = match reply {
            Ok(r) => r,
            Err(e) => {
                tried.push(format!("{base}: {}", error_chain(&e.without_url())));
                continue;
            }
        };
        let status = r.status();
        if status.as_u16() != 404 && !status.is_success() {
            tried.push(format!("{base}: {status}"));
            continue;
        }
        let body = match r.bytes().await {
            Ok(b) => b,
            Err(e) => {
                tried.push(format!("{base}: {}", error_chain(&e.without_url())));
                continue;
            }
        };
        if status.as_u16() == 404 {
            // The server's own words if it gave them; an older server without the
            // inventory answers 404 too, and its message says so.
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_string))
                .unwrap_or_else(|| {
                    format!("{base} has no host {host:?} (id {id:?}) in its inventory")
                });
            return Ok(Me::Unknown(message));
        }
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(m)) => return Ok(Me::Known(m)),
            Ok(_) => tried.push(format!(
                "{base}: {status} with a body that is not an object"
            )),
            Err(e) => tried.push(format!(
                "{base}: {status} with a body that is not JSON: {e}"
            )),
        }
    }
    Err(WhoamiError::NoAnswer(tried))
}

/// An error and its causes on one line: reqwest's own message ("error sending request")
/// says nothing of why; the cause ("Connection refused") does.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::testserver::{self, Reply};

    fn client() -> reqwest::Client {
        crate::outputs::http::agent_client(false).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pull_names_the_host_and_its_machine_id() {
        let server = testserver::start(vec![Reply::status(404)]);
        let pulled = pull(
            &client(),
            std::slice::from_ref(&server.url),
            "tok",
            "web 1",
            "abc:1",
            Some("\"e1\""),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(pulled, Pulled::None);
        let req = server.next();
        assert_eq!(
            req.target,
            "/api/argus/agent/config?host=web%201&id=abc%3A1"
        );
        assert_eq!(req.header("authorization"), Some("Bearer tok"));
        assert_eq!(req.header("if-none-match"), Some("\"e1\""));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn whoami_hands_back_the_inventory_entry() {
        let server = testserver::start(vec![Reply {
            status: 200,
            body: r#"{"id":"m-1","hostname":"web-1","namespaces":["ops","web"],"groups":["db"],"since":5}"#.into(),
        }]);
        let me = whoami(
            &client(),
            std::slice::from_ref(&server.url),
            "tok",
            "web-1",
            "m-1",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let Me::Known(m) = me else {
            panic!("expected Known, got {me:?}")
        };
        assert_eq!(m["id"], "m-1");
        assert_eq!(m["hostname"], "web-1");
        assert_eq!(m["namespaces"], serde_json::json!(["ops", "web"]));
        assert_eq!(m["groups"], serde_json::json!(["db"]));
        // A field this agent does not know passes through.
        assert_eq!(m["since"], 5);
        let req = server.next();
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/api/argus/agent/me?host=web-1&id=m-1");
        assert_eq!(req.header("authorization"), Some("Bearer tok"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn whoami_passes_on_the_servers_not_found() {
        let server = testserver::start(vec![Reply {
            status: 404,
            body: r#"{"error":"host m-1 is not in the inventory"}"#.into(),
        }]);
        let me = whoami(
            &client(),
            std::slice::from_ref(&server.url),
            "tok",
            "web-1",
            "m-1",
        )
        .await;
        assert_eq!(
            me,
            Ok(Me::Unknown("host m-1 is not in the inventory".into()))
        );
        // A 404 without the server's message still says what was asked.
        let server = testserver::start(vec![Reply::status(404)]);
        let me = whoami(
            &client(),
            std::slice::from_ref(&server.url),
            "tok",
            "web-1",
            "m-1",
        )
        .await;
        assert_eq!(
            me,
            Ok(Me::Unknown(format!(
                "{} has no host \"web-1\" (id \"m-1\") in its inventory",
                server.url
            )))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn whoami_tries_every_server_and_names_them_when_none_answers() {
        let down = format!("http://127.0.0.1:{}", testserver::free_port());
        let failing = testserver::start(vec![Reply::status(500)]);
        let err = whoami(
            &client(),
            &[down.clone(), failing.url.clone()],
            "tok",
            "web-1",
            "m-1",
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("no server answered, yet whoami succeeded"));
        let WhoamiError::NoAnswer(tried) = &err else {
            panic!("expected NoAnswer, got {err:?}")
        };
        assert_eq!(tried.len(), 2, "{tried:?}");
        assert!(tried[0].starts_with(&format!("{down}: ")), "{tried:?}");
        assert!(
            tried[0].to_lowercase().contains("refused"),
            "the cause is named: {tried:?}"
        );
        assert_eq!(
            tried[1],
            format!("{}: 500 Internal Server Error", failing.url)
        );
        assert!(err.to_string().starts_with("no server answered: "), "{err}");

        // A server that fails lets the next one decide.
        let failing = testserver::start(vec![Reply::status(500)]);
        let good = testserver::start(vec![Reply {
            status: 200,
            body: r#"{"id":"m-1","hostname":"web-1","namespaces":[],"groups":[]}"#.into(),
        }]);
        let me = whoami(&client(), &[failing.url, good.url], "tok", "web-1", "m-1").await;
        assert!(
            matches!(&me, Ok(Me::Known(m)) if m["id"] == "m-1"),
            "{me:?}"
        );

        assert_eq!(
            whoami(&client(), &[], "tok", "web-1", "m-1").await,
            Err(WhoamiError::NoServer)
        );
    }
}
