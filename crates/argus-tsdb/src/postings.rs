//! Postings: for every `label=value`, the sorted ids of the series that carry it, and the
//! matcher evaluation over them with Prometheus semantics.
//!
//! Ids are dense `u32`s (head series refs, or positions in a block's series list). Matchers
//! that do not accept the empty string select the union of the postings of the values they
//! accept, intersected; matchers that do accept it (`a!="x"`, `a=~".*"`) cannot list what
//! they select, because series without the label match too, so they subtract the postings
//! of the values they reject from the result instead.

use argus_core::{Labels, MatchOp, Matcher};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Postings {
    by_name: HashMap<String, HashMap<String, Vec<u32>>>,
    /// Every id, sorted.
    all: Vec<u32>,
}

impl Postings {
    /// Adds series `id`, which must be larger than every id added before.
    pub fn add(&mut self, id: u32, labels: &Labels) {
        for l in labels.iter() {
            let values = match self.by_name.get_mut(l.name.as_str()) {
                Some(v) => v,
                None => self.by_name.entry(l.name.clone()).or_default(),
            };
            match values.get_mut(l.value.as_str()) {
                Some(ids) => ids.push(id),
                None => {
                    values.insert(l.value.clone(), vec![id]);
                }
            }
        }
        self.all.push(id);
    }

    /// Removes the ids in `gone` (sorted).
    pub fn remove(&mut self, gone: &[u32]) {
        if gone.is_empty() {
            return;
        }
        let keep = |ids: &mut Vec<u32>| ids.retain(|i| gone.binary_search(i).is_err());
        for values in self.by_name.values_mut() {
            for ids in values.values_mut() {
                keep(ids);
            }
            values.retain(|_, ids| !ids.is_empty());
        }
        self.by_name.retain(|_, v| !v.is_empty());
        keep(&mut self.all);
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Label names, unsorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Values of label `name`, unsorted.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|v| v.keys().map(String::as_str))
    }

    /// The union of the postings of `name`'s values that `accept` accepts.
    fn union_where(&self, name: &str, accept: impl Fn(&str) -> bool) -> Vec<u32> {
        let Some(values) = self.by_name.get(name) else {
            return Vec::new();
        };
        let lists: Vec<&Vec<u32>> = values
            .iter()
            .filter(|(v, _)| accept(v))
            .map(|(_, ids)| ids)
            .collect();
        union(&lists)
    }

    /// The sorted ids of the series matching every matcher.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<u32> {
        let mut result: Option<Vec<u32>> = None;
        // Positive matchers first, cheapest (exact equality) first.
        let mut positive: Vec<&Matcher> = matchers.iter().filter(|m| !m.matches_empty()).collect();
        positive.sort_by_key(|m| m.op != MatchOp::Equal);
        for m in positive {
            let ids = if m.op == MatchOp::Equal {
                self.by_name
                    .get(&m.name)
                    .and_then(|v| v.get(&m.value))
                    .cloned()
                    .unwrap_or_default()
            } else {
                self.union_where(&m.name, |v| m.matches_value(v))
            };
            result = Some(match result {
                None => ids,
                Some(r) => intersect(&r, &ids),
            });
            if result.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        let mut result = result.unwrap_or_else(|| self.all.clone());
        for m in matchers.iter().filter(|m| m.matches_empty()) {
            let rejected = self.union_where(&m.name, |v| !m.matches_value(v));
            result = difference(&result, &rejected);
        }
        result
    }
}

pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

pub fn difference(a: &[u32], b: &[u32]) -> Vec<u32> {
    if b.is_empty() {
        return a.to_vec();
    }
    let mut j = 0;
    let mut out = Vec::with_capacity(a.len());
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

fn union(lists: &[&Vec<u32>]) -> Vec<u32> {
    match lists {
        [] => Vec::new(),
        [one] => (*one).clone(),
        _ => {
            let mut out: Vec<u32> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::matcher::matches_all;
    use proptest::prelude::*;

    fn m(name: &str, op: MatchOp, v: &str) -> Matcher {
        Matcher::new(name, op, v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn label_set() -> impl Strategy<Value = Labels> {
        proptest::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "c"]),
                prop::sample::select(vec!["x", "y", "z", "xy"]),
            ),
            0..4,
        )
        .prop_map(Labels::from_pairs)
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        (
            prop::sample::select(vec!["a", "b", "c", "d"]),
            prop::sample::select(vec![
                MatchOp::Equal,
                MatchOp::NotEqual,
                MatchOp::RegexMatch,
                MatchOp::RegexNoMatch,
            ]),
            prop::sample::select(vec!["", "x", "y", "x.*", ".*", ".+", "x|z"]),
        )
            .prop_map(|(n, op, v)| m(n, op, v))
    }

    proptest! {
        /// The index selects exactly what a scan with the matchers selects.
        #[test]
        fn select_equals_a_scan(sets in proptest::collection::vec(label_set(), 0..30),
                                ms in proptest::collection::vec(matcher(), 0..4)) {
            let mut p = Postings::default();
            for (i, l) in sets.iter().enumerate() {
                p.add(i as u32, l);
            }
            let want: Vec<u32> = sets
                .iter()
                .enumerate()
                .filter(|(_, l)| matches_all(&ms, l))
                .map(|(i, _)| i as u32)
                .collect();
            prop_assert_eq!(p.select(&ms), want);
        }
    }

    #[test]
    fn remove_drops_ids_everywhere() {
        let mut p = Postings::default();
        p.add(0, &Labels::from_pairs([("a", "x")]));
        p.add(1, &Labels::from_pairs([("a", "x")]));
        p.add(2, &Labels::from_pairs([("a", "y")]));
        p.remove(&[1, 2]);
        assert_eq!(p.select(&[m("a", MatchOp::RegexMatch, ".*")]), vec![0]);
        assert_eq!(p.values("a").collect::<Vec<_>>(), vec!["x"]);
        assert_eq!(p.len(), 1);
    }
}
