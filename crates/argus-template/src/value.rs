//! The data a template reads: a JSON-like tree with the few Go types templates tell apart.
//!
//! Go templates see typed Go values, and their output depends on the type: a missing key
//! of a `map[string]string` prints as an empty string, of a `map[string]interface{}` as
//! `<no value>`, and a missing struct field is an error. `gt $value 80` fails because a
//! float64 is compared with an int. [`Value`] keeps exactly those distinctions, and the
//! few named Go types of Alertmanager's template data whose **methods** templates call
//! (`.CommonLabels.SortedPairs`, `.Alerts.Firing`, `.StartsAt.Format`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::time::GoTime;

/// A value in a template's data or computed by it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's untyped nil (a missing interface value): prints `<no value>`.
    Nil,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `float64`.
    Float(f64),
    String(String),
    /// Go `[]interface{}`.
    List(Vec<Value>),
    /// Go `map[string]interface{}`: a missing key reads as nil.
    Map(BTreeMap<String, Value>),
    /// Go `map[string]string` (label sets): a missing key reads as `""`.
    StrMap(BTreeMap<String, String>),
    /// A Go struct: a missing field is an error naming `name`.
    Struct(Arc<Struct>),
    /// Alertmanager's `template.KV` (labels, annotations): a `map[string]string` with the
    /// methods `SortedPairs`, `Names`, `Values` and `Remove`.
    Kv(BTreeMap<String, String>),
    /// Alertmanager's `template.Pairs` (`KV.SortedPairs`): name and value pairs with the
    /// methods `Names` and `Values`; each element is a `Pair` struct (`.Name`, `.Value`).
    Pairs(Vec<(String, String)>),
    /// Alertmanager's `template.Alerts`: a list of alerts with the methods `Firing` and
    /// `Resolved`.
    Alerts(Vec<Value>),
    /// Go's `time.Time`, in UTC.
    Time(GoTime),
    /// `html/template.HTML` (what `safeHtml` returns): text an HTML template does not
    /// escape.
    Html(String),
}

/// A struct's type name (as Go error messages print it) and its fields in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub name: String,
    pub fields: Vec<(String, Value)>,
}

impl Value {
    /// A struct value.
    pub fn structure(name: &str, fields: Vec<(&str, Value)>) -> Value {
        Value::Struct(Arc::new(Struct {
            name: name.to_string(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }))
    }

    /// A string map from pairs.
    pub fn str_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::StrMap(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// A JSON document as template data: objects become maps (missing keys nil), integral
    /// numbers that fit `i64` ints, other numbers floats.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The Go type name, as error messages print it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::StrMap(_) => "map[string]string".into(),
            Value::Struct(s) => s.name.clone(),
            Value::Kv(_) => "template.KV".into(),
            Value::Pairs(_) => "template.Pairs".into(),
            Value::Alerts(_) => "template.Alerts".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Html(_) => "template.HTML".into(),
        }
    }

    /// Go's truth of a value in `if`, `with`, `and`, `or` and `not`: false, 0, "", empty
    /// containers and nil are false; structs are true.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::StrMap(m) | Value::Kv(m) => !m.is_empty(),
            Value::Struct(_) | Value::Time(_) => true,
            Value::Pairs(p) => !p.is_empty(),
            Value::Alerts(l) => !l.is_empty(),
            Value::Html(s) => !s.is_empty(),
        }
    }

    /// Go's `%v` (`fmt.Sprint`) of the value; nil is `<nil>`.
    pub fn go_string(&self) -> String {
        let mut s = String::new();
        self.write_go(&mut s);
        s
    }

    fn write_go(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&crate::gofmt::fmt_v(*f)),
            Value::String(s) => out.push_str(s),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go(out);
                }
                out.push(']');
            }
            Value::StrMap(m) | Value::Kv(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    out.push_str(v);
                }
                out.push(']');
            }
            Value::Struct(s) => {
                out.push('{');
                for (i, (_, v)) in s.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out);
                }
                out.push('}');
            }
            Value::Alerts(l) => Value::List(l.clone()).write_go(out),
            Value::Pairs(p) => {
                out.push('[');
                for (i, (k, v)) in p.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push('{');
                    out.push_str(k);
                    out.push(' ');
                    out.push_str(v);
                    out.push('}');
                }
                out.push(']');
            }
            Value::Time(t) => out.push_str(&t.string()),
            Value::Html(s) => out.push_str(s),
        }
    }
}

/// A `Pair` of `template.Pairs`, as `range` and `index` give it.
pub(crate) fn pair(name: &str, value: &str) -> Value {
    Value::structure(
        "template.Pair",
        vec![("Name", name.into()), ("Value", value.into())],
    )
}

impl Value {
    /// The elements a `range`, `index` or `len` sees in a list-like value: a list, the
    /// alerts of `template.Alerts`, the `Pair`s of `template.Pairs`.
    pub(crate) fn as_list(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) | Value::Alerts(l) => Some(l.clone()),
            Value::Pairs(p) => Some(p.iter().map(|(k, v)| pair(k, v)).collect()),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
