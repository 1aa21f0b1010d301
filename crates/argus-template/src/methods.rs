//! Methods of the named types in Alertmanager's template data, called as fields are
//! (`.CommonLabels.SortedPairs`, `.Alerts.Firing`, `.StartsAt.Format "15:04"`): Go looks
//! a method up before a field or map key of the same name, and so does the executor.
//!
//! Results are Alertmanager 0.25's (`template/template.go`): `SortedPairs` puts
//! `alertname` first and sorts the rest by name, `Names` and `Values` follow that order,
//! `Remove` drops the given names.

use crate::value::Value;

/// How many arguments the method `name` of `recv` takes, if it has one.
pub(crate) fn arity(recv: &Value, name: &str) -> Option<usize> {
    match (recv, name) {
        (Value::Kv(_), "SortedPairs" | "Names" | "Values") => Some(0),
        (Value::Kv(_), "Remove") => Some(1),
        (Value::Pairs(_), "Names" | "Values") => Some(0),
        (Value::Alerts(_), "Firing" | "Resolved") => Some(0),
        (
            Value::Time(_),
            "String" | "Unix" | "UnixMilli" | "UnixNano" | "UTC" | "Local" | "IsZero",
        ) => Some(0),
        (Value::Time(_), "Format") => Some(1),
        _ => None,
    }
}

/// Alertmanager's `KV.SortedPairs`: `alertname` first, then by name.
fn sorted_pairs(kv: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(kv.len());
    if let Some(v) = kv.get("alertname") {
        pairs.push(("alertname".into(), v.clone()));
    }
    pairs.extend(
        kv.iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    pairs
}

fn strings(v: impl IntoIterator<Item = String>) -> Value {
    Value::List(v.into_iter().map(Value::String).collect())
}

/// `Alerts.Firing` and `Resolved` return a plain `[]Alert`, without those methods.
fn with_status(alerts: &[Value], status: &str) -> Value {
    Value::List(
        alerts
            .iter()
            .filter(|a| match a {
                Value::Struct(s) => s
                    .fields
                    .iter()
                    .any(|(n, v)| n == "Status" && *v == Value::String(status.into())),
                _ => false,
            })
            .cloned()
            .collect(),
    )
}

/// Calls the method; `args` has the length [`arity`] gave. The error is the method's own
/// message (the executor adds where).
pub(crate) fn call(recv: &Value, name: &str, args: &[Value]) -> Result<Value, String> {
    let arg = args.first().cloned().unwrap_or(Value::Nil);
    Ok(match (recv, name) {
        (Value::Kv(kv), "SortedPairs") => Value::Pairs(sorted_pairs(kv)),
        (Value::Kv(kv), "Names") => strings(sorted_pairs(kv).into_iter().map(|p| p.0)),
        (Value::Kv(kv), "Values") => strings(sorted_pairs(kv).into_iter().map(|p| p.1)),
        (Value::Kv(kv), "Remove") => {
            let Value::List(names) = arg else {
                return Err(format!(
                    "wrong type for value; expected []string; got {}",
                    arg.type_name()
                ));
            };
            let mut kv = kv.clone();
            for n in &names {
                match n {
                    Value::String(n) => {
                        kv.remove(n);
                    }
                    other => {
                        return Err(format!(
                            "wrong type for value; expected string; got {}",
                            other.type_name()
                        ));
                    }
                }
            }
            Value::Kv(kv)
        }
        (Value::Pairs(p), "Names") => strings(p.iter().map(|p| p.0.clone())),
        (Value::Pairs(p), "Values") => strings(p.iter().map(|p| p.1.clone())),
        (Value::Alerts(l), "Firing") => with_status(l, "firing"),
        (Value::Alerts(l), "Resolved") => with_status(l, "resolved"),
        (Value::Time(t), "String") => Value::String(t.string()),
        (Value::Time(t), "Unix") => Value::Int(t.secs),
        (Value::Time(t), "UnixMilli") => {
            Value::Int(t.secs.saturating_mul(1000) + i64::from(t.nanos / 1_000_000))
        }
        (Value::Time(t), "UnixNano") => Value::Int(
            t.secs
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::from(t.nanos)),
        ),
        // Argus keeps times in UTC, which is also the server's zone for templates.
        (Value::Time(t), "UTC" | "Local") => Value::Time(*t),
        (Value::Time(t), "IsZero") => Value::Bool(t.is_zero()),
        (Value::Time(t), "Format") => match arg {
            Value::String(layout) => Value::String(t.format(&layout)),
            other => {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                ));
            }
        },
        _ => return Err(format!("{name} is not a method of {}", recv.type_name())),
    })
}
