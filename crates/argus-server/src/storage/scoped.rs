//! A storage seen through one matcher: every read gets it added to its matchers, so the
//! store's index does the restricting. The query paths wrap the store in `ns="<namespace>"`
//! for namespace tokens (a token of namespace A can never read a series of namespace B,
//! whatever the query asks for); the analysis API in `host=~"a|b"` for a set of hosts.

use argus_core::{Labels, MatchOp, Matcher, Storage, StorageError, StorageStats, TimeSeries};
use std::sync::Arc;

pub struct Scoped {
    inner: Arc<dyn Storage>,
    only: Matcher,
}

impl Scoped {
    /// The namespace `ns` of `inner`.
    pub fn new(inner: Arc<dyn Storage>, ns: &str) -> Result<Scoped, StorageError> {
        let ns = Matcher::new("ns", MatchOp::Equal, ns)
            .map_err(|e| StorageError::Rejected(e.to_string()))?;
        Ok(Scoped { inner, only: ns })
    }

    /// The series of `inner` whose `host` label is one of `hosts` (none: nothing).
    pub fn hosts<'a>(
        inner: Arc<dyn Storage>,
        hosts: impl IntoIterator<Item = &'a String>,
    ) -> Result<Scoped, StorageError> {
        let alternation: Vec<String> = hosts.into_iter().map(|h| regex::escape(h)).collect();
        // An empty alternation would match the empty value, i.e. series without a host:
        // `\b\B` (a word boundary that is not one) matches nothing.
        let re = if alternation.is_empty() {
            r"\b\B".to_string()
        } else {
            alternation.join("|")
        };
        let only = Matcher::new("host", MatchOp::RegexMatch, &re)
            .map_err(|e| StorageError::Rejected(e.to_string()))?;
        Ok(Scoped { inner, only })
    }

    fn scoped(&self, matchers: &[Matcher]) -> Vec<Matcher> {
        let mut m = matchers.to_vec();
        m.push(self.only.clone());
        m
    }
}

/// `store` as a token with `ns` (None: every namespace) sees it.
pub fn for_namespace(
    store: &Arc<dyn Storage>,
    ns: Option<&str>,
) -> Result<Arc<dyn Storage>, StorageError> {
    match ns {
        None => Ok(store.clone()),
        Some(ns) => Ok(Arc::new(Scoped::new(store.clone(), ns)?)),
    }
}

/// `store` as a credential limited to `namespaces` (None: every namespace) sees it: one
/// namespace as `ns="a"`, several as `ns=~"a|b"`.
pub fn for_namespaces(
    store: &Arc<dyn Storage>,
    namespaces: Option<&[Arc<str>]>,
) -> Result<Arc<dyn Storage>, StorageError> {
    match namespaces {
        None => Ok(store.clone()),
        Some([one]) => for_namespace(store, Some(one)),
        Some(many) => {
            let re = many
                .iter()
                .map(|n| regex::escape(n))
                .collect::<Vec<_>>()
                .join("|");
            // No namespace at all matches nothing (see `hosts`).
            let re = if re.is_empty() {
                r"\b\B".to_string()
            } else {
                re
            };
            let only = Matcher::new("ns", MatchOp::RegexMatch, &re)
                .map_err(|e| StorageError::Rejected(e.to_string()))?;
            Ok(Arc::new(Scoped {
                inner: store.clone(),
                only,
            }))
        }
    }
}

impl Storage for Scoped {
    fn append(&self, series: Vec<TimeSeries>) -> Result<(), StorageError> {
        if series.iter().any(|s| !self.only.matches(&s.labels)) {
            return Err(StorageError::Rejected(format!(
                "a series outside {}{}{:?}",
                self.only.name,
                self.only.op.as_str(),
                self.only.value
            )));
        }
        self.inner.append(series)
    }

    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        self.inner.select(&self.scoped(matchers), start_ms, end_ms)
    }

    fn select_step(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        self.inner
            .select_step(&self.scoped(matchers), start_ms, end_ms, step_ms)
    }

    fn select_limited(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        limits: argus_core::ReadLimits,
    ) -> Result<Vec<TimeSeries>, StorageError> {
        self.inner
            .select_limited(&self.scoped(matchers), start_ms, end_ms, limits)
    }

    fn select_map(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        limits: argus_core::ReadLimits,
        f: &argus_core::SeriesMap<'_>,
    ) -> Result<Vec<(Labels, argus_core::Points)>, StorageError> {
        let m = self.scoped(matchers);
        self.inner
            .select_map(&m, start_ms, end_ms, step_ms, limits, f)
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        self.inner.series(&self.scoped(matchers), start_ms, end_ms)
    }

    fn stats(&self) -> StorageStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::Sample;
    use argus_core::storage::mem::MemStore;

    #[test]
    fn reads_see_only_their_namespace() {
        let store: Arc<dyn Storage> = Arc::new(MemStore::default());
        let s = |ns: &str| TimeSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("ns", ns)]),
            samples: vec![Sample { ts: 1, value: 1.0 }],
        };
        store
            .append(vec![s("a"), s("b")])
            .unwrap_or_else(|e| panic!("{e}"));
        let a = for_namespace(&store, Some("a")).unwrap_or_else(|e| panic!("{e}"));
        let any = Matcher::new("__name__", MatchOp::Equal, "up").unwrap_or_else(|e| panic!("{e}"));
        let got = a
            .select(std::slice::from_ref(&any), 0, 10)
            .unwrap_or_default();
        assert_eq!(got, vec![s("a")]);
        // Asking for b explicitly still finds nothing.
        let b = Matcher::new("ns", MatchOp::Equal, "b").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            a.select(&[any.clone(), b], 0, 10)
                .unwrap_or_default()
                .is_empty()
        );
        assert!(a.append(vec![s("b")]).is_err());
        let all = for_namespace(&store, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.select(&[any], 0, 10).unwrap_or_default().len(), 2);
    }

    #[test]
    fn a_host_view_sees_its_hosts_taken_literally() {
        let store: Arc<dyn Storage> = Arc::new(MemStore::default());
        let s = |host: &str| TimeSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("host", host)]),
            samples: vec![Sample { ts: 1, value: 1.0 }],
        };
        let hosts = ["a.b", "aXb", "c", "c2"];
        store
            .append(hosts.iter().map(|h| s(h)).collect())
            .unwrap_or_else(|e| panic!("{e}"));
        let any = Matcher::equal("__name__", "up");
        let read = |set: &[&str]| -> Vec<String> {
            let set: Vec<String> = set.iter().map(|h| h.to_string()).collect();
            let view = Scoped::hosts(store.clone(), &set).unwrap_or_else(|e| panic!("{e}"));
            let mut got: Vec<String> = view
                .series(std::slice::from_ref(&any), 0, 10)
                .unwrap_or_default()
                .iter()
                .filter_map(|l| l.get("host").map(str::to_string))
                .collect();
            got.sort();
            got
        };
        // A dot is a dot, and a name is whole: "c" is not "c2".
        assert_eq!(read(&["a.b", "c"]), vec!["a.b", "c"]);
        assert_eq!(read(&["aXb"]), vec!["aXb"]);
        assert!(read(&[]).is_empty());
    }
}
