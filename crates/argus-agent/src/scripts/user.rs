//! Who a script runs as.
//!
//! An agent running as root runs scripts as an unprivileged **account** (`nobody` by
//! default): a script dropped into the directory should not get the agent's privileges.
//! The account is looked up in `/etc/passwd` by hand, which needs no libc calls (and so no
//! `unsafe`); accounts that only exist in LDAP or another NSS source can be given as
//! `<uid>:<gid>`. An account that cannot be found is never replaced by root.

use std::path::{Path, PathBuf};

/// The password file the account is looked up in.
const PASSWD: &str = "/etc/passwd";

/// A user to switch to before running a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The script's `HOME`.
    pub home: PathBuf,
}

/// Who scripts run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunAs {
    /// The agent is not root: scripts run as the agent's own user.
    Agent,
    /// The agent is root: scripts run as this account.
    Account(Account),
    /// The agent is root and the configured account cannot be resolved: no script runs,
    /// and every round reports this message.
    Refused(String),
}

impl RunAs {
    /// Resolves `user` (from `agent.scripts.user`) for this process.
    pub fn resolve(user: &str) -> RunAs {
        if !rustix::process::geteuid().is_root() {
            return RunAs::Agent;
        }
        let run_as = resolve_as_root(user, Path::new(PASSWD));
        if let RunAs::Refused(why) = &run_as {
            tracing::error!(error = %why, "script plugins will not run");
        }
        run_as
    }

    /// Describes the user for error messages.
    pub fn describe(&self) -> String {
        match self {
            RunAs::Agent => "the agent's user".to_string(),
            RunAs::Account(a) => format!("user {} (uid {})", a.name, a.uid),
            RunAs::Refused(_) => "nobody (refused)".to_string(),
        }
    }
}

/// What [`RunAs::resolve`] does when the agent is root, with the password file as a
/// parameter so it can be tested.
pub(crate) fn resolve_as_root(user: &str, passwd: &Path) -> RunAs {
    let refuse = |why: String| {
        RunAs::Refused(format!(
            "{why}; refusing to run scripts as root (set agent.scripts.user to an existing \
             user, or to \"root\" to run them as root on purpose)"
        ))
    };
    if user.is_empty() {
        return refuse("agent.scripts.user is empty".to_string());
    }
    if let Some(account) = numeric(user) {
        return RunAs::Account(account);
    }
    match std::fs::read_to_string(passwd) {
        Ok(text) => match lookup(&text, user) {
            Some(account) => RunAs::Account(account),
            None => refuse(format!(
                "user {user:?} (agent.scripts.user) is not in {}",
                passwd.display()
            )),
        },
        Err(e) => refuse(format!(
            "cannot read {} to look up user {user:?}: {e}",
            passwd.display()
        )),
    }
}

/// `<uid>:<gid>`.
fn numeric(user: &str) -> Option<Account> {
    let (uid, gid) = user.split_once(':')?;
    Some(Account {
        name: user.to_string(),
        uid: uid.parse().ok()?,
        gid: gid.parse().ok()?,
        home: PathBuf::from("/"),
    })
}

/// Finds `name` in the text of a password file: `name:password:uid:gid:gecos:home:shell`.
/// Malformed lines are skipped.
pub(crate) fn lookup(passwd: &str, name: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        let _gecos = f.next()?;
        let home = f.next().filter(|h| !h.is_empty()).unwrap_or("/");
        Some(Account {
            name: name.to_string(),
            uid,
            gid,
            home: PathBuf::from(home),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD_FIXTURE: &str = "\
root:x:0:0:root:/root:/bin/bash
# a comment line is not an account
broken:x:notanumber:1::/:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
argus:x:998:997::/var/lib/argus:/usr/sbin/nologin
";

    #[test]
    fn lookup_reads_uid_gid_and_home() {
        assert_eq!(
            lookup(PASSWD_FIXTURE, "nobody"),
            Some(Account {
                name: "nobody".into(),
                uid: 65534,
                gid: 65534,
                home: PathBuf::from("/nonexistent"),
            })
        );
        let argus = lookup(PASSWD_FIXTURE, "argus").expect("argus");
        assert_eq!((argus.uid, argus.gid), (998, 997));
        assert_eq!(lookup(PASSWD_FIXTURE, "broken"), None);
        assert_eq!(lookup(PASSWD_FIXTURE, "nobod"), None);
        assert_eq!(lookup(PASSWD_FIXTURE, "missing"), None);
    }

    #[test]
    fn an_unknown_user_is_refused_never_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, PASSWD_FIXTURE).expect("write");
        match resolve_as_root("argus-no-such-user", &passwd) {
            RunAs::Refused(why) => {
                assert!(why.contains("\"argus-no-such-user\""), "{why}");
                assert!(why.contains("refusing to run scripts as root"), "{why}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        match resolve_as_root("nobody", &dir.path().join("no-such-file")) {
            RunAs::Refused(why) => assert!(why.contains("cannot read"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(resolve_as_root("", &passwd), RunAs::Refused(_)));
        assert_eq!(
            resolve_as_root("argus", &passwd),
            RunAs::Account(Account {
                name: "argus".into(),
                uid: 998,
                gid: 997,
                home: PathBuf::from("/var/lib/argus"),
            })
        );
        match resolve_as_root("1234:5678", &passwd) {
            RunAs::Account(a) => assert_eq!((a.uid, a.gid), (1234, 5678)),
            other => panic!("expected an account, got {other:?}"),
        }
    }
}
