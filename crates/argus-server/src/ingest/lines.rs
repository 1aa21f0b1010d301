//! The one walk over an Influx line-protocol body: parse each line, check it against the
//! [`Rules`] and the writer's namespace, and hand it on with its timestamp in ms.
//!
//! Ingest walks a body once to check it whole before queueing it ([`CheckedLines::count`]);
//! the pipeline walks the queued text again to apply it (`pipeline::apply`). Both see the
//! same lines refused for the same reasons, because both use this iterator.

use super::{Refused, Rules, Violation};
use argus_core::line_protocol::{Line, ParseError, Precision, parse};

/// A parsed line that passed the rules.
pub struct Checked<'a> {
    pub line: Line<'a>,
    /// The line's timestamp in ms (now when it had none).
    pub ts: i64,
}

/// What a body held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub lines: u64,
    /// Numeric fields: the samples stored.
    pub samples: u64,
    /// String fields, which have no place in a time series and are not stored.
    pub strings: u64,
}

/// The writer's own namespace when its token is limited to one: a line whose `ns` tag
/// names another is refused (403), as remote write and OpenTSDB refuse such a label,
/// rather than silently moved.
#[derive(Clone, Copy)]
pub struct Owner<'a> {
    pub token: &'a str,
    pub ns: &'a str,
}

/// The checked lines of one body; the first bad line ends the walk with its error.
pub struct CheckedLines<'a> {
    lines: argus_core::line_protocol::Lines<'a>,
    rules: &'a Rules,
    precision: Precision,
    /// Whether an `ns` label is added to every series (it counts against the label limit).
    has_ns: bool,
    owner: Option<Owner<'a>>,
    now: i64,
}

impl<'a> CheckedLines<'a> {
    pub fn new(
        rules: &'a Rules,
        text: &'a str,
        precision: Precision,
        has_ns: bool,
        now: i64,
    ) -> Self {
        CheckedLines {
            lines: parse(text),
            rules,
            precision,
            has_ns,
            owner: None,
            now,
        }
    }

    /// Also refuses lines whose `ns` tag is not `owner`'s namespace.
    pub fn owned_by(mut self, owner: Option<Owner<'a>>) -> Self {
        self.owner = owner;
        self
    }

    /// The number (from 1) of the line last returned.
    pub fn current_line(&self) -> usize {
        self.lines.current_line()
    }

    /// Walks the whole body: its counts, or the first bad line.
    pub fn count(self) -> Result<Counts, Refused> {
        let mut c = Counts::default();
        for checked in self {
            c.lines += 1;
            for (_, value) in &checked?.line.fields {
                if value.as_f64().is_some() {
                    c.samples += 1;
                } else {
                    c.strings += 1;
                }
            }
        }
        Ok(c)
    }

    /// Checks what a parsed line will become: its labels (tags, plus the name and `ns`)
    /// and its timestamp.
    fn check(&self, line: &Line<'_>, ts: i64) -> Result<(), Violation> {
        let tags = line
            .tags
            .iter()
            .filter(|(k, _)| !k.is_empty() && k != "ns")
            .count();
        self.rules
            .check_label_count(tags + 1 + usize::from(self.has_ns))?;
        for (k, v) in &line.tags {
            if v.len() > self.rules.max_label_value_bytes {
                self.rules
                    .check_label(&argus_core::line_protocol::label_name(k), v)?;
            }
        }
        self.rules.check_ts(ts, self.now)
    }

    fn check_owner(&self, line: &Line<'_>) -> Result<(), Refused> {
        let Some(owner) = self.owner else {
            return Ok(());
        };
        match line.tags.iter().find(|(k, _)| k == "ns") {
            Some((_, v)) if !v.is_empty() && v.as_ref() != owner.ns => {
                Err(Refused::Forbidden(format!(
                    "line {}: token {:?} belongs to namespace {:?} and cannot write into {:?} (tag ns)",
                    self.current_line(),
                    owner.token,
                    owner.ns,
                    v.as_ref()
                )))
            }
            _ => Ok(()),
        }
    }
}

