//! The server's database: users, sessions, API tokens, the audit log, the host inventory
//! and the agent configurations. SQLite in `<data_dir>/registry.db` by default (WAL mode),
//! or PostgreSQL through `[database] url = "postgres://…"`, which several server processes
//! (the NATS scale-out roles) share.
//!
//! One code path serves both through sqlx's `any` driver: queries use `$1` placeholders
//! (SQLite accepts them too) and portable SQL (`ON CONFLICT … DO UPDATE`, `CASE` rather than
//! `min`/`greatest`, `lower(x) LIKE`). Only the schema is written per backend, as
//! migrations in code ([`MIGRATIONS`]); the version applied is kept in `argus_schema`.

use sqlx::AssertSqlSafe;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use std::path::Path;
use std::time::Duration;

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The open database.
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// Where it is, without a password (for messages).
    location: String,
}

/// A database that cannot be opened or brought to this version's schema.
#[derive(Debug, thiserror::Error)]
#[error("database {location}: {message}")]
pub struct OpenError {
    pub location: String,
    pub message: String,
}

/// One schema step. Statements may contain `{int}` (an integer column: `INTEGER` in
/// SQLite, `BIGINT` in PostgreSQL), `{float}` (`REAL`, `DOUBLE PRECISION`), `{blob}`
/// (`BLOB`, `BYTEA`) and `{serial}` (an auto-incremented integer key).
struct Migration {
    version: i64,
    /// Statements for both backends.
    both: &'static [&'static str],
    /// Statements for SQLite only, run before `both`.
    sqlite: &'static [&'static str],
    /// Statements for PostgreSQL only, run before `both`.
    postgres: &'static [&'static str],
}

