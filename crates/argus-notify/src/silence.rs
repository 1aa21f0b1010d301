//! Silences (Alertmanager's `silence/silence.go` and the v2 silences API).
//!
//! A **silence** mutes every alert its matchers all match while it is **active**
//! (`startsAt ≤ now ≤ endsAt`); before that it is **pending**, after it **expired**. At
//! least one matcher must not match the empty string, so a silence cannot mute
//! everything. Creating one with a past `startsAt` starts it now; expiring sets `endsAt`
//! to now. Changing the matchers of an existing silence (or its start once active)
//! expires it and creates a new one with a new id, as Alertmanager does; expired
//! silences are forgotten 120h after they end. The JSON shapes are the v2 API's
//! (`PostableSilence`, `GettableSilence`), so `amtool` users and the Alertmanager UI's
//! payloads work unchanged.

use std::{
    collections::BTreeMap,
    fmt,
    hash::{BuildHasher, Hasher},
};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    clock::add,
    gojson,
    labels::{LabelSet, is_valid_label_name},
    matcher::{ApiMatcher, MatchType, Matcher},
};

/// How long an expired silence is kept (Alertmanager's `--data.retention`, 120h).
pub const SILENCE_RETENTION: SignedDuration = SignedDuration::from_hours(120);

/// A silence's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Muting now (sorts first in lists).
    Active,
    /// Not started yet.
    Pending,
    /// Ended.
    Expired,
}

/// One silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// UUID.
    pub id: String,
    /// Matchers, in the order given.
    pub matchers: Vec<Matcher>,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Author.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// The state used for muting (`getState`): active when `startsAt ≤ now ≤ endsAt`.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// The state the API reports (`CalcSilenceState`), which calls a silence expired
    /// from its `endsAt` on.
    pub fn api_state(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether all matchers hold for `labels`.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers.iter().all(|m| m.matches_labels(labels))
    }

    /// The v2 API's `GettableSilence` at `now`.
    pub fn to_api(&self, now: Timestamp) -> GettableSilence {
        GettableSilence {
            id: self.id.clone(),
            status: SilenceStatus {
                state: self.api_state(now),
            },
            updated_at: self.updated_at,
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
            ends_at: self.ends_at,
            matchers: self.matchers.iter().map(ApiMatcher::from_matcher).collect(),
            starts_at: self.starts_at,
        }
    }
}

/// `{"state": "active"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceStatus {
    /// The state.
    pub state: SilenceState,
}

/// A silence as `GET /api/v2/silences` returns it; fields in Alertmanager's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    /// UUID.
    pub id: String,
    /// State.
    pub status: SilenceStatus,
    /// Last change.
    #[serde(with = "gojson::millis_time")]
    pub updated_at: Timestamp,
    /// Why.
    pub comment: String,
    /// Author.
    pub created_by: String,
    /// End.
    #[serde(with = "gojson::millis_time")]
    pub ends_at: Timestamp,
    /// Matchers.
    pub matchers: Vec<ApiMatcher>,
    /// Start.
    #[serde(with = "gojson::millis_time")]
    pub starts_at: Timestamp,
}

/// A silence as `POST /api/v2/silences` takes it; with an `id` it updates that silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    /// The silence to update; absent or empty to create.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Matchers.
    pub matchers: Vec<ApiMatcher>,
    /// Start.
    #[serde(with = "gojson::millis_time")]
    pub starts_at: Timestamp,
    /// End.
    #[serde(with = "gojson::millis_time")]
    pub ends_at: Timestamp,
    /// Author.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// Why a silence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// No silence has that id (`404` in the API).
    #[error("silence {0:?} not found")]
    NotFound(String),
    /// The silence is invalid; `field` names the part (`matchers[1]`, `endsAt`).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SilenceError {
    SilenceError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A stored silence and when it may be forgotten; the persisted form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceRecord {
    /// The silence in API form (state as of the snapshot).
    pub silence: GettableSilence,
    /// When garbage collection removes it (`endsAt + 120h`).
    #[serde(with = "gojson::millis_time")]
    pub expires_at: Timestamp,
}

type IdGen = Box<dyn FnMut() -> String + Send>;

