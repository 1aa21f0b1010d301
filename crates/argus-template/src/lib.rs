//! Go's `text/template`, written by hand so its output matches Go's byte for byte:
//! Prometheus 2.42's rule annotations and Alertmanager 0.25's notification templates.
//!
//! No Rust crate executes Go templates the way Go does (its printing of floats, maps and
//! nil, `missingkey=zero`, its error messages), and users compare what Argus writes with
//! what Prometheus and Alertmanager write for the same template, so this crate is
//! hand-written against Go's `text/template/parse` and `exec`, and its tests carry
//! Prometheus's and Alertmanager's own expected outputs.
//!
//! A **template** is text with actions in `{{ }}`: pipelines (`{{ $value | humanize }}`),
//! fields of the data (`{{ .Labels.host }}`), variables (`{{ $labels.host }}`), `if`/
//! `else`/`end`, `range`, `with`, `define`/`template`/`block`, comparisons
//! (`eq ne lt le gt ge`), `and or not`, `len index print printf println html urlquery`.
//! Two **function sets**:
//!
//! - Prometheus's ([`Template::parse_named`]): `humanize`, `humanize1024`,
//!   `humanizeDuration`, `humanizePercentage`, `humanizeTimestamp`, `title`, `toUpper`,
//!   `toLower`, `reReplaceAll`, `match`, `stripPort`, `stripDomain`, `safeHtml`,
//!   `graphLink`, `tableLink`, `args`, `externalURL`, `pathPrefix`, `parseDuration`, and
//!   `query` with `first`, `label`, `value`, `strvalue`, `sortByLabel` when the caller
//!   gives a query function.
//! - Alertmanager's ([`Set`]): `toUpper`, `toLower`, `title`, `join`, `match`,
//!   `safeHtml`, `reReplaceAll`, `stringSlice`.
//!
//! A **set** ([`Set`]) holds the templates named by `define` in files (Alertmanager's
//! `templates:`), shared by every template parsed with it; a later definition replaces
//! an earlier one, as in Go. The **data** ([`Value`]) keeps the Go types templates tell
//! apart, with the methods of Alertmanager's data (`.Alerts.Firing`,
//! `.CommonLabels.SortedPairs`, `.Names`, `.Values`, `.Remove`, `.StartsAt.Format`).
//! Missing map keys read as their zero value (`missingkey=zero`), as both configure it.
//! [`Set::execute_html`] escapes each action's output as `html/template` does in HTML
//! text (Alertmanager's email `html`), without its other contexts (attributes, URLs,
//! scripts).
//!
//! Not supported: `toTime`, `break`/`continue`, complex numbers, time zones other than
//! UTC.
//!
//! ```
//! use argus_template::{Context, Template, Value};
//! let t = Template::parse("{{ .host }} at {{ .load | humanize }}").unwrap();
//! let data = Value::from_json(&serde_json::json!({"host": "h1", "load": 1234567.0}));
//! assert_eq!(t.render(&Context::new(data)), "h1 at 1.235M");
//!
//! let mut set = argus_template::Set::new();
//! set.add("my.tmpl", r#"{{ define "hello" }}Hello, {{ .name | toUpper }}!{{ end }}"#).unwrap();
//! let t = set.parse("subject", r#"{{ template "hello" . }}"#).unwrap();
//! let data = Value::from_json(&serde_json::json!({"name": "ops"}));
//! assert_eq!(set.execute(&t, data).unwrap(), "Hello, OPS!");
//! ```

pub mod duration;
mod exec;
mod funcs;
pub mod gofmt;
mod lex;
mod methods;
mod parse;
pub mod time;
mod value;

pub use value::{Struct, Value};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A query the `query` template function runs: the result's label sets and values, or the
/// error message.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<QueryRows, String> + 'a;

/// A query's result for templates: each series' labels and value.
pub type QueryRows = Vec<(BTreeMap<String, String>, f64)>;

/// What a template is executed with: the data (dot and `$`), the external URL
/// (`externalURL`, `pathPrefix`) and optionally a query function.
pub struct Context<'a> {
    pub data: Value,
    pub external_url: &'a str,
    pub query: Option<&'a QueryFn<'a>>,
}

impl<'a> Context<'a> {
    /// A context with only data: no external URL, no `query`.
    pub fn new(data: Value) -> Self {
        Context {
            data,
            external_url: "",
            query: None,
        }
    }
}

/// Why a template could not be parsed or executed, with Go's message:
/// `template: NAME:LINE: function "foo" not defined`,
/// `template: NAME:1:93: executing "NAME" at <humanize "x">: error calling humanize: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Exec(String),
}

/// A parsed template, cheap to clone and to share between threads.
#[derive(Debug, Clone)]
pub struct Template {
    name: Arc<str>,
    text: Arc<str>,
    tree: Arc<parse::Tree>,
}

