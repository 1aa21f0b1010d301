//! The host inventory: every host that sent a heartbeat or was added by hand, with what its
//! agent reports (host name, addresses, OS, kernel, agent version, first and last seen)
//! and what people edit (location, groups, labels, owner, description, namespaces).
//!
//! - A host's `id` is its agent's machine id (`/etc/machine-id`, else the host name). A
//!   host added by hand keeps the id it was given; the first heartbeat naming its host
//!   name adopts the row (and so do hosts of the registry before this version, whose id is
//!   their name).
//! - Status is computed, never stored: `up` while the last heartbeat is younger than
//!   `down_after_missed` heartbeat intervals (the agent says its interval), else `down`.
//! - Groups, labels and namespaces live in their own tables for filtering and counting,
//!   and as JSON copies on the row for reading in one query.
//!
//! Heartbeat writes are idempotent and order-proof: the pipeline delivers at least once
//! and may replay an older heartbeat after a newer one; a row keeps the newest heartbeat
//! by reception time and the earliest first-seen.

use super::audit::{self, Change};
use super::db::{Database, is_duplicate, is_word, run_each};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One host as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Host {
    pub id: String,
    pub hostname: String,
    /// `up` or `down`.
    pub status: &'static str,
    pub ips: Vec<String>,
    pub os: String,
    pub kernel: String,
    pub agent_version: String,
    /// None: never reported (added by hand).
    pub first_seen_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    /// The heartbeat interval the agent reported.
    pub interval_ms: i64,
    pub location: String,
    pub groups: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub owner: String,
    pub description: String,
    pub namespaces: Vec<String>,
    /// The ETag of the agent configuration the agent last applied, and its last error.
    pub config_version: String,
    pub config_error: String,
    /// Who added it by hand; empty when it registered itself.
    pub added_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The last heartbeat as the agent sent it (facts, plugin states, buffer fill).
    pub heartbeat: serde_json::Value,
}

/// One heartbeat to record.
pub struct Seen {
    pub received_ms: i64,
    pub heartbeat: serde_json::Value,
}

/// What a heartbeat says about its host.
struct Reported<'a> {
    id: &'a str,
    hostname: &'a str,
    ips: String,
    os: &'a str,
    kernel: &'a str,
    agent_version: &'a str,
    interval_ms: i64,
    config_version: &'a str,
    config_error: &'a str,
}

fn reported(hb: &serde_json::Value) -> Option<Reported<'_>> {
    let facts = &hb["facts"];
    let hostname = facts["hostname"].as_str().filter(|h| !h.is_empty())?;
    let id = facts["machine_id"]
        .as_str()
        .filter(|m| valid_id(m))
        .unwrap_or(hostname);
    let s = |v: &'static str| facts[v].as_str().unwrap_or("");
    Some(Reported {
        id,
        hostname,
        ips: facts["ips"].as_array().map_or_else(
            || "[]".to_string(),
            |a| serde_json::Value::Array(a.clone()).to_string(),
        ),
        os: s("os"),
        kernel: s("kernel"),
        agent_version: s("agent_version"),
        interval_ms: hb["interval_secs"]
            .as_f64()
            .filter(|s| *s > 0.0)
            .map_or(DEFAULT_INTERVAL_MS, |s| (s * 1000.0) as i64),
        config_version: hb["config"]["etag"].as_str().unwrap_or(""),
        config_error: hb["config"]["error"].as_str().unwrap_or(""),
    })
}

/// The heartbeat interval assumed when an agent does not say (agents before this version).
pub const DEFAULT_INTERVAL_MS: i64 = 10_000;

/// The host a heartbeat names (`facts.hostname`), if any.
pub fn heartbeat_host(body: &serde_json::Value) -> Option<&str> {
    body["facts"]["hostname"].as_str().filter(|h| !h.is_empty())
}

/// A host id: 1 to 128 of `[A-Za-z0-9._:-]` (machine ids are 32 hex digits).
pub fn valid_id(id: &str) -> bool {
    is_word(id, 128, b"._:-")
}

/// A host name: 1 to 253 of `[A-Za-z0-9._-]`, not starting with a dot.
pub fn valid_hostname(h: &str) -> bool {
    is_word(h, 253, b"-._") && !h.starts_with('.')
}

/// A change refused, answered as 4xx: the field and why, or what is missing.
#[derive(Debug, thiserror::Error)]
pub enum HostFault {
    #[error("field {field:?}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("no host {0:?}")]
    NoHost(String),
    #[error("{0}")]
    Exists(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

fn field(field: &'static str, reason: impl Into<String>) -> HostFault {
    HostFault::Field {
        field,
        reason: reason.into(),
    }
}

/// `POST /api/argus/hosts`: a host added by hand.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHost {
    pub hostname: String,
    /// Default: the host name. Give the machine id to match the agent from the start.
    pub id: Option<String>,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(flatten)]
    pub edit: HostEdit,
}

/// The fields people edit (`PATCH /api/argus/hosts/{id}`): each one given replaces the
/// stored one.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostEdit {
    pub location: Option<String>,
    pub groups: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub namespaces: Option<Vec<String>>,
}

/// `PATCH /api/argus/hosts`: one change to many hosts. Groups and labels are added and
/// removed (replacing them whole would wipe what differs between the hosts); the other
/// fields of `set` replace.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkEdit {
    pub ids: Vec<String>,
    #[serde(default)]
    pub add_groups: Vec<String>,
    #[serde(default)]
    pub remove_groups: Vec<String>,
    /// Labels set (added or replaced by key).
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub remove_labels: Vec<String>,
    /// `location`, `owner`, `description`, `namespaces` (groups and labels: above).
    #[serde(default)]
    pub set: HostEdit,
}

