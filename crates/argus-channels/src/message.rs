//! The **message**: the human-readable title and text a chat or email channel sends for
//! a notification.
//!
//! Each channel builds a default from the notification: the title is Alertmanager's
//! default subject (`[FIRING:2] HighCPU (db1 page)`), the text lists each alert's name,
//! labels, annotations, start (and end) time and source link, in the markup the service
//! renders (plain, Markdown, Slack's mrkdwn, Telegram's HTML, an HTML email). A field the
//! configuration gives (a `title`, a `message`) replaces the default as it is written.

use std::fmt::Write as _;

use argus_notify::{Notification, NotificationAlert as Alert};
use jiff::{Timestamp, tz::TimeZone};

/// The text a configured field holds, unless it is the field's default (a call of one of
/// Alertmanager's default templates, `{{ template "slack.default.title" . }}`), for which
/// the channel builds its own default. Templates are not rendered yet: any other text is
/// sent as written.
pub(crate) fn given(field: &str) -> Option<String> {
    let is_default = field.starts_with("{{ template \"")
        && field.ends_with("\" . }}")
        && field.contains(".default.");
    (!is_default && !field.is_empty()).then(|| field.to_owned())
}

/// Alertmanager's default title (its `__subject` template):
/// `[FIRING:<n firing>] <group label values> (<other common label values>)`, or
/// `[RESOLVED] …`; values ordered by label name. Alertmanager leaves a trailing space when
/// there is no parenthesis; this trims it.
pub fn default_title(n: &Notification) -> String {
    let mut s = if n.is_firing() {
        format!("[FIRING:{}]", n.firing().count())
    } else {
        "[RESOLVED]".to_owned()
    };
    s.push(' ');
    s.push_str(
        &n.group_labels
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
    );
    if n.common_labels.len() > n.group_labels.len() {
        let rest: Vec<&str> = n
            .common_labels
            .iter()
            .filter(|(k, _)| !n.group_labels.contains_key(*k))
            .map(|(_, v)| v.as_str())
            .collect();
        s.push_str(" (");
        s.push_str(&rest.join(" "));
        s.push(')');
    }
    s.trim_end().to_owned()
}

/// How a service renders text, and so how the default text is written and escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// No markup (email text part, WeCom and DingTalk `text`, Feishu `text` and `post`).
    Plain,
    /// The Markdown subset of DingTalk and WeCom.
    Markdown,
    /// Feishu's `lark_md`: Markdown without headings.
    LarkMd,
    /// Slack's mrkdwn: `*bold*`, `<url|text>`, and `&<>` escaped as entities.
    Slack,
    /// Telegram's HTML parse mode: `<b>`, `<a href>`, newlines as they are.
    TelegramHtml,
    /// An HTML email body.
    EmailHtml,
}

impl Markup {
    fn escape(self, s: &str) -> String {
        match self {
            Markup::Plain | Markup::Markdown | Markup::LarkMd => s.to_owned(),
            Markup::Slack => s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
            Markup::TelegramHtml | Markup::EmailHtml => html_escape(s),
        }
    }

    fn bold(self, s: &str) -> String {
        let s = self.escape(s);
        match self {
            Markup::Plain => s,
            Markup::Markdown | Markup::LarkMd => format!("**{s}**"),
            Markup::Slack => format!("*{s}*"),
            Markup::TelegramHtml | Markup::EmailHtml => format!("<b>{s}</b>"),
        }
    }

    fn link(self, url: &str, text: &str) -> String {
        match self {
            Markup::Plain => format!("{text}: {url}"),
            Markup::Markdown | Markup::LarkMd => format!("[{text}]({url})"),
            Markup::Slack => format!("<{}|{}>", self.escape(url), self.escape(text)),
            Markup::TelegramHtml | Markup::EmailHtml => {
                format!("<a href=\"{}\">{}</a>", html_escape(url), html_escape(text))
            }
        }
    }

