//! A storage seen through a set of hosts: reads return only series whose `host` label is in
//! the set. One host becomes a `host="…"` matcher (the store's index does the work); a set
//! of several is filtered after the read.

use argus_core::{Labels, Matcher, Storage, StorageError, StorageStats, TimeSeries};
use std::collections::BTreeSet;
use std::sync::Arc;

pub struct Hosts {
    inner: Arc<dyn Storage>,
    hosts: BTreeSet<String>,
    /// `host="…"` when the set holds exactly one host.
    single: Option<Matcher>,
}

impl Hosts {
    pub fn new(inner: Arc<dyn Storage>, hosts: BTreeSet<String>) -> Self {
        let single = match hosts.len() {
            1 => hosts.first().map(|h| Matcher::equal("host", h)),
            _ => None,
        };
        Hosts {
            inner,
            hosts,
            single,
        }
    }

    fn matchers(&self, matchers: &[Matcher]) -> Vec<Matcher> {
        let mut m = matchers.to_vec();
        m.extend(self.single.iter().cloned());
        m
    }

    fn keep(&self, labels: &Labels) -> bool {
        labels.get("host").is_some_and(|h| self.hosts.contains(h))
    }
}

impl Storage for Hosts {
    fn append(&self, _series: Vec<TimeSeries>) -> Result<(), StorageError> {
        Err(StorageError::Rejected(
            "a host-filtered view is read-only".into(),
        ))
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        let mut out = self
            .inner
            .select(&self.matchers(matchers), start_ms, end_ms)?;
        out.retain(|s| self.keep(&s.labels));
        Ok(out)
    }

    fn select_step(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        let mut out =
            self.inner
                .select_step(&self.matchers(matchers), start_ms, end_ms, step_ms)?;
        out.retain(|s| self.keep(&s.labels));
        Ok(out)
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        let mut out = self
            .inner
            .series(&self.matchers(matchers), start_ms, end_ms)?;
        out.retain(|l| self.keep(l));
        Ok(out)
    }

    fn stats(&self) -> StorageStats {
        self.inner.stats()
    }
}
