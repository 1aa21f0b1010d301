//! The engine: Alertmanager's whole pipeline behind one explicit clock.
//!
//! [`Engine`] holds the received alerts, the dispatcher, the inhibitor, silences,
//! maintenance windows, time intervals and the notification log. The server feeds it
//! alerts ([`Engine::put_alerts`]), calls [`Engine::tick`] with the current time (every
//! second is plenty; [`Engine::next_due`] says when something is due), sends each
//! returned [`Delivery`] through its channel, and reports the outcome
//! ([`Engine::delivered`]). A flush passes Alertmanager's stages in its order:
//! inhibition, active time intervals, mute time intervals, silences (and Argus's
//! maintenance windows), then per integration the notification-log dedup and the
//! `send_resolved` filter. A flush muted entirely counts as delivered, so its resolved
//! alerts leave the group as in Alertmanager.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use crate::{
    alert::{Alert, AlertError, PostableAlert, merge_into_store},
    clock::add,
    config::{Config, IntegrationConfig},
    dispatch::{Dispatcher, Flush},
    inhibit::Inhibitor,
    maintenance::Maintenance,
    nflog::{IntegrationRef, NotificationLog, Snapshot, needs_update},
    notification::Notification,
    route::Route,
    silence::Silences,
    timeinterval::{TimeInterval, contains_any},
};

/// How often resolved alerts are dropped from the store (`--alerts.gc-interval`).
pub const ALERT_GC_INTERVAL: SignedDuration = SignedDuration::from_mins(30);
/// How often silences, the notification log and inhibition sources are cleaned
/// (Alertmanager's 15-minute maintenance).
pub const MAINTENANCE_INTERVAL: SignedDuration = SignedDuration::from_mins(15);

/// One notification to send through one integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The flush it belongs to.
    pub flush_id: u64,
    /// Which integration (receiver, kind name, index).
    pub integration: IntegrationRef,
    /// Its configuration.
    pub config: IntegrationConfig,
    /// What to send (already without resolved alerts when `send_resolved` is off).
    pub notification: Notification,
    /// The group key.
    pub group_key: String,
    /// Fingerprints firing in the flush, for the notification log.
    pub firing: BTreeSet<u64>,
    /// Fingerprints resolved in the flush, for the notification log.
    pub resolved: BTreeSet<u64>,
    /// The route's repeat interval, for the log's expiry.
    pub repeat_interval: SignedDuration,
}

/// The outcome of [`Engine::put_alerts`]: alerts are taken in best effort, as
/// Alertmanager does, and the invalid ones reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutResult {
    /// How many were stored.
    pub accepted: usize,
    /// Why the others were not.
    pub errors: Vec<AlertError>,
}

/// Why an alert is not notified right now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MuteStatus {
    /// Fingerprint (16 hex) of an inhibiting alert.
    pub inhibited_by: Vec<String>,
    /// Active silences.
    pub silenced_by: Vec<String>,
    /// Open maintenance windows.
    pub maintenance: Vec<String>,
}

impl MuteStatus {
    /// Whether anything mutes the alert.
    pub fn is_muted(&self) -> bool {
        !(self.inhibited_by.is_empty()
            && self.silenced_by.is_empty()
            && self.maintenance.is_empty())
    }
}

#[derive(Debug, Clone)]
struct Pending {
    flush: Flush,
    outstanding: BTreeSet<IntegrationRef>,
    failed: bool,
}

/// Settings that are not in `alertmanager.yml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineOptions {
    /// The URL notifications link back to (`externalURL`).
    pub external_url: String,
}

/// Alertmanager's pipeline as pure state.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    options: EngineOptions,
    dispatcher: Dispatcher,
    alerts: BTreeMap<u64, Alert>,
    inhibitor: Inhibitor,
    time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    /// Silences (create, expire, list through it).
    pub silences: Silences,
    /// Maintenance windows.
    pub maintenance: Maintenance,
    nflog: NotificationLog,
    pending: BTreeMap<u64, Pending>,
    next_alert_gc: Timestamp,
    next_maintenance: Timestamp,
}

