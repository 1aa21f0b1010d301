//! The bodies of Prometheus's `GET /api/v1/rules` and `GET /api/v1/alerts`, from the
//! manager's state, as Prometheus 2.42's `web/api/v1` writes them.
//!
//! The JSON is written by hand rather than through serde because Go's encoder differs from
//! serde_json where clients notice: floats (`60`, not `60.0`; `1e-7`), escapes (`<`, `>`
//! and `&` as `\u003c`…), times (RFC 3339 with nanoseconds, `0001-01-01T00:00:00Z` for
//! never) and field order (the order of Go's struct fields).
//!
//! Order: groups by file then name, rules in file order. Prometheus lists alerts in Go
//! map order (random); here they are sorted by labels, group by group.

use crate::group::Group;
use crate::manager::Manager;
use crate::rule::{Alert, Rule};
use argus_core::Labels;
use argus_template::gofmt::{fmt_e, json_float, rfc3339_nano};
use std::collections::BTreeMap;

/// A bad request parameter, as Prometheus reports it (`bad_data`, HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter {param:?}: {message}")]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
}

/// A JSON string as Go's `encoding/json` escapes it.
use argus_core::gojson::write_string as jstr;

fn jlabels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, l) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        jstr(out, &l.name);
        out.push(':');
        jstr(out, &l.value);
    }
    out.push('}');
}

fn jmap(out: &mut String, m: &BTreeMap<String, String>) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        jstr(out, k);
        out.push(':');
        jstr(out, v);
    }
    out.push('}');
}

/// Starts a field: `"name":` after a comma unless it is the first.
fn key(out: &mut String, name: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    jstr(out, name);
    out.push(':');
}

fn jalert(out: &mut String, a: &Alert) {
    out.push('{');
    key(out, "labels");
    jlabels(out, &a.labels);
    key(out, "annotations");
    jmap(out, &a.annotations);
    key(out, "state");
    jstr(out, a.state.as_str());
    key(out, "activeAt");
    jstr(out, &rfc3339_nano(Some(a.active_at_ns)));
    if let Some(k) = a.keep_firing_since_ns {
        key(out, "keepFiringSince");
        jstr(out, &rfc3339_nano(Some(k)));
    }
    key(out, "value");
    jstr(out, &fmt_e(a.value, None));
    out.push('}');
}

/// The `/api/v1/alerts` body: every pending and firing alert.
pub fn alerts_json(m: &Manager) -> String {
    alerts_json_of(m.groups())
}

/// [`alerts_json`] over any groups.
pub fn alerts_json_of<'a>(groups: impl Iterator<Item = &'a Group>) -> String {
    let mut out = String::from(r#"{"status":"success","data":{"alerts":["#);
    let mut first = true;
    for g in groups {
        for (_, a) in g.alerts() {
            if !first {
                out.push(',');
            }
            first = false;
            jalert(&mut out, a);
        }
    }
    out.push_str("]}}");
    out
}

/// The `/api/v1/rules` body; `typ` is the `type` parameter (`alert`, `record`, any case,
/// or empty for both).
pub fn rules_json(m: &Manager, typ: Option<&str>) -> Result<String, ParamError> {
    rules_json_of(m.groups(), typ)
}

/// [`rules_json`] over any groups.
pub fn rules_json_of<'a>(
    groups: impl Iterator<Item = &'a Group>,
    typ: Option<&str>,
) -> Result<String, ParamError> {
    let typ = typ.unwrap_or("").to_lowercase();
    if !typ.is_empty() && typ != "alert" && typ != "record" {
        return Err(ParamError {
            param: "type",
            message: format!("not supported value {:?}", typ),
        });
    }
    let want_alert = typ.is_empty() || typ == "alert";
    let want_record = typ.is_empty() || typ == "record";
    let mut out = String::from(r#"{"status":"success","data":{"groups":["#);
    for (gi, g) in groups.enumerate() {
        if gi > 0 {
            out.push(',');
        }
        out.push('{');
        key(&mut out, "name");
        jstr(&mut out, g.name());
        key(&mut out, "file");
        jstr(&mut out, g.file());
        key(&mut out, "rules");
        out.push('[');
        let mut first = true;
        for r in &g.rules {
            let st = r.status();
            match r {
                Rule::Alerting(a) if want_alert => {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push('{');
                    key(&mut out, "state");
                    jstr(&mut out, a.state().as_str());
                    key(&mut out, "name");
                    jstr(&mut out, &a.name);
                    key(&mut out, "query");
                    jstr(&mut out, &a.query);
                    key(&mut out, "duration");
                    out.push_str(&json_float(a.hold_ns as f64 / 1e9));
                    key(&mut out, "keepFiringFor");
                    out.push_str(&json_float(a.keep_firing_for_ns as f64 / 1e9));
                    key(&mut out, "labels");
                    jmap(&mut out, &a.labels);
                    key(&mut out, "annotations");
                    jmap(&mut out, &a.annotations);
                    key(&mut out, "alerts");
                    out.push('[');
                    for (i, al) in a.active_alerts().into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        jalert(&mut out, al);
                    }
                    out.push(']');
                }
                Rule::Recording(rr) if want_record => {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push('{');
                    key(&mut out, "name");
                    jstr(&mut out, &rr.name);
                    key(&mut out, "query");
                    jstr(&mut out, &rr.query);
                    if !rr.labels.is_empty() {
                        key(&mut out, "labels");
                        jmap(&mut out, &rr.labels);
                    }
                }
                _ => continue,
            }
            key(&mut out, "health");
            jstr(&mut out, st.health.as_str());
            if let Some(e) = &st.last_error {
                key(&mut out, "lastError");
                jstr(&mut out, e);
            }
            key(&mut out, "evaluationTime");
            out.push_str(&json_float(st.evaluation_duration.as_secs_f64()));
            key(&mut out, "lastEvaluation");
            jstr(&mut out, &rfc3339_nano(st.last_evaluation_ns));
            key(&mut out, "type");
            jstr(
                &mut out,
                if matches!(r, Rule::Alerting(_)) {
                    "alerting"
                } else {
                    "recording"
                },
            );
            out.push('}');
        }
        out.push(']');
        key(&mut out, "interval");
        out.push_str(&json_float(g.interval_ns as f64 / 1e9));
        key(&mut out, "limit");
        out.push_str(&g.spec.limit.to_string());
        key(&mut out, "evaluationTime");
        out.push_str(&json_float(g.evaluation_time.as_secs_f64()));
        key(&mut out, "lastEvaluation");
        jstr(&mut out, &rfc3339_nano(g.last_evaluation_ns));
        out.push('}');
    }
    out.push_str("]}}");
    Ok(out)
}