/// The silence store.
pub struct Silences {
    entries: BTreeMap<String, (Silence, Timestamp)>,
    retention: SignedDuration,
    ids: IdGen,
}

impl fmt::Debug for Silences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Silences")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl Default for Silences {
    fn default() -> Self {
        Silences::new()
    }
}

/// A random version-4 UUID. Silence ids only need to be unique, not secret, so the
/// randomness of std's per-process hasher keys is enough.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    for half in bytes.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Silences {
    /// An empty store with random UUIDs and 120h retention.
    pub fn new() -> Self {
        Silences {
            entries: BTreeMap::new(),
            retention: SILENCE_RETENTION,
            ids: Box::new(new_uuid),
        }
    }

    /// Uses `ids` to name new silences (tests use a counter).
    pub fn with_id_generator(mut self, ids: impl FnMut() -> String + Send + 'static) -> Self {
        self.ids = Box::new(ids);
        self
    }

    /// The silence with this id.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.entries.get(id).map(|(s, _)| s)
    }

    /// Creates or updates a silence as `POST /api/v2/silences` does, returning its id
    /// (a new one when the change could not be made in place).
    pub fn set(&mut self, post: PostableSilence, now: Timestamp) -> Result<String, SilenceError> {
        let mut matchers = Vec::with_capacity(post.matchers.len());
        for (i, m) in post.matchers.iter().enumerate() {
            let field = format!("matchers[{i}]");
            if !is_valid_label_name(&m.name) {
                return Err(invalid(field, format!("invalid label name {:?}", m.name)));
            }
            matchers.push(m.to_matcher().map_err(|e| invalid(field, e.to_string()))?);
        }
        if post.starts_at >= post.ends_at {
            return Err(invalid(
                "endsAt",
                "Failed to create silence: start time must be before end time",
            ));
        }
        if post.ends_at < now {
            return Err(invalid(
                "endsAt",
                "Failed to create silence: end time can't be in the past",
            ));
        }
        if matchers.is_empty() {
            return Err(invalid("matchers", "at least one matcher required"));
        }
        if matchers.iter().all(Matcher::matches_empty) {
            return Err(invalid(
                "matchers",
                "at least one matcher must not match the empty string",
            ));
        }
        let mut sil = Silence {
            id: post.id,
            matchers,
            starts_at: post.starts_at,
            ends_at: post.ends_at,
            updated_at: now,
            created_by: post.created_by,
            comment: post.comment,
        };
        if !sil.id.is_empty() {
            let Some((prev, _)) = self.entries.get(&sil.id) else {
                return Err(SilenceError::NotFound(sil.id));
            };
            if can_update(prev, &sil, now) {
                let id = sil.id.clone();
                self.store(sil);
                return Ok(id);
            }
            if prev.state(now) != SilenceState::Expired {
                let prev_id = prev.id.clone();
                self.expire(&prev_id, now)?;
            }
        }
        sil.id = (self.ids)();
        if sil.starts_at < now {
            sil.starts_at = now;
        }
        let id = sil.id.clone();
        self.store(sil);
        Ok(id)
    }

    fn store(&mut self, sil: Silence) {
        let expires = add(sil.ends_at, self.retention);
        self.entries.insert(sil.id.clone(), (sil, expires));
    }

    /// Expires a silence (`DELETE /api/v2/silence/{id}`): an active one ends now, a
    /// pending one starts and ends now, an expired one is left alone.
    pub fn expire(&mut self, id: &str, now: Timestamp) -> Result<(), SilenceError> {
        let Some((sil, _)) = self.entries.get(id) else {
            return Err(SilenceError::NotFound(id.to_owned()));
        };
        let mut sil = sil.clone();
        match sil.state(now) {
            SilenceState::Expired => return Ok(()),
            SilenceState::Active => sil.ends_at = now,
            SilenceState::Pending => {
                sil.starts_at = now;
                sil.ends_at = now;
            }
        }
        sil.updated_at = now;
        self.store(sil);
        Ok(())
    }

    /// Ids of the active silences muting `labels` at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> Vec<String> {
        self.entries
            .values()
            .filter(|(s, _)| s.state(now) == SilenceState::Active && s.matches(labels))
            .map(|(s, _)| s.id.clone())
            .collect()
    }

    /// `GET /api/v2/silences?filter=…`: silences having, for every filter matcher, one
    /// identical matcher; active first (soonest end first), then pending (soonest start
    /// first), then expired (latest end first).
    pub fn list(&self, filter: &[Matcher], now: Timestamp) -> Vec<GettableSilence> {
        let mut out: Vec<&Silence> = self
            .entries
            .values()
            .map(|(s, _)| s)
            .filter(|s| {
                // As Alertmanager's `CheckSilenceMatchesFilterLabels`: the silence's
                // matchers as a label set (name to value or pattern), which each filter
                // matcher must match; one for an empty value also passes when the name
                // is absent (=, =~) or present (!=, !~).
                let pairs: BTreeMap<&str, &str> = s
                    .matchers
                    .iter()
                    .map(|m| (m.name.as_str(), m.value.as_str()))
                    .collect();
                filter.iter().all(|f| {
                    let v = pairs.get(f.name.as_str());
                    let negative = matches!(f.ty, MatchType::NotEqual | MatchType::NotRegexp);
                    (f.value.is_empty() && v.is_some() == negative)
                        || f.matches(v.copied().unwrap_or(""))
                })
            })
            .collect();
        out.sort_by(|a, b| {
            let (sa, sb) = (a.api_state(now), b.api_state(now));
            sa.cmp(&sb).then_with(|| match sa {
                SilenceState::Active => a.ends_at.cmp(&b.ends_at),
                SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
                SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
            })
        });
        out.into_iter().map(|s| s.to_api(now)).collect()
    }

    /// Forgets silences whose retention has run out; returns how many.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, (_, expires)| *expires > now);
        before - self.entries.len()
    }

    /// The store as records to persist.
    pub fn snapshot(&self, now: Timestamp) -> Vec<SilenceRecord> {
        self.entries
            .values()
            .map(|(s, expires_at)| SilenceRecord {
                silence: s.to_api(now),
                expires_at: *expires_at,
            })
            .collect()
    }

    /// Loads persisted records, skipping those past retention; a record whose matchers
    /// no longer compile is an error naming it.
    pub fn restore(
        &mut self,
        records: Vec<SilenceRecord>,
        now: Timestamp,
    ) -> Result<(), SilenceError> {
        for r in records {
            if r.expires_at <= now {
                continue;
            }
            let g = r.silence;
            let matchers = g
                .matchers
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    m.to_matcher()
                        .map_err(|e| invalid(format!("{}.matchers[{i}]", g.id), e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sil = Silence {
                id: g.id,
                matchers,
                starts_at: g.starts_at,
                ends_at: g.ends_at,
                updated_at: g.updated_at,
                created_by: g.created_by,
                comment: g.comment,
            };
            self.entries.insert(sil.id.clone(), (sil, r.expires_at));
        }
        Ok(())
    }
}

/// Alertmanager's `canUpdate`: the same matchers, and a change of times that keeps the
/// silence's history true (an active one keeps its start and does not end in the past;
/// a pending one does not start in the past; an expired one never changes).
fn can_update(a: &Silence, b: &Silence, now: Timestamp) -> bool {
    let same = a.matchers.len() == b.matchers.len()
        && a.matchers
            .iter()
            .zip(&b.matchers)
            .all(|(x, y)| x.ty == y.ty && x.name == y.name && x.value == y.value);
    if !same {
        return false;
    }
    match a.state(now) {
        SilenceState::Active => {
            b.starts_at.as_second() == a.starts_at.as_second() && b.ends_at >= now
        }
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A matcher for the API's list filter, e.g. from `?filter=alertname="X"`.
pub fn filter_matcher(name: &str, ty: MatchType, value: &str) -> Result<Matcher, SilenceError> {
    Matcher::new(ty, name, value).map_err(|e| invalid("filter", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::label_set;
    use crate::matcher::parse_matcher;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn store() -> Silences {
        let mut n = 0;
        Silences::new().with_id_generator(move || {
            n += 1;
            format!("id-{n}")
        })
    }

    fn post(json: &str) -> PostableSilence {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    const T0: &str = "2024-01-01T00:00:00Z";

    fn basic(start: &str, end: &str) -> PostableSilence {
        post(&format!(
            r#"{{"matchers":[{{"name":"alertname","value":"Disk.*","isRegex":true}},{{"name":"env","value":"dev","isRegex":false,"isEqual":false}}],
               "startsAt":"{start}","endsAt":"{end}","createdBy":"ann","comment":"disk work"}}"#
        ))
    }

    #[test]
    fn create_mute_and_api_shape() {
        let mut s = store();
        let now = ts(T0);
        // A start in the past becomes now.
        let id = s.set(basic("2023-12-31T00:00:00Z", "2024-01-01T02:00:00Z"), now);
        assert_eq!(id, Ok("id-1".to_owned()));
        let got = s.get("id-1").map(|x| x.starts_at);
        assert_eq!(got, Some(now));
        let disk = label_set([("alertname", "DiskFull"), ("env", "prod")]);
        assert_eq!(s.mutes(&disk, now), vec!["id-1"]);
        assert!(
            s.mutes(&label_set([("alertname", "DiskFull"), ("env", "dev")]), now)
                .is_empty()
        );
        assert!(
            s.mutes(&label_set([("alertname", "XDisk")]), now)
                .is_empty()
        );
        let json = serde_json::to_string(&s.list(&[], now)).unwrap_or_default();
        assert_eq!(
            json,
            r#"[{"id":"id-1","status":{"state":"active"},"updatedAt":"2024-01-01T00:00:00.000Z","comment":"disk work","createdBy":"ann","endsAt":"2024-01-01T02:00:00.000Z","matchers":[{"isEqual":true,"isRegex":true,"name":"alertname","value":"Disk.*"},{"isEqual":false,"isRegex":false,"name":"env","value":"dev"}],"startsAt":"2024-01-01T00:00:00.000Z"}]"#
        );
    }

    #[test]
    fn states_and_expire() {
        let mut s = store();
        let now = ts(T0);
        let pending = s.set(basic("2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"), now);
        let active = s.set(basic(T0, "2024-01-01T02:00:00Z"), now);
        assert_eq!(
            (pending.clone(), active.clone()),
            (Ok("id-1".into()), Ok("id-2".into()))
        );
        let state = |s: &Silences, id: &str, at: &str| s.get(id).map(|x| x.state(ts(at)));
        assert_eq!(state(&s, "id-1", T0), Some(SilenceState::Pending));
        assert_eq!(state(&s, "id-2", T0), Some(SilenceState::Active));
        // Muting counts endsAt itself as active; the API already says expired.
        assert_eq!(
            state(&s, "id-2", "2024-01-01T02:00:00Z"),
            Some(SilenceState::Active)
        );
        assert_eq!(
            s.get("id-2")
                .map(|x| x.api_state(ts("2024-01-01T02:00:00Z"))),
            Some(SilenceState::Expired)
        );
        let later = ts("2024-01-01T00:30:00Z");
        assert_eq!(s.expire("id-2", later), Ok(()));
        assert_eq!(s.get("id-2").map(|x| x.ends_at), Some(later));
        assert_eq!(s.expire("id-1", later), Ok(()));
        assert_eq!(
            s.get("id-1").map(|x| (x.starts_at, x.ends_at)),
            Some((later, later))
        );
        assert_eq!(
            s.expire("nope", later),
            Err(SilenceError::NotFound("nope".into()))
        );
        // Expired silences leave 120h after their end.
        assert_eq!(s.gc(ts("2024-01-06T00:29:59Z")), 0);
        assert_eq!(s.gc(ts("2024-01-06T00:30:00Z")), 2);
    }

    #[test]
    fn changing_matchers_expires_the_old_and_makes_a_new_id() {
        let mut s = store();
        let now = ts(T0);
        let _ = s.set(basic(T0, "2024-01-01T02:00:00Z"), now);
        let later = ts("2024-01-01T00:10:00Z");
        // Same matchers, later end: updated in place.
        let mut p = basic(T0, "2024-01-01T03:00:00Z");
        p.id = "id-1".into();
        assert_eq!(s.set(p, later), Ok("id-1".into()));
        assert_eq!(
            s.get("id-1").map(|x| x.ends_at),
            Some(ts("2024-01-01T03:00:00Z"))
        );
        // Different matchers: the old one expires now, a new id is made.
        let mut p = basic(T0, "2024-01-01T03:00:00Z");
        p.id = "id-1".into();
        p.matchers.pop();
        assert_eq!(s.set(p, later), Ok("id-2".into()));
        assert_eq!(s.get("id-1").map(|x| x.ends_at), Some(later));
        assert_eq!(s.get("id-2").map(|x| x.starts_at), Some(later));
        let list: Vec<(String, SilenceState)> = s
            .list(&[], ts("2024-01-01T00:20:00Z"))
            .into_iter()
            .map(|g| (g.id, g.status.state))
            .collect();
        assert_eq!(
            list,
            vec![
                ("id-2".into(), SilenceState::Active),
                ("id-1".into(), SilenceState::Expired)
            ]
        );
        let mut p = basic(T0, "2024-01-01T03:00:00Z");
        p.id = "missing".into();
        assert_eq!(
            s.set(p, later),
            Err(SilenceError::NotFound("missing".into()))
        );
    }

    #[test]
    fn validation() {
        let mut s = store();
        let now = ts(T0);
        let e = s.set(
            post(r#"{"matchers":[{"name":"a","value":"","isRegex":false}],"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T01:00:00Z","createdBy":"x","comment":""}"#),
            now,
        );
        assert_eq!(
            e,
            Err(invalid(
                "matchers",
                "at least one matcher must not match the empty string"
            ))
        );
        let e = s.set(
            post(r#"{"matchers":[{"name":"a","value":"(","isRegex":true}],"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T01:00:00Z","createdBy":"x","comment":""}"#),
            now,
        );
        assert!(
            matches!(e, Err(SilenceError::Invalid { ref field, .. }) if field == "matchers[0]")
        );
        let e = s.set(basic("2024-01-01T01:00:00Z", "2024-01-01T01:00:00Z"), now);
        assert!(
            matches!(e, Err(SilenceError::Invalid { ref reason, .. }) if reason.ends_with("start time must be before end time"))
        );
        let e = s.set(basic("2023-01-01T01:00:00Z", "2023-01-01T02:00:00Z"), now);
        assert!(
            matches!(e, Err(SilenceError::Invalid { ref reason, .. }) if reason.ends_with("end time can't be in the past"))
        );
        // `!=` alone is accepted, as in Alertmanager (it never "matches empty" there).
        let ok = s.set(
            post(r#"{"matchers":[{"name":"a","value":"x","isRegex":false,"isEqual":false}],"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T01:00:00Z","createdBy":"x","comment":""}"#),
            now,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn filter_and_persistence() {
        let mut s = store();
        let now = ts(T0);
        let _ = s.set(basic(T0, "2024-01-01T02:00:00Z"), now);
        // Alertmanager's filter: the silence's matchers read as labels
        // {alertname="Disk.*", env="dev"}, whatever their type.
        let found = |f: &str| {
            let f = parse_matcher(f).unwrap_or_else(|e| panic!("{e}"));
            s.list(std::slice::from_ref(&f), now).len()
        };
        assert_eq!(found("env=dev"), 1);
        assert_eq!(found("env!=dev"), 0);
        assert_eq!(found("env=~d.*"), 1);
        assert_eq!(found("alertname=~Disk.*"), 1);
        assert_eq!(found("alertname=\"Disk.*\""), 1);
        assert_eq!(found("alertname=DiskFull"), 0);
        assert_eq!(found("team=\"\""), 1);
        assert_eq!(found("team!=\"\""), 0);
        assert_eq!(found("env!=\"\""), 1);
        assert_eq!(found("host=web1"), 0);
        let snap = serde_json::to_string(&s.snapshot(now)).unwrap_or_default();
        let records: Vec<SilenceRecord> = serde_json::from_str(&snap).unwrap_or_default();
        let mut restored = store();
        assert_eq!(restored.restore(records, now), Ok(()));
        assert_eq!(restored.get("id-1"), s.get("id-1"));
        assert!(new_uuid().len() == 36 && new_uuid() != new_uuid());
    }
}