impl BulkEdit {
    /// The edit for host `h`.
    fn edit_of(&self, h: &Host) -> HostEdit {
        let groups_change = !self.add_groups.is_empty() || !self.remove_groups.is_empty();
        let labels_change = self.labels.is_some() || !self.remove_labels.is_empty();
        HostEdit {
            groups: groups_change.then(|| {
                h.groups
                    .iter()
                    .chain(&self.add_groups)
                    .filter(|g| !self.remove_groups.contains(g))
                    .cloned()
                    .collect()
            }),
            labels: labels_change.then(|| {
                let mut l = h.labels.clone();
                l.extend(self.labels.clone().unwrap_or_default());
                l.retain(|k, _| !self.remove_labels.contains(k));
                l
            }),
            ..self.set.clone()
        }
    }
}

fn check_word(f: &'static str, v: &str, max: usize) -> Result<(), HostFault> {
    if !is_word(v, max, b"_.:/-") {
        return Err(field(
            f,
            format!("{v:?} is not 1 to {max} of [A-Za-z0-9_.:/-]"),
        ));
    }
    Ok(())
}

impl HostEdit {
    /// Checks every field; the first bad one is the error.
    pub fn check(&self) -> Result<(), HostFault> {
        if let Some(l) = &self.location
            && !l.is_empty()
        {
            check_word("location", l, 128)?;
        }
        for g in self.groups.iter().flatten() {
            check_word("groups", g, 128)?;
        }
        for (k, v) in self.labels.iter().flatten() {
            let ok = !k.is_empty()
                && k.len() <= 64
                && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                && !k.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Err(field(
                    "labels",
                    format!("key {k:?} is not a label name ([A-Za-z_][A-Za-z0-9_]*, at most 64)"),
                ));
            }
            if v.len() > 1024 {
                return Err(field(
                    "labels",
                    format!("value of {k:?} exceeds 1024 bytes"),
                ));
            }
        }
        for n in self.namespaces.iter().flatten() {
            if !is_word(n, 128, b"_.-") {
                return Err(field(
                    "namespaces",
                    format!("{n:?} is not 1 to 128 of [A-Za-z0-9_.-]"),
                ));
            }
        }
        if self.owner.as_ref().is_some_and(|o| o.len() > 256) {
            return Err(field("owner", "exceeds 256 bytes"));
        }
        if self.description.as_ref().is_some_and(|d| d.len() > 4096) {
            return Err(field("description", "exceeds 4096 bytes"));
        }
        Ok(())
    }
}

/// `GET /api/argus/hosts`: filters (all must hold), sort and page.
#[derive(Debug, Clone, Default)]
pub struct HostQuery {
    pub location: Option<String>,
    pub group: Option<String>,
    /// `key:value` pairs.
    pub labels: Vec<(String, String)>,
    pub status: Option<Status>,
    /// Text in the id, host name, IP addresses, location, owner or description.
    pub q: Option<String>,
    /// Hosts without a location (`?unmanaged=true`).
    pub unmanaged: bool,
    /// Hosts sharing one of these namespaces (a credential limited to them).
    pub namespaces: Option<Vec<String>>,
    pub sort: Sort,
    pub descending: bool,
    /// 1-based.
    pub page: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Up,
    Down,
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "up" => Ok(Status::Up),
            "down" => Ok(Status::Down),
            _ => Err(format!("{s:?} is not \"up\" or \"down\"")),
        }
    }
}

/// What hosts are sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Hostname,
    Id,
    Location,
    Owner,
    LastSeen,
    FirstSeen,
    Status,
}

impl std::str::FromStr for Sort {
    type Err = String;
    fn from_str(s: &str) -> Result<Sort, String> {
        Ok(match s {
            "hostname" => Sort::Hostname,
            "id" => Sort::Id,
            "location" => Sort::Location,
            "owner" => Sort::Owner,
            "last_seen" | "last_seen_ms" => Sort::LastSeen,
            "first_seen" | "first_seen_ms" => Sort::FirstSeen,
            "status" => Sort::Status,
            _ => {
                return Err(format!(
                    "{s:?} is not one of hostname, id, location, owner, last_seen, first_seen, status (\"-\" before it: descending)"
                ));
            }
        })
    }
}

/// A page of hosts and how many match in all.
#[derive(Debug, Serialize)]
pub struct Page {
    pub hosts: Vec<Host>,
    pub total: i64,
}

/// A location or group with its host counts.
#[derive(Debug, Serialize, PartialEq)]
pub struct Tally {
    pub name: String,
    pub hosts: i64,
    pub up: i64,
    pub down: i64,
}

/// What the agent's `GET /me/ns` reports: the host's namespaces and groups.
#[derive(Debug, Serialize, PartialEq)]
pub struct Membership {
    pub id: String,
    pub hostname: String,
    pub namespaces: Vec<String>,
    pub groups: Vec<String>,
}

const HOST_COLUMNS: &str = "id, hostname, ips, os, kernel, agent_version, first_seen_ms, last_seen_ms, \
     interval_ms, location, groups_json, labels_json, owner, description, namespaces_json, \
     config_version, config_error, added_by, created_ms, updated_ms, heartbeat";

/// The inventory.
pub struct HostRegistry {
    db: Arc<Database>,
    /// Heartbeats missed before a host is down.
    down_after_missed: i64,
}

