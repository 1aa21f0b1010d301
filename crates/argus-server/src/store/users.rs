//! Users, their sessions and their API tokens.
//!
//! - A **user** has a name, a [`Role`] and an argon2id password hash (PHC string).
//! - A **session** is what `POST /api/argus/login` hands out: a random token, kept as its
//!   SHA-256, that expires.
//! - An **API token** belongs to a user, may be limited to namespaces and to a role below
//!   the user's, and is kept as its SHA-256 too: it is shown once, when made.
//!
//! Every change goes through here with its audit entry (see [`super::audit`]).

pub use super::access::Role;
use super::access::{Access, generate_token, hash_hex};
use super::audit::{self, Change};
use super::db::{Database, is_duplicate};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::Row;
use std::sync::Arc;

/// A user as listed (never with the password hash).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub display_name: String,
    pub email: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What a change to users or tokens can run into, answered as 4xx by the API.
#[derive(Debug, thiserror::Error)]
pub enum UserFault {
    /// A field with a bad value (400): the field and why.
    #[error("field {field:?}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("user {0:?} exists")]
    Exists(String),
    #[error("no user {0:?}")]
    NoUser(String),
    #[error("no token {0:?}")]
    NoToken(String),
    /// Not allowed for this caller (403).
    #[error("{0}")]
    Denied(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Hashing a password or drawing a token failed (the system's randomness).
    #[error("{0}")]
    Crypto(String),
}

fn field(field: &'static str, reason: impl Into<String>) -> UserFault {
    UserFault::Field {
        field,
        reason: reason.into(),
    }
}

/// A user name: 1 to 64 of `[A-Za-z0-9_.@-]`.
pub fn check_name(name: &str) -> Result<(), UserFault> {
    if !super::db::is_word(name, 64, b"_.@-") {
        return Err(field(
            "name",
            format!("{name:?} is not 1 to 64 of [A-Za-z0-9_.@-]"),
        ));
    }
    Ok(())
}

/// Passwords: at least 8 characters, at most 1 024 bytes (argon2 takes any length; the
/// cap keeps one login from costing much more than another).
pub fn check_password(p: &str) -> Result<(), UserFault> {
    if p.chars().count() < 8 {
        return Err(field("password", "must be at least 8 characters"));
    }
    if p.len() > 1024 {
        return Err(field("password", "must be at most 1024 bytes"));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a random salt. CPU-heavy (tens of ms):
/// call it off the async threads.
pub fn hash_password(password: &str) -> Result<String, UserFault> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UserFault::Crypto(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Runs the CPU-heavy password work on a blocking thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// `POST /api/argus/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub role: Role,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
}

/// `PATCH /api/argus/users/{name}`: the fields to change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub password: Option<String>,
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

fn user_of(r: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(User {
        name: r.try_get("name")?,
        role: role.parse().unwrap_or(Role::Viewer),
        display_name: r.try_get("display_name")?,
        email: r.try_get("email")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

const USER_COLUMNS: &str = "name, role, display_name, email, created_ms, updated_ms";

fn user_json(u: &User) -> serde_json::Value {
    serde_json::to_value(u).unwrap_or_default()
}

/// One API token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenInfo {
    /// Its public id, used to revoke it.
    pub id: String,
    pub name: String,
    pub user: String,
    pub role: Role,
    /// Empty: every namespace.
    pub namespaces: Vec<String>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// `POST /api/argus/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    /// Not above the owner's role; default: the owner's.
    pub role: Option<Role>,
    /// Empty: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// The owner (admins only; default: the caller).
    pub user: Option<String>,
    /// Lifetime in days; none: until revoked.
    pub expires_days: Option<u32>,
}

fn token_of(r: &sqlx::any::AnyRow) -> Result<TokenInfo, sqlx::Error> {
    let role: String = r.try_get("role")?;
    let ns: String = r.try_get("namespaces")?;
    Ok(TokenInfo {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        user: r.try_get("user_name")?,
        role: role.parse().unwrap_or(Role::Viewer),
        namespaces: serde_json::from_str(&ns).unwrap_or_default(),
        created_ms: r.try_get("created_ms")?,
        expires_ms: r.try_get("expires_ms")?,
        last_used_ms: r.try_get("last_used_ms")?,
    })
}

const TOKEN_COLUMNS: &str =
    "id, name, user_name, role, namespaces, created_ms, expires_ms, last_used_ms";

/// A namespace: 1 to 128 of `[A-Za-z0-9_.-]` (as ingest checks it).
fn check_namespace(ns: &str) -> Result<(), UserFault> {
    if !super::db::is_word(ns, 128, b"_.-") {
        return Err(field(
            "namespaces",
            format!("{ns:?} is not 1 to 128 of [A-Za-z0-9_.-]"),
        ));
    }
    Ok(())
}

/// What [`Users::ensure_admin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstStart {
    /// Users existed: nothing was made.
    Existed,
    /// This call made `admin`; with the password it generated (to print once), unless one
    /// was given.
    Created { generated_password: Option<String> },
}

impl FirstStart {
    /// The generated password, if this call made `admin` with one.
    pub fn generated_password(&self) -> Option<&str> {
        match self {
            FirstStart::Created { generated_password } => generated_password.as_deref(),
            FirstStart::Existed => None,
        }
    }
}

/// The credentials a request may present that live in the database.
pub struct Users {
    db: Arc<Database>,
}

impl Users {
    pub fn new(db: Arc<Database>) -> Users {
        Users { db }
    }

    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// Creates `admin` when there is no user at all (`given` is `ARGUS_ADMIN_PASSWORD`).
    /// Several servers sharing one database may race here: the first insert wins, the
    /// others see a user and do nothing.
    pub async fn ensure_admin(&self, given: Option<&str>) -> Result<FirstStart, UserFault> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(self.db.pool())
            .await?;
        if n > 0 {
            return Ok(FirstStart::Existed);
        }
        let (password, generated) = match given.filter(|p| !p.is_empty()) {
            Some(p) => {
                check_password(p).map_err(|_| {
                    field(
                        "ARGUS_ADMIN_PASSWORD",
                        "must be at least 8 characters and at most 1024 bytes",
                    )
                })?;
                (p.to_string(), false)
            }
            // 24 hex digits: 96 bits, easy to type once.
            None => (
                generate_token().map_err(|e| UserFault::Crypto(e.to_string()))?[..24].to_string(),
                true,
            ),
        };
        let new = NewUser {
            name: "admin".into(),
            password: password.clone(),
            role: Role::Admin,
            display_name: "Administrator".into(),
            email: String::new(),
        };
        match self.create("argus", new).await {
            Ok(_) => Ok(FirstStart::Created {
                generated_password: generated.then_some(password),
            }),
            Err(UserFault::Exists(_)) => Ok(FirstStart::Existed),
            Err(e) => Err(e),
        }
    }

    pub async fn create(&self, actor: &str, new: NewUser) -> Result<User, UserFault> {
        check_name(&new.name)?;
        check_password(&new.password)?;
        let password = new.password.clone();
        let hash = blocking(move || hash_password(&password)).await?;
        let now = argus_core::now_ms();
        let user = User {
            name: new.name,
            role: new.role,
            display_name: new.display_name,
            email: new.email,
            created_ms: now,
            updated_ms: now,
        };
        let mut tx = self.db.begin().await?;
        let r = sqlx::query(
            "INSERT INTO users (name, role, password_hash, display_name, email, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&hash)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match r {
            Err(e) if is_duplicate(&e) => return Err(UserFault::Exists(user.name)),
            r => r?,
        };
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "create",
                object_kind: "user",
                object_id: &user.name,
                before: None,
                after: Some(user_json(&user)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn get(&self, name: &str) -> Result<Option<User>, UserFault> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(r.map(|r| user_of(&r)).transpose()?)
    }

    pub async fn list(&self) -> Result<Vec<User>, UserFault> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY name"
        )))
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(user_of).collect::<Result<_, _>>()?)
    }

