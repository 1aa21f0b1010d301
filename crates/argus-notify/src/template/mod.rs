//! Notification templates, as Alertmanager 0.25 has them: the **template set** (Argus's
//! default templates, then the configuration's `templates:` files, whose definitions
//! replace the defaults of the same name) and the **template data** of a notification.
//!
//! Each templated field of a receiver (`title`, `text`, `message`, email's `html` and
//! headers, …) is a Go template parsed when the configuration loads: one that does not
//! parse, or calls a template nobody defines, is a configuration error. A channel
//! renders its fields over [`Notification::template_data`] when it sends; a template
//! that fails then fails that delivery, with the reason.

use std::{collections::HashMap, path::Path};

use argus_template::{Set, Template, Value, time::GoTime};
use jiff::Timestamp;

use crate::notification::{Notification, NotificationAlert};

/// Argus's own definitions of the template names Alertmanager's receivers use as
/// defaults (`__subject`, `email.default.html`, `slack.default.text`, …).
pub const DEFAULT_TEMPLATES: &str = include_str!("default.tmpl");

/// The name the default templates have in error messages.
pub const DEFAULT_TEMPLATES_NAME: &str = "default.tmpl";

/// `{{ template "NAME" . }}`: how a field's default calls a default template.
pub fn call(name: &str) -> String {
    format!("{{{{ template \"{name}\" . }}}}")
}

/// A template file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file (or the glob that could not be read).
    pub file: String,
    /// Why.
    pub reason: String,
}

/// The template set and every field template of the configuration, parsed.
#[derive(Debug, Clone)]
pub struct Templates {
    set: Set,
    /// Field templates by their text: the same text is parsed once.
    parsed: HashMap<String, Template>,
    /// The files read, in order, for equality of configurations.
    files: Vec<String>,
}

impl PartialEq for Templates {
    /// Two sets are equal when they were read from the same files (and the same fields
    /// parsed).
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files && self.parsed.len() == other.parsed.len()
    }
}

impl Default for Templates {
    /// The default templates only.
    fn default() -> Self {
        let mut set = Set::new();
        // Tested below: the built-in file parses.
        let _ = set.add(DEFAULT_TEMPLATES_NAME, DEFAULT_TEMPLATES);
        Templates {
            set,
            parsed: HashMap::new(),
            files: Vec::new(),
        }
    }
}

impl Templates {
    /// The default templates, then every file matching `globs` (in the order given, each
    /// glob's files sorted), as Alertmanager's `template.FromGlobs` reads them. A glob
    /// matching nothing adds nothing.
    pub fn load(globs: &[String]) -> Result<Templates, FileError> {
        let mut t = Templates::default();
        for pattern in globs {
            let paths = glob::glob(pattern).map_err(|e| FileError {
                file: pattern.clone(),
                reason: format!("bad glob: {e}"),
            })?;
            let mut files: Vec<_> = paths.filter_map(Result::ok).collect();
            files.sort();
            for path in files {
                t.add_file(&path)?;
            }
        }
        Ok(t)
    }

    fn add_file(&mut self, path: &Path) -> Result<(), FileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            file: file.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        // Errors name the file by its base name, as Go's `ParseFiles` does.
        let name = path
            .file_name()
            .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
        self.set.add(&name, &text).map_err(|e| FileError {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        self.files.push(file);
        Ok(())
    }

    /// Adds templates from text (for tests and callers without files); `name` names it
    /// in errors.
    pub fn add_text(&mut self, name: &str, text: &str) -> Result<(), String> {
        self.set.add(name, text).map_err(|e| e.to_string())?;
        self.files.push(name.to_owned());
        Ok(())
    }

    /// Whether a template of that name is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.set.contains(name)
    }

    /// Parses a field's template (once per text) and checks the templates it calls are
    /// defined; `name` names it in errors.
    pub fn prepare(&mut self, name: &str, text: &str) -> Result<(), String> {
        if self.parsed.contains_key(text) {
            return Ok(());
        }
        let t = self.set.parse(name, text).map_err(|e| e.to_string())?;
        self.parsed.insert(text.to_owned(), t);
        Ok(())
    }

    fn template(&self, text: &str) -> Result<std::borrow::Cow<'_, Template>, String> {
        match self.parsed.get(text) {
            Some(t) => Ok(std::borrow::Cow::Borrowed(t)),
            // A field not prepared at load (a configuration built by hand).
            None => self
                .set
                .parse("", text)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| e.to_string()),
        }
    }

    /// Renders a field's template over `data` as text.
    pub fn render(&self, text: &str, data: &Value) -> Result<String, String> {
        let t = self.template(text)?;
        self.set
            .execute(&t, data.clone())
            .map_err(|e| e.to_string())
    }

    /// Renders a field's template over `data` as HTML: what actions print is escaped, as
    /// Alertmanager's `html/template` does for an email's `html`.
    pub fn render_html(&self, text: &str, data: &Value) -> Result<String, String> {
        let t = self.template(text)?;
        self.set
            .execute_html(&t, data.clone())
            .map_err(|e| e.to_string())
    }
}

fn time(ts: Option<Timestamp>) -> Value {
    match ts {
        Some(ts) => Value::Time(GoTime::from_unix_nanos(ts.as_nanosecond())),
        None => Value::Time(GoTime::ZERO),
    }
}

fn alert_data(a: &NotificationAlert) -> Value {
    Value::structure(
        "template.Alert",
        vec![
            ("Status", a.status.clone().into()),
            ("Labels", Value::Kv(a.labels.clone())),
            ("Annotations", Value::Kv(a.annotations.clone())),
            ("StartsAt", time(a.starts_at)),
            ("EndsAt", time(a.ends_at)),
            ("GeneratorURL", a.generator_url.clone().into()),
            ("Fingerprint", a.fingerprint.clone().into()),
        ],
    )
}

impl Notification {
    /// Alertmanager's template data (`template.Data`): `.Receiver`, `.Status`, `.Alerts`
    /// (each with `.Status .Labels .Annotations .StartsAt .EndsAt .GeneratorURL
    /// .Fingerprint`), `.GroupLabels`, `.CommonLabels`, `.CommonAnnotations`,
    /// `.ExternalURL`.
    pub fn template_data(&self) -> Value {
        Value::structure(
            "*template.Data",
            vec![
                ("Receiver", self.receiver.clone().into()),
                ("Status", self.status.clone().into()),
                (
                    "Alerts",
                    Value::Alerts(self.alerts.iter().map(alert_data).collect()),
                ),
                ("GroupLabels", Value::Kv(self.group_labels.clone())),
                ("CommonLabels", Value::Kv(self.common_labels.clone())),
                (
                    "CommonAnnotations",
                    Value::Kv(self.common_annotations.clone()),
                ),
                ("ExternalURL", self.external_url.clone().into()),
            ],
        )
    }
}

#[cfg(test)]
mod tests;