impl HostRegistry {
    pub fn new(db: Arc<Database>, down_after_missed: u32) -> HostRegistry {
        HostRegistry {
            db,
            down_after_missed: i64::from(down_after_missed.max(1)),
        }
    }

    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// Whether a host last seen at `last_seen_ms` with `interval_ms` is up at `now`.
    fn is_up(&self, last_seen_ms: Option<i64>, interval_ms: i64, now: i64) -> bool {
        last_seen_ms.is_some_and(|l| {
            l.saturating_add(self.down_after_missed.saturating_mul(interval_ms)) >= now
        })
    }

    fn host_of(&self, r: &sqlx::any::AnyRow, now: i64) -> Result<Host, sqlx::Error> {
        let json = |c: &str| -> Result<serde_json::Value, sqlx::Error> {
            let s: String = r.try_get(c)?;
            Ok(serde_json::from_str(&s).unwrap_or(serde_json::Value::Null))
        };
        let last_seen_ms: Option<i64> = r.try_get("last_seen_ms")?;
        let interval_ms: i64 = r.try_get("interval_ms")?;
        Ok(Host {
            id: r.try_get("id")?,
            hostname: r.try_get("hostname")?,
            status: if self.is_up(last_seen_ms, interval_ms, now) {
                "up"
            } else {
                "down"
            },
            ips: serde_json::from_value(json("ips")?).unwrap_or_default(),
            os: r.try_get("os")?,
            kernel: r.try_get("kernel")?,
            agent_version: r.try_get("agent_version")?,
            first_seen_ms: r.try_get("first_seen_ms")?,
            last_seen_ms,
            interval_ms,
            location: r.try_get("location")?,
            groups: serde_json::from_value(json("groups_json")?).unwrap_or_default(),
            labels: serde_json::from_value(json("labels_json")?).unwrap_or_default(),
            owner: r.try_get("owner")?,
            description: r.try_get("description")?,
            namespaces: serde_json::from_value(json("namespaces_json")?).unwrap_or_default(),
            config_version: r.try_get("config_version")?,
            config_error: r.try_get("config_error")?,
            added_by: r.try_get("added_by")?,
            created_ms: r.try_get("created_ms")?,
            updated_ms: r.try_get("updated_ms")?,
            heartbeat: json("heartbeat")?,
        })
    }

