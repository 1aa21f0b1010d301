//! Remote configuration: the agent pulls its configuration from the server
//! (`GET /api/argus/agent/config?host=`), with an ETag so an unchanged one costs a 304.
//! The last good copy is kept in the data directory and used when no server answers.

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

/// Asks the servers in turn; the first that answers decides.
pub async fn pull(
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    host: &str,
    etag: Option<&str>,
) -> anyhow::Result<Pulled> {
    let mut last_err = anyhow::anyhow!("no server configured");
    for s in servers {
        let url = format!(
            "{}/api/argus/agent/config?host={}",
            s.trim_end_matches('/'),
            host.bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
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
            Err(e) => last_err = anyhow::anyhow!("{url}: {e}"),
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

pub fn saved_etag(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(saved_paths(data_dir).1)
        .ok()
        .filter(|s| !s.is_empty())
}