/// Every schema step, in order. Version 1 is the host registry of the release before
/// users existed (hosts keyed by host name); version 2 keeps its rows.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        both: &["CREATE TABLE IF NOT EXISTS hosts (
            hostname TEXT PRIMARY KEY NOT NULL,
            first_seen_ms {int} NOT NULL,
            last_seen_ms {int} NOT NULL,
            facts TEXT NOT NULL,
            heartbeat TEXT NOT NULL
        )"],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 2,
        sqlite: &[],
        postgres: &[],
        both: &[
            "CREATE TABLE users (
                name TEXT PRIMARY KEY NOT NULL,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                display_name TEXT NOT NULL DEFAULT '',
                email TEXT NOT NULL DEFAULT '',
                created_ms {int} NOT NULL,
                updated_ms {int} NOT NULL
            )",
            "CREATE TABLE sessions (
                token_hash TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL,
                created_ms {int} NOT NULL,
                expires_ms {int} NOT NULL
            )",
            "CREATE INDEX sessions_user ON sessions (user_name)",
            "CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                user_name TEXT NOT NULL,
                role TEXT NOT NULL,
                -- JSON array; empty: every namespace
                namespaces TEXT NOT NULL,
                created_ms {int} NOT NULL,
                expires_ms {int},
                last_used_ms {int}
            )",
            "CREATE INDEX api_tokens_user ON api_tokens (user_name)",
            "CREATE TABLE audit (
                id {serial},
                ts_ms {int} NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                object_kind TEXT NOT NULL,
                object_id TEXT NOT NULL,
                -- JSON, null when the object did not exist before / does not after
                before_json TEXT,
                after_json TEXT
            )",
            "CREATE INDEX audit_ts ON audit (ts_ms)",
            "CREATE INDEX audit_object ON audit (object_kind, object_id, ts_ms)",
            "CREATE INDEX audit_actor ON audit (actor, ts_ms)",
            "ALTER TABLE hosts RENAME TO hosts_v1",
            "CREATE TABLE hosts (
                id TEXT PRIMARY KEY NOT NULL,
                -- the agent's machine id; null for a host added by hand that never reported
                machine_id TEXT UNIQUE,
                hostname TEXT NOT NULL,
                ips TEXT NOT NULL DEFAULT '[]',
                os TEXT NOT NULL DEFAULT '',
                kernel TEXT NOT NULL DEFAULT '',
                agent_version TEXT NOT NULL DEFAULT '',
                first_seen_ms {int},
                last_seen_ms {int},
                interval_ms {int} NOT NULL DEFAULT 10000,
                heartbeat TEXT NOT NULL DEFAULT '{}',
                location TEXT NOT NULL DEFAULT '',
                owner TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL DEFAULT '',
                -- JSON copies of host_groups / host_labels / host_namespaces, for reading
                groups_json TEXT NOT NULL DEFAULT '[]',
                labels_json TEXT NOT NULL DEFAULT '{}',
                namespaces_json TEXT NOT NULL DEFAULT '[]',
                config_version TEXT NOT NULL DEFAULT '',
                config_error TEXT NOT NULL DEFAULT '',
                added_by TEXT NOT NULL DEFAULT '',
                created_ms {int} NOT NULL,
                updated_ms {int} NOT NULL,
                -- what ?q= searches, in one column: one LIKE per row instead of six
                search TEXT GENERATED ALWAYS AS (lower(id || ' ' || hostname || ' ' || ips || ' '
                    || location || ' ' || owner || ' ' || description)) STORED
            )",
            "CREATE INDEX hosts_hostname ON hosts (hostname)",
            "CREATE INDEX hosts_location ON hosts (location)",
            "CREATE INDEX hosts_last_seen ON hosts (last_seen_ms)",
            "CREATE TABLE host_groups (
                host_id TEXT NOT NULL,
                name TEXT NOT NULL,
                PRIMARY KEY (host_id, name)
            )",
            "CREATE INDEX host_groups_name ON host_groups (name)",
            "CREATE TABLE host_labels (
                host_id TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (host_id, key)
            )",
            "CREATE INDEX host_labels_kv ON host_labels (key, value)",
            "CREATE TABLE host_namespaces (
                host_id TEXT NOT NULL,
                ns TEXT NOT NULL,
                PRIMARY KEY (host_id, ns)
            )",
            "CREATE TABLE agent_configs (
                -- 'default', 'group' or 'host'
                scope TEXT NOT NULL,
                -- group name or host id; '' for the default
                name TEXT NOT NULL,
                text TEXT NOT NULL,
                updated_ms {int} NOT NULL,
                updated_by TEXT NOT NULL,
                PRIMARY KEY (scope, name)
            )",
            // The earlier registry's hosts keep their name as id until their agent sends
            // its machine id, which then adopts the row (store/hosts.rs).
            "INSERT INTO hosts (id, hostname, first_seen_ms, last_seen_ms, heartbeat, created_ms, updated_ms)
                SELECT hostname, hostname, first_seen_ms, last_seen_ms, heartbeat, first_seen_ms, last_seen_ms
                FROM hosts_v1",
            "DROP TABLE hosts_v1",
        ],
    },
    Migration {
        version: 3,
        sqlite: &[],
        postgres: &[],
        both: &["CREATE TABLE leases (
            -- what is held, e.g. a rule group
            name TEXT PRIMARY KEY NOT NULL,
            -- the server holding it
            holder TEXT NOT NULL,
            expires_ms {int} NOT NULL
        )"],
    },
    Migration {
        version: 4,
        sqlite: &[],
        postgres: &[],
        both: &[
            "CREATE TABLE alert_history (
                id {serial},
                ts_ms {int} NOT NULL,
                -- the alert's identity: FNV-1a of its sorted labels, as Alertmanager's
                fingerprint TEXT NOT NULL,
                rule TEXT NOT NULL,
                group_name TEXT NOT NULL,
                -- pending, firing or resolved
                state TEXT NOT NULL,
                -- the alert's host label, for the host's page; '' without one
                host TEXT NOT NULL,
                labels_json TEXT NOT NULL,
                annotations_json TEXT NOT NULL,
                value {float} NOT NULL
            )",
            "CREATE INDEX alert_history_ts ON alert_history (ts_ms)",
            "CREATE INDEX alert_history_rule ON alert_history (rule, ts_ms)",
            "CREATE INDEX alert_history_host ON alert_history (host, ts_ms)",
            "CREATE INDEX alert_history_fp ON alert_history (fingerprint, ts_ms)",
        ],
    },
    Migration {
        version: 5,
        sqlite: &[],
        postgres: &[],
        both: &["CREATE TABLE kv (
            -- e.g. notifier.silences
            name TEXT PRIMARY KEY NOT NULL,
            -- JSON
            value TEXT NOT NULL,
            updated_ms {int} NOT NULL
        )"],
    },
    Migration {
        version: 6,
        sqlite: &[],
        postgres: &[],
        both: &["CREATE TABLE api_rules (
            id TEXT PRIMARY KEY NOT NULL,
            -- the rule as the API takes it (JSON)
            spec TEXT NOT NULL,
            enabled {int} NOT NULL,
            created_ms {int} NOT NULL,
            updated_ms {int} NOT NULL,
            updated_by TEXT NOT NULL
        )"],
    },
    Migration {
        version: 7,
        sqlite: &[],
        postgres: &[],
        // Servers sharing the database change a document by compare-and-set on its
        // version, and see each other's changes by polling it.
        both: &["ALTER TABLE kv ADD COLUMN version {int} NOT NULL DEFAULT 0"],
    },
    // Distributed plugins (store/plugins.rs).
    Migration {
        version: 8,
        sqlite: &[],
        postgres: &[],
        both: &[
            "CREATE TABLE plugins (
                name TEXT PRIMARY KEY NOT NULL,
                -- 'upload' or 'git'
                source TEXT NOT NULL,
                git_url TEXT NOT NULL DEFAULT '',
                git_ref TEXT NOT NULL DEFAULT '',
                -- a directory of the repository; '' for its top
                git_path TEXT NOT NULL DEFAULT '',
                -- the version agents get
                version TEXT NOT NULL,
                created_ms {int} NOT NULL,
                updated_ms {int} NOT NULL,
                updated_by TEXT NOT NULL
            )",
            "CREATE TABLE plugin_versions (
                plugin TEXT NOT NULL,
                -- the SHA-256 of the archive for uploads, the commit for git
                version TEXT NOT NULL,
                -- of the archive: what agents verify
                sha256 TEXT NOT NULL,
                size {int} NOT NULL,
                -- plugin.toml as JSON (entry, description, default interval and timeout)
                manifest TEXT NOT NULL,
                -- the tar.gz agents download
                archive {blob} NOT NULL,
                created_ms {int} NOT NULL,
                created_by TEXT NOT NULL,
                PRIMARY KEY (plugin, version)
            )",
            "CREATE TABLE plugin_assignments (
                plugin TEXT NOT NULL,
                -- 'group' or 'host'
                scope TEXT NOT NULL,
                -- a group name or a host id
                target TEXT NOT NULL,
                -- null: the manifest's, else the default
                interval_secs {int},
                timeout_secs {int},
                -- JSON array of strings
                args TEXT NOT NULL,
                updated_ms {int} NOT NULL,
                updated_by TEXT NOT NULL,
                PRIMARY KEY (plugin, scope, target)
            )",
            "CREATE INDEX plugin_assignments_target ON plugin_assignments (scope, target)",
        ],
    },
    Migration {
        version: 9,
        sqlite: &[],
        postgres: &[],
        // Remote tasks (store/tasks.rs): the task as asked, and one row per host it
        // resolved to, which carries that host's outcome.
        both: &[
            "CREATE TABLE tasks (
                id TEXT PRIMARY KEY NOT NULL,
                created_ms {int} NOT NULL,
                created_by TEXT NOT NULL,
                -- JSON: the target as asked
                target_json TEXT NOT NULL,
                -- 'plugin' or 'command'
                kind TEXT NOT NULL,
                plugin TEXT NOT NULL DEFAULT '',
                -- JSON array of strings
                args_json TEXT NOT NULL DEFAULT '[]',
                command TEXT NOT NULL DEFAULT '',
                timeout_secs {int} NOT NULL,
                -- hosts running it at once; 0: all
                concurrency {int} NOT NULL,
                cancelled_ms {int},
                cancelled_by TEXT NOT NULL DEFAULT ''
            )",
            "CREATE INDEX tasks_created ON tasks (created_ms)",
            "CREATE TABLE task_hosts (
                task_id TEXT NOT NULL,
                host_id TEXT NOT NULL,
                hostname TEXT NOT NULL,
                -- queued, running, done, failed, timed_out, refused, cancelled
                status TEXT NOT NULL,
                started_ms {int},
                -- running: started_ms + timeout + grace, past which the server times it out
                deadline_ms {int},
                finished_ms {int},
                duration_ms {int},
                exit_code {int},
                stdout TEXT NOT NULL DEFAULT '',
                stdout_truncated {int} NOT NULL DEFAULT 0,
                stderr TEXT NOT NULL DEFAULT '',
                stderr_truncated {int} NOT NULL DEFAULT 0,
                reason TEXT NOT NULL DEFAULT '',
                -- 0, 1: cancelled while running, 2: its agent was told
                cancel_state {int} NOT NULL DEFAULT 0,
                PRIMARY KEY (task_id, host_id)
            )",
            "CREATE INDEX task_hosts_host ON task_hosts (host_id, status)",
            "CREATE INDEX task_hosts_running ON task_hosts (status, deadline_ms)",
        ],
    },
];

