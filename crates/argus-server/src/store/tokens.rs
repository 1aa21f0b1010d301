//! The tokens the server accepts, and what each grants: its [`Access`].
//!
//! Tokens are kept as SHA-256 hashes only ([`TokenStore`]): `server.token` (configured in
//! plain text by its owner), `[[server.tokens]]` and `<data_dir>/tokens.toml`. Each token
//! belongs to a namespace (the `ns` label) or to all of them; a request carries its
//! [`Access`], which ingest uses to force `ns` and the read paths to filter by it.

use crate::config::TokenConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// A request its token does not allow, and why (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// What a token may touch: one namespace, or all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The token's name (for logs).
    pub name: Arc<str>,
    /// `None`: every namespace (and the admin endpoints).
    pub ns: Option<Arc<str>>,
}

impl Access {
    /// Full access (used where no token applies, such as in-process callers).
    pub fn admin() -> Access {
        Access {
            name: "admin".into(),
            ns: None,
        }
    }

    /// The namespace a write goes into: the token's own; a request naming another one is
    /// refused (403). Without a namespace token, the one the request names (if any).
    pub fn write_ns(&self, requested: Option<&str>) -> Result<Option<String>, Denied> {
        match (&self.ns, requested) {
            (Some(own), Some(r)) if !r.is_empty() && r != own.as_ref() => Err(Denied(format!(
                "token {:?} belongs to namespace {own:?} and cannot write into {r:?}",
                self.name
            ))),
            (Some(own), _) => Ok(Some(own.to_string())),
            (None, r) => Ok(r.filter(|r| !r.is_empty()).map(str::to_string)),
        }
    }

    /// Refuses a namespace token on an endpoint for every namespace.
    pub fn require_admin(&self) -> Result<(), Denied> {
        match &self.ns {
            None => Ok(()),
            Some(ns) => Err(Denied(format!(
                "token {:?} is limited to namespace {ns:?}; this endpoint needs a token for every namespace",
                self.name
            ))),
        }
    }
}

/// Hex SHA-256 of a token: what is stored.
pub fn hash_hex(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `<data_dir>/tokens.toml`: `[[tokens]]` entries like `[[server.tokens]]`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

impl TokenFile {
    pub fn load(path: &Path) -> Result<TokenFile, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes the file (mode 0600), replacing it atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("toml.tmp");
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

    /// Adds a new token and returns it (the only time it is seen in plain text).
    pub fn add(&mut self, name: &str, ns: &str) -> std::io::Result<String> {
        let token = generate_token()?;
        self.tokens.push(TokenConfig {
            name: name.to_string(),
            ns: ns.to_string(),
            sha256: hash_hex(&token),
        });
        Ok(token)
    }
}

/// Every token the server accepts, by hash. `<data_dir>/tokens.toml` is read again when it
/// changes (checked at most once a second, on a request with an unknown token).
pub struct TokenStore {
    fixed: HashMap<String, Access>,
    file: Option<PathBuf>,
    loaded: RwLock<(Option<SystemTime>, HashMap<String, Access>)>,
    last_check: Mutex<Option<Instant>>,
}

fn entries(list: &[TokenConfig]) -> Result<HashMap<String, Access>, String> {
    let mut m = HashMap::new();
    for t in list {
        let h = t.sha256.trim().to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "token {:?}: sha256 must be 64 hex digits, got {:?}",
                t.name, t.sha256
            ));
        }
        m.insert(
            h,
            Access {
                name: t.name.as_str().into(),
                ns: (!t.ns.is_empty()).then(|| t.ns.as_str().into()),
            },
        );
    }
    Ok(m)
}

impl TokenStore {
    /// `admin`: a plain token for every namespace (`server.token`), if any.
    pub fn new(
        admin: Option<&str>,
        configured: &[TokenConfig],
        file: Option<PathBuf>,
    ) -> Result<TokenStore, String> {
        let mut fixed = entries(configured)?;
        if let Some(a) = admin.filter(|a| !a.is_empty()) {
            fixed.insert(hash_hex(a), Access::admin());
        }
        let store = TokenStore {
            fixed,
            file,
            loaded: RwLock::new((None, HashMap::new())),
            last_check: Mutex::new(None),
        };
        store.reload()?;
        Ok(store)
    }

