//! The `info` text of an alarm: a template with `{placeholders}`, parsed once at build.
//!
//! Placeholders: `{value}`, `{threshold}`, `{op}`, `{measurement}`, `{field}`, `{name}`,
//! `{code}` and `{tags.<tag>}` (empty when the point has no such tag). `{{` and `}}` are
//! literal braces. An unknown placeholder or an unclosed brace is a config error, so a
//! typo shows at start rather than in every alarm.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value,
    Threshold,
    Op,
    Measurement,
    Field,
    Name,
    Code,
    Tag(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

/// What a template is rendered with.
pub struct Context<'a> {
    pub value: f64,
    pub threshold: f64,
    pub op: &'a str,
    pub measurement: &'a str,
    pub field: &'a str,
    pub name: &'a str,
    pub code: &'a str,
    pub tags: &'a [(&'a str, &'a str)],
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(format!("unmatched `}}` at byte {at} (write `}}}}`)")),
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!("unclosed `{{` at byte {at} (write `{{{{`)"));
                    };
                    let name = &rest[..end];
                    let piece = match name {
                        "value" => Piece::Value,
                        "threshold" => Piece::Threshold,
                        "op" => Piece::Op,
                        "measurement" => Piece::Measurement,
                        "field" => Piece::Field,
                        "name" => Piece::Name,
                        "code" => Piece::Code,
                        _ => match name.strip_prefix("tags.") {
                            Some(tag) if !tag.is_empty() => Piece::Tag(tag.to_string()),
                            _ => {
                                return Err(format!(
                                    "unknown placeholder `{{{name}}}` (known: {{value}}, {{threshold}}, \
                                     {{op}}, {{measurement}}, {{field}}, {{name}}, {{code}}, {{tags.<tag>}})"
                                ));
                            }
                        },
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template(pieces))
    }

    pub fn render(&self, cx: &Context<'_>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value => {
                    let _ = write!(out, "{}", cx.value);
                }
                Piece::Threshold => {
                    let _ = write!(out, "{}", cx.threshold);
                }
                Piece::Op => out.push_str(cx.op),
                Piece::Measurement => out.push_str(cx.measurement),
                Piece::Field => out.push_str(cx.field),
                Piece::Name => out.push_str(cx.name),
                Piece::Code => out.push_str(cx.code),
                Piece::Tag(tag) => {
                    if let Some((_, v)) = cx.tags.iter().find(|(k, _)| k == tag) {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx<'a>(tags: &'a [(&'a str, &'a str)]) -> Context<'a> {
        Context {
            value: 93.5,
            threshold: 90.0,
            op: ">=",
            measurement: "disk",
            field: "used_percent",
            name: "disk full",
            code: "DISK_FULL",
            tags,
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let t = Template::parse(
            "{code}/{name}: {measurement}.{field} on {tags.path} ({tags.none}) is {value}% {op} {threshold}% {{literal}}",
        )
        .expect("parse");
        assert_eq!(
            t.render(&cx(&[("path", "/data")])),
            "DISK_FULL/disk full: disk.used_percent on /data () is 93.5% >= 90% {literal}"
        );
        assert_eq!(
            Template::parse("héllo {value} ünïcode")
                .expect("parse")
                .render(&cx(&[])),
            "héllo 93.5 ünïcode"
        );
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert!(
            Template::parse("{vaule}")
                .expect_err("typo")
                .starts_with("unknown placeholder `{vaule}`")
        );
        assert!(Template::parse("{tags.}").is_err());
        assert_eq!(
            Template::parse("x {value").expect_err("unclosed"),
            "unclosed `{` at byte 2 (write `{{`)"
        );
        assert_eq!(
            Template::parse("a } b").expect_err("unmatched"),
            "unmatched `}` at byte 2 (write `}}`)"
        );
    }
}