impl Template {
    /// Parses `text` under the name `template`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Self::parse_named("template", text)
    }

    /// Parses `text`; `name` appears in error messages as Go's template name does
    /// (Prometheus names a rule's templates `__alert_<alertname>`).
    pub fn parse_named(name: &str, text: &str) -> Result<Template, TemplateError> {
        let tree = parse::parse(name, text, &funcs::exists).map_err(TemplateError::Parse)?;
        Ok(Template {
            name: name.into(),
            text: text.into(),
            tree: Arc::new(tree),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes the template over `ctx`.
    pub fn execute(&self, ctx: &Context<'_>) -> Result<String, TemplateError> {
        self.run(ctx, None, false)
    }

    fn run(
        &self,
        ctx: &Context<'_>,
        set: Option<&Set>,
        html: bool,
    ) -> Result<String, TemplateError> {
        let mut st = exec::State {
            name: &self.name,
            text: &self.text,
            exec_name: &self.name,
            root_name: &self.name,
            root_text: &self.text,
            tree: &self.tree,
            set,
            html,
            ctx,
            vars: vec![("$".to_string(), ctx.data.clone())],
            out: String::new(),
            depth: 0,
        };
        st.walk_list(&ctx.data, &self.tree.root)
            .map_err(TemplateError::Exec)?;
        Ok(st.out)
    }

    /// Executes the template; an error becomes the text Prometheus puts in its place:
    /// `<error expanding template: error executing template NAME: …>`.
    pub fn render(&self, ctx: &Context<'_>) -> String {
        match self.execute(ctx) {
            Ok(s) => s,
            Err(e) => format!(
                "<error expanding template: error executing template {}: {e}>",
                self.name
            ),
        }
    }
}

/// A template named by `define` (or `block`) in a file of a [`Set`], with that file's
/// name and text for the positions in error messages.
#[derive(Debug)]
pub(crate) struct Def {
    pub file: Arc<str>,
    pub text: Arc<str>,
    pub body: Vec<parse::Node>,
}

/// Named templates shared by every template parsed with the set, with Alertmanager's
/// functions: what Alertmanager builds from its default templates and the
/// configuration's `templates:` files. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Set {
    defs: HashMap<String, Arc<Def>>,
}

impl Set {
    /// No templates.
    pub fn new() -> Set {
        Set::default()
    }

    /// Parses the file `name` holding `text` and adds the templates it defines. One
    /// defined again replaces the earlier definition, unless its body is only blank
    /// text (as Go's `Parse` into the same set); the file's text outside definitions is
    /// not kept.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let tree =
            parse::parse(name, text, &funcs::exists_alertmanager).map_err(TemplateError::Parse)?;
        let file: Arc<str> = name.into();
        let text: Arc<str> = text.into();
        for (def, body) in tree.defs {
            if self.defs.contains_key(&def) && body.iter().all(parse::is_blank) {
                continue;
            }
            let d = Def {
                file: file.clone(),
                text: text.clone(),
                body,
            };
            self.defs.insert(def, Arc::new(d));
        }
        Ok(())
    }

    /// Whether a template of that name is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// The names of the defined templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.defs.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Parses `text` (a field of a receiver; `name` names it in errors) with
    /// Alertmanager's functions, and checks that every template it calls, directly or
    /// through the templates it calls, is defined, in itself or in the set: Go would find
    /// out only when a notification is sent.
    pub fn parse(&self, name: &str, text: &str) -> Result<Template, TemplateError> {
        let tree =
            parse::parse(name, text, &funcs::exists_alertmanager).map_err(TemplateError::Parse)?;
        let t = Template {
            name: name.into(),
            text: text.into(),
            tree: Arc::new(tree),
        };
        self.check(&t)?;
        Ok(t)
    }

    fn check(&self, t: &Template) -> Result<(), TemplateError> {
        let mut seen = std::collections::HashSet::new();
        let mut todo: Vec<(&str, &str, &[parse::Node])> = vec![(&t.name, &t.text, &t.tree.root)];
        while let Some((file, text, nodes)) = todo.pop() {
            let mut calls = Vec::new();
            parse::template_calls(nodes, &mut calls);
            for (pos, callee) in calls {
                if !seen.insert(callee) {
                    continue;
                }
                if let Some(body) = t.tree.defs.get(callee) {
                    todo.push((&t.name, &t.text, body));
                } else if let Some(d) = self.defs.get(callee) {
                    todo.push((&d.file, &d.text, &d.body));
                } else {
                    let (line, col) = exec::line_col(text, pos);
                    return Err(TemplateError::Parse(format!(
                        "template: {file}:{line}:{col}: template {} not defined",
                        gofmt::quote(callee)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Executes `t` (from [`Set::parse`]) over `data`.
    pub fn execute(&self, t: &Template, data: Value) -> Result<String, TemplateError> {
        t.run(&Context::new(data), Some(self), false)
    }

    /// Executes `t` over `data` escaping each action's output for HTML text, as
    /// `html/template` does there (Alertmanager's email `html`); `safeHtml` output is
    /// kept as it is.
    pub fn execute_html(&self, t: &Template, data: Value) -> Result<String, TemplateError> {
        t.run(&Context::new(data), Some(self), true)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod set_tests;
