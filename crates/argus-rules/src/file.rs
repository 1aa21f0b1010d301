//! Prometheus rule files, read unchanged: `groups` of alerting and recording rules.
//!
//! A **rule file** is YAML with `groups:`, each group a `name`, an optional `interval` and
//! `limit`, and `rules`; a rule is `alert:` or `record:` with `expr`, and for alerts
//! `for`, `keep_firing_for`, `labels` and `annotations`. Reading one is two steps, as in
//! Prometheus (`model/rulefmt`): a strict decode (bad YAML, unknown fields, wrong types and
//! bad durations stop it, with the line and column the YAML reader reports), then a
//! validation that reports *every* problem it finds (duplicate group names, a rule with
//! both or neither of `alert` and `record`, PromQL that does not parse, templates that do
//! not compile, bad label names).
//!
//! Validation errors name their line and column too. The YAML reader keeps no positions
//! once it has decoded a value, so [`locate`] asks it again: it re-reads the file with a
//! probe that fails on purpose at the field in question, and takes the position from that
//! error. Errors are rare, so the second read costs nothing that matters.

use argus_template::Template;
use argus_template::duration::PromDuration;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// Whether a rule alerts or records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Alerting,
    Recording,
}

/// One rule as written in a file (or made through an API), not yet compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub kind: RuleKind,
    /// The `alert:` or `record:` name.
    pub name: String,
    pub expr: String,
    /// `for`: how long an alert stays pending before it fires.
    pub hold: PromDuration,
    pub keep_firing_for: PromDuration,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// One group as written in a file, with the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// The path as globbed (relative patterns joined to the base directory), which is
    /// also part of the group's identity and of its evaluation offset.
    pub file: String,
    pub name: String,
    /// The group's `interval`; `None` means the global evaluation interval.
    pub interval: Option<PromDuration>,
    /// The most alerts (pending and firing) or series one rule may produce; 0 for none.
    pub limit: usize,
    pub rules: Vec<RuleSpec>,
}

/// A problem in a rule file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleFileError {
    pub file: String,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The path to the field at fault, `groups[0].rules[2].expr`; empty for the file.
    pub field: String,
    pub reason: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Option<Vec<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: Option<String>,
    #[serde(default, rename = "for")]
    hold: Option<PromDuration>,
    #[serde(default)]
    keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// A step of a path into the YAML document.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The text Prometheus prepends to every alert template so `$labels`, `$value`,
/// `$externalLabels` and `$externalURL` exist; error columns count it, as in Prometheus.
pub(crate) const TEMPLATE_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Compiles one of an alerting rule's label or annotation templates as Prometheus does.
pub(crate) fn compile_template(alert: &str, text: &str) -> Result<Template, String> {
    Template::parse_named(
        &format!("__alert_{alert}"),
        &format!("{TEMPLATE_DEFS}{text}"),
    )
    .map_err(|e| e.to_string())
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f == '_' || f.is_ascii_alphabetic())
        && c.all(|x| x == '_' || x.is_ascii_alphanumeric())
}

fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f == '_' || f == ':' || f.is_ascii_alphabetic())
        && c.all(|x| x == '_' || x == ':' || x.is_ascii_alphanumeric())
}