impl<'a> Iterator for CheckedLines<'a> {
    type Item = Result<Checked<'a>, Refused>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.lines.next()? {
            Ok(line) => line,
            Err(e) => return Some(Err(bad_line(e))),
        };
        let ts = line
            .timestamp
            .map_or(self.now, |t| self.precision.to_millis(t));
        if let Err(v) = self.check(&line, ts) {
            return Some(Err(Refused::at(format!("line {}", self.current_line()), v)));
        }
        if let Err(e) = self.check_owner(&line) {
            return Some(Err(e));
        }
        Some(Ok(Checked { line, ts }))
    }
}

fn bad_line(e: ParseError) -> Refused {
    Refused::BadLine {
        line: e.line,
        column: e.column,
        message: e.to_string(),
    }
}

/// Where a body is not UTF-8: the line and column of the first bad byte.
pub fn check_utf8(bytes: &[u8]) -> Result<&str, Refused> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Refused::BadLine {
            line,
            column: at - line_start + 1,
            message: format!("line {line}, column {}: invalid UTF-8", at - line_start + 1),
        }
    })
}

/// The first line of a body longer than `rules.max_line_bytes`.
pub fn check_line_length(rules: &Rules, bytes: &[u8]) -> Result<(), Refused> {
    match rules.long_line(bytes) {
        Some((line, len)) => Err(Refused::Invalid {
            at: format!("line {line}"),
            reason: "line_too_long",
            message: format!(
                "{len} bytes, longer than {} (server.max_line_bytes)",
                rules.max_line_bytes
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            max_line_bytes: 100,
            max_labels: 3,
            max_label_name_bytes: 20,
            max_label_value_bytes: 5,
            max_age_ms: 0,
            max_future_ms: 1000,
        }
    }

    #[test]
    fn a_body_is_counted_by_lines_samples_and_strings() {
        let r = rules();
        let text = "cpu,host=a user=1,idle=2 1000\nlog,host=a msg=\"x\" 1000\n";
        let c = CheckedLines::new(&r, text, Precision::Milliseconds, false, 1000).count();
        assert_eq!(
            c,
            Ok(Counts {
                lines: 2,
                samples: 2,
                strings: 1
            })
        );
    }

    #[test]
    fn the_first_bad_line_is_named_with_its_reason() {
        let r = rules();
        let walk = |text: &str, has_ns: bool| {
            CheckedLines::new(&r, text, Precision::Milliseconds, has_ns, 1000).count()
        };
        // Two tags, the name and `ns`: four labels, over the limit of three.
        assert_eq!(
            walk("ok v=1 1000\ncpu,a=1,b=2 v=1 1000", true).map_err(|e| e.to_string()),
            Err("line 2: 4 labels, more than 3 (server.max_labels_per_series)".into())
        );
        assert!(walk("cpu,a=1,b=2 v=1 1000", false).is_ok());
        assert!(matches!(
            walk("cpu v=1 5000", false),
            Err(Refused::Invalid {
                reason: "too_far_in_future",
                ..
            })
        ));
        assert!(matches!(
            walk("cpu,a=123456 v=1 1000", false),
            Err(Refused::Invalid {
                reason: "label_value_too_long",
                ..
            })
        ));
        assert!(matches!(
            walk("ok v=1\ncpu v=", false),
            Err(Refused::BadLine { line: 2, .. })
        ));
    }

    #[test]
    fn a_namespace_token_cannot_name_another_namespace_in_a_tag() {
        let r = rules();
        let owner = Some(Owner {
            token: "t",
            ns: "a",
        });
        let walk = |text: &str| {
            CheckedLines::new(&r, text, Precision::Milliseconds, true, 1000)
                .owned_by(owner)
                .count()
        };
        assert_eq!(walk("cpu,ns=a v=1 1000").map(|c| c.samples), Ok(1));
        assert!(matches!(
            walk("cpu v=1 1000\ncpu,ns=b v=1 1000"),
            Err(Refused::Forbidden(m)) if m.starts_with("line 2:")
        ));
    }

    #[test]
    fn bad_utf8_is_named_by_line_and_column() {
        assert_eq!(
            check_utf8(b"ok v=1\nab\xffc").map_err(|e| e.to_string()),
            Err("line 2, column 3: invalid UTF-8".into())
        );
        let r = rules();
        assert!(check_line_length(&r, &[b'x'; 101]).is_err());
        assert!(check_line_length(&r, &[b'x'; 100]).is_ok());
    }
}