fn expand(sql: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => sql
            .replace("{int}", "INTEGER")
            .replace("{float}", "REAL")
            .replace("{blob}", "BLOB")
            .replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        Backend::Postgres => sql
            .replace("{int}", "BIGINT")
            .replace("{float}", "DOUBLE PRECISION")
            .replace("{blob}", "BYTEA")
            .replace("{serial}", "BIGSERIAL PRIMARY KEY"),
    }
}

/// The file of a `sqlite:` URL.
fn sqlite_path(url: &str) -> &str {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest)
}

/// Where the database is, for messages: a SQLite file's path, or the URL without its
/// password.
fn redacted(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return sqlite_path(url).to_string();
    }
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((cred, host)) => {
                let user = cred.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The URL of the SQLite database at `path`, creating the file readable by its owner only
/// when missing: it holds password and token hashes. (SQLite gives its `-wal` and `-shm`
/// files the same mode.)
pub fn sqlite_url(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
    }
    // `mode=rwc`: create the file when missing.
    Ok(format!("sqlite://{}?mode=rwc", path.display()))
}

impl Database {
    /// Opens (creating) the SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Database, OpenError> {
        let url = sqlite_url(path).map_err(|e| OpenError {
            location: path.display().to_string(),
            message: e.to_string(),
        })?;
        Database::open(&url).await
    }

    /// Opens the database at `url` (`sqlite://path` or `postgres://…`) and brings its
    /// schema to this version.
    pub async fn open(url: &str) -> Result<Database, OpenError> {
        let location = redacted(url);
        let fail = |message: String| OpenError {
            location: redacted(url),
            message,
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(fail(
                "the URL must start with sqlite:// or postgres://".into(),
            ));
        };
        // A file named without `mode=` is created when missing, owner-only, like the
        // default one.
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            sqlite_url(Path::new(sqlite_path(url))).map_err(|e| fail(e.to_string()))?
        } else {
            url.to_string()
        };
        install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time in SQLite; readers run beside it in WAL mode.
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .map_err(|e| fail(e.to_string()))?;
        if backend == Backend::Sqlite {
            // Persistent in the file: readers do not wait for the writer.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        let db = Database {
            pool,
            backend,
            location,
        };
        db.migrate().await.map_err(|e| fail(e.to_string()))?;
        Ok(db)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. In SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a transaction that reads first and upgrades later fails with
    /// "database is locked" when another writer holds it, without waiting, whereas an
    /// immediate one waits up to the busy timeout (5 s) like any other writer.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the database is, without a password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The schema version applied.
    pub async fn schema_version(&self) -> Result<i64, sqlx::Error> {
        let v: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM argus_schema")
            .fetch_one(&self.pool)
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Applies the migrations this database lacks, in one transaction; several servers
    /// starting at once on one PostgreSQL wait for each other on an advisory lock.
    async fn migrate(&self) -> Result<(), String> {
        let e = |e: sqlx::Error| e.to_string();
        let mut tx = self.begin().await.map_err(e)?;
        if self.backend == Backend::Postgres {
            // 0x6172677573 is "argus".
            sqlx::query("SELECT pg_advisory_xact_lock(418397894003)")
                .execute(&mut *tx)
                .await
                .map_err(e)?;
        }
        sqlx::query(AssertSqlSafe(expand(
            "CREATE TABLE IF NOT EXISTS argus_schema (version {int} NOT NULL, applied_ms {int} NOT NULL)",
            self.backend,
        )))
        .execute(&mut *tx)
        .await
        .map_err(e)?;
        let mut version: i64 = sqlx::query("SELECT max(version) AS v FROM argus_schema")
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get::<Option<i64>, _>("v"))
            .map_err(e)?
            .unwrap_or(0);
        if version == 0 && self.backend == Backend::Sqlite {
            // The earlier registry marked its schema in `PRAGMA user_version`.
            let legacy: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&mut *tx)
                .await
                .map_err(e)?;
            version = legacy.min(1);
        }
        let newest = MIGRATIONS.last().map_or(0, |m| m.version);
        if version > newest {
            return Err(format!(
                "schema version {version} is newer than this argus knows ({newest}): upgrade argus"
            ));
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > version) {
            let own = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            for sql in own.iter().chain(m.both) {
                sqlx::query(AssertSqlSafe(expand(sql, self.backend)))
                    .execute(&mut *tx)
                    .await
                    .map_err(|err| format!("migration {}: {err}", m.version))?;
            }
            sqlx::query("INSERT INTO argus_schema (version, applied_ms) VALUES ($1, $2)")
                .bind(m.version)
                .bind(argus_core::now_ms())
                .execute(&mut *tx)
                .await
                .map_err(e)?;
            tracing::info!(version = m.version, database = %self.location, "database schema migrated");
        }
        tx.commit().await.map_err(e)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs each statement of `statements` with `key` as its one parameter (`$1`), in `tx`:
/// removing an object from every table that holds it.
pub async fn run_each(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    statements: &[&'static str],
    key: &str,
) -> Result<(), sqlx::Error> {
    for sql in statements {
        sqlx::query(*sql).bind(key).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Whether `v` is 1 to `max` bytes of ASCII letters, digits and the bytes of `extra`:
/// names, ids and namespaces are each this with their own `extra` and `max`.
pub fn is_word(v: &str, max: usize, extra: &[u8]) -> bool {
    (1..=max).contains(&v.len())
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// True when `e` is a unique-constraint violation (a duplicate key).
pub fn is_duplicate(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use argus_testkit::postgres::Postgres;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex, PoisonError, Weak};

    /// A fresh SQLite database in a temporary directory (kept alive by the returned guard).
    pub async fn sqlite() -> (Database, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = Database::open_sqlite(&dir.path().join("registry.db"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (db, dir)
    }

    /// Two tests of one suite, `<name>_on_sqlite` and `<name>_on_postgres`: the suite is an
    /// `async fn(Database)`.
    macro_rules! on_both_backends {
        ($name:ident, $suite:path) => {
            mod $name {
                #[tokio::test]
                async fn on_sqlite() {
                    let (db, _dir) = $crate::store::db::tests::sqlite().await;
                    $suite(db).await;
                }

                #[tokio::test]
                async fn on_postgres() {
                    let (db, _pg) = $crate::store::db::tests::postgres().await;
                    $suite(db).await;
                }
            }
        };
    }
    pub(crate) use on_both_backends;

    /// A fresh PostgreSQL database, migrated, on the server the tests running now share
    /// (kept alive by the returned guard).
    pub async fn postgres() -> (Database, Arc<Postgres>) {
        let (pg, name) = fresh_postgres_db();
        let db = Database::open(&pg.url(&name))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (db, pg)
    }

    /// The server the tests running now share, and a new empty database on it of the
    /// caller's own. Shared, because starting one costs about 2 s of the 2 cores (initdb),
    /// and a database of one's own isolates the tests as well as a server would. Held only
    /// through the tests' guards, not in a static: a static is never dropped, so its server
    /// would outlive the tests. So when no test holds it, the next one starts another.
    fn fresh_postgres_db() -> (Arc<Postgres>, String) {
        static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
        static NEXT_DB: AtomicU32 = AtomicU32::new(0);
        let pg = {
            // A test that panicked while holding the lock left nothing half-made.
            let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
            match shared.upgrade() {
                Some(pg) => pg,
                None => {
                    let pg = Arc::new(
                        Postgres::start(false).unwrap_or_else(|e| panic!("PostgreSQL: {e}")),
                    );
                    *shared = Arc::downgrade(&pg);
                    pg
                }
            }
        };
        let name = format!("test_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        pg.create_db(&name)
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        (pg, name)
    }

    /// Several servers starting at once on one PostgreSQL database (the scale-out roles)
    /// migrate it once: the advisory lock makes the second wait for the first and then find
    /// the schema applied, rather than both creating the same tables.
    #[tokio::test]
    async fn concurrent_opens_on_postgres_migrate_once() {
        let (pg, name) = fresh_postgres_db();
        let url = pg.url(&name);
        let (a, b) = tokio::join!(Database::open(&url), Database::open(&url));
        let (a, b) = (
            a.unwrap_or_else(|e| panic!("first open: {e}")),
            b.unwrap_or_else(|e| panic!("second open: {e}")),
        );
        assert_eq!(a.backend(), Backend::Postgres);
        let applied = |db: &Database| {
            let pool = db.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM argus_schema")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        };
        let newest = MIGRATIONS.last().map(|m| m.version);
        let count = MIGRATIONS.len() as i64;
        for db in [&a, &b] {
            assert_eq!(db.schema_version().await.ok(), newest);
        }
        assert_eq!(
            applied(&a).await,
            count,
            "one row per migration, applied once"
        );
        a.close().await;
        b.close().await;
        // Opening again applies nothing more.
        let c = Database::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.schema_version().await.ok(), newest);
        assert_eq!(applied(&c).await, count);
        c.close().await;
    }

    #[tokio::test]
    async fn a_version_1_registry_is_migrated_keeping_its_hosts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("registry.db");
        {
            // What the release before users wrote.
            let url = format!("sqlite://{}?mode=rwc", path.display());
            install_default_drivers();
            let pool = AnyPool::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            for sql in [
                "CREATE TABLE hosts (hostname TEXT PRIMARY KEY NOT NULL, first_seen_ms INTEGER NOT NULL,
                 last_seen_ms INTEGER NOT NULL, facts TEXT NOT NULL, heartbeat TEXT NOT NULL)",
                "INSERT INTO hosts VALUES ('web1', 5, 9, '{}', '{\"facts\":{\"hostname\":\"web1\"}}')",
                "PRAGMA user_version = 1",
            ] {
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            pool.close().await;
        }
        let db = Database::open_sqlite(&path)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            db.schema_version().await.ok(),
            MIGRATIONS.last().map(|m| m.version)
        );
        let row = sqlx::query("SELECT id, hostname, first_seen_ms, last_seen_ms FROM hosts")
            .fetch_one(db.pool())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(row.try_get::<String, _>("id").ok().as_deref(), Some("web1"));
        assert_eq!(row.try_get::<i64, _>("first_seen_ms").ok(), Some(5));
        assert_eq!(row.try_get::<i64, _>("last_seen_ms").ok(), Some(9));
        db.close().await;
        // Opening again applies nothing more.
        let db = Database::open_sqlite(&path)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            db.schema_version().await.ok(),
            MIGRATIONS.last().map(|m| m.version)
        );
        let wal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap_or_default();
        assert_eq!(wal, "wal");
    }

    #[tokio::test]
    async fn a_sqlite_url_without_mode_creates_its_file_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("my.db");
        let db = Database::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.location(), path.display().to_string());
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
    }

    #[tokio::test]
    async fn a_bad_url_is_named() {
        let e = Database::open("mysql://x@y/z").await.err();
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("mysql://x@y/z") && msg.contains("postgres://"),
            "{msg}"
        );
        assert_eq!(
            redacted("postgres://u:secret@h:5/db"),
            "postgres://u@h:5/db"
        );
    }
}