/// Every problem in `groups`, each with the path to the field at fault and Prometheus's
/// wording (`group "g", rule 2, "HighLoad": could not parse expression: …`). Also checks
/// groups made without a file.
pub fn validate(groups: &[GroupSpec]) -> Vec<(Vec<Seg>, String)> {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (gi, g) in groups.iter().enumerate() {
        let gpath = vec![Seg::Key("groups".into()), Seg::Index(gi)];
        if g.name.is_empty() {
            errs.push((gpath.clone(), "Groupname must not be empty".to_string()));
        }
        if !names.insert(g.name.as_str()) {
            let mut p = gpath.clone();
            p.push(Seg::Key("name".into()));
            errs.push((
                p,
                format!("groupname: \"{}\" is repeated in the same file", g.name),
            ));
        }
        for (ri, r) in g.rules.iter().enumerate() {
            let rpath = |field: &str| {
                let mut p = gpath.clone();
                p.push(Seg::Key("rules".into()));
                p.push(Seg::Index(ri));
                if !field.is_empty() {
                    p.push(Seg::Key(field.into()));
                }
                p
            };
            let what = format!("group {:?}, rule {}, {:?}", g.name, ri + 1, r.name);
            let mut err =
                |field: &str, msg: String| errs.push((rpath(field), format!("{what}: {msg}")));
            if r.name.is_empty() {
                err("", "one of 'record' or 'alert' must be set".into());
            }
            if r.expr.is_empty() {
                err("expr", "field 'expr' must be set in rule".into());
            } else if let Err(e) = argus_promql::Engine::check_syntax(&r.expr) {
                err("expr", format!("could not parse expression: {e}"));
            }
            match r.kind {
                RuleKind::Recording => {
                    if !r.annotations.is_empty() {
                        err(
                            "record",
                            "invalid field 'annotations' in recording rule".into(),
                        );
                    }
                    if r.hold.ms() != 0 {
                        err("record", "invalid field 'for' in recording rule".into());
                    }
                    if r.keep_firing_for.ms() != 0 {
                        err(
                            "record",
                            "invalid field 'keep_firing_for' in recording rule".into(),
                        );
                    }
                    if !r.name.is_empty() && !valid_metric_name(&r.name) {
                        err("record", format!("invalid recording rule name: {}", r.name));
                    }
                }
                RuleKind::Alerting => {
                    for (k, v) in &r.labels {
                        if let Err(e) = compile_template(&r.name, v) {
                            err("labels", format!("label {k:?}: {e}"));
                        }
                    }
                    for (k, v) in &r.annotations {
                        if !valid_label_name(k) {
                            err("annotations", format!("invalid annotation name: {k}"));
                        }
                        if let Err(e) = compile_template(&r.name, v) {
                            err("annotations", format!("annotation {k:?}: {e}"));
                        }
                    }
                }
            }
            for k in r.labels.keys() {
                if !valid_label_name(k) || k == "__name__" {
                    err("labels", format!("invalid label name: {k}"));
                }
            }
        }
    }
    errs
}

/// Reads the rule file `file` whose content is `text`: its groups, or every problem found.
pub fn parse_rule_file(file: &str, text: &str) -> Result<Vec<GroupSpec>, Vec<RuleFileError>> {
    let yaml_err = |e: serde_norway::Error| {
        let loc = e.location();
        let mut msg = e.to_string();
        // The reader appends the position and prefixes the path; we keep both apart.
        if let Some(i) = msg.rfind(" at line ") {
            msg.truncate(i);
        }
        let (field, reason) = match msg.split_once(": ") {
            Some((p, r)) if !p.contains(' ') => (p.to_string(), r.to_string()),
            _ => (String::new(), msg),
        };
        RuleFileError {
            file: file.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            field,
            reason,
        }
    };
    // An empty file (or one with only comments) has no groups, as in Prometheus.
    let raw: RawFile = if text
        .trim()
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        RawFile { groups: None }
    } else {
        serde_norway::from_str(text).map_err(|e| vec![yaml_err(e)])?
    };
    let mut groups = Vec::new();
    let mut errs = Vec::new();
    for (gi, g) in raw.groups.unwrap_or_default().into_iter().enumerate() {
        let mut rules = Vec::new();
        for (ri, r) in g.rules.unwrap_or_default().into_iter().enumerate() {
            let record = r.record.unwrap_or_default();
            let alert = r.alert.unwrap_or_default();
            if !record.is_empty() && !alert.is_empty() {
                let path = vec![
                    Seg::Key("groups".into()),
                    Seg::Index(gi),
                    Seg::Key("rules".into()),
                    Seg::Index(ri),
                    Seg::Key("alert".into()),
                ];
                errs.push((
                    path,
                    format!(
                        "group {:?}, rule {}, {:?}: only one of 'record' and 'alert' must be set",
                        g.name.clone().unwrap_or_default(),
                        ri + 1,
                        alert
                    ),
                ));
            }
            let (kind, name) = if alert.is_empty() && !record.is_empty() {
                (RuleKind::Recording, record)
            } else {
                (RuleKind::Alerting, alert)
            };
            rules.push(RuleSpec {
                kind,
                name,
                expr: r.expr.unwrap_or_default(),
                hold: r.hold.unwrap_or_default(),
                keep_firing_for: r.keep_firing_for.unwrap_or_default(),
                labels: r.labels.unwrap_or_default(),
                annotations: r.annotations.unwrap_or_default(),
            });
        }
        groups.push(GroupSpec {
            file: file.to_string(),
            name: g.name.unwrap_or_default(),
            interval: g.interval.filter(|d| d.ms() != 0),
            limit: usize::try_from(g.limit.unwrap_or(0)).unwrap_or(0),
            rules,
        });
    }
    errs.extend(validate(&groups));
    if errs.is_empty() {
        return Ok(groups);
    }
    Err(errs
        .into_iter()
        .map(|(path, reason)| {
            let pos = locate(text, &path);
            RuleFileError {
                file: file.to_string(),
                line: pos.map(|p| p.0),
                column: pos.map(|p| p.1),
                field: path_string(&path),
                reason,
            }
        })
        .collect())
}

