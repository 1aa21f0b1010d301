//! Maintenance windows (an Argus feature, issue 14 item 3).
//!
//! A **maintenance window** mutes notifications for the alerts of some hosts, host groups
//! or locations while work is planned on them, like a silence that knows the inventory
//! and can recur. Its **scope** becomes label matchers: `host` on the alert itself, and
//! the inventory labels the server joins onto alerts, `location` and `groups` (which
//! holds every group between commas, `,db,web,`, so group `web` is `groups=~".*,web,.*"`).
//! Extra matchers narrow it further. Its **schedule** is one-off (`startsAt`..`endsAt`)
//! or weekly: on the given weekdays from `start` to `end` (`HH:MM`, `24:00` allowed; an
//! `end` not after `start` runs past midnight into the next day) in an IANA time zone,
//! optionally only between `validFrom` and `validUntil`. For example every Sunday
//! 02:00–04:00 in Asia/Shanghai:
//!
//! ```json
//! {"id": "w1", "name": "db patching", "groups": ["db"],
//!  "schedule": {"type": "weekly", "weekdays": ["sunday"], "start": "02:00",
//!               "end": "04:00", "timeZone": "Asia/Shanghai"},
//!  "createdBy": "ann", "comment": "monthly kernel updates"}
//! ```

use std::collections::BTreeMap;

use jiff::{Timestamp, civil::Weekday, tz::TimeZone};
use serde::{Deserialize, Serialize};

use crate::{
    gojson,
    labels::LabelSet,
    matcher::{ApiMatcher, MatchType, Matcher, Matchers},
    timeinterval::parse_clock,
};

/// When a window applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Schedule {
    /// Once, `[startsAt, endsAt)`.
    #[serde(rename_all = "camelCase")]
    Once {
        /// Start.
        #[serde(with = "gojson::millis_time")]
        starts_at: Timestamp,
        /// End (exclusive).
        #[serde(with = "gojson::millis_time")]
        ends_at: Timestamp,
    },
    /// Every week on `weekdays` from `start` to `end` local time in `time_zone`.
    #[serde(rename_all = "camelCase")]
    Weekly {
        /// Days the window opens, lower-case English names (`sunday`).
        weekdays: Vec<String>,
        /// Opening time, `HH:MM`.
        start: String,
        /// Closing time, `HH:MM` (exclusive; `24:00` for midnight; not after `start` to
        /// close the next day).
        end: String,
        /// IANA zone (`Asia/Shanghai`), `UTC` when empty.
        #[serde(default)]
        time_zone: String,
        /// The recurrence begins here (optional).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_millis")]
        valid_from: Option<Timestamp>,
        /// The recurrence ends here (optional, exclusive).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_millis")]
        valid_until: Option<Timestamp>,
    },
}

mod opt_millis {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&gojson::rfc3339_millis(*t)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| {
            s.parse()
                .map_err(|e| serde::de::Error::custom(format!("invalid time {s:?}: {e}")))
        })
        .transpose()
    }
}

/// A maintenance window as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Identifier (chosen by the caller or the server).
    #[serde(default)]
    pub id: String,
    /// Short title.
    #[serde(default)]
    pub name: String,
    /// Hosts (`host` label values); any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Host groups (inventory `groups`); any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Locations (inventory `location`); any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// Further matchers, ANDed with the scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<ApiMatcher>,
    /// When.
    pub schedule: Schedule,
    /// Author.
    #[serde(default)]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// A window that cannot be used; `field` names the part (`schedule.timeZone`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maintenance window {id:?}: {field}: {reason}")]
pub struct MaintenanceError {
    /// The window's id.
    pub id: String,
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// The state of a window at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowState {
    /// Muting now.
    Active,
    /// Will mute later.
    Pending,
    /// Will never mute again.
    Expired,
}

fn regex_escape(s: &str) -> String {
    regex::escape(s)
}

fn any_of(values: &[String]) -> String {
    values
        .iter()
        .map(|v| regex_escape(v))
        .collect::<Vec<_>>()
        .join("|")
}

/// A checked window, ready to match.
#[derive(Debug, Clone)]
pub struct CompiledWindow {
    /// The window as given.
    pub window: MaintenanceWindow,
    /// Scope and extra matchers, ANDed.
    pub matchers: Matchers,
    recurrence: Option<Recurrence>,
}

#[derive(Debug, Clone)]
struct Recurrence {
    days: [bool; 7],
    start: u32,
    end: u32,
    tz: TimeZone,
}

const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

