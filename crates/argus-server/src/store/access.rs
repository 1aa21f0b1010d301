//! What a credential is and grants: its [`Access`] (role and namespaces), the [`Role`]s,
//! and how tokens are made and kept (random, stored as SHA-256). The stores of users and
//! tokens both build on this; neither needs the other's internals.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a user or token may do. Ordered: each role may do what the ones below it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    #[default]
    Viewer,
    /// Also changes hosts, configurations and rules.
    Editor,
    /// Also users and tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "{s:?} is not a role: use \"viewer\", \"editor\" or \"admin\""
            )),
        }
    }
}

/// A request its credential does not allow, and why (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// What a credential may touch and do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The token's name, or `session:<user>` (for logs and messages).
    pub name: Arc<str>,
    /// The user it acts for; empty for a token from the configuration.
    pub user: Arc<str>,
    pub role: Role,
    /// The namespaces it is limited to; `None`: every namespace.
    pub namespaces: Option<Arc<[Arc<str>]>>,
    /// For a session: its token hash (logout ends it).
    pub session: Option<Arc<str>>,
}

impl Access {
    /// Full access (in-process callers, and `server.token`).
    pub fn admin() -> Access {
        Access {
            name: "admin".into(),
            user: "".into(),
            role: Role::Admin,
            namespaces: None,
            session: None,
        }
    }

    /// The server itself (first-start set-up, imports), as an admin.
    pub fn system() -> Access {
        Access {
            name: "argus".into(),
            user: "argus".into(),
            ..Access::admin()
        }
    }

    /// A token limited to one namespace, or none (`ns` empty), from the configuration.
    pub fn configured(name: &str, ns: &str) -> Access {
        Access {
            name: name.into(),
            user: "".into(),
            role: if ns.is_empty() {
                Role::Admin
            } else {
                Role::Viewer
            },
            namespaces: (!ns.is_empty()).then(|| Arc::from([Arc::from(ns)])),
            session: None,
        }
    }

    /// Who, for the audit log: the user, or `token:<name>` for a token of the
    /// configuration (which belongs to no user).
    pub fn actor(&self) -> std::borrow::Cow<'_, str> {
        if self.user.is_empty() {
            format!("token:{}", self.name).into()
        } else {
            self.user.as_ref().into()
        }
    }

    /// The one namespace it is limited to, if exactly one.
    pub fn single_ns(&self) -> Option<&str> {
        match self.namespaces.as_deref() {
            Some([one]) => Some(one),
            _ => None,
        }
    }

    /// Whether it may touch namespace `ns`.
    pub fn allows_ns(&self, ns: &str) -> bool {
        self.namespaces
            .as_deref()
            .is_none_or(|own| own.iter().any(|o| o.as_ref() == ns))
    }

    fn ns_list(&self) -> String {
        self.namespaces
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The namespace a write goes into. A credential of one namespace forces it (a request
    /// naming another is refused, 403); one of several needs the request to name one of
    /// them; one for every namespace takes what the request names (if any).
    pub fn write_ns(&self, requested: Option<&str>) -> Result<Option<String>, Denied> {
        let requested = requested.filter(|r| !r.is_empty());
        let Some(own) = self.namespaces.as_deref() else {
            return Ok(requested.map(str::to_string));
        };
        match (own, requested) {
            (_, Some(r)) if self.allows_ns(r) => Ok(Some(r.to_string())),
            ([one], None) => Ok(Some(one.to_string())),
            (_, Some(r)) => Err(Denied(format!(
                "token {:?} belongs to namespace {} and cannot write into {r:?}",
                self.name,
                self.ns_list()
            ))),
            (_, None) => Err(Denied(format!(
                "token {:?} belongs to namespaces {}: name one in the request (db= on /write, bucket= on /api/v2/write, the ns label of each series on the other paths)",
                self.name,
                self.ns_list()
            ))),
        }
    }

    /// Refuses a credential below `role`, or limited to namespaces (the routes that need a
    /// role manage things of every namespace).
    pub fn require(&self, role: Role) -> Result<(), Denied> {
        if self.namespaces.is_some() {
            return Err(Denied(format!(
                "token {:?} is limited to namespace {}; this endpoint needs a credential for every namespace",
                self.name,
                self.ns_list()
            )));
        }
        if self.role < role {
            return Err(Denied(format!(
                "{} has role {:?}; this needs {:?}",
                self.name,
                self.role.as_str(),
                role.as_str()
            )));
        }
        Ok(())
    }

    /// Refuses a credential that is not an admin of every namespace.
    pub fn require_admin(&self) -> Result<(), Denied> {
        self.require(Role::Admin)
    }
}

/// Hex SHA-256 of a token: what is stored.
pub fn hash_hex(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Generates a fresh token: 32 random bytes, hex-encoded.
pub fn generate_token() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
