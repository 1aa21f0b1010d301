//! The dispatcher and its aggregation groups (Alertmanager's `dispatch/dispatch.go`),
//! driven by an explicit clock.
//!
//! Every alert goes to each route [`Route::match_alert`] returns, and within a route to
//! the **aggregation group** named by its group labels. A group's first **flush** comes
//! `group_wait` after the group was created, or at once when the group has never flushed
//! and the alert started more than `group_wait` ago; later flushes come every
//! `group_interval`. A flush carries the **whole** group, sorted as Alertmanager sorts it
//! (`job`, then `instance`, missing ones last, then the label sets), with `endsAt` cleared
//! on alerts still firing. When the caller reports a flush as delivered, its resolved
//! alerts leave the group (unless re-posted since); empty groups are dropped every 30s, so
//! an alert arriving later starts a fresh `group_wait`.
//!
//! Nothing here sleeps or reads the wall clock: [`Dispatcher::tick`] is called with `now`
//! and returns the flushes due.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet},
};

use jiff::{SignedDuration, Timestamp};

use crate::{
    alert::Alert,
    clock::add,
    labels::{LabelSet, fingerprint, label_set_cmp},
    route::Route,
};

/// How often empty groups are dropped (Alertmanager's cleanup ticker).
pub const GROUP_CLEANUP_INTERVAL: SignedDuration = SignedDuration::from_secs(30);

/// Identifies a group: the route's id and the fingerprint of the group labels.
pub type GroupId = (usize, u64);

/// One aggregation group.
#[derive(Debug, Clone)]
pub struct AggrGroup {
    /// Its route's id.
    pub route_id: usize,
    /// The grouping labels' values.
    pub labels: LabelSet,
    /// `<route key>:<labels>`.
    pub group_key: String,
    /// The alerts, by fingerprint.
    pub alerts: BTreeMap<u64, Alert>,
    /// When the group flushes next.
    pub next_flush: Timestamp,
    /// Whether it has flushed at least once.
    pub has_flushed: bool,
}

/// A group's notification due now: what the notification pipeline works on.
#[derive(Debug, Clone, PartialEq)]
pub struct Flush {
    /// Unique per dispatcher; report it back to [`Dispatcher::flush_done`].
    pub id: u64,
    /// The group.
    pub group: GroupId,
    /// The group key receivers see.
    pub group_key: String,
    /// The grouping labels.
    pub group_labels: LabelSet,
    /// The route's receiver.
    pub receiver: String,
    /// The route's repeat interval (for the notification log).
    pub repeat_interval: SignedDuration,
    /// The route's mute time interval names.
    pub mute_time_intervals: Vec<String>,
    /// The route's active time interval names.
    pub active_time_intervals: Vec<String>,
    /// The tick's time.
    pub now: Timestamp,
    /// The whole group, sorted; `ends_at` is `None` for alerts still firing at `now`.
    pub alerts: Vec<Alert>,
}

/// Alertmanager's `AlertSlice` order: by `job`, then `instance` (an alert without the
/// label after one with it), then by label set.
pub fn alert_order(a: &Alert, b: &Alert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    label_set_cmp(&a.labels, &b.labels)
}

/// The dispatcher: the routing tree and its aggregation groups.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    route: Route,
    groups: BTreeMap<GroupId, AggrGroup>,
    next_cleanup: Timestamp,
    next_flush_id: u64,
}

impl Dispatcher {
    /// A dispatcher over `route`, started at `now` (the cleanup ticker's phase).
    pub fn new(route: Route, now: Timestamp) -> Self {
        Dispatcher {
            route,
            groups: BTreeMap::new(),
            next_cleanup: add(now, GROUP_CLEANUP_INTERVAL),
            next_flush_id: 1,
        }
    }

    /// The routing tree.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The aggregation groups.
    pub fn groups(&self) -> impl Iterator<Item = &AggrGroup> {
        self.groups.values()
    }

    /// Routes an alert (as stored after merging) into its groups, creating groups as
    /// needed (`processAlert` and `aggrGroup.insert`).
    pub fn insert(&mut self, alert: &Alert, now: Timestamp) {
        for route in self.route.match_alert(&alert.labels) {
            let labels = route.group_labels(&alert.labels);
            let id = (route.id, fingerprint(&labels));
            let group_wait = route.opts.group_wait;
            let group = self.groups.entry(id).or_insert_with(|| AggrGroup {
                route_id: route.id,
                group_key: route.group_key(&labels),
                labels,
                alerts: BTreeMap::new(),
                next_flush: add(now, group_wait),
                has_flushed: false,
            });
            group.alerts.insert(alert.fingerprint(), alert.clone());
            if !group.has_flushed && add(alert.starts_at, group_wait) < now {
                group.next_flush = now;
            }
        }
    }

