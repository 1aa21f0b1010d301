//! The credentials the server accepts, and what each grants: its [`Access`].
//!
//! Three kinds, all kept as SHA-256 hashes only ([`TokenStore`]):
//! - tokens from the configuration: `server.token` (every namespace, admin) and
//!   `[[server.tokens]]` (each of one namespace or all of them);
//! - users' sessions and API tokens, in the database ([`super::users`]);
//! - in memory, the token of the agent inside `argus up`.
//!
//! A request carries its [`Access`]: ingest uses it to force `ns`, the read paths to filter
//! by it, and the router to check the role a route needs.

pub use super::access::{Access, Denied, generate_token, hash_hex};
use super::users::Users;
use crate::config::TokenConfig;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `<data_dir>/tokens.toml` of earlier versions: `[[tokens]]` entries like
/// `[[server.tokens]]`. Imported into the database once ([`import_token_file`]).
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
}

/// Imports the tokens of an earlier version's `tokens.toml` into the database (owned by
/// `admin`; see [`Users::import_token`]) and renames the file `tokens.toml.migrated`.
/// Returns how many it held.
pub async fn import_token_file(users: &Users, path: &Path) -> Result<usize, String> {
    let file = TokenFile::load(path)?;
    if !path.exists() {
        return Ok(0);
    }
    entries(&file.tokens)?;
    for t in &file.tokens {
        users
            .import_token(&t.name, &t.ns, &t.sha256.trim().to_ascii_lowercase())
            .await
            .map_err(|e| format!("{}: token {:?}: {e}", path.display(), t.name))?;
    }
    let done = path.with_extension("toml.migrated");
    std::fs::rename(path, &done).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!(tokens = file.tokens.len(), from = %path.display(), "tokens imported into the database");
    Ok(file.tokens.len())
}

/// Every credential the server accepts, by hash: the configured ones in memory, users'
/// sessions and tokens from the database through a short cache.
pub struct TokenStore {
    fixed: HashMap<String, Access>,
    users: Arc<Users>,
    /// Database answers kept [`CACHE_FOR`]: a busy agent does not cost a query per request.
    /// A revocation or logout through this process clears it at once; through another
    /// server sharing the database it takes effect within [`CACHE_FOR`].
    cache: Mutex<HashMap<String, (Access, Instant)>>,
}

/// How long a credential read from the database is trusted without asking again.
pub const CACHE_FOR: Duration = Duration::from_secs(5);

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
        m.insert(h, Access::configured(&t.name, &t.ns));
    }
    Ok(m)
}