impl Engine {
    /// An engine for `config`, started at `now`.
    pub fn new(config: Config, options: EngineOptions, now: Timestamp) -> Self {
        let route = Route::new(&config.route);
        Engine {
            dispatcher: Dispatcher::new(route, now),
            inhibitor: Inhibitor::new(&config.inhibit_rules),
            time_intervals: config.named_time_intervals(),
            config,
            options,
            alerts: BTreeMap::new(),
            silences: Silences::new(),
            maintenance: Maintenance::new(),
            nflog: NotificationLog::new(),
            pending: BTreeMap::new(),
            next_alert_gc: add(now, ALERT_GC_INTERVAL),
            next_maintenance: add(now, MAINTENANCE_INTERVAL),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the configuration, as Alertmanager's reload does: new routes, groups
    /// and inhibition rules, every stored alert routed again (groups start over, and the
    /// notification log keeps already-sent notifications from repeating).
    pub fn apply_config(&mut self, config: Config, now: Timestamp) {
        self.dispatcher = Dispatcher::new(Route::new(&config.route), now);
        self.inhibitor = Inhibitor::new(&config.inhibit_rules);
        self.time_intervals = config.named_time_intervals();
        self.config = config;
        self.pending.clear();
        for a in self.alerts.values() {
            self.inhibitor.observe(a);
            self.dispatcher.insert(a, now);
        }
    }

    /// Takes in alerts as `POST /api/v2/alerts` does.
    pub fn put_alerts(&mut self, alerts: Vec<PostableAlert>, now: Timestamp) -> PutResult {
        let mut res = PutResult::default();
        let timeout = self.config.global.resolve_timeout;
        for (i, p) in alerts.into_iter().enumerate() {
            match p.into_alert(i, now, timeout) {
                Ok(a) => {
                    self.put_alert(a, now);
                    res.accepted += 1;
                }
                Err(e) => res.errors.push(e),
            }
        }
        res
    }

    /// Stores one already-built alert (from Argus's own rule engine).
    pub fn put_alert(&mut self, alert: Alert, now: Timestamp) {
        let fp = alert.fingerprint();
        let merged = merge_into_store(self.alerts.get(&fp), alert, now);
        self.inhibitor.observe(&merged);
        self.dispatcher.insert(&merged, now);
        self.alerts.insert(fp, merged);
    }

    /// The stored alerts.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// The dispatcher (groups, routes).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// What mutes an alert with these labels at `now`.
    pub fn mute_status(&self, alert: &Alert, now: Timestamp) -> MuteStatus {
        MuteStatus {
            inhibited_by: self
                .inhibitor
                .inhibited_by(&alert.labels, now)
                .map(crate::labels::fingerprint_hex)
                .into_iter()
                .collect(),
            silenced_by: self.silences.mutes(&alert.labels, now),
            maintenance: self.maintenance.mutes(&alert.labels, now),
        }
    }

    /// When the next flush or cleanup is due.
    pub fn next_due(&self) -> Timestamp {
        self.dispatcher
            .next_due()
            .min(self.next_alert_gc)
            .min(self.next_maintenance)
    }

    fn in_intervals(&self, names: &[String], now: Timestamp) -> bool {
        names.iter().any(|n| {
            self.time_intervals
                .get(n)
                .is_some_and(|entries| contains_any(entries, now))
        })
    }

    fn gc(&mut self, now: Timestamp) {
        if now >= self.next_alert_gc {
            self.alerts.retain(|_, a| !a.resolved_at(now));
            self.next_alert_gc = add(now, ALERT_GC_INTERVAL);
        }
        if now >= self.next_maintenance {
            self.silences.gc(now);
            self.nflog.gc(now);
            self.inhibitor.gc(now);
            self.next_maintenance = add(now, MAINTENANCE_INTERVAL);
        }
    }

    /// Runs everything due at `now` and returns what to send.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Delivery> {
        self.gc(now);
        let mut out = Vec::new();
        for flush in self.dispatcher.tick(now) {
            // A flush still unreported when its group flushes again has timed out (AM
            // cancels it after group_interval): it counts as failed.
            let stale: Vec<u64> = self
                .pending
                .iter()
                .filter(|(_, p)| p.flush.group == flush.group)
                .map(|(id, _)| *id)
                .collect();
            for id in stale {
                self.pending.remove(&id);
            }
            let deliveries = self.pipeline(&flush, now);
            if deliveries.is_empty() {
                self.dispatcher.flush_done(&flush, true);
                continue;
            }
            self.pending.insert(
                flush.id,
                Pending {
                    outstanding: deliveries.iter().map(|d| d.integration.clone()).collect(),
                    flush,
                    failed: false,
                },
            );
            out.extend(deliveries);
        }
        out
    }

    fn pipeline(&mut self, flush: &Flush, now: Timestamp) -> Vec<Delivery> {
        let mut alerts: Vec<&Alert> = flush
            .alerts
            .iter()
            .filter(|a| !self.inhibitor.mutes(&a.labels, now))
            .collect();
        if alerts.is_empty() {
            return Vec::new();
        }
        if !flush.active_time_intervals.is_empty()
            && !self.in_intervals(&flush.active_time_intervals, now)
        {
            tracing::debug!(group = %flush.group_key, "not sent: route outside its active time");
            return Vec::new();
        }
        if self.in_intervals(&flush.mute_time_intervals, now) {
            tracing::debug!(group = %flush.group_key, "not sent: route within mute time");
            return Vec::new();
        }
        alerts.retain(|a| {
            self.silences.mutes(&a.labels, now).is_empty()
                && self.maintenance.mutes(&a.labels, now).is_empty()
        });
        if alerts.is_empty() {
            return Vec::new();
        }
        let Some(receiver) = self.config.receiver(&flush.receiver) else {
            tracing::error!(receiver = %flush.receiver, "receiver missing from configuration");
            return Vec::new();
        };
        let firing: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| !a.resolved_at(now))
            .map(|a| a.fingerprint())
            .collect();
        let resolved: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| a.resolved_at(now))
            .map(|a| a.fingerprint())
            .collect();
        let mut out = Vec::new();
        let mut log_only = Vec::new();
        for (idx, ic) in receiver.iter() {
            let iref = IntegrationRef::new(&receiver.name, ic.kind(), idx);
            let send_resolved = ic.send_resolved();
            let entry = self.nflog.query(&flush.group_key, &iref);
            if !needs_update(
                entry,
                &firing,
                &resolved,
                send_resolved,
                flush.repeat_interval,
                now,
            ) {
                continue;
            }
            if !send_resolved && firing.is_empty() {
                // Nothing to say to this integration, but the log must learn that the
                // firing alerts are gone (Alertmanager's RetryStage shortcut).
                log_only.push(iref);
                continue;
            }
            let sent: Vec<Alert> = alerts
                .iter()
                .filter(|a| send_resolved || !a.resolved_at(now))
                .map(|a| (*a).clone())
                .collect();
            out.push(Delivery {
                flush_id: flush.id,
                integration: iref,
                config: ic.clone(),
                notification: Notification::new(
                    &receiver.name,
                    &flush.group_key,
                    &flush.group_labels,
                    &sent,
                    &self.options.external_url,
                    now,
                ),
                group_key: flush.group_key.clone(),
                firing: firing.clone(),
                resolved: resolved.clone(),
                repeat_interval: flush.repeat_interval,
            });
        }
        for iref in log_only {
            self.nflog.log(
                &iref,
                &flush.group_key,
                firing.clone(),
                resolved.clone(),
                flush.repeat_interval,
                now,
            );
        }
        out
    }

    /// Reports a delivery's outcome; `sent_at` is when it completed. Success is written
    /// to the notification log; once every delivery of a flush is reported and all
    /// succeeded, the flush's resolved alerts leave their group.
    pub fn delivered(&mut self, delivery: &Delivery, ok: bool, sent_at: Timestamp) {
        if ok {
            self.nflog.log(
                &delivery.integration,
                &delivery.group_key,
                delivery.firing.clone(),
                delivery.resolved.clone(),
                delivery.repeat_interval,
                sent_at,
            );
        }
        let Some(p) = self.pending.get_mut(&delivery.flush_id) else {
            return;
        };
        p.outstanding.remove(&delivery.integration);
        p.failed |= !ok;
        if p.outstanding.is_empty() {
            let done = self.pending.remove(&delivery.flush_id);
            if let Some(done) = done {
                self.dispatcher.flush_done(&done.flush, !done.failed);
            }
        }
    }

    /// The notification log, to persist.
    pub fn nflog_snapshot(&self) -> Snapshot {
        self.nflog.snapshot()
    }

    /// Restores a persisted notification log (at startup, before the first tick).
    pub fn restore_nflog(&mut self, snapshot: Snapshot, now: Timestamp) {
        self.nflog = NotificationLog::restore(snapshot, now);
    }

    /// The notification log.
    pub fn nflog(&self) -> &NotificationLog {
        &self.nflog
    }
}

#[cfg(test)]
mod tests;
