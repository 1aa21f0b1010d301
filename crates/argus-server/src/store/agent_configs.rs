//! Agent configurations the server hands out: `<dir>/<host>.toml` for one host, else
//! `<dir>/default.toml` for every agent. Agents pull theirs with an ETag and apply it
//! (they check its keys, and keep their running configuration when it is wrong).

use std::path::PathBuf;

/// The directory of agent configurations.
pub struct AgentConfigs {
    pub dir: PathBuf,
}

/// Why a configuration cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFault {
    #[error("parameter \"host\": {0:?} is not a host name")]
    BadHost(String),
    #[error("body is not valid TOML: {0}")]
    NotToml(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One configuration as served: its text and ETag.
pub struct Served {
    pub text: String,
    pub etag: String,
}

impl AgentConfigs {
    /// The configuration of `host` (empty: the default one), if there is one.
    pub fn get(&self, host: &str) -> Result<Option<Served>, ConfigFault> {
        check_host(host)?;
        let own = (!host.is_empty()).then(|| self.dir.join(format!("{host}.toml")));
        let text = own
            .into_iter()
            .chain([self.dir.join("default.toml")])
            .find_map(|p| std::fs::read_to_string(p).ok());
        Ok(text.map(|text| Served {
            etag: etag_of(&text),
            text,
        }))
    }

    /// Stores the configuration of `host` (empty: the default for every agent), replacing
    /// it atomically. It must parse as TOML.
    pub fn put(&self, host: &str, text: &str) -> Result<(), ConfigFault> {
        check_host(host)?;
        text.parse::<toml::Table>()
            .map_err(|e| ConfigFault::NotToml(e.to_string()))?;
        let name = if host.is_empty() { "default" } else { host };
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!("{name}.toml"));
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text.as_bytes())?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
}

fn check_host(host: &str) -> Result<(), ConfigFault> {
    if host.is_empty() || valid_host(host) {
        Ok(())
    } else {
        Err(ConfigFault::BadHost(host.to_string()))
    }
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        && !h.starts_with('.')
}

fn etag_of(text: &str) -> String {
    format!("\"{:08x}-{}\"", fnv1a(text.as_bytes()), text.len())
}

/// FNV-1a: an ETag needs a stable fingerprint, not a cryptographic one.
fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_gets_its_own_configuration_else_the_default() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let c = AgentConfigs {
            dir: dir.path().join("agent-config"),
        };
        assert!(c.get("web1").ok().flatten().is_none());
        c.put("", "[agent]\ninterval_secs = 10\n")
            .unwrap_or_else(|e| panic!("{e}"));
        c.put("web1", "[agent]\ninterval_secs = 5\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let text = |h: &str| c.get(h).ok().flatten().map(|s| s.text).unwrap_or_default();
        assert!(text("web1").contains("= 5"));
        assert!(text("web2").contains("= 10"));
        assert!(text("").contains("= 10"));
        let (a, b) = (c.get("web1").ok().flatten(), c.get("web2").ok().flatten());
        assert_ne!(a.map(|s| s.etag), b.map(|s| s.etag));
        assert!(matches!(
            c.put("../x", "a = 1"),
            Err(ConfigFault::BadHost(_))
        ));
        assert!(matches!(
            c.put("web1", "a = "),
            Err(ConfigFault::NotToml(_))
        ));
        assert!(matches!(c.get(".hidden"), Err(ConfigFault::BadHost(_))));
    }
}