    /// Records heartbeats in one transaction; returns how many named no host (dropped).
    pub async fn record(&self, seen: &[Seen]) -> Result<usize, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let mut unnamed = 0;
        for s in seen {
            match reported(&s.heartbeat) {
                Some(r) => record_one(&mut tx, &r, s.received_ms, &s.heartbeat).await?,
                None => unnamed += 1,
            }
        }
        tx.commit().await?;
        Ok(unnamed)
    }

    /// One host by id.
    pub async fn get(&self, id: &str) -> Result<Option<Host>, sqlx::Error> {
        let now = argus_core::now_ms();
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HOST_COLUMNS} FROM hosts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        r.map(|r| self.host_of(&r, now)).transpose()
    }

    /// The host a request names by id, or else by host name (agents know their name).
    pub async fn find(
        &self,
        id: Option<&str>,
        hostname: &str,
    ) -> Result<Option<Host>, sqlx::Error> {
        if let Some(id) = id.filter(|i| !i.is_empty())
            && let Some(h) = self.get(id).await?
        {
            return Ok(Some(h));
        }
        let now = argus_core::now_ms();
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HOST_COLUMNS} FROM hosts WHERE hostname = $1 ORDER BY last_seen_ms DESC LIMIT 1"
        )))
        .bind(hostname)
        .fetch_optional(self.db.pool())
        .await?;
        r.map(|r| self.host_of(&r, now)).transpose()
    }

    /// The hosts matching `q`, one page of them, and how many match in all.
    pub async fn list(&self, q: &HostQuery) -> Result<Page, sqlx::Error> {
        let now = argus_core::now_ms();
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let bind = |args: &mut Vec<Arg>, a: Arg| {
            args.push(a);
            format!("${}", args.len())
        };
        if let Some(l) = &q.location {
            let p = bind(&mut args, Arg::Text(l.clone()));
            conds.push(format!("location = {p}"));
        }
        if q.unmanaged {
            conds.push("location = ''".into());
        }
        if let Some(g) = &q.group {
            let p = bind(&mut args, Arg::Text(g.clone()));
            conds.push(format!(
                "id IN (SELECT host_id FROM host_groups WHERE name = {p})"
            ));
        }
        for (k, v) in &q.labels {
            let pk = bind(&mut args, Arg::Text(k.clone()));
            let pv = bind(&mut args, Arg::Text(v.clone()));
            conds.push(format!(
                "id IN (SELECT host_id FROM host_labels WHERE key = {pk} AND value = {pv})"
            ));
        }
        if let Some(ns) = &q.namespaces {
            let ps: Vec<String> = ns
                .iter()
                .map(|n| bind(&mut args, Arg::Text(n.clone())))
                .collect();
            conds.push(if ps.is_empty() {
                "1 = 0".into()
            } else {
                format!(
                    "id IN (SELECT host_id FROM host_namespaces WHERE ns IN ({}))",
                    ps.join(", ")
                )
            });
        }
        let up_expr = format!(
            "(last_seen_ms IS NOT NULL AND last_seen_ms + {} * interval_ms >= {now})",
            self.down_after_missed
        );
        match q.status {
            Some(Status::Up) => conds.push(up_expr.clone()),
            Some(Status::Down) => conds.push(format!("NOT {up_expr}")),
            None => {}
        }
        if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let p = bind(&mut args, Arg::Text(format!("%{escaped}%")));
            conds.push(format!("search LIKE {p} ESCAPE '\\'"));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let order = match q.sort {
            Sort::Hostname => "hostname",
            Sort::Id => "id",
            Sort::Location => "location",
            Sort::Owner => "owner",
            Sort::LastSeen => "COALESCE(last_seen_ms, -1)",
            Sort::FirstSeen => "COALESCE(first_seen_ms, -1)",
            Sort::Status => &format!("CASE WHEN {up_expr} THEN 1 ELSE 0 END"),
        };
        let dir = if q.descending { "DESC" } else { "ASC" };
        let limit = q.limit.clamp(1, 10_000);
        let offset = (q.page.max(1) - 1).saturating_mul(limit);
        let sql = format!(
            "SELECT {HOST_COLUMNS} FROM hosts {filter} ORDER BY {order} {dir}, id {dir} LIMIT {limit} OFFSET {offset}"
        );
        let count_sql = format!("SELECT count(*) FROM hosts {filter}");
        let rows = args
            .iter()
            .fold(sqlx::query(AssertSqlSafe(sql)), |qy, a| a.bind(qy))
            .fetch_all(self.db.pool())
            .await?;
        let total: i64 = args
            .iter()
            .fold(sqlx::query_scalar(AssertSqlSafe(count_sql)), |qy, a| {
                a.bind_scalar(qy)
            })
            .fetch_one(self.db.pool())
            .await?;
        let hosts = rows
            .iter()
            .map(|r| self.host_of(r, now))
            .collect::<Result<_, _>>()?;
        Ok(Page { hosts, total })
    }

    /// Every host name in the inventory (for finding the unmanaged ones in the store).
    pub async fn hostnames(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT hostname FROM hosts")
            .fetch_all(self.db.pool())
            .await
    }

    /// Adds a host by hand.
    pub async fn create(&self, actor: &str, new: NewHost) -> Result<Host, HostFault> {
        if !valid_hostname(&new.hostname) {
            return Err(field(
                "hostname",
                format!("{:?} is not 1 to 253 of [A-Za-z0-9._-]", new.hostname),
            ));
        }
        let id = new.id.clone().unwrap_or_else(|| new.hostname.clone());
        if !valid_id(&id) {
            return Err(field(
                "id",
                format!("{id:?} is not 1 to 128 of [A-Za-z0-9._:-]"),
            ));
        }
        for ip in &new.ips {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(field("ips", format!("{ip:?} is not an IP address")));
            }
        }
        new.edit.check()?;
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        let dup: Option<(String, String)> =
            sqlx::query("SELECT id, hostname FROM hosts WHERE hostname = $1 OR id = $2 LIMIT 1")
                .bind(&new.hostname)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get("id")?, r.try_get("hostname")?)))
                .transpose()?;
        match dup {
            Some((_, name)) if name == new.hostname => {
                return Err(HostFault::Exists(format!(
                    "field \"hostname\": a host {name:?} exists"
                )));
            }
            Some((other, name)) => {
                return Err(HostFault::Exists(format!(
                    "field \"id\": host {name:?} has the id {other:?}"
                )));
            }
            None => {}
        }
        let r = sqlx::query(
            "INSERT INTO hosts (id, hostname, ips, added_by, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(&new.hostname)
        .bind(serde_json::to_string(&new.ips).unwrap_or_default())
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match r {
            Err(e) if is_duplicate(&e) => {
                return Err(HostFault::Exists(format!(
                    "field \"id\": a host {id:?} exists"
                )));
            }
            r => r?,
        };
        apply_edit(&mut tx, &id, &new.edit, now).await?;
        let after = self.get_in(&mut tx, &id, now).await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "create",
                object_kind: "host",
                object_id: &id,
                before: None,
                after: Some(edit_view(&after)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn get_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
        now: i64,
    ) -> Result<Host, HostFault> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HOST_COLUMNS} FROM hosts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| HostFault::NoHost(id.to_string()))?;
        Ok(self.host_of(&r, now)?)
    }

    /// Changes the fields given in `edit`.
    pub async fn update(&self, actor: &str, id: &str, edit: HostEdit) -> Result<Host, HostFault> {
        edit.check()?;
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        let after = self
            .update_in(&mut tx, actor, id, |_| edit.clone(), now)
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// One host's edit, made by `edit_of` from the host as it is, with its audit entry.
    async fn update_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        actor: &str,
        id: &str,
        edit_of: impl FnOnce(&Host) -> HostEdit,
        now: i64,
    ) -> Result<Host, HostFault> {
        let before = self.get_in(tx, id, now).await?;
        apply_edit(tx, id, &edit_of(&before), now).await?;
        let after = self.get_in(tx, id, now).await?;
        audit::record(
            tx,
            Change {
                actor,
                action: "update",
                object_kind: "host",
                object_id: id,
                before: Some(edit_view(&before)),
                after: Some(edit_view(&after)),
            },
        )
        .await?;
        Ok(after)
    }

    /// Edits many hosts at once, all or none: an unknown id or a bad field changes nothing.
    pub async fn bulk_update(&self, actor: &str, bulk: BulkEdit) -> Result<Vec<Host>, HostFault> {
        if bulk.ids.is_empty() || bulk.ids.len() > 10_000 {
            return Err(field("ids", "give 1 to 10000 host ids"));
        }
        let probe = HostEdit {
            groups: Some(bulk.add_groups.clone()),
            labels: bulk.labels.clone(),
            ..bulk.set.clone()
        };
        probe.check()?;
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        let mut out = Vec::with_capacity(bulk.ids.len());
        for id in &bulk.ids {
            let h = self
                .update_in(&mut tx, actor, id, |h| bulk.edit_of(h), now)
                .await?;
            out.push(h);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Removes a host (it registers again with its next heartbeat).
    pub async fn delete(&self, actor: &str, id: &str) -> Result<(), HostFault> {
        let now = argus_core::now_ms();
        let mut tx = self.db.begin().await?;
        let before = self.get_in(&mut tx, id, now).await?;
        run_each(
            &mut tx,
            &[
                "DELETE FROM hosts WHERE id = $1",
                "DELETE FROM host_groups WHERE host_id = $1",
                "DELETE FROM host_labels WHERE host_id = $1",
                "DELETE FROM host_namespaces WHERE host_id = $1",
                "DELETE FROM agent_configs WHERE scope = 'host' AND name = $1",
            ],
            id,
        )
        .await?;
        // Its own configuration layer may be kept under its name (from before ids).
        run_each(
            &mut tx,
            &["DELETE FROM agent_configs WHERE scope = 'host' AND name = $1"],
            &before.hostname,
        )
        .await?;
        audit::record(
            &mut tx,
            Change {
                actor,
                action: "delete",
                object_kind: "host",
                object_id: id,
                before: Some(edit_view(&before)),
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Locations with their host counts (hosts without one are left out).
    pub async fn locations(&self) -> Result<Vec<Tally>, sqlx::Error> {
        let sql = format!(
            "SELECT location AS name, count(*) AS hosts, sum({up}) AS up FROM hosts
             WHERE location <> '' GROUP BY location ORDER BY location",
            up = self.up_case(argus_core::now_ms())
        );
        self.tallies(&sql).await
    }

    /// Groups with their host counts.
    pub async fn groups(&self) -> Result<Vec<Tally>, sqlx::Error> {
        let sql = format!(
            "SELECT g.name AS name, count(*) AS hosts, sum({up}) AS up
             FROM host_groups g JOIN hosts ON hosts.id = g.host_id
             GROUP BY g.name ORDER BY g.name",
            up = self.up_case(argus_core::now_ms())
        );
        self.tallies(&sql).await
    }

    fn up_case(&self, now: i64) -> String {
        format!(
            "CASE WHEN last_seen_ms IS NOT NULL AND last_seen_ms + {} * interval_ms >= {now} THEN 1 ELSE 0 END",
            self.down_after_missed
        )
    }

    async fn tallies(&self, sql: &str) -> Result<Vec<Tally>, sqlx::Error> {
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let hosts: i64 = r.try_get("hosts")?;
                // PostgreSQL's sum over BIGINT is NUMERIC: cast in SQL would differ per
                // backend, so read either form.
                let up: i64 = r
                    .try_get::<i64, _>("up")
                    .or_else(|_| r.try_get::<f64, _>("up").map(|f| f as i64))
                    .or_else(|_| r.try_get::<String, _>("up").map(|s| s.parse().unwrap_or(0)))?;
                Ok(Tally {
                    name: r.try_get("name")?,
                    hosts,
                    up,
                    down: hosts - up,
                })
            })
            .collect()
    }

    /// The namespaces and groups of the host with `id` (else named `hostname`).
    pub async fn membership(
        &self,
        id: Option<&str>,
        hostname: &str,
    ) -> Result<Option<Membership>, sqlx::Error> {
        Ok(self.find(id, hostname).await?.map(|h| Membership {
            id: h.id,
            hostname: h.hostname,
            namespaces: h.namespaces,
            groups: h.groups,
        }))
    }

    /// Every host with what an info series and an up series need (all hosts, no page).
    pub async fn all(&self) -> Result<Vec<Host>, sqlx::Error> {
        let now = argus_core::now_ms();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HOST_COLUMNS} FROM hosts ORDER BY id"
        )))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| self.host_of(r, now)).collect()
    }
}