    /// A store accepting one plain token for everything (tests, embedders).
    pub fn single(token: &str) -> TokenStore {
        let mut fixed = HashMap::new();
        fixed.insert(hash_hex(token), Access::admin());
        TokenStore {
            fixed,
            file: None,
            loaded: RwLock::new((None, HashMap::new())),
            last_check: Mutex::new(None),
        }
    }

    /// Accepts one more plain token, in memory only (the agent inside `argus up`).
    pub fn add_in_memory(&mut self, token: &str, access: Access) {
        self.fixed.insert(hash_hex(token), access);
    }

    fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let stamp = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if let Ok(l) = self.loaded.read()
            && l.0 == stamp
            && stamp.is_some()
        {
            return Ok(());
        }
        let map = entries(&TokenFile::load(path)?.tokens)?;
        if let Ok(mut l) = self.loaded.write() {
            *l = (stamp, map);
        }
        Ok(())
    }

    fn lookup(&self, hash: &str) -> Option<Access> {
        if let Some(a) = self.fixed.get(hash) {
            return Some(a.clone());
        }
        self.loaded.read().ok()?.1.get(hash).cloned()
    }

    /// The access a presented token grants, if it is known.
    pub fn check(&self, presented: &str) -> Option<Access> {
        let hash = hash_hex(presented.trim());
        if let Some(a) = self.lookup(&hash) {
            return Some(a);
        }
        // Unknown: maybe added to the file since; look at most once a second.
        let due = {
            let mut last = self.last_check.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due && let Err(e) = self.reload() {
            tracing::error!(error = %e, "cannot read the token file; keeping the tokens loaded before");
        }
        self.lookup(&hash)
    }

    /// How many tokens are known (configured and from the file).
    pub fn len(&self) -> usize {
        self.fixed.len() + self.loaded.read().map_or(0, |l| l.1.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Generates a fresh token: 32 random bytes, hex-encoded.
pub fn generate_token() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
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
    fn tokens_are_known_by_hash_with_their_namespace() {
        // The SHA-256 test vector of "test".
        assert_eq!(
            hash_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("tokens.toml");
        let configured = [TokenConfig {
            name: "a".into(),
            ns: "team-a".into(),
            sha256: hash_hex("ta"),
        }];
        let store = TokenStore::new(Some("root"), &configured, Some(file.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.check("root"), Some(Access::admin()));
        assert_eq!(
            store.check("ta").and_then(|a| a.ns).as_deref(),
            Some("team-a")
        );
        assert_eq!(store.check("nope"), None);
        // A token added to the file is accepted without a restart, stored only hashed.
        let mut f = TokenFile::load(&file).unwrap_or_default();
        let tb = f.add("b", "team-b").unwrap_or_default();
        f.save(&file).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains(&tb) && text.contains(&hash_hex(&tb)),
            "{text}"
        );
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(
            store.check(&tb).and_then(|a| a.ns).as_deref(),
            Some("team-b")
        );
        // Bad hashes are refused with the token's name.
        let bad = [TokenConfig {
            name: "x".into(),
            ns: String::new(),
            sha256: "zz".into(),
        }];
        let err = TokenStore::new(None, &bad, None).err().unwrap_or_default();
        assert!(err.contains("\"x\"") && err.contains("64 hex"), "{err}");
    }

    #[test]
    fn a_namespace_token_writes_only_into_its_namespace() {
        let a = Access {
            name: "a".into(),
            ns: Some("team-a".into()),
        };
        assert_eq!(a.write_ns(None).ok().flatten().as_deref(), Some("team-a"));
        assert_eq!(
            a.write_ns(Some("team-a")).ok().flatten().as_deref(),
            Some("team-a")
        );
        assert!(a.write_ns(Some("team-b")).is_err());
        assert!(a.require_admin().is_err());
        let admin = Access::admin();
        assert_eq!(
            admin.write_ns(Some("x")).ok().flatten().as_deref(),
            Some("x")
        );
        assert_eq!(admin.write_ns(None).ok().flatten(), None);
    }
}