    /// The separator between lines of one alert.
    fn newline(self) -> &'static str {
        match self {
            // DingTalk's Markdown joins single newlines into one paragraph.
            Markup::Markdown => "  \n",
            Markup::EmailHtml => "<br>\n",
            _ => "\n",
        }
    }
}

/// Escapes `& < > "` for HTML text and attribute values (the entities Telegram accepts).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A time as people read it in a message: `2026-12-07 10:00:00 UTC`.
pub fn human_time(ts: Timestamp) -> String {
    let dt = TimeZone::UTC.to_datetime(ts);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// The default body: firing alerts, then resolved ones, each with its name, other
/// labels, annotations (`summary` and `description` first), times and source link.
pub fn default_text(n: &Notification, markup: Markup) -> String {
    let mut out = String::new();
    if markup == Markup::EmailHtml {
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n",
            html_escape(&default_title(n))
        );
    }
    let sections = [
        ("Firing", n.firing().collect::<Vec<_>>()),
        ("Resolved", n.resolved().collect::<Vec<_>>()),
    ];
    for (name, alerts) in sections {
        if alerts.is_empty() {
            continue;
        }
        if !out.is_empty() && markup != Markup::EmailHtml {
            out.push('\n');
        }
        let heading = format!("{name} ({})", alerts.len());
        match markup {
            Markup::Markdown => {
                let _ = writeln!(out, "### {heading}\n");
            }
            Markup::EmailHtml => {
                let _ = writeln!(out, "<h3>{}</h3>", html_escape(&heading));
            }
            _ => {
                out.push_str(&markup.bold(&heading));
                out.push('\n');
            }
        }
        for alert in alerts {
            write_alert(&mut out, alert, markup);
        }
    }
    if !n.external_url.is_empty() {
        out.push('\n');
        out.push_str(&markup.link(&n.external_url, "Argus"));
        out.push_str(markup.newline());
    }
    if markup == Markup::EmailHtml {
        out.push_str("</body></html>\n");
    }
    out
}

fn write_alert(out: &mut String, alert: &Alert, markup: Markup) {
    let nl = markup.newline();
    let name = alert
        .labels
        .get("alertname")
        .map_or("(no alertname)", String::as_str);
    if markup == Markup::EmailHtml {
        out.push_str("<p>\n");
    }
    let labels: Vec<String> = alert
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut first = markup.bold(name);
    if !labels.is_empty() {
        first.push(' ');
        first.push_str(&markup.escape(&labels.join(", ")));
    }
    let mut lines = vec![first];
    let preferred = ["summary", "description"];
    let annotations = preferred
        .iter()
        .filter_map(|k| alert.annotations.get_key_value(*k))
        .chain(
            alert
                .annotations
                .iter()
                .filter(|(k, _)| !preferred.contains(&k.as_str())),
        );
    for (k, v) in annotations {
        lines.push(format!("{}: {}", markup.escape(k), markup.escape(v)));
    }
    let mut times = match alert.starts_at {
        Some(start) => format!("Started {}", human_time(start)),
        None => "Started (unknown)".to_owned(),
    };
    if let ("resolved", Some(end)) = (alert.status.as_str(), alert.ends_at) {
        let _ = write!(times, ", ended {}", human_time(end));
    }
    lines.push(markup.escape(&times));
    if !alert.generator_url.is_empty() {
        lines.push(markup.link(&alert.generator_url, "Source"));
    }
    match markup {
        Markup::Markdown => {
            // A list item per alert, its details on continuation lines.
            out.push_str("- ");
            out.push_str(&lines.join(nl));
            out.push_str("\n\n");
        }
        Markup::EmailHtml => {
            out.push_str(&lines.join(nl));
            out.push_str("\n</p>\n");
        }
        _ => {
            out.push_str(&lines.join(nl));
            out.push_str("\n\n");
        }
    }
}

/// Cuts `s` to at most `max` characters (Unicode scalar values, Telegram's "runes"),
/// ending with `…` when cut, as Alertmanager's `notify.Truncate` does. Returns whether it
/// cut.
pub fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    if s.chars().count() <= max {
        return (s.to_owned(), false);
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    (kept + "…", true)
}

