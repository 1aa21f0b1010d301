//! Reading YAML scalars the way Alertmanager's YAML library (go-yaml v2) does.
//!
//! go-yaml stores any scalar into a Go string field as its text, so `match: {code: 500}`
//! or `agent_id: 1000002` are strings there. The helpers here accept numbers and booleans
//! where a string is expected, and run a parser *inside* the visitor: serde_norway then
//! attaches the scalar's own line and column to a parse error, which a check after
//! deserialization could not do.

use std::{collections::BTreeMap, fmt, marker::PhantomData};

use serde::{
    Deserializer,
    de::{self, MapAccess, SeqAccess, Visitor},
};

/// Parses one scalar's text into `T`, with errors carrying the scalar's position.
pub(crate) fn parse_scalar<'de, D, T, F>(
    d: D,
    expecting: &'static str,
    parse: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    struct V<F, T>(&'static str, F, PhantomData<T>);
    impl<'de, F, T> Visitor<'de> for V<F, T>
    where
        F: FnOnce(&str) -> Result<T, String>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
            self.visit_str(if v { "true" } else { "false" })
        }
    }
    d.deserialize_any(V(expecting, parse, PhantomData))
}

/// A string field that also takes YAML numbers and booleans as their text.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    parse_scalar(d, "a string", |s| Ok(s.to_owned()))
}

/// A list of strings, each also taking numbers and booleans; `null` is an empty list.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    list_of(d, "a list of strings", |s| Ok(s.to_owned()))
}

/// A list whose every element is a scalar parsed by `parse`; `null` is an empty list.
pub(crate) fn list_of<'de, D, T, F>(
    d: D,
    expecting: &'static str,
    parse: F,
) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    F: Fn(&str) -> Result<T, String> + Copy,
{
    opt_list_of(d, expecting, parse).map(Option::unwrap_or_default)
}

/// Like [`list_of`], keeping `None` for a missing or `null` list apart from `[]`
/// (Alertmanager's time intervals treat an empty list differently from none).
pub(crate) fn opt_list_of<'de, D, T, F>(
    d: D,
    expecting: &'static str,
    parse: F,
) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    F: Fn(&str) -> Result<T, String> + Copy,
{
    struct Elem<F, T>(F, PhantomData<T>);
    impl<'de, F, T> de::DeserializeSeed<'de> for Elem<F, T>
    where
        F: Fn(&str) -> Result<T, String>,
    {
        type Value = T;
        fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<T, D2::Error> {
            parse_scalar(d, "a scalar", |s| (self.0)(s))
        }
    }
    struct V<F, T>(&'static str, F, PhantomData<T>);
    impl<'de, F, T> Visitor<'de> for V<F, T>
    where
        F: Fn(&str) -> Result<T, String> + Copy,
    {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element_seed(Elem(self.1, PhantomData))? {
                out.push(v);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_any(V(expecting, parse, PhantomData))
}

/// A map of strings to scalars parsed by `parse` (`match`, `match_re`); keys must be
/// label names when `label_keys` is set. `null` is an empty map.
pub(crate) fn map_of<'de, D, T, F>(
    d: D,
    label_keys: bool,
    parse: F,
) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    F: Fn(&str) -> Result<T, String> + Copy,
{
    struct Key(bool);
    impl<'de> de::DeserializeSeed<'de> for Key {
        type Value = String;
        fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<String, D2::Error> {
            let check = self.0;
            parse_scalar(d, "a label name", move |s| {
                if check && !crate::labels::is_valid_label_name(s) {
                    Err(format!("invalid label name {s:?}"))
                } else {
                    Ok(s.to_owned())
                }
            })
        }
    }
    struct Val<F, T>(F, PhantomData<T>);
    impl<'de, F, T> de::DeserializeSeed<'de> for Val<F, T>
    where
        F: Fn(&str) -> Result<T, String>,
    {
        type Value = T;
        fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<T, D2::Error> {
            parse_scalar(d, "a scalar", |s| (self.0)(s))
        }
    }
    struct V<F, T>(bool, F, PhantomData<T>);
    impl<'de, F, T> Visitor<'de> for V<F, T>
    where
        F: Fn(&str) -> Result<T, String> + Copy,
    {
        type Value = BTreeMap<String, T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of label names to values")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key_seed(Key(self.0))? {
                let v = map.next_value_seed(Val(self.1, PhantomData))?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(label_keys, parse, PhantomData))
}
