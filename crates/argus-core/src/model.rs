//! The data model: labels, samples, series and events.
//!
//! A [`Labels`] set is kept sorted by name with unique names, and carries the metric name
//! under the reserved label [`METRIC_NAME`] (`__name__`), as Prometheus does. Keeping the
//! invariant in the type means every consumer (index, hashing, JSON output) can rely on it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The reserved label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// A sorted, de-duplicated set of labels, including `__name__` when the series has a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set from pairs in any order. Later duplicates of a name win, and
    /// labels with an empty value are dropped (an empty value means "no label" in PromQL).
    pub fn from_pairs<N, V, I>(pairs: I) -> Self
    where
        N: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .collect();
        // Stable sort keeps insertion order among equal names; dedup then keeps the last.
        v.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(v.len());
        for l in v {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        out.retain(|l| !l.value.is_empty());
        Labels(out)
    }

    /// Builds a label set for metric `name` with the given labels.
    pub fn with_name<N, V, I>(name: &str, pairs: I) -> Self
    where
        N: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut l = Self::from_pairs(pairs);
        l.set(METRIC_NAME, name);
        l
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets (or, with an empty value, removes) label `name`, keeping the order.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(
                i,
                Label {
                    name: name.to_string(),
                    value: value.to_string(),
                },
            ),
        }
    }

    /// Removes label `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }
}

impl fmt::Display for Labels {
    /// Prometheus text form: `name{a="1",b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.metric_name() {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl Serialize for Labels {
    /// Serializes as a JSON object, the Prometheus API's `metric` shape.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for l in &self.0 {
            m.serialize_entry(&l.name, &l.value)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = std::collections::BTreeMap::<String, String>::deserialize(d)?;
        Ok(Labels::from_pairs(m))
    }
}

/// One data point: milliseconds since the Unix epoch and a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub ts: i64,
    pub value: f64,
}

/// A series with some of its samples, in timestamp order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// A typed JSON document: alarms, matched log lines, script output, heartbeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub host: String,
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// Everything else in the document.
    #[serde(flatten)]
    pub payload: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_deduplicated_and_drop_empty_values() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("b", "3"), ("c", "")]);
        let names: Vec<_> = l
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(names, vec![("a", "1"), ("b", "3")]);
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn set_and_remove_keep_order() {
        let mut l = Labels::with_name("cpu_usage_idle", [("host", "h1")]);
        l.set("cpu", "cpu0");
        assert_eq!(l.to_string(), r#"cpu_usage_idle{cpu="cpu0",host="h1"}"#);
        l.remove("cpu");
        assert_eq!(l.to_string(), r#"cpu_usage_idle{host="h1"}"#);
        assert_eq!(l.metric_name(), Some("cpu_usage_idle"));
    }

    #[test]
    fn labels_serialize_as_object() {
        let l = Labels::with_name("up", [("job", "x")]);
        assert_eq!(
            serde_json::to_string(&l).unwrap_or_default(),
            r#"{"__name__":"up","job":"x"}"#
        );
    }

    #[test]
    fn event_keeps_extra_fields() {
        let e: Event = serde_json::from_str(r#"{"type":"alarm","host":"h","ts":5,"code":"x"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.kind, "alarm");
        assert_eq!(e.payload.get("code"), Some(&serde_json::json!("x")));
    }
}