impl TokenStore {
    /// `admin`: a plain token for every namespace (`server.token`), if any.
    pub fn new(
        admin: Option<&str>,
        configured: &[TokenConfig],
        users: Arc<Users>,
    ) -> Result<TokenStore, String> {
        let mut fixed = entries(configured)?;
        if let Some(a) = admin.filter(|a| !a.is_empty()) {
            fixed.insert(hash_hex(a), Access::admin());
        }
        Ok(TokenStore {
            fixed,
            users,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Accepts one more plain token, in memory only (the agent inside `argus up`).
    pub fn add_in_memory(&mut self, token: &str, access: Access) {
        self.fixed.insert(hash_hex(token), access);
    }

    pub fn users(&self) -> &Arc<Users> {
        &self.users
    }

    /// The access a presented credential grants, if it is known.
    pub async fn check(&self, presented: &str) -> Result<Option<Access>, sqlx::Error> {
        let hash = hash_hex(presented.trim());
        if let Some(a) = self.fixed.get(&hash) {
            return Ok(Some(a.clone()));
        }
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((a, at)) = cache.get(&hash)
                && at.elapsed() < CACHE_FOR
            {
                return Ok(Some(a.clone()));
            }
        }
        let found = self.users.access(&hash).await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: expired entries go when it grows.
        if cache.len() >= 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
        }
        match &found {
            Some(a) => {
                cache.insert(hash, (a.clone(), Instant::now()));
            }
            None => {
                cache.remove(&hash);
            }
        }
        Ok(found)
    }

    /// Forgets every cached answer: after a logout, a revocation or a change of a user.
    pub fn forget_all(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// How many tokens are configured.
    pub fn configured_len(&self) -> usize {
        self.fixed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::access::Role;
    use crate::store::db::Database;
    use crate::store::db::tests::on_both_backends;

    #[test]
    fn tokens_are_64_hex_chars_and_differ() {
        let a = generate_token().unwrap_or_default();
        let b = generate_token().unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    on_both_backends!(
        configured_and_imported_tokens_are_known_by_hash_with_their_namespace,
        super::tokens_suite
    );

    /// Configured tokens, and the import of an earlier version's tokens.toml, run against
    /// each backend.
    async fn tokens_suite(db: Database) {
        // The SHA-256 test vector of "test".
        assert_eq!(
            hash_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        // Where the earlier version's file is, whichever the database.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let users = Arc::new(Users::new(Arc::new(db)));
        users
            .ensure_admin(Some("admin-password"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let configured = [TokenConfig {
            name: "a".into(),
            ns: "team-a".into(),
            sha256: hash_hex("ta"),
        }];
        let store = TokenStore::new(Some("root"), &configured, users.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let check = |t: &'static str| {
            let store = &store;
            async move { store.check(t).await.ok().flatten() }
        };
        assert_eq!(check("root").await, Some(Access::admin()));
        let a = check("ta").await;
        assert_eq!(a.as_ref().and_then(|a| a.single_ns()), Some("team-a"));
        assert_eq!(a.map(|a| a.role), Some(Role::Viewer));
        assert_eq!(check("nope").await, None);
        // An earlier version's tokens.toml is imported once and renamed.
        let file = dir.path().join("tokens.toml");
        std::fs::write(
            &file,
            format!(
                "[[tokens]]\nname = \"old-admin\"\nsha256 = \"{}\"\n[[tokens]]\nname = \"b\"\nns = \"team-b\"\nsha256 = \"{}\"\n",
                hash_hex("old"),
                hash_hex("tb")
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(import_token_file(&users, &file).await, Ok(2));
        assert!(!file.exists() && dir.path().join("tokens.toml.migrated").exists());
        let old = store.check("old").await.ok().flatten();
        assert_eq!(old.as_ref().map(|a| a.role), Some(Role::Admin));
        assert_eq!(old.map(|a| a.user.to_string()).as_deref(), Some("admin"));
        let b = store.check("tb").await.ok().flatten();
        assert_eq!(b.as_ref().and_then(|a| a.single_ns()), Some("team-b"));
        let listed = users.list_tokens(None).await.unwrap_or_default();
        assert_eq!(listed.len(), 2);
        // Bad hashes are refused with the token's name.
        let bad = [TokenConfig {
            name: "x".into(),
            ns: String::new(),
            sha256: "zz".into(),
        }];
        let err = TokenStore::new(None, &bad, users.clone())
            .err()
            .unwrap_or_default();
        assert!(err.contains("\"x\"") && err.contains("64 hex"), "{err}");
    }

    #[test]
    fn a_namespace_token_writes_only_into_its_namespaces() {
        let a = Access::configured("a", "team-a");
        assert_eq!(a.write_ns(None).ok().flatten().as_deref(), Some("team-a"));
        assert_eq!(
            a.write_ns(Some("team-a")).ok().flatten().as_deref(),
            Some("team-a")
        );
        assert!(a.write_ns(Some("team-b")).is_err());
        assert!(a.require(Role::Viewer).is_err());
        let two = Access {
            namespaces: Some(Arc::from([Arc::from("x"), Arc::from("y")])),
            ..a.clone()
        };
        assert_eq!(two.write_ns(Some("y")).ok().flatten().as_deref(), Some("y"));
        let e = two.write_ns(None).err().map(|e| e.0).unwrap_or_default();
        assert!(e.contains("name one") && e.contains("db="), "{e}");
        assert!(two.write_ns(Some("z")).is_err());
        let admin = Access::admin();
        assert_eq!(
            admin.write_ns(Some("x")).ok().flatten().as_deref(),
            Some("x")
        );
        assert_eq!(admin.write_ns(None).ok().flatten(), None);
        let viewer = Access {
            role: Role::Viewer,
            ..Access::admin()
        };
        assert!(viewer.require(Role::Viewer).is_ok());
        let e = viewer
            .require(Role::Editor)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("\"viewer\"") && e.contains("\"editor\""), "{e}");
    }
}