impl MaintenanceWindow {
    /// Checks the window and builds its matchers.
    pub fn compile(self) -> Result<CompiledWindow, MaintenanceError> {
        let err = |field: &str, reason: String| MaintenanceError {
            id: self.id.clone(),
            field: field.to_owned(),
            reason,
        };
        let mut ms = Vec::new();
        for (field, label, values) in [
            ("hosts", "host", &self.hosts),
            ("locations", "location", &self.locations),
        ] {
            if values.iter().any(String::is_empty) {
                return Err(err(field, "empty value".into()));
            }
            if !values.is_empty() {
                let re = Matcher::new(MatchType::Regexp, label, &any_of(values))
                    .map_err(|e| err(field, e.to_string()))?;
                ms.push(re);
            }
        }
        if self.groups.iter().any(|g| g.is_empty() || g.contains(',')) {
            return Err(err(
                "groups",
                "a group name is empty or holds a comma".into(),
            ));
        }
        if !self.groups.is_empty() {
            let re = format!(".*,(?:{}),.*", any_of(&self.groups));
            ms.push(
                Matcher::new(MatchType::Regexp, "groups", &re)
                    .map_err(|e| err("groups", e.to_string()))?,
            );
        }
        for (i, m) in self.matchers.iter().enumerate() {
            ms.push(
                m.to_matcher()
                    .map_err(|e| err(&format!("matchers[{i}]"), e.to_string()))?,
            );
        }
        if ms.is_empty() || ms.iter().all(Matcher::matches_empty) {
            return Err(err(
                "hosts",
                "a window needs hosts, groups, locations or a matcher that does not match the empty string".into(),
            ));
        }
        let recurrence = match &self.schedule {
            Schedule::Once { starts_at, ends_at } => {
                if starts_at >= ends_at {
                    return Err(err("schedule.endsAt", "must be after startsAt".into()));
                }
                None
            }
            Schedule::Weekly {
                weekdays,
                start,
                end,
                time_zone,
                valid_from,
                valid_until,
            } => {
                let mut days = [false; 7];
                if weekdays.is_empty() {
                    return Err(err(
                        "schedule.weekdays",
                        "at least one weekday required".into(),
                    ));
                }
                for d in weekdays {
                    let Some(i) = DAYS.iter().position(|n| n.eq_ignore_ascii_case(d)) else {
                        return Err(err("schedule.weekdays", format!("{d:?} is not a weekday")));
                    };
                    days[i] = true;
                }
                let start_min = parse_clock(start).map_err(|e| err("schedule.start", e))?;
                let end_min = parse_clock(end).map_err(|e| err("schedule.end", e))?;
                if start_min == 1440 {
                    return Err(err("schedule.start", "24:00 is an end, not a start".into()));
                }
                if let (Some(f), Some(u)) = (valid_from, valid_until)
                    && f >= u
                {
                    return Err(err("schedule.validUntil", "must be after validFrom".into()));
                }
                let tz = match time_zone.as_str() {
                    "" | "UTC" => TimeZone::UTC,
                    name => TimeZone::get(name).map_err(|e| {
                        err(
                            "schedule.timeZone",
                            format!("unknown time zone {name:?}: {e}"),
                        )
                    })?,
                };
                Some(Recurrence {
                    days,
                    start: start_min,
                    end: end_min,
                    tz,
                })
            }
        };
        let mut matchers = Matchers(ms);
        matchers.sort();
        Ok(CompiledWindow {
            window: self,
            matchers,
            recurrence,
        })
    }
}

fn weekday_index(w: Weekday) -> usize {
    usize::try_from(w.to_sunday_zero_offset()).unwrap_or(0)
}

impl CompiledWindow {
    /// Whether the window is open at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        match (&self.window.schedule, &self.recurrence) {
            (Schedule::Once { starts_at, ends_at }, _) => *starts_at <= now && now < *ends_at,
            (
                Schedule::Weekly {
                    valid_from,
                    valid_until,
                    ..
                },
                Some(r),
            ) => {
                if valid_from.is_some_and(|f| now < f) || valid_until.is_some_and(|u| now >= u) {
                    return false;
                }
                let local = now.to_zoned_datetime(r.tz.clone());
                let minute =
                    u32::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
                        .unwrap_or(0);
                let today = weekday_index(local.weekday());
                let yesterday = (today + 6) % 7;
                if r.start < r.end {
                    r.days[today] && minute >= r.start && minute < r.end
                } else {
                    // Past midnight: opened yesterday evening, or opens this evening.
                    (r.days[today] && minute >= r.start) || (r.days[yesterday] && minute < r.end)
                }
            }
            (Schedule::Weekly { .. }, None) => false,
        }
    }

    /// The state at `now`.
    pub fn state(&self, now: Timestamp) -> WindowState {
        if self.is_open(now) {
            return WindowState::Active;
        }
        let ended = match &self.window.schedule {
            Schedule::Once { ends_at, .. } => now >= *ends_at,
            Schedule::Weekly { valid_until, .. } => valid_until.is_some_and(|u| now >= u),
        };
        if ended {
            WindowState::Expired
        } else {
            WindowState::Pending
        }
    }

    /// Whether the window mutes an alert with these labels at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> bool {
        self.matchers.matches(labels) && self.is_open(now)
    }
}