    /// Drops empty groups if the cleanup is due, then returns the flushes due at `now`,
    /// in route and group order. A group with no alerts still moves its timer but yields
    /// no flush.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Flush> {
        if now >= self.next_cleanup {
            self.groups.retain(|_, g| !g.alerts.is_empty());
            while self.next_cleanup <= now {
                self.next_cleanup = add(self.next_cleanup, GROUP_CLEANUP_INTERVAL);
            }
        }
        let mut out = Vec::new();
        for (id, group) in &mut self.groups {
            if group.next_flush > now {
                continue;
            }
            let Some(route) = self.route.find(group.route_id) else {
                continue;
            };
            // The next flush is group_interval after this one was due, as Alertmanager's
            // timer is reset when it fires; after a long pause, group_interval from now.
            let mut next = add(group.next_flush, route.opts.group_interval);
            if next <= now {
                next = add(now, route.opts.group_interval);
            }
            group.next_flush = next;
            group.has_flushed = true;
            if group.alerts.is_empty() {
                continue;
            }
            let mut alerts: Vec<Alert> = group
                .alerts
                .values()
                .map(|a| {
                    let mut a = a.clone();
                    if !a.resolved_at(now) {
                        a.ends_at = None;
                    }
                    a
                })
                .collect();
            alerts.sort_by(alert_order);
            out.push(Flush {
                id: self.next_flush_id,
                group: *id,
                group_key: group.group_key.clone(),
                group_labels: group.labels.clone(),
                receiver: route.opts.receiver.clone(),
                repeat_interval: route.opts.repeat_interval,
                mute_time_intervals: route.opts.mute_time_intervals.clone(),
                active_time_intervals: route.opts.active_time_intervals.clone(),
                now,
                alerts,
            });
            self.next_flush_id += 1;
        }
        out
    }

    /// Reports a flush's outcome. On success its resolved alerts leave the group, unless
    /// the group holds a newer copy (re-posted since the flush).
    pub fn flush_done(&mut self, flush: &Flush, success: bool) {
        if !success {
            return;
        }
        let Some(group) = self.groups.get_mut(&flush.group) else {
            return;
        };
        for a in &flush.alerts {
            if !a.resolved_at(flush.now) {
                continue;
            }
            let fp = a.fingerprint();
            if group
                .alerts
                .get(&fp)
                .is_some_and(|cur| cur.updated_at == a.updated_at)
            {
                group.alerts.remove(&fp);
            }
        }
    }

    /// When the next group flush or cleanup is due, so a caller can sleep until then.
    pub fn next_due(&self) -> Timestamp {
        self.groups
            .values()
            .map(|g| g.next_flush)
            .chain([self.next_cleanup])
            .min()
            .unwrap_or(self.next_cleanup)
    }

    /// Ids of the routes holding groups (for listing).
    pub fn route_ids(&self) -> BTreeSet<usize> {
        self.groups.keys().map(|(r, _)| *r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Config, labels::label_set};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn secs(t0: Timestamp, s: i64) -> Timestamp {
        add(t0, SignedDuration::from_secs(s))
    }

    fn dispatcher(t0: Timestamp) -> Dispatcher {
        let cfg = Config::load(
            "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\nreceivers: [{name: r}]\n",
            "t.yml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Dispatcher::new(Route::new(&cfg.route), t0)
    }

    fn alert(
        name: &str,
        inst: &str,
        start: Timestamp,
        end: Timestamp,
        updated: Timestamp,
    ) -> Alert {
        Alert {
            labels: label_set([("alertname", name), ("instance", inst)]),
            annotations: LabelSet::new(),
            starts_at: start,
            ends_at: Some(end),
            generator_url: String::new(),
            updated_at: updated,
            timeout: false,
        }
    }

    #[test]
    fn first_flush_after_group_wait_then_every_group_interval() {
        let t0 = ts("2024-01-01T00:00:00Z");
        let mut d = dispatcher(t0);
        d.insert(&alert("A", "b", t0, secs(t0, 3600), t0), t0);
        d.insert(
            &alert("A", "a", secs(t0, 5), secs(t0, 3600), secs(t0, 5)),
            secs(t0, 5),
        );
        assert!(d.tick(secs(t0, 29)).is_empty());
        let f = d.tick(secs(t0, 30));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].group_key, r#"{}:{alertname="A"}"#);
        // Whole group, sorted by instance; firing alerts carry no endsAt.
        let insts: Vec<_> = f[0]
            .alerts
            .iter()
            .map(|a| a.labels["instance"].clone())
            .collect();
        assert_eq!(insts, vec!["a", "b"]);
        assert!(f[0].alerts.iter().all(|a| a.ends_at.is_none()));
        d.flush_done(&f[0], true);
        assert!(d.tick(secs(t0, 329)).is_empty());
        assert_eq!(d.tick(secs(t0, 330)).len(), 1);
        // Ticking late keeps the cadence from when the flush was due.
        assert!(d.tick(secs(t0, 629)).is_empty());
        assert_eq!(d.tick(secs(t0, 632)).len(), 1);
        assert_eq!(d.next_due(), secs(t0, 660).min(d.next_due()));
    }

    #[test]
    fn an_old_alert_flushes_at_once() {
        let t0 = ts("2024-01-01T00:10:00Z");
        let mut d = dispatcher(t0);
        // Started 10 minutes ago: older than group_wait.
        d.insert(&alert("A", "a", secs(t0, -600), secs(t0, 600), t0), t0);
        assert_eq!(d.tick(t0).len(), 1);
        // Once flushed, a new old alert in the same group waits for group_interval.
        d.insert(
            &alert("A", "b", secs(t0, -600), secs(t0, 600), secs(t0, 1)),
            secs(t0, 1),
        );
        assert!(d.tick(secs(t0, 2)).is_empty());
        // An alert exactly group_wait old is not "before now": it waits.
        let mut d = dispatcher(t0);
        d.insert(&alert("B", "a", secs(t0, -30), secs(t0, 600), t0), t0);
        assert!(d.tick(t0).is_empty());
        assert_eq!(d.tick(secs(t0, 30)).len(), 1);
    }

    #[test]
    fn resolved_alerts_leave_after_success_and_empty_groups_are_dropped() {
        let t0 = ts("2024-01-01T00:00:00Z");
        let mut d = dispatcher(t0);
        d.insert(&alert("A", "a", t0, secs(t0, 100), t0), t0);
        d.insert(&alert("A", "b", t0, secs(t0, 3600), t0), t0);
        let f = d.tick(secs(t0, 30));
        d.flush_done(&f[0], true);
        // At 330s "a" has resolved: it is in the flush with its endsAt.
        let f = d.tick(secs(t0, 330));
        let a = &f[0].alerts[0];
        assert_eq!(
            (a.labels["instance"].as_str(), a.ends_at),
            ("a", Some(secs(t0, 100)))
        );
        assert_eq!(f[0].alerts[1].ends_at, None);
        // A failed delivery keeps it; a successful one removes it.
        d.flush_done(&f[0], false);
        assert_eq!(d.groups().map(|g| g.alerts.len()).sum::<usize>(), 2);
        d.flush_done(&f[0], true);
        assert_eq!(d.groups().map(|g| g.alerts.len()).sum::<usize>(), 1);

        // "b" resolves and is sent: the group is empty and dropped at the next cleanup.
        d.insert(
            &alert("A", "b", t0, secs(t0, 400), secs(t0, 400)),
            secs(t0, 400),
        );
        let f = d.tick(secs(t0, 630));
        d.flush_done(&f[0], true);
        assert_eq!(d.groups().count(), 1);
        // The cleanup ticker runs every 30s from the dispatcher's start: 660s next.
        assert!(d.tick(secs(t0, 659)).is_empty());
        assert_eq!(d.groups().count(), 1);
        assert!(d.tick(secs(t0, 660)).is_empty());
        assert_eq!(d.groups().count(), 0);
        // A new alert starts a fresh group_wait.
        d.insert(
            &alert("A", "c", secs(t0, 670), secs(t0, 4000), secs(t0, 670)),
            secs(t0, 670),
        );
        assert!(d.tick(secs(t0, 699)).is_empty());
        assert_eq!(d.tick(secs(t0, 700)).len(), 1);
    }

    #[test]
    fn a_repost_after_the_flush_is_kept() {
        let t0 = ts("2024-01-01T00:00:00Z");
        let mut d = dispatcher(t0);
        d.insert(&alert("A", "a", t0, secs(t0, 10), t0), t0);
        let f = d.tick(secs(t0, 30));
        // Re-posted (firing again) between the flush and its report.
        d.insert(
            &alert("A", "a", t0, secs(t0, 900), secs(t0, 31)),
            secs(t0, 31),
        );
        d.flush_done(&f[0], true);
        assert_eq!(d.groups().map(|g| g.alerts.len()).sum::<usize>(), 1);
    }

    #[test]
    fn sort_puts_missing_job_last() {
        let t0 = ts("2024-01-01T00:00:00Z");
        let mut with_job = alert("A", "z", t0, t0, t0);
        with_job.labels.insert("job".into(), "node".into());
        let without = alert("A", "a", t0, t0, t0);
        assert_eq!(alert_order(&with_job, &without), Ordering::Less);
        assert_eq!(alert_order(&without, &with_job), Ordering::Greater);
    }
}