/// What the audit log keeps of a host: what people edit and its identity, not the
/// heartbeat (which changes every few seconds and is not a change anyone made).
fn edit_view(h: &Host) -> serde_json::Value {
    serde_json::json!({
        "id": h.id,
        "hostname": h.hostname,
        "location": h.location,
        "groups": h.groups,
        "labels": h.labels,
        "owner": h.owner,
        "description": h.description,
        "namespaces": h.namespaces,
    })
}

/// A bind parameter of a query built from filters.
enum Arg {
    Text(String),
}

impl Arg {
    fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
        match self {
            Arg::Text(s) => q.bind(s.as_str()),
        }
    }

    fn bind_scalar<'q>(
        &'q self,
        q: sqlx::query::QueryScalar<'q, Any, i64, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryScalar<'q, Any, i64, sqlx::any::AnyArguments> {
        match self {
            Arg::Text(s) => q.bind(s.as_str()),
        }
    }
}

/// Writes the edited fields of host `id`, and their tables.
async fn apply_edit(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    edit: &HostEdit,
    now: i64,
) -> Result<(), sqlx::Error> {
    let text = |s: &Option<String>| s.clone();
    let mut groups = edit.groups.clone();
    if let Some(g) = &mut groups {
        g.sort();
        g.dedup();
    }
    let mut namespaces = edit.namespaces.clone();
    if let Some(n) = &mut namespaces {
        n.sort();
        n.dedup();
    }
    sqlx::query(
        "UPDATE hosts SET
           location = COALESCE($2, location),
           owner = COALESCE($3, owner),
           description = COALESCE($4, description),
           groups_json = COALESCE($5, groups_json),
           labels_json = COALESCE($6, labels_json),
           namespaces_json = COALESCE($7, namespaces_json),
           updated_ms = $8
         WHERE id = $1",
    )
    .bind(id)
    .bind(text(&edit.location))
    .bind(text(&edit.owner))
    .bind(text(&edit.description))
    .bind(
        groups
            .as_ref()
            .map(|g| serde_json::to_string(g).unwrap_or_default()),
    )
    .bind(
        edit.labels
            .as_ref()
            .map(|l| serde_json::to_string(l).unwrap_or_default()),
    )
    .bind(
        namespaces
            .as_ref()
            .map(|n| serde_json::to_string(n).unwrap_or_default()),
    )
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if let Some(groups) = &groups {
        replace_set(
            tx,
            "host_groups (host_id, name)",
            id,
            groups.iter().map(|g| [g.as_str(), ""]),
        )
        .await?;
    }
    if let Some(labels) = &edit.labels {
        replace_set(
            tx,
            "host_labels (host_id, key, value)",
            id,
            labels.iter().map(|(k, v)| [k.as_str(), v.as_str()]),
        )
        .await?;
    }
    if let Some(namespaces) = &namespaces {
        replace_set(
            tx,
            "host_namespaces (host_id, ns)",
            id,
            namespaces.iter().map(|n| [n.as_str(), ""]),
        )
        .await?;
    }
    Ok(())
}

