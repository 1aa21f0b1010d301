//! Template sets, Alertmanager's functions and the methods of its data. Expected outputs
//! are Alertmanager 0.25's, from `amtool template render` over the same templates.

use super::*;
use crate::time::GoTime;

fn kv(pairs: &[(&str, &str)]) -> Value {
    Value::Kv(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn alert(status: &str, host: &str) -> Value {
    Value::structure(
        "template.Alert",
        vec![
            ("Status", status.into()),
            (
                "Labels",
                kv(&[("alertname", "DiskFull"), ("host", host), ("a", "1")]),
            ),
            ("Annotations", kv(&[("summary", "磁盘已满 <90%>")])),
            (
                "StartsAt",
                Value::Time(GoTime {
                    secs: 1_796_634_303,
                    nanos: 250_000_000,
                }),
            ),
            ("EndsAt", Value::Time(GoTime::ZERO)),
        ],
    )
}

fn data() -> Value {
    Value::structure(
        "template.Data",
        vec![
            ("Receiver", "ops".into()),
            ("Status", "firing".into()),
            (
                "Alerts",
                Value::Alerts(vec![alert("firing", "db1"), alert("resolved", "db2")]),
            ),
            (
                "CommonLabels",
                kv(&[("alertname", "DiskFull"), ("a", "1"), ("zone", "东区")]),
            ),
        ],
    )
}

fn run(set: &Set, text: &str) -> String {
    match set.parse("field", text) {
        Ok(t) => set
            .execute(&t, data())
            .unwrap_or_else(|e| format!("EXEC {e}")),
        Err(e) => format!("PARSE {e}"),
    }
}

#[test]
fn methods_of_alertmanagers_data() {
    let set = Set::new();
    // SortedPairs: alertname first, then by name.
    assert_eq!(
        run(
            &set,
            "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"
        ),
        "alertname=DiskFull a=1 zone=东区 "
    );
    assert_eq!(
        run(
            &set,
            r#"{{ join ", " .CommonLabels.Names }}|{{ join "," .CommonLabels.SortedPairs.Values }}"#
        ),
        "alertname, a, zone|DiskFull,1,东区"
    );
    assert_eq!(
        run(
            &set,
            r#"{{ .CommonLabels.Remove (stringSlice "a" "zone") }}"#
        ),
        "map[alertname:DiskFull]"
    );
    assert_eq!(
        run(&set, "{{ .CommonLabels.SortedPairs }}"),
        "[{alertname DiskFull} {a 1} {zone 东区}]"
    );
    assert_eq!(
        run(
            &set,
            "{{ len .Alerts }} {{ len .Alerts.Firing }} {{ range .Alerts.Resolved }}{{ .Labels.host }}{{ end }}"
        ),
        "2 1 db2"
    );
    assert_eq!(
        run(
            &set,
            r#"{{ with index .Alerts 0 }}{{ .StartsAt }}|{{ .StartsAt.Format "2006-01-02 15:04:05" }}|{{ .EndsAt.IsZero }}|{{ .StartsAt.Unix }}{{ end }}"#
        ),
        "2026-12-07 09:05:03.25 +0000 UTC|2026-12-07 09:05:03|true|1796634303"
    );
    // A key named like a method is reached with index, as in Go.
    assert_eq!(run(&set, r#"{{ index .CommonLabels "zone" }}"#), "东区");
    // Go says the same, at another position (`1:18: … at <0>`).
    assert_eq!(
        run(&set, r#"{{ (index .Alerts 0).StartsAt.Format }}"#),
        "EXEC template: field:1:20: executing \"field\" at <(index .Alerts 0).StartsAt.Format>: wrong number of args for Format: want 1 got 0"
    );
}

#[test]
fn alertmanagers_functions() {
    let set = Set::new();
    assert_eq!(
        run(
            &set,
            r#"{{ title "hello wORLD 中文" }} {{ toUpper "abc中" }} {{ match "^a" "abc" }} {{ reReplaceAll "(a)b" "${1}x" "abab" }}"#
        ),
        "Hello World 中文 ABC中 true axax"
    );
    assert_eq!(
        run(&set, r#"{{ title "o'neil DISK-full" }}"#),
        "O'neil Disk-Full"
    );
    assert_eq!(
        run(
            &set,
            r#"{{ safeHtml "<b>" }} {{ eq (safeHtml "a") "a" }} {{ stringSlice "a" "b" }} [{{ join "," (stringSlice) }}]"#
        ),
        "<b> true [a b] []"
    );
    // Prometheus's functions are not Alertmanager's.
    assert_eq!(
        run(&set, "{{ humanize 3 }}"),
        "PARSE template: field:1: function \"humanize\" not defined"
    );
}

#[test]
fn define_template_block_and_overrides() {
    let mut set = Set::new();
    let added = set.add(
        "default.tmpl",
        r#"{{ define "__subject" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}
{{ define "mail.subject" }}{{ template "__subject" . }}{{ end }}"#,
    );
    assert!(added.is_ok(), "{added:?}");
    assert_eq!(
        run(&set, r#"{{ template "mail.subject" . }}"#),
        "[FIRING] DiskFull"
    );
    // A user's file defines __subject again: every template calling it follows.
    let added = set.add(
        "mine.tmpl",
        r#"{{ define "__subject" }}告警 {{ .CommonLabels.zone }}{{ end }}"#,
    );
    assert!(added.is_ok(), "{added:?}");
    assert_eq!(run(&set, r#"{{ template "mail.subject" . }}"#), "告警 东区");
    // A blank definition does not replace one.
    assert!(
        set.add("blank.tmpl", r#"{{ define "__subject" }} {{ end }}"#)
            .is_ok()
    );
    assert_eq!(run(&set, r#"{{ template "__subject" . }}"#), "告警 东区");
    // A block is a definition executed in place; a field's own define wins over the set.
    assert_eq!(
        run(&set, r#"{{ block "b" . }}default {{ .Status }}{{ end }}"#),
        "default firing"
    );
    assert_eq!(
        run(
            &set,
            r#"{{ define "__subject" }}own{{ end }}{{ template "mail.subject" . }}"#
        ),
        "own"
    );
    assert_eq!(set.names(), vec!["__subject", "mail.subject"]);
}

#[test]
fn undefined_templates_are_found_at_parse_and_errors_name_their_file() {
    let mut set = Set::new();
    let added = set.add(
        "t.tmpl",
        "{{ define \"bad\" }}line1\n{{ .Receiver.Foo }}{{ end }}\n{{ define \"calls\" }}{{ template \"missing\" . }}{{ end }}",
    );
    assert!(added.is_ok(), "{added:?}");
    assert_eq!(
        run(&set, r#"{{ template "nope" . }}"#),
        "PARSE template: field:1:12: template \"nope\" not defined"
    );
    // Through another template, with the position in that template's file.
    assert_eq!(
        run(&set, r#"{{ if true }}{{ template "calls" . }}{{ end }}"#),
        "PARSE template: t.tmpl:3:32: template \"missing\" not defined"
    );
    // Go's own message for an error inside a definition of a file (amtool's).
    assert_eq!(
        run(&set, r#"{{ template "bad" . }}"#),
        "EXEC template: t.tmpl:2:12: executing \"bad\" at <.Receiver.Foo>: can't evaluate field Foo in type string"
    );
    assert_eq!(
        set.add("broken.tmpl", "{{ define \"x\" }}{{ .A"),
        Err(TemplateError::Parse(
            "template: broken.tmpl:1: unclosed action".into()
        ))
    );
}

#[test]
fn html_execution_escapes_what_actions_print() {
    let mut set = Set::new();
    assert!(
        set.add(
            "h.tmpl",
            r#"{{ define "row" }}<li>{{ .Annotations.summary }}</li>{{ end }}"#
        )
        .is_ok()
    );
    let t = set.parse(
        "html",
        r#"<ul>{{ range .Alerts }}{{ template "row" . }}{{ end }}</ul>{{ safeHtml "<hr>" }}{{ "a+b&'\"" }}"#,
    );
    let Ok(t) = t else { panic!("{t:?}") };
    assert_eq!(
        set.execute_html(&t, data())
            .unwrap_or_else(|e| e.to_string()),
        "<ul><li>磁盘已满 &lt;90%&gt;</li><li>磁盘已满 &lt;90%&gt;</li></ul><hr>a&#43;b&amp;&#39;&#34;"
    );
    // The same template as text: nothing escaped.
    assert_eq!(
        set.execute(&t, data()).unwrap_or_else(|e| e.to_string()),
        "<ul><li>磁盘已满 <90%></li><li>磁盘已满 <90%></li></ul><hr>a+b&'\""
    );
}