/// Cuts `s` to at most `max` bytes of UTF-8 on a character boundary, ending with `…`
/// when cut (the byte caps of WeCom's robot).
pub fn truncate_bytes(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let budget = max.saturating_sub('…'.len_utf8());
    let mut end = budget.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}…", &s[..end]), true)
}

/// After a cut of HTML text, drops a character entity the cut split (`&am…`), which
/// Telegram would reject as a parse error.
pub fn repair_cut_entity(s: &mut String) {
    let Some(body) = s.strip_suffix('…') else {
        return;
    };
    if let Some(amp) = body.rfind('&')
        && !body[amp..].contains(';')
    {
        let keep = body[..amp].to_owned();
        *s = keep + "…";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_notify::{labels::LabelSet as Kv, test_notification};

    fn kv(pairs: &[(&str, &str)]) -> Kv {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn two_firing() -> Notification {
        let mut n = test_notification("ops", "", Timestamp::UNIX_EPOCH);
        let mut a = n.alerts[0].clone();
        a.labels = kv(&[
            ("alertname", "HighCPU"),
            ("host", "db1"),
            ("severity", "page"),
        ]);
        a.annotations = kv(&[("summary", "CPU <high> & rising")]);
        let mut b = a.clone();
        b.labels.insert("host".into(), "db2".into());
        n.alerts = vec![a, b];
        n.group_labels = kv(&[("alertname", "HighCPU")]);
        n.common_labels = kv(&[("alertname", "HighCPU"), ("severity", "page")]);
        n
    }

    #[test]
    fn title_is_alertmanagers_default_subject() {
        let mut n = two_firing();
        assert_eq!(default_title(&n), "[FIRING:2] HighCPU (page)");
        n.common_labels = n.group_labels.clone();
        assert_eq!(default_title(&n), "[FIRING:2] HighCPU");
        n.status = "resolved".into();
        for a in &mut n.alerts {
            a.status = "resolved".into();
        }
        assert_eq!(default_title(&n), "[RESOLVED] HighCPU");
    }

    #[test]
    fn text_lists_each_alert_escaped_for_its_markup() {
        let n = two_firing();
        let plain = default_text(&n, Markup::Plain);
        assert!(plain.starts_with("Firing (2)\n"), "{plain}");
        assert!(plain.contains("HighCPU host=db1, severity=page\nsummary: CPU <high> & rising\nStarted 1970-01-01 00:00:00 UTC\n"), "{plain}");
        let html = default_text(&n, Markup::TelegramHtml);
        assert!(html.contains("<b>HighCPU</b> host=db2"), "{html}");
        assert!(html.contains("CPU &lt;high&gt; &amp; rising"), "{html}");
        let slack = default_text(&n, Markup::Slack);
        assert!(slack.contains("*HighCPU* host=db1"), "{slack}");
        assert!(slack.contains("CPU &lt;high&gt; &amp; rising"), "{slack}");
        let md = default_text(&n, Markup::Markdown);
        assert!(
            md.starts_with("### Firing (2)\n\n- **HighCPU** host=db1"),
            "{md}"
        );
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_chars("abcdef", 6), ("abcdef".to_owned(), false));
        assert_eq!(truncate_chars("abcdef", 4), ("abc…".to_owned(), true));
        assert_eq!(truncate_chars("日本語です", 3), ("日本…".to_owned(), true));
        // "日" is 3 bytes, "…" is 3 bytes: 7 bytes hold one of them and the mark.
        assert_eq!(truncate_bytes("日本語", 7), ("日…".to_owned(), true));
        assert_eq!(truncate_bytes("日本語", 9), ("日本語".to_owned(), false));
        let mut cut = "a &amp…".to_owned();
        repair_cut_entity(&mut cut);
        assert_eq!(cut, "a …");
        let mut whole = "a &amp; b…".to_owned();
        repair_cut_entity(&mut whole);
        assert_eq!(whole, "a &amp; b…");
    }
}