/// Replaces the rows of host `id` in `table` (written `name (host_id, col…)`: one or two
/// value columns) with `rows`; a second value is used only when the table has it.
async fn replace_set<'a>(
    tx: &mut Transaction<'_, Any>,
    table: &'static str,
    id: &str,
    rows: impl Iterator<Item = [&'a str; 2]>,
) -> Result<(), sqlx::Error> {
    let name = table.split(' ').next().unwrap_or(table);
    let two = table.matches(',').count() == 2;
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {name} WHERE host_id = $1"
    )))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let insert = if two {
        format!("INSERT INTO {table} VALUES ($1, $2, $3)")
    } else {
        format!("INSERT INTO {table} VALUES ($1, $2)")
    };
    for [a, b] in rows {
        let q = sqlx::query(AssertSqlSafe(insert.as_str())).bind(id).bind(a);
        let q = if two { q.bind(b) } else { q };
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records one heartbeat: on the row of its machine id; else on a row of its host name not
/// yet claimed by a machine (added by hand, or from the registry before ids), which it
/// adopts; else on a new row.
async fn record_one(
    tx: &mut Transaction<'_, Any>,
    r: &Reported<'_>,
    at: i64,
    hb: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    // The newer heartbeat wins every reported field; an older replay only lowers first seen.
    const SET: &str = "hostname = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $2 ELSE hostname END,
           ips = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $4 ELSE ips END,
           os = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $5 ELSE os END,
           kernel = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $6 ELSE kernel END,
           agent_version = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $7 ELSE agent_version END,
           interval_ms = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $8 ELSE interval_ms END,
           config_version = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $9 ELSE config_version END,
           config_error = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $10 ELSE config_error END,
           heartbeat = CASE WHEN $3 >= COALESCE(last_seen_ms, 0) THEN $11 ELSE heartbeat END,
           first_seen_ms = CASE WHEN first_seen_ms IS NULL OR $3 < first_seen_ms THEN $3 ELSE first_seen_ms END,
           last_seen_ms = CASE WHEN last_seen_ms IS NULL OR $3 > last_seen_ms THEN $3 ELSE last_seen_ms END";
    let hb_text = hb.to_string();
    let by_machine = format!("UPDATE hosts SET {SET} WHERE machine_id = $1 RETURNING id");
    // Two indexed lookups rather than one `OR`, which would scan every host.
    let adopt = format!(
        "UPDATE hosts SET machine_id = $1, {SET} WHERE id = COALESCE(
           (SELECT id FROM hosts WHERE hostname = $2 AND machine_id IS NULL ORDER BY id LIMIT 1),
           (SELECT id FROM hosts WHERE id = $1 AND machine_id IS NULL)) RETURNING id"
    );
    for sql in [&by_machine, &adopt] {
        let hit: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .bind(r.id)
            .bind(r.hostname)
            .bind(at)
            .bind(&r.ips)
            .bind(r.os)
            .bind(r.kernel)
            .bind(r.agent_version)
            .bind(r.interval_ms)
            .bind(r.config_version)
            .bind(r.config_error)
            .bind(&hb_text)
            .fetch_optional(&mut **tx)
            .await?;
        if hit.is_some() {
            return Ok(());
        }
    }
    sqlx::query(
        "INSERT INTO hosts (id, machine_id, hostname, ips, os, kernel, agent_version, interval_ms,
            config_version, config_error, heartbeat, first_seen_ms, last_seen_ms, created_ms, updated_ms)
         VALUES ($1, $1, $2, $4, $5, $6, $7, $8, $9, $10, $11, $3, $3, $3, $3)",
    )
    .bind(r.id)
    .bind(r.hostname)
    .bind(at)
    .bind(&r.ips)
    .bind(r.os)
    .bind(r.kernel)
    .bind(r.agent_version)
    .bind(r.interval_ms)
    .bind(r.config_version)
    .bind(r.config_error)
    .bind(&hb_text)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::db::tests::on_both_backends;

    fn hb(host: &str, machine: Option<&str>, cpus: u32) -> serde_json::Value {
        let mut facts = serde_json::json!({"hostname": host, "cpus": cpus, "os": "Debian 12",
            "kernel": "6.1", "agent_version": "0.1.0", "ips": ["10.0.0.1"]});
        if let Some(m) = machine {
            facts["machine_id"] = m.into();
        }
        serde_json::json!({"facts": facts, "interval_secs": 10,
            "config": {"etag": "\"abc-1\"", "error": null}})
    }

    fn seen(ms: i64, v: serde_json::Value) -> Seen {
        Seen {
            received_ms: ms,
            heartbeat: v,
        }
    }

    /// The inventory's behaviour, run against each backend.
    pub async fn inventory_suite(db: Database) {
        let db = Arc::new(db);
        let reg = HostRegistry::new(db.clone(), 3);
        let now = argus_core::now_ms();
        // Registered by heartbeat, newest wins, replays change nothing but first seen.
        reg.record(&[
            seen(now - 5_000, hb("web1", Some("m1"), 8)),
            seen(now - 15_000, hb("web1", Some("m1"), 4)),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        reg.record(&[seen(now - 15_000, hb("web1", Some("m1"), 2))])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let web1 = reg
            .get("m1")
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no m1"));
        assert_eq!(web1.hostname, "web1");
        assert_eq!(web1.heartbeat["facts"]["cpus"], 8);
        assert_eq!(
            (web1.first_seen_ms, web1.last_seen_ms),
            (Some(now - 15_000), Some(now - 5_000))
        );
        assert_eq!(web1.status, "up");
        assert_eq!(web1.os, "Debian 12");
        assert_eq!(web1.ips, ["10.0.0.1"]);
        assert_eq!(web1.config_version, "\"abc-1\"");
        assert_eq!(web1.interval_ms, 10_000);
        // Down after 3 missed intervals (10 s each): last seen 40 s ago.
        reg.record(&[seen(now - 40_000, hb("db1", Some("m2"), 4))])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            reg.get("m2").await.ok().flatten().map(|h| h.status),
            Some("down")
        );

        // Added by hand; its first heartbeat adopts it (keeping its id and edits).
        let added = reg
            .create(
                "alice",
                NewHost {
                    hostname: "app1".into(),
                    id: None,
                    ips: vec!["10.0.0.9".into()],
                    edit: HostEdit {
                        location: Some("dc2".into()),
                        ..HostEdit::default()
                    },
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (added.id.as_str(), added.status, added.first_seen_ms),
            ("app1", "down", None)
        );
        reg.record(&[seen(now, hb("app1", Some("m3"), 2))])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let app1 = reg
            .get("app1")
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no app1"));
        assert_eq!((app1.status, app1.location.as_str()), ("up", "dc2"));
        assert!(reg.get("m3").await.ok().flatten().is_none());
        // A second heartbeat finds it by machine id.
        reg.record(&[seen(now + 1, hb("app1", Some("m3"), 2))])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            reg.list(&HostQuery {
                limit: 100,
                page: 1,
                ..Default::default()
            })
            .await
            .map(|p| p.total)
            .ok(),
            Some(3)
        );

        // Bad input names the field and changes nothing.
        let dup = reg
            .create(
                "alice",
                NewHost {
                    hostname: "web1".into(),
                    id: Some("other".into()),
                    ips: vec![],
                    edit: HostEdit::default(),
                },
            )
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            dup.contains("\"hostname\"") && dup.contains("web1"),
            "{dup}"
        );
        for (edit, f) in [
            (
                HostEdit {
                    location: Some("a b".into()),
                    ..Default::default()
                },
                "location",
            ),
            (
                HostEdit {
                    groups: Some(vec!["".into()]),
                    ..Default::default()
                },
                "groups",
            ),
            (
                HostEdit {
                    labels: Some([("1x".to_string(), "v".to_string())].into()),
                    ..Default::default()
                },
                "labels",
            ),
            (
                HostEdit {
                    namespaces: Some(vec!["a/b".into()]),
                    ..Default::default()
                },
                "namespaces",
            ),
        ] {
            let e = reg
                .update("alice", "m1", edit)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(&format!("{f:?}")), "{e}");
        }
        assert!(matches!(
            reg.update("alice", "nope", HostEdit::default()).await,
            Err(HostFault::NoHost(_))
        ));
        let bad_id = reg
            .create(
                "alice",
                NewHost {
                    hostname: "x".into(),
                    id: Some("a b".into()),
                    ips: vec![],
                    edit: HostEdit::default(),
                },
            )
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad_id.contains("\"id\""), "{bad_id}");

        // Edits, filters, sorting, paging.
        reg.update(
            "alice",
            "m1",
            HostEdit {
                location: Some("dc1".into()),
                groups: Some(vec!["web".into(), "edge".into(), "web".into()]),
                labels: Some([("team".to_string(), "a".to_string())].into()),
                owner: Some("alice@example.com".into()),
                description: Some("front web server".into()),
                namespaces: Some(vec!["team-a".into()]),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        reg.update(
            "bob",
            "m2",
            HostEdit {
                location: Some("dc1".into()),
                groups: Some(vec!["db".into()]),
                labels: Some([("team".to_string(), "b".to_string())].into()),
                ..HostEdit::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let ids = |p: Page| p.hosts.into_iter().map(|h| h.id).collect::<Vec<_>>();
        let q = |f: &dyn Fn(&mut HostQuery)| {
            let mut q = HostQuery {
                limit: 100,
                page: 1,
                ..Default::default()
            };
            f(&mut q);
            q
        };
        let list = |q: HostQuery| {
            let reg = &reg;
            async move { reg.list(&q).await.unwrap_or_else(|e| panic!("{e}")) }
        };
        assert_eq!(
            ids(list(q(&|q| q.location = Some("dc1".into()))).await),
            ["m2", "m1"]
        );
        assert_eq!(
            ids(list(q(&|q| q.group = Some("web".into()))).await),
            ["m1"]
        );
        assert_eq!(
            ids(list(q(&|q| q.labels = vec![("team".into(), "b".into())])).await),
            ["m2"]
        );
        assert_eq!(
            ids(list(q(&|q| q.status = Some(Status::Down))).await),
            ["m2"]
        );
        assert_eq!(
            ids(list(q(&|q| q.status = Some(Status::Up))).await),
            ["app1", "m1"]
        );
        assert_eq!(ids(list(q(&|q| q.q = Some("FRONT".into()))).await), ["m1"]);
        assert_eq!(
            ids(list(q(&|q| q.q = Some("10.0.0".into()))).await).len(),
            3
        );
        assert_eq!(
            ids(list(q(&|q| q.q = Some("%".into()))).await),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(list(q(&|q| q.namespaces = Some(vec!["team-a".into()]))).await),
            ["m1"]
        );
        assert_eq!(
            ids(list(q(&|q| {
                q.sort = Sort::LastSeen;
                q.descending = true;
            }))
            .await),
            ["app1", "m1", "m2"]
        );
        let page2 = list(q(&|q| {
            q.limit = 2;
            q.page = 2;
        }))
        .await;
        assert_eq!((ids(page2).len(), 3), (1, 3));
        let p = list(q(&|q| q.limit = 2)).await;
        assert_eq!((p.total, p.hosts.len()), (3, 2));
        let unmanaged = list(q(&|q| q.unmanaged = true)).await;
        assert_eq!(unmanaged.total, 0);

        // Locations and groups with counts.
        let loc = reg.locations().await.unwrap_or_default();
        assert_eq!(
            loc,
            [
                Tally {
                    name: "dc1".into(),
                    hosts: 2,
                    up: 1,
                    down: 1
                },
                Tally {
                    name: "dc2".into(),
                    hosts: 1,
                    up: 1,
                    down: 0
                },
            ]
        );
        let groups = reg.groups().await.unwrap_or_default();
        let names: Vec<(&str, i64)> = groups.iter().map(|g| (g.name.as_str(), g.hosts)).collect();
        assert_eq!(names, [("db", 1), ("edge", 1), ("web", 1)]);
        let m = reg.membership(None, "web1").await.ok().flatten();
        assert_eq!(
            m,
            Some(Membership {
                id: "m1".into(),
                hostname: "web1".into(),
                namespaces: vec!["team-a".into()],
                groups: vec!["edge".into(), "web".into()],
            })
        );

        // A bulk edit: all or none.
        let bulk = |ids: &[&str]| BulkEdit {
            ids: ids.iter().map(|i| i.to_string()).collect(),
            add_groups: vec!["patched".into()],
            remove_groups: vec!["edge".into()],
            labels: Some([("tier".to_string(), "1".to_string())].into()),
            remove_labels: vec!["team".into()],
            set: HostEdit {
                owner: Some("ops".into()),
                ..HostEdit::default()
            },
        };
        let e = reg.bulk_update("carol", bulk(&["m1", "nope"])).await.err();
        assert!(
            matches!(e, Some(HostFault::NoHost(ref id)) if id == "nope"),
            "{e:?}"
        );
        assert_eq!(
            reg.get("m1").await.ok().flatten().map(|h| h.owner),
            Some("alice@example.com".to_string())
        );
        let done = reg
            .bulk_update("carol", bulk(&["m1", "m2"]))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done[0].groups, ["patched", "web"]);
        assert_eq!(done[1].groups, ["db", "patched"]);
        assert_eq!(
            done[0].labels,
            [("tier".to_string(), "1".to_string())].into()
        );
        assert_eq!(
            (done[0].owner.as_str(), done[0].location.as_str()),
            ("ops", "dc1")
        );
        assert_eq!(
            ids(list(q(&|q| q.group = Some("patched".into()))).await),
            ["m2", "m1"]
        );

        // Delete; the audit log has who, what and before/after.
        reg.delete("bob", "m2")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(reg.get("m2").await.ok().flatten().is_none());
        assert_eq!(reg.groups().await.unwrap_or_default().len(), 2);
        let log = audit::list(
            &db,
            &audit::Filter {
                object_kind: Some("host".into()),
                object_id: Some("m2".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_default();
        let what: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(
            what,
            [("bob", "delete"), ("carol", "update"), ("bob", "update")]
        );
        assert_eq!(log[2].before["location"], "");
        assert_eq!(log[2].after["location"], "dc1");
        assert_eq!(log[1].before["groups"], serde_json::json!(["db"]));
        assert_eq!(log[1].after["groups"], serde_json::json!(["db", "patched"]));
        assert_eq!(log[0].after, serde_json::Value::Null);
        let by_alice = audit::list(
            &db,
            &audit::Filter {
                actor: Some("alice".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_default();
        assert_eq!(by_alice.len(), 2);
        let none = audit::list(
            &db,
            &audit::Filter {
                from_ms: Some(now + 3_600_000),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_default();
        assert!(none.is_empty());
    }

    on_both_backends!(inventory, super::inventory_suite);
}
