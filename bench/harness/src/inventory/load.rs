//! The **writes**: rounds of heartbeats from every host, counted as stored by what the
//! inventory shows, the inventory read back in full, then every host placed.
//!
//! A heartbeat is *acknowledged* when the server answers 2xx (queued, not yet in the
//! database), *stored* when the inventory shows it. The rounds run one after the other,
//! each waiting for its heartbeats to be stored, so that a round is measured by what it
//! alone changed: round `r` starts at `start_r`, later than any heartbeat sent before, and
//! sends every host one heartbeat stamped at its sending (`ts`); the server records a
//! host's `last_seen_ms` no earlier than that. So once `GET /api/argus/hosts?limit=1&
//! sort=last_seen` (the host heard from longest ago) answers `total` = N and a
//! `last_seen_ms` ≥ `start_r`, every host's heartbeat of round `r` is in the database.

use super::api::{Api, Listed};
use super::fleet;
use anyhow::bail;
use reqwest::blocking::Client;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a round's heartbeats may take to be stored after the last was acknowledged.
const STORE_TIMEOUT: Duration = Duration::from_secs(600);
/// Between two looks at the oldest host while waiting for a round to be stored: short
/// against a round's seconds (1-2 % of a round of 10 000 hosts), long enough that the
/// polls take little from the writes being measured on a 2-core machine.
pub const POLL_EVERY: Duration = Duration::from_millis(50);

/// One round: every host sends one heartbeat.
#[derive(Clone, Debug)]
pub struct Round {
    /// The hosts were new to the inventory (round 1: inserts) or known (updates).
    pub new_hosts: bool,
    pub heartbeats: usize,
    /// From the first request until the last was answered 2xx.
    pub acked_secs: f64,
    /// From the first request until the inventory showed every one of them (`None`: it
    /// did not, see the errors).
    pub stored_secs: Option<f64>,
}