/// The window store.
#[derive(Debug, Clone, Default)]
pub struct Maintenance {
    windows: BTreeMap<String, CompiledWindow>,
}

impl Maintenance {
    /// No windows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a window by id; an empty id is an error.
    pub fn set(&mut self, window: MaintenanceWindow) -> Result<(), MaintenanceError> {
        if window.id.is_empty() {
            return Err(MaintenanceError {
                id: String::new(),
                field: "id".into(),
                reason: "missing id".into(),
            });
        }
        let c = window.compile()?;
        self.windows.insert(c.window.id.clone(), c);
        Ok(())
    }

    /// Removes a window; whether it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        self.windows.remove(id).is_some()
    }

    /// The window with this id.
    pub fn get(&self, id: &str) -> Option<&CompiledWindow> {
        self.windows.get(id)
    }

    /// Every window, by id.
    pub fn list(&self) -> impl Iterator<Item = &CompiledWindow> {
        self.windows.values()
    }

    /// Ids of the windows muting `labels` at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> Vec<String> {
        self.windows
            .values()
            .filter(|w| w.mutes(labels, now))
            .map(|w| w.window.id.clone())
            .collect()
    }

    /// Drops windows that ended at or before `before` (the caller picks how long to
    /// keep them for history); returns how many.
    pub fn gc(&mut self, before: Timestamp) -> usize {
        let n = self.windows.len();
        self.windows.retain(|_, w| match &w.window.schedule {
            Schedule::Once { ends_at, .. } => *ends_at > before,
            Schedule::Weekly { valid_until, .. } => valid_until.is_none_or(|u| u > before),
        });
        n - self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::label_set;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn window(json: &str) -> CompiledWindow {
        let w: MaintenanceWindow =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        w.compile().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn weekly_sunday_night_in_shanghai() {
        let w = window(
            r#"{"id":"w1","name":"db patching","groups":["db"],"schedule":{"type":"weekly","weekdays":["sunday"],"start":"02:00","end":"04:00","timeZone":"Asia/Shanghai"},"createdBy":"ann","comment":"kernel"}"#,
        );
        let db = label_set([
            ("alertname", "Down"),
            ("host", "db1"),
            ("groups", ",db,web,"),
        ]);
        let web = label_set([("alertname", "Down"), ("host", "w1"), ("groups", ",web,")]);
        // Sunday 2024-06-02 02:00 +08:00 = Saturday 18:00 UTC.
        assert!(w.mutes(&db, ts("2024-06-01T18:00:00Z")));
        assert!(w.mutes(&db, ts("2024-06-01T19:59:59Z")));
        assert!(!w.mutes(&db, ts("2024-06-01T20:00:00Z")));
        assert!(!w.mutes(&db, ts("2024-06-01T17:59:59Z")));
        assert!(!w.mutes(&web, ts("2024-06-01T18:30:00Z")));
        // Next Sunday too.
        assert!(w.mutes(&db, ts("2024-06-08T18:30:00Z")));
        assert_eq!(w.state(ts("2024-06-03T00:00:00Z")), WindowState::Pending);
        assert_eq!(w.matchers.to_string(), r#"{groups=~".*,(?:db),.*"}"#);
        // A group name that is a prefix of another does not match it.
        let dbx = label_set([("groups", ",dbx,")]);
        assert!(!w.mutes(&dbx, ts("2024-06-01T18:30:00Z")));
    }

    #[test]
    fn once_by_host_and_location_with_json_roundtrip() {
        let json = r#"{"id":"w2","name":"move","hosts":["web-1","web.2"],"locations":["dc1"],"schedule":{"type":"once","startsAt":"2024-06-01T10:00:00.000Z","endsAt":"2024-06-01T12:00:00.000Z"},"createdBy":"bob","comment":""}"#;
        let w = window(json);
        assert_eq!(serde_json::to_string(&w.window).unwrap_or_default(), json);
        let l = |h: &str, loc: &str| label_set([("host", h), ("location", loc)]);
        let t = ts("2024-06-01T11:00:00Z");
        assert!(w.mutes(&l("web-1", "dc1"), t));
        assert!(w.mutes(&l("web.2", "dc1"), t));
        // The dot is literal: `webx2` is not `web.2`.
        assert!(!w.mutes(&l("webx2", "dc1"), t));
        assert!(!w.mutes(&l("web-1", "dc2"), t));
        assert!(!w.mutes(&l("web-1", "dc1"), ts("2024-06-01T12:00:00Z")));
        assert_eq!(w.state(ts("2024-06-01T09:00:00Z")), WindowState::Pending);
        assert_eq!(w.state(t), WindowState::Active);
        assert_eq!(w.state(ts("2024-06-01T12:00:00Z")), WindowState::Expired);
    }

    #[test]
    fn overnight_windows_and_validity() {
        let w = window(
            r#"{"id":"w3","hosts":["h"],"schedule":{"type":"weekly","weekdays":["friday"],"start":"22:00","end":"02:00","timeZone":"UTC","validUntil":"2024-07-01T00:00:00Z"}}"#,
        );
        let h = label_set([("host", "h")]);
        // 2024-06-07 is a Friday.
        assert!(w.mutes(&h, ts("2024-06-07T23:00:00Z")));
        assert!(w.mutes(&h, ts("2024-06-08T01:59:00Z")));
        assert!(!w.mutes(&h, ts("2024-06-08T02:00:00Z")));
        assert!(!w.mutes(&h, ts("2024-06-06T23:00:00Z")));
        assert_eq!(w.state(ts("2024-07-01T00:00:00Z")), WindowState::Expired);
    }

    #[test]
    fn invalid_windows_name_the_field() {
        let e = |json: &str| {
            let w: MaintenanceWindow =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            w.compile().err().map(|e| (e.field, e.reason))
        };
        assert_eq!(
            e(
                r#"{"id":"x","hosts":["h"],"schedule":{"type":"weekly","weekdays":["funday"],"start":"02:00","end":"04:00"}}"#
            ),
            Some((
                "schedule.weekdays".into(),
                "\"funday\" is not a weekday".into()
            ))
        );
        assert_eq!(
            e(r#"{"id":"x","hosts":["h"],"schedule":{"type":"weekly","weekdays":["sunday"],"start":"02:00","end":"04:00","timeZone":"Mars/Base"}}"#)
                .map(|(f, _)| f),
            Some("schedule.timeZone".into())
        );
        assert_eq!(
            e(r#"{"id":"x","schedule":{"type":"once","startsAt":"2024-06-01T10:00:00Z","endsAt":"2024-06-01T12:00:00Z"}}"#)
                .map(|(f, _)| f),
            Some("hosts".into())
        );
        assert_eq!(
            e(r#"{"id":"x","hosts":["h"],"schedule":{"type":"once","startsAt":"2024-06-01T10:00:00Z","endsAt":"2024-06-01T10:00:00Z"}}"#)
                .map(|(f, _)| f),
            Some("schedule.endsAt".into())
        );
        assert_eq!(
            e(r#"{"id":"x","hosts":["h"],"schedule":{"type":"weekly","weekdays":["monday"],"start":"2:00","end":"04:00"}}"#)
                .map(|(f, _)| f),
            Some("schedule.start".into())
        );
        let bad: Result<MaintenanceWindow, _> = serde_json::from_str(
            r#"{"id":"x","hostz":["h"],"schedule":{"type":"once","startsAt":"2024-06-01T10:00:00Z","endsAt":"2024-06-01T12:00:00Z"}}"#,
        );
        assert!(bad.is_err_and(|e| e.to_string().contains("unknown field `hostz`")));
    }

    #[test]
    fn store_set_mutes_remove_gc() {
        let mut m = Maintenance::new();
        let w: MaintenanceWindow = serde_json::from_str(
            r#"{"id":"w","hosts":["h"],"schedule":{"type":"once","startsAt":"2024-06-01T10:00:00Z","endsAt":"2024-06-01T12:00:00Z"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.set(w.clone()), Ok(()));
        assert_eq!(
            m.mutes(&label_set([("host", "h")]), ts("2024-06-01T11:00:00Z")),
            vec!["w"]
        );
        assert_eq!(m.gc(ts("2024-06-01T11:59:59Z")), 0);
        assert_eq!(m.gc(ts("2024-06-01T12:00:00Z")), 1);
        assert_eq!(m.set(w), Ok(()));
        assert!(m.remove("w"));
        assert!(!m.remove("w"));
    }
}
