//! The **reads**: latency of the list and filter requests a dashboard makes, each answer
//! checked against the fleet first (its `total`, and that every host on the page matches
//! the filter), then timed over many requests asked in turn.

use super::api::{Api, Listed};
use super::fleet::{self, ListQuery};
use super::load::fleet_index;
use reqwest::blocking::Client;

/// Untimed requests of each query before the timed ones (connection, caches).
pub const WARMUP: usize = 5;

/// What one query answered and how long it took.
pub struct Timed {
    pub name: &'static str,
    pub query: &'static str,
    /// `total` the fleet says it should answer, if known.
    pub expected: Option<u64>,
    /// `total` it answered (the checked request).
    pub answered: Option<u64>,
    /// Hosts on that page that do not match the filter (or the status asked for), or are
    /// not the fleet's.
    pub wrong_rows: usize,
    /// Rows on that page, and how many the page should hold given `total`.
    pub rows: (usize, usize),
    /// Request to last byte, sorted.
    pub ms: Vec<f64>,
    /// Failed requests (not timed), with the first error.
    pub failed: usize,
    pub first_error: Option<String>,
}

impl Timed {
    /// The answer agrees with the fleet: the expected total (when known), the page's rows
    /// all matching and as many as the total leaves for that page.
    pub fn correct(&self) -> bool {
        let total_ok = match (self.expected, self.answered) {
            (Some(e), Some(a)) => e == a,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        total_ok && self.wrong_rows == 0 && self.rows.0 == self.rows.1
    }
}

/// Checks each query once, then asks all of them in turn `requests` times, timing each.
pub fn measure(api: &Api, client: &Client, n: usize, requests: usize) -> Vec<Timed> {
    let mut out: Vec<Timed> = fleet::QUERIES
        .iter()
        .map(|q| check(api, client, n, q))
        .collect();
    for _ in 0..WARMUP {
        for q in &fleet::QUERIES {
            let _ = api.list(client, q.query);
        }
    }
    // In turn rather than one query after the other: a noisy moment on this shared machine
    // then spreads over every query instead of spoiling one.
    for _ in 0..requests {
        for (q, t) in fleet::QUERIES.iter().zip(&mut out) {
            match api.list(client, q.query) {
                Ok((_, ms)) => t.ms.push(ms),
                Err(e) => {
                    t.failed += 1;
                    t.first_error.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
    }
    for t in &mut out {
        t.ms.sort_by(f64::total_cmp);
    }
    out
}

fn check(api: &Api, client: &Client, n: usize, q: &ListQuery) -> Timed {
    let mut t = Timed {
        name: q.name,
        query: q.query,
        expected: q.expected(n),
        answered: None,
        wrong_rows: 0,
        rows: (0, 0),
        ms: Vec::new(),
        failed: 0,
        first_error: None,
    };
    let page = match api.list(client, q.query) {
        Ok((page, _)) => page,
        Err(e) => {
            t.failed += 1;
            t.first_error = Some(format!("{e:#}"));
            return t;
        }
    };
    t.answered = Some(page.total);
    t.rows = (page.hosts.len(), rows_on_page(q.query, page.total));
    // Which hosts are down depends on when each was last heard from: not known in advance,
    // but each row says its status, which must be the one asked for.
    let status = param(q.query, "status");
    t.wrong_rows = page
        .hosts
        .iter()
        .filter(|h| {
            let status_ok = match (status, h["status"].as_str()) {
                (Some(want), Some(got)) => want == got,
                (None, Some(got)) => got == "up" || got == "down",
                (_, None) => false,
            };
            let i = Listed::from_json(h)
                .ok()
                .and_then(|h| fleet_index(&h.hostname, n));
            let matches = match (i, q.matches) {
                (Some(i), Some(f)) => f(i, &fleet::placement(i)),
                (Some(_), None) => true,
                (None, _) => false,
            };
            !(status_ok && matches)
        })
        .count();
    t
}

/// The value of `name` in a query string (`a=1&b=2`).
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Rows a page holds out of `total` matching hosts, from the query's `limit` and `page`
/// (1-based; 1 and 100 when absent).
fn rows_on_page(query: &str, total: u64) -> usize {
    let number = |name: &str| param(query, name).and_then(|v| v.parse::<u64>().ok());
    let limit = number("limit").unwrap_or(100);
    let skipped = (number("page").unwrap_or(1).max(1) - 1) * limit;
    total.saturating_sub(skipped).min(limit) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_what_the_total_leaves_for_it() {
        assert_eq!(rows_on_page("limit=100&page=1&sort=hostname", 10_000), 100);
        assert_eq!(rows_on_page("location=dc-3&page=3&limit=100", 250), 50);
        assert_eq!(rows_on_page("page=4&limit=100", 250), 0);
        assert_eq!(rows_on_page("q=host-0004&limit=100", 10), 10);
        assert_eq!(rows_on_page("group=web", 5_000), 100);
        assert_eq!(param("status=down&limit=100", "status"), Some("down"));
        assert_eq!(param("q=host-0004&limit=100", "limit"), Some("100"));
        assert_eq!(param("location=dc-3", "status"), None);
    }
}