/// Runs `work(client, i)` for every `i` in `0..n` on `clients` threads, each with its own
/// keep-alive connection, taking the next `i` as it finishes one; stops at the first error.
/// Returns each call's duration in ms, in no particular order.
pub fn fan_out(
    clients: usize,
    n: usize,
    work: impl Fn(&Client, usize) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Vec<f64>> {
    let next = AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let (next, failed, work) = (&next, &failed, &work);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|_| {
                scope.spawn(move || -> anyhow::Result<Vec<f64>> {
                    let client = Client::builder().timeout(Duration::from_secs(60)).build()?;
                    let mut ms = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        let started = Instant::now();
                        if let Err(e) = work(&client, i) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e.context(format!("request {i}")));
                        }
                        ms.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(ms)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        let mut first_error = None;
        for h in handles {
            match h.join() {
                Ok(Ok(ms)) => all.extend(ms),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(anyhow::anyhow!("a client thread panicked"));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    })
}

/// `rounds` rounds of one heartbeat per host from `clients` concurrent clients; `facts`
/// holds each host's facts, rendered before timing. Each round goes into `out` once
/// acknowledged, so that a round whose storing fails still shows what was acknowledged.
/// Returns the start of the last round (ms since the epoch), which every host's
/// `last_seen_ms` has reached.
pub fn heartbeats(
    api: &Api,
    client: &Client,
    facts: &[String],
    rounds: usize,
    clients: usize,
    out: &mut Vec<Round>,
) -> anyhow::Result<i64> {
    let n = facts.len();
    let newest_sent = AtomicI64::new(0);
    let mut start_ms = 0;
    for r in 0..rounds.max(1) {
        // A round starts strictly after every heartbeat sent before it, so only its own
        // heartbeats can lift the oldest host's last_seen_ms to its start.
        while crate::probe::now_ms() <= newest_sent.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        start_ms = crate::probe::now_ms();
        let started = Instant::now();
        fan_out(clients, n, |c, i| {
            let ts = crate::probe::now_ms();
            newest_sent.fetch_max(ts, Ordering::Relaxed);
            api.heartbeat(c, fleet::heartbeat_body(&facts[i], ts))
        })?;
        let acked_secs = started.elapsed().as_secs_f64();
        eprintln!(
            "  round {}: {:.0} heartbeats/s acknowledged",
            r + 1,
            n as f64 / acked_secs
        );
        out.push(Round {
            new_hosts: r == 0,
            heartbeats: n,
            acked_secs,
            stored_secs: None,
        });
        wait_stored(api, client, n as u64, start_ms, r + 1)?;
        let stored_secs = started.elapsed().as_secs_f64();
        eprintln!("    {:.0} stored", n as f64 / stored_secs);
        if let Some(round) = out.last_mut() {
            round.stored_secs = Some(stored_secs);
        }
    }
    Ok(start_ms)
}

/// Polls the host heard from longest ago until the inventory holds `n` hosts, the oldest
/// seen at or after `start_ms`.
fn wait_stored(
    api: &Api,
    client: &Client,
    n: u64,
    start_ms: i64,
    round: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + STORE_TIMEOUT;
    loop {
        let (page, _) = api.list(client, "limit=1&sort=last_seen")?;
        let oldest = match page.hosts.first() {
            Some(h) => Listed::from_json(h)?.last_seen_ms,
            None => None,
        };
        if page.total > n {
            bail!("the inventory holds {} hosts, {n} were sent", page.total);
        }
        if page.total == n && oldest.is_some_and(|t| t >= start_ms) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "round {round}: not stored within {} s: {} of {n} hosts, the oldest last seen at {oldest:?} ms, the round started at {start_ms}",
                STORE_TIMEOUT.as_secs(),
                page.total
            );
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// What reading the whole inventory back found.
pub struct Inventory {
    /// Host `i`'s id, for each of the `n` hosts sent (`None`: not listed).
    pub ids: Vec<Option<String>>,
    /// Hosts listed that the benchmark did not send, or listed twice.
    pub unexpected: Vec<String>,
    /// Hosts listed whose `last_seen_ms` is missing or older than the last round.
    pub stale: usize,
}

impl Inventory {
    pub fn listed(&self) -> usize {
        self.ids.iter().flatten().count()
    }

    /// Every host sent is listed once, nothing else, each seen in the last round.
    pub fn exact(&self) -> bool {
        self.listed() == self.ids.len() && self.unexpected.is_empty() && self.stale == 0
    }
}

/// Reads every page of `sort=hostname` (100 hosts each) and matches the hosts to the fleet.
pub fn read_back(
    api: &Api,
    client: &Client,
    n: usize,
    last_round_ms: i64,
) -> anyhow::Result<Inventory> {
    let mut inv = Inventory {
        ids: vec![None; n],
        unexpected: Vec::new(),
        stale: 0,
    };
    for page_no in 1.. {
        let (page, _) = api.list(client, &format!("limit=100&page={page_no}&sort=hostname"))?;
        if page.hosts.is_empty() {
            break;
        }
        for h in &page.hosts {
            let h = Listed::from_json(h)?;
            if h.last_seen_ms.is_none_or(|t| t < last_round_ms) {
                inv.stale += 1;
            }
            match fleet_index(&h.hostname, n).and_then(|i| inv.ids.get_mut(i)) {
                Some(slot @ None) => *slot = Some(h.id),
                _ => inv.unexpected.push(h.hostname),
            }
        }
        // A server that ignores `page` would repeat page 1 forever.
        if page_no as u64 * 100 >= page.total {
            break;
        }
    }
    Ok(inv)
}

/// `host-00042` → 42, if it is one of the `n` hosts sent.
pub fn fleet_index(hostname: &str, n: usize) -> Option<usize> {
    let i: usize = hostname.strip_prefix("host-")?.parse().ok()?;
    (i < n && fleet::hostname(i) == hostname).then_some(i)
}

/// The placing of every host: how long it took and each `PATCH`'s duration.
pub struct Patches {
    pub count: usize,
    pub secs: f64,
    /// Sorted.
    pub ms: Vec<f64>,
}

/// Gives each listed host its location, groups and labels from `clients` clients.
pub fn place(api: &Api, ids: &[Option<String>], clients: usize) -> anyhow::Result<Patches> {
    let hosts: Vec<(usize, &str)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((i, id.as_deref()?)))
        .collect();
    let started = Instant::now();
    let mut ms = fan_out(clients, hosts.len(), |c, k| {
        let (i, id) = hosts[k];
        api.patch(c, id, &fleet::placement(i).to_json())
    })?;
    let secs = started.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);
    Ok(Patches {
        count: hosts.len(),
        secs,
        ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_map_back_to_the_fleet() {
        assert_eq!(fleet_index("host-00042", 100), Some(42));
        assert_eq!(fleet_index("host-00042", 42), None);
        assert_eq!(fleet_index("host-42", 100), None);
        assert_eq!(fleet_index("web-00042", 100), None);
        assert_eq!(fleet_index("host-123456", 200_000), Some(123_456));
    }

    #[test]
    fn fan_out_does_every_item_once_and_stops_at_an_error() {
        // Each client thread builds an HTTP client, which needs a TLS provider installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seen = std::sync::Mutex::new(Vec::new());
        let ms = fan_out(3, 50, |_, i| {
            seen.lock().map(|mut s| s.push(i)).ok();
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(ms.len(), 50);
        let mut seen = seen.into_inner().unwrap_or_default();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        let e = fan_out(2, 50, |_, i| {
            if i == 7 {
                bail!("refused")
            }
            Ok(())
        });
        let msg = e.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert_eq!(msg, "request 7: refused");
    }
}
