//! A storage seen through one namespace: every read gets `ns="<namespace>"` added to its
//! matchers, so a token of namespace A can never read a series of namespace B, whatever
//! the query asks for. The query paths wrap the store in this for namespace tokens.

use argus_core::{Labels, MatchOp, Matcher, Storage, StorageError, StorageStats, TimeSeries};
use std::sync::Arc;

pub struct Scoped {
    inner: Arc<dyn Storage>,
    ns: Matcher,
}

impl Scoped {
    pub fn new(inner: Arc<dyn Storage>, ns: &str) -> Result<Scoped, StorageError> {
        let ns = Matcher::new("ns", MatchOp::Equal, ns)
            .map_err(|e| StorageError::Rejected(e.to_string()))?;
        Ok(Scoped { inner, ns })
    }

    fn scoped(&self, matchers: &[Matcher]) -> Vec<Matcher> {
        let mut m = matchers.to_vec();
        m.push(self.ns.clone());
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

impl Storage for Scoped {
    fn append(&self, series: Vec<TimeSeries>) -> Result<(), StorageError> {
        let ns = self.ns.value.as_str();
        if series.iter().any(|s| s.labels.get("ns") != Some(ns)) {
            return Err(StorageError::Rejected(format!(
                "a series outside namespace {ns:?}"
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
    use crate::store::MemStore;
    use argus_core::Sample;

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
}