/// Reads every file matched by `patterns` (globs; relative ones are joined to `base_dir`,
/// the directory of the configuration that names them). Returns all groups with their
/// file, or every error in every file: a bad file never leaves a half-loaded set.
pub fn load_rule_files(
    patterns: &[String],
    base_dir: &Path,
) -> Result<Vec<GroupSpec>, Vec<RuleFileError>> {
    let mut files: Vec<String> = Vec::new();
    let mut errs = Vec::new();
    for pat in patterns {
        let full = if Path::new(pat).is_absolute() {
            pat.clone()
        } else {
            base_dir.join(pat).to_string_lossy().into_owned()
        };
        match glob::glob(&full) {
            Ok(paths) => {
                let mut found: Vec<String> = Vec::new();
                for p in paths {
                    match p {
                        Ok(p) => found.push(p.to_string_lossy().into_owned()),
                        Err(e) => errs.push(RuleFileError {
                            file: e.path().to_string_lossy().into_owned(),
                            line: None,
                            column: None,
                            field: String::new(),
                            reason: e.error().to_string(),
                        }),
                    }
                }
                found.sort();
                for f in found {
                    if !files.contains(&f) {
                        files.push(f);
                    }
                }
            }
            Err(e) => errs.push(RuleFileError {
                file: pat.clone(),
                line: None,
                column: None,
                field: String::new(),
                reason: format!("invalid rule file pattern: {e}"),
            }),
        }
    }
    let mut groups = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => match parse_rule_file(&f, &text) {
                Ok(g) => groups.extend(g),
                Err(e) => errs.extend(e),
            },
            Err(e) => errs.push(RuleFileError {
                file: f.clone(),
                line: None,
                column: None,
                field: String::new(),
                reason: e.to_string(),
            }),
        }
    }
    if errs.is_empty() {
        Ok(groups)
    } else {
        Err(errs)
    }
}

/// The 1-based line and column of the value at `path` in the YAML `text`: the document
/// is read again with a probe that fails there, and the reader's error says where.
pub fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let de = serde_norway::Deserializer::from_str(text);
    match (Probe { path }).deserialize(de) {
        Err(e) if e.to_string().contains(PROBE_MARK) => {
            e.location().map(|l| (l.line(), l.column()))
        }
        _ => None,
    }
}

const PROBE_MARK: &str = "argus-rules probe reached its target";

struct Probe<'p> {
    path: &'p [Seg],
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.path.split_first() else {
            return Err(serde::de::Error::custom(PROBE_MARK));
        };
        while let Some(k) = map.next_key::<String>()? {
            if &k == want {
                map.next_value_seed(Probe { path: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.path.split_first() else {
            return Err(serde::de::Error::custom(PROBE_MARK));
        };
        let mut i = 0;
        loop {
            if i == *want {
                seq.next_element_seed(Probe { path: rest })?;
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
}

impl Probe<'_> {
    fn leaf<E: serde::de::Error>(self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(E::custom(PROBE_MARK))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
