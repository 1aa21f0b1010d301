//! Go `text/template`, the subset Prometheus rule files (and Alertmanager notification
//! templates) use, evaluated by hand so its output matches Go's byte for byte.
//!
//! A **template** is text with actions in `{{ }}`: pipelines (`{{ $value | humanize }}`),
//! fields of the data (`{{ .Labels.host }}`), variables (`{{ $labels.host }}`), `if`/
//! `else`/`end`, `range`, `with`, `define`/`template`, comparisons (`eq ne lt le gt ge`),
//! `and or not`, `len index print printf println html urlquery`, and Prometheus's
//! functions (`humanize`, `humanize1024`, `humanizeDuration`, `humanizePercentage`,
//! `humanizeTimestamp`, `title`, `toUpper`, `toLower`, `reReplaceAll`, `match`,
//! `stripPort`, `stripDomain`, `safeHtml`, `graphLink`, `tableLink`, `args`,
//! `externalURL`, `pathPrefix`, `parseDuration`, and `query` with `first`, `label`,
//! `value`, `strvalue`, `sortByLabel` when the caller gives a query function). Missing map
//! keys read as their zero value (`missingkey=zero`), as Prometheus configures it.
//!
//! Not supported: `toTime` (it returns a Go `time.Time` whose methods would be needed),
//! `block`, `break`/`continue`, complex numbers, method calls on values.
//!
//! ```
//! use argus_rules::template::{Context, Template, Value};
//! let t = Template::parse("{{ .host }} at {{ .load | humanize }}").unwrap();
//! let data = Value::from_json(&serde_json::json!({"host": "h1", "load": 1234567.0}));
//! assert_eq!(t.render(&Context::new(data)), "h1 at 1.235M");
//! ```

mod exec;
mod funcs;
mod lex;
mod parse;
mod value;

pub use value::{Struct, Value};

use std::collections::BTreeMap;
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
        let mut st = exec::State {
            name: &self.name,
            text: &self.text,
            tree: &self.tree,
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

#[cfg(test)]
mod tests;