    /// Changes a user. A password change ends the user's sessions (except `keep_session`,
    /// the caller's own) so a stolen session does not outlive it.
    pub async fn update(
        &self,
        actor: &str,
        name: &str,
        patch: UserPatch,
        keep_session: Option<&str>,
    ) -> Result<User, UserFault> {
        if let Some(p) = &patch.password {
            check_password(p)?;
        }
        let hash = match patch.password.clone() {
            Some(p) => Some(blocking(move || hash_password(&p)).await?),
            None => None,
        };
        let mut tx = self.db.begin().await?;
        let before = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| user_of(&r))
        .transpose()?
        .ok_or_else(|| UserFault::NoUser(name.to_string()))?;
        if before.role == Role::Admin && patch.role.is_some_and(|r| r != Role::Admin) {
            self.keep_an_admin(&mut tx, name).await?;
        }
        let after = User {
            role: patch.role.unwrap_or(before.role),
            display_name: patch
                .display_name
                .unwrap_or_else(|| before.display_name.clone()),
            email: patch.email.unwrap_or_else(|| before.email.clone()),
            updated_ms: argus_core::now_ms(),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE users SET role = $2, display_name = $3, email = $4, updated_ms = $5,
               password_hash = COALESCE($6, password_hash)
             WHERE name = $1",
        )
        .bind(name)
        .bind(after.role.as_str())
        .bind(&after.display_name)
        .bind(&after.email)
        .bind(after.updated_ms)
        .bind(hash.as_deref())
        .execute(&mut *tx)
        .await?;
        if hash.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_name = $1 AND token_hash <> $2")
                .bind(name)
                .bind(keep_session.unwrap_or(""))
                .execute(&mut *tx)
                .await?;
        }
        let mut after_json = user_json(&after);
        if hash.is_some() {
            // The audit says the password changed, never what it is.
            after_json["password"] = "changed".into();
        }
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "update",
                object_kind: "user",
                object_id: name,
                before: Some(user_json(&before)),
                after: Some(after_json),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Refuses to remove the last admin (nobody could manage users after).
    async fn keep_an_admin(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        leaving: &str,
    ) -> Result<(), UserFault> {
        let others: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND name <> $1")
                .bind(leaving)
                .fetch_one(&mut **tx)
                .await?;
        if others == 0 {
            return Err(UserFault::Denied(format!(
                "{leaving:?} is the last admin: make another user admin first"
            )));
        }
        Ok(())
    }

    /// Deletes a user with its sessions and tokens.
    pub async fn delete(&self, actor: &str, name: &str) -> Result<(), UserFault> {
        let mut tx = self.db.begin().await?;
        let before = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| user_of(&r))
        .transpose()?
        .ok_or_else(|| UserFault::NoUser(name.to_string()))?;
        if before.role == Role::Admin {
            self.keep_an_admin(&mut tx, name).await?;
        }
        super::db::run_each(
            &mut tx,
            &[
                "DELETE FROM users WHERE name = $1",
                "DELETE FROM sessions WHERE user_name = $1",
                "DELETE FROM api_tokens WHERE user_name = $1",
            ],
            name,
        )
        .await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "delete",
                object_kind: "user",
                object_id: name,
                before: Some(user_json(&before)),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a name and password; the user when they match. Unknown users cost a hash
    /// check too, so timing does not tell which names exist.
    pub async fn authenticate(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, UserFault> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?;
        let (user, hash) = match row {
            Some(r) => (Some(user_of(&r)?), r.try_get::<String, _>("password_hash")?),
            None => (None, DUMMY_HASH.to_string()),
        };
        let password = password.to_string();
        let ok = blocking(move || verify_password(&password, &hash)).await;
        Ok(user.filter(|_| ok))
    }

    /// Starts a session for `user`, valid `ttl_ms`; returns the token and its expiry.
    pub async fn login(&self, user: &User, ttl_ms: i64) -> Result<(String, i64), UserFault> {
        let token = generate_token().map_err(|e| UserFault::Crypto(e.to_string()))?;
        let now = argus_core::now_ms();
        let expires = now.saturating_add(ttl_ms);
        let mut tx = self.db.begin().await?;
        // Expired sessions are swept here rather than by a timer.
        sqlx::query("DELETE FROM sessions WHERE expires_ms < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_name, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash_hex(&token))
        .bind(&user.name)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            Change {
                actor: &user.name,
                action: "login",
                object_kind: "session",
                object_id: &user.name,
                before: None,
                after: Some(serde_json::json!({ "expires_ms": expires })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((token, expires))
    }

    /// Ends the session with this token hash; whether there was one.
    pub async fn logout(&self, token_hash: &str) -> Result<bool, UserFault> {
        let mut tx = self.db.begin().await?;
        let user: Option<String> =
            sqlx::query_scalar("SELECT user_name FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(user) = user else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Change {
                actor: &user,
                action: "logout",
                object_kind: "session",
                object_id: &user,
                before: None,
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// What the credential with this hash grants, if it is a live session or API token.
    /// The role is the lower of the token's and its user's current one, so demoting a user
    /// demotes their tokens.
    pub async fn access(&self, token_hash: &str) -> Result<Option<Access>, sqlx::Error> {
        let now = argus_core::now_ms();
        let session = sqlx::query(
            "SELECT s.user_name, u.role FROM sessions s JOIN users u ON u.name = s.user_name
             WHERE s.token_hash = $1 AND s.expires_ms > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        if let Some(r) = session {
            let user: String = r.try_get("user_name")?;
            let role: String = r.try_get("role")?;
            return Ok(Some(Access {
                name: format!("session:{user}").into(),
                user: user.into(),
                role: role.parse().unwrap_or(Role::Viewer),
                namespaces: None,
                session: Some(token_hash.into()),
            }));
        }
        let token = sqlx::query(
            "SELECT t.id, t.name, t.user_name, t.role, t.namespaces, u.role AS user_role
             FROM api_tokens t LEFT JOIN users u ON u.name = t.user_name
             WHERE t.token_hash = $1 AND (t.expires_ms IS NULL OR t.expires_ms > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(r) = token else {
            return Ok(None);
        };
        let role: Role = r
            .try_get::<String, _>("role")?
            .parse()
            .unwrap_or(Role::Viewer);
        // A token whose user is gone grants nothing; tokens migrated from tokens.toml
        // belong to `admin`, whose role then bounds theirs.
        let Some(user_role) = r.try_get::<Option<String>, _>("user_role")? else {
            return Ok(None);
        };
        let user_role: Role = user_role.parse().unwrap_or(Role::Viewer);
        let ns: Vec<String> =
            serde_json::from_str(&r.try_get::<String, _>("namespaces")?).unwrap_or_default();
        let id: String = r.try_get("id")?;
        // Recorded coarsely (once a minute at most) so a busy agent does not write per request.
        sqlx::query(
            "UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1 AND (last_used_ms IS NULL OR last_used_ms < $3)",
        )
        .bind(&id)
        .bind(now)
        .bind(now - 60_000)
        .execute(self.db.pool())
        .await?;
        Ok(Some(Access {
            name: r.try_get::<String, _>("name")?.into(),
            user: r.try_get::<String, _>("user_name")?.into(),
            role: role.min(user_role),
            namespaces: (!ns.is_empty()).then(|| ns.into_iter().map(Arc::from).collect()),
            session: None,
        }))
    }

    /// Makes an API token for `owner`; returns the token (the only time it is seen) and
    /// its listing. `caller` is who asks: only an admin may make one for someone else.
    pub async fn create_token(
        &self,
        caller: &Access,
        new: NewToken,
    ) -> Result<(String, TokenInfo), UserFault> {
        let token = generate_token().map_err(|e| UserFault::Crypto(e.to_string()))?;
        let info = self
            .insert_token(caller, new, &hash_hex(&token), "create")
            .await?;
        Ok((token, info))
    }

    async fn insert_token(
        &self,
        caller: &Access,
        new: NewToken,
        hash: &str,
        action: &str,
    ) -> Result<TokenInfo, UserFault> {
        if new.name.trim().is_empty() || new.name.len() > 128 {
            return Err(field("name", "must be 1 to 128 characters"));
        }
        for ns in &new.namespaces {
            check_namespace(ns)?;
        }
        let owner_name = new.user.clone().unwrap_or_else(|| caller.user.to_string());
        if owner_name != caller.user.as_ref() && caller.require(Role::Admin).is_err() {
            return Err(UserFault::Denied(
                "only an admin credential for every namespace makes tokens for other users".into(),
            ));
        }
        let owner = self
            .get(&owner_name)
            .await?
            .ok_or_else(|| field("user", format!("no user {owner_name:?}")))?;
        // Never above the owner's role, nor above the credential that asks: a viewer token
        // of an admin cannot make an admin token.
        let ceiling = owner.role.min(caller.role);
        let role = new.role.unwrap_or(ceiling);
        if role > ceiling {
            return Err(field(
                "role",
                format!(
                    "{:?} is above what this credential may give ({:?}: the lower of user {:?}'s role and its own)",
                    role.as_str(),
                    ceiling.as_str(),
                    owner.name,
                ),
            ));
        }
        // A caller limited to namespaces cannot widen them with a token.
        let mut namespaces = new.namespaces;
        if let Some(own) = &caller.namespaces {
            if namespaces.is_empty() {
                namespaces = own.iter().map(|n| n.to_string()).collect();
            } else if let Some(n) = namespaces
                .iter()
                .find(|n| !own.iter().any(|o| o.as_ref() == n.as_str()))
            {
                return Err(field(
                    "namespaces",
                    format!("{n:?} is outside the caller's namespaces"),
                ));
            }
        }
        namespaces.sort();
        namespaces.dedup();
        let now = argus_core::now_ms();
        let info = TokenInfo {
            id: hash[..12].to_string(),
            name: new.name,
            user: owner.name,
            role,
            namespaces,
            created_ms: now,
            expires_ms: new
                .expires_days
                .map(|d| now.saturating_add(i64::from(d) * 86_400_000)),
            last_used_ms: None,
        };
        let mut tx = self.db.begin().await?;
        let r = sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, name, user_name, role, namespaces, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&info.id)
        .bind(hash)
        .bind(&info.name)
        .bind(&info.user)
        .bind(info.role.as_str())
        .bind(serde_json::to_string(&info.namespaces).unwrap_or_default())
        .bind(info.created_ms)
        .bind(info.expires_ms)
        .execute(&mut *tx)
        .await;
        match r {
            // Importing the same legacy token twice is a no-op.
            Err(e) if is_duplicate(&e) && action == "import" => return Ok(info),
            r => r?,
        };
        audit::record(
            &mut tx,
            Change {
                actor: &caller.actor(),
                action,
                object_kind: "token",
                object_id: &info.id,
                before: None,
                after: Some(serde_json::to_value(&info).unwrap_or_default()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(info)
    }

    /// Brings a token known only by its hash (from `tokens.toml` of an earlier version)
    /// into the table, owned by `admin`: all-namespace tokens as admin, namespace tokens as
    /// viewers of their namespace (what they could do: write and read it).
    pub async fn import_token(&self, name: &str, ns: &str, hash: &str) -> Result<(), UserFault> {
        let caller = Access::system();
        let new = NewToken {
            name: name.to_string(),
            role: Some(if ns.is_empty() {
                Role::Admin
            } else {
                Role::Viewer
            }),
            namespaces: if ns.is_empty() {
                Vec::new()
            } else {
                vec![ns.to_string()]
            },
            user: Some("admin".into()),
            expires_days: None,
        };
        self.insert_token(&caller, new, hash, "import").await?;
        Ok(())
    }

    /// Tokens of `user` (None: everyone's), newest first.
    pub async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, UserFault> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR user_name = $1)
             ORDER BY created_ms DESC, id"
        )))
        .bind(user)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(token_of).collect::<Result<_, _>>()?)
    }

    /// Revokes a token: the caller's own, or anyone's for an admin. Returns its hash (to
    /// drop it from caches).
    pub async fn revoke_token(&self, caller: &Access, id: &str) -> Result<String, UserFault> {
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS}, token_hash FROM api_tokens WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| UserFault::NoToken(id.to_string()))?;
        let info = token_of(&row)?;
        if info.user != caller.user.as_ref() && caller.require(Role::Admin).is_err() {
            // Someone else's token is as good as absent.
            return Err(UserFault::NoToken(id.to_string()));
        }
        let hash: String = row.try_get("token_hash")?;
        sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Change {
                actor: &caller.actor(),
                action: "revoke",
                object_kind: "token",
                object_id: id,
                before: Some(serde_json::to_value(&info).unwrap_or_default()),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(hash)
    }
}

/// A valid argon2id hash of a random password nobody knows: checked against when the
/// user does not exist, so a login costs the same either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$q9V9Cyv0WlFQlqXpVNyNjsRfEPsnsBzIezDJ9Ra4fqM";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    fn admin_access(name: &str) -> Access {
        Access {
            name: name.into(),
            user: name.into(),
            role: Role::Admin,
            namespaces: None,
            session: None,
        }
    }

    #[test]
    fn roles_are_ordered_and_parsed() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("editor".parse::<Role>(), Ok(Role::Editor));
        let e = "root".parse::<Role>().err().unwrap_or_default();
        assert!(e.contains("\"root\"") && e.contains("viewer"), "{e}");
        assert!(!verify_password("x", "not a hash"));
        let h = hash_password("correct horse").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct house", &h));
        // The dummy hash parses (else unknown users would answer faster).
        assert!(!verify_password("anything", DUMMY_HASH));
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_HASH).is_ok());
    }

    on_both_backends!(
        users_sessions_and_tokens_with_their_audit,
        super::users_suite
    );

    /// Users, sessions and tokens with their audit, run against each backend.
    async fn users_suite(db: Database) {
        let db = Arc::new(db);
        let users = Users::new(db.clone());
        let first = users
            .ensure_admin(None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let pw = first.generated_password().unwrap_or_default().to_string();
        assert_eq!(pw.len(), 24);
        // A second start creates nothing.
        assert_eq!(
            users.ensure_admin(None).await.ok(),
            Some(FirstStart::Existed)
        );
        let admin = users
            .authenticate("admin", &pw)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("admin cannot log in"));
        assert_eq!(admin.role, Role::Admin);
        assert!(
            users
                .authenticate("admin", "wrong-password")
                .await
                .ok()
                .flatten()
                .is_none()
        );
        assert!(
            users
                .authenticate("nobody", &pw)
                .await
                .ok()
                .flatten()
                .is_none()
        );

        let alice = users
            .create(
                "admin",
                NewUser {
                    name: "alice".into(),
                    password: "alice-pass".into(),
                    role: Role::Editor,
                    display_name: String::new(),
                    email: "a@example.com".into(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            users
                .create(
                    "admin",
                    NewUser {
                        name: "alice".into(),
                        password: "other-pass".into(),
                        role: Role::Viewer,
                        display_name: String::new(),
                        email: String::new(),
                    }
                )
                .await,
            Err(UserFault::Exists(_))
        ));
        let (session, expires) = users.login(&alice, 60_000).await.unwrap_or_default();
        assert!(expires > argus_core::now_ms());
        let a = users.access(&hash_hex(&session)).await.ok().flatten();
        assert_eq!(a.as_ref().map(|a| a.role), Some(Role::Editor));
        assert_eq!(
            a.as_ref().map(|a| a.user.to_string()).as_deref(),
            Some("alice")
        );

        // Alice's token, limited to a namespace and to viewer.
        let caller = Access {
            name: "session:alice".into(),
            user: "alice".into(),
            role: Role::Editor,
            namespaces: None,
            session: None,
        };
        let (t, info) = users
            .create_token(
                &caller,
                NewToken {
                    name: "grafana".into(),
                    role: Some(Role::Viewer),
                    namespaces: vec!["team-a".into()],
                    user: None,
                    expires_days: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ta = users.access(&hash_hex(&t)).await.ok().flatten();
        assert_eq!(ta.as_ref().map(|a| a.role), Some(Role::Viewer));
        assert_eq!(
            ta.and_then(|a| a.namespaces).map(|n| n.to_vec()),
            Some(vec![Arc::from("team-a")])
        );
        // Above her role: refused, naming the field.
        let e = users
            .create_token(
                &caller,
                NewToken {
                    name: "x".into(),
                    role: Some(Role::Admin),
                    namespaces: vec![],
                    user: None,
                    expires_days: None,
                },
            )
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"role\""), "{e}");
        // For someone else: refused.
        assert!(matches!(
            users
                .create_token(
                    &caller,
                    NewToken {
                        name: "x".into(),
                        role: None,
                        namespaces: vec![],
                        user: Some("admin".into()),
                        expires_days: None,
                    }
                )
                .await,
            Err(UserFault::Denied(_))
        ));
        // Demoting alice demotes her session; her password change ends it.
        users
            .update(
                "admin",
                "alice",
                UserPatch {
                    role: Some(Role::Viewer),
                    ..UserPatch::default()
                },
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let a = users.access(&hash_hex(&session)).await.ok().flatten();
        assert_eq!(a.map(|a| a.role), Some(Role::Viewer));
        users
            .update(
                "alice",
                "alice",
                UserPatch {
                    password: Some("new-alice-pass".into()),
                    ..UserPatch::default()
                },
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            users
                .access(&hash_hex(&session))
                .await
                .ok()
                .flatten()
                .is_none()
        );
        assert!(
            users
                .authenticate("alice", "new-alice-pass")
                .await
                .ok()
                .flatten()
                .is_some()
        );
        // The last admin stays.
        assert!(matches!(
            users.delete("admin", "admin").await,
            Err(UserFault::Denied(_))
        ));
        // Revoke; then deleting alice removes what is left of hers.
        let hash = users
            .revoke_token(&admin_access("admin"), &info.id)
            .await
            .unwrap_or_default();
        assert_eq!(hash, hash_hex(&t));
        assert!(users.access(&hash).await.ok().flatten().is_none());
        users
            .delete("admin", "alice")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(users.get("alice").await.ok().flatten().is_none());

        let log = super::super::audit::list(
            &db,
            &super::super::audit::Filter {
                object_kind: Some("user".into()),
                object_id: Some("alice".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_default();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("admin", "delete"),
                ("alice", "update"),
                ("admin", "update"),
                ("admin", "create")
            ]
        );
        assert_eq!(log[2].before["role"], "editor");
        assert_eq!(log[2].after["role"], "viewer");
        assert_eq!(log[1].after["password"], "changed");
        assert!(!log.iter().any(|e| e.after.to_string().contains("argon2")));
    }
}
