use super::*;
use crate::{Alert, Config, labels::label_set};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn alert(host: &str, end: Option<&str>, summary: &str) -> Alert {
    Alert {
        labels: label_set([
            ("alertname", "DiskFull"),
            ("host", host),
            ("severity", "page"),
        ]),
        annotations: label_set([("summary", summary)]),
        starts_at: ts("2026-12-07T09:55:00.25Z"),
        ends_at: end.map(ts),
        generator_url: "http://prom:9090/graph?g0.expr=disk&g0.tab=1".into(),
        updated_at: ts("2026-12-07T09:55:00Z"),
        timeout: false,
    }
}

/// Two alerts of one group: db1 firing, db2 resolved at 09:59.
fn notification() -> Notification {
    Notification::new(
        "team.ops",
        r#"{}:{alertname="DiskFull"}"#,
        &label_set([("alertname", "DiskFull")]),
        &[
            alert("db1", None, "磁盘 /data 已满 <95%>"),
            alert("db2", Some("2026-12-07T09:59:00Z"), "disk & full"),
        ],
        "http://argus:9090",
        ts("2026-12-07T10:00:00Z"),
    )
}

fn render(t: &mut Templates, text: &str) -> String {
    match t.prepare("field", text) {
        Ok(()) => t
            .render(text, &notification().template_data())
            .unwrap_or_else(|e| format!("EXEC {e}")),
        Err(e) => format!("PARSE {e}"),
    }
}

#[test]
fn the_default_templates_parse_and_define_alertmanagers_names() {
    let mut set = Set::new();
    assert_eq!(set.add(DEFAULT_TEMPLATES_NAME, DEFAULT_TEMPLATES), Ok(()));
    let t = Templates::default();
    for name in [
        "__subject",
        "__alertmanager",
        "__alertmanagerURL",
        "__description",
        "__text_alert_list",
        "email.default.subject",
        "email.default.html",
        "slack.default.title",
        "slack.default.username",
        "slack.default.fallback",
        "slack.default.callbackid",
        "slack.default.pretext",
        "slack.default.titlelink",
        "slack.default.iconemoji",
        "slack.default.iconurl",
        "slack.default.text",
        "slack.default.footer",
        "telegram.default.message",
        "wechat.default.message",
        "wechat.default.to_user",
        "pagerduty.default.description",
        "opsgenie.default.message",
        "dingtalk.default.title",
        "dingtalk.default.message",
        "wecom.default.message",
        "feishu.default.title",
        "feishu.default.message",
    ] {
        assert!(t.contains(name), "{name} not defined");
    }
}

#[test]
fn data_fields_and_methods() {
    let mut t = Templates::default();
    assert_eq!(
        render(
            &mut t,
            "{{ .Receiver }} {{ .Status }} {{ len .Alerts }} {{ len .Alerts.Firing }} {{ .ExternalURL }}"
        ),
        r"team\.ops firing 2 1 http://argus:9090"
    );
    assert_eq!(
        render(
            &mut t,
            "{{ range .Alerts.Resolved }}{{ .Labels.host }} {{ .Status }} {{ .EndsAt }} {{ .Fingerprint | len }}{{ end }}"
        ),
        "db2 resolved 2026-12-07 09:59:00 +0000 UTC 16"
    );
    assert_eq!(
        render(
            &mut t,
            r#"{{ range .Alerts.Firing }}{{ .StartsAt.Format "2006-01-02 15:04:05.000" }} {{ .EndsAt.IsZero }} {{ .GeneratorURL }}{{ end }}"#
        ),
        "2026-12-07 09:55:00.250 true http://prom:9090/graph?g0.expr=disk&g0.tab=1"
    );
    assert_eq!(
        render(
            &mut t,
            r#"{{ .CommonLabels.SortedPairs }} {{ .CommonLabels.Names }} {{ .GroupLabels.Values }} {{ .CommonLabels.Remove .GroupLabels.Names }}"#
        ),
        "[{alertname DiskFull} {severity page}] [alertname severity] [DiskFull] map[severity:page]"
    );
    // Annotations differ, so none is common.
    assert_eq!(
        render(
            &mut t,
            "{{ len .CommonAnnotations }}|{{ .CommonAnnotations.summary }}|"
        ),
        "0||"
    );
}

#[test]
fn the_default_subject_and_text() {
    let mut t = Templates::default();
    assert_eq!(
        render(&mut t, &call("__subject")),
        "[FIRING:1] DiskFull (page)"
    );
    assert_eq!(
        render(&mut t, &call("__text_alert_list")),
        "Firing (1)\n\
         DiskFull host=db1, severity=page\n\
         summary: 磁盘 /data 已满 <95%>\n\
         Started 2026-12-07 09:55:00 UTC\n\
         Source: http://prom:9090/graph?g0.expr=disk&g0.tab=1\n\n\
         Resolved (1)\n\
         DiskFull host=db2, severity=page\n\
         summary: disk & full\n\
         Started 2026-12-07 09:55:00 UTC, ended 2026-12-07 09:59:00 UTC\n\
         Source: http://prom:9090/graph?g0.expr=disk&g0.tab=1\n\n"
    );
    let html = t
        .render_html(&call("email.default.html"), &notification().template_data())
        .unwrap_or_else(|e| e);
    assert!(
        html.contains("<title>[FIRING:1] DiskFull (page)</title>"),
        "{html}"
    );
    assert!(
        html.contains("summary: 磁盘 /data 已满 &lt;95%&gt;<br>"),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="http://prom:9090/graph?g0.expr=disk&amp;g0.tab=1">Source</a>"#),
        "{html}"
    );
    let tg = render(&mut t, &call("telegram.default.message"));
    assert!(
        tg.starts_with("<b>[FIRING:1] DiskFull (page)</b>\n\n<b>Firing (1)</b>\n<b>DiskFull</b> host=db1, severity=page\nsummary: 磁盘 /data 已满 &lt;95%&gt;\n"),
        "{tg}"
    );
}

#[test]
fn a_users_file_overrides_subject_for_every_default_that_calls_it() {
    let mut t = Templates::default();
    let added = t.add_text(
        "mine.tmpl",
        r#"{{ define "__subject" }}【{{ .Status | toUpper }}】{{ .CommonLabels.alertname }} 共 {{ len .Alerts }} 条{{ end }}"#,
    );
    assert_eq!(added, Ok(()));
    for name in [
        "__subject",
        "email.default.subject",
        "slack.default.title",
        "dingtalk.default.title",
        "feishu.default.title",
    ] {
        assert_eq!(
            render(&mut t, &call(name)),
            "【FIRING】DiskFull 共 2 条",
            "{name}"
        );
    }
    assert!(
        render(&mut t, &call("wecom.default.message"))
            .starts_with("**【FIRING】DiskFull 共 2 条**\n\n### Firing (1)\n")
    );
}

#[test]
fn a_failing_template_is_an_error_of_the_render() {
    let mut t = Templates::default();
    assert_eq!(
        render(&mut t, "{{ .Alerts.Nope }}"),
        "EXEC template: field:1:10: executing \"field\" at <.Alerts.Nope>: can't evaluate field Nope in type template.Alerts"
    );
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    assert!(std::fs::write(dir.join(name), text).is_ok());
}

#[test]
fn config_reads_template_files_relative_to_itself_and_parses_fields_at_load() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    std::fs::create_dir_all(dir.path().join("tmpl")).ok();
    write(
        &dir.path().join("tmpl"),
        "a.tmpl",
        r#"{{ define "my.title" }}{{ .CommonLabels.alertname }} on {{ .CommonLabels.host }}{{ end }}"#,
    );
    let yaml = r#"
templates: ['tmpl/*.tmpl']
route: {receiver: ops}
receivers:
  - name: ops
    slack_configs:
      - api_url: http://127.0.0.1:1/
        title: '{{ template "my.title" . }}'
"#;
    write(dir.path(), "am.yml", yaml);
    let cfg = Config::load_file(dir.path().join("am.yml")).unwrap_or_else(|e| panic!("{e}"));
    let title = r#"{{ template "my.title" . }}"#;
    assert_eq!(
        cfg.notification_templates
            .render(title, &notification().template_data())
            .as_deref(),
        Ok("DiskFull on ")
    );
    assert_eq!(
        cfg.templates,
        vec![dir.path().join("tmpl/*.tmpl").display().to_string()]
    );

    // An undefined template, a parse error: errors at load naming file, line, field.
    let bad = yaml.replace("my.title", "no.such");
    write(dir.path(), "bad.yml", &bad);
    let e = Config::load_file(dir.path().join("bad.yml")).err();
    let e = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.ends_with(r#"bad.yml:8:16: receivers[0].slack_configs[0].title: template: ops.slack_configs[0].title:1:12: template "no.such" not defined"#),
        "{e}"
    );
    let bad = yaml.replace(r#"'{{ template "my.title" . }}'"#, "'{{ .Status '");
    write(dir.path(), "bad2.yml", &bad);
    let e = Config::load_file(dir.path().join("bad2.yml")).err();
    let e = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("receivers[0].slack_configs[0].title: template: ops.slack_configs[0].title:1: unclosed action"), "{e}");
    // A template file that does not parse names the file.
    write(
        &dir.path().join("tmpl"),
        "b.tmpl",
        "{{ define \"x\" }}{{ nope }}{{ end }}",
    );
    let e = Config::load_file(dir.path().join("am.yml")).err();
    let e = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.ends_with(r#"b.tmpl: template: b.tmpl:1: function "nope" not defined"#),
        "{e}"
    );
}

#[test]
fn default_fields_follow_the_message_type() {
    let yaml = r#"
route: {receiver: r}
receivers:
  - name: r
    dingtalk_configs: [{access_token: t, message_type: text}]
    feishu_configs: [{token: t, message_type: post}]
    telegram_configs: [{bot_token: b, chat_id: 1, parse_mode: ''}]
    email_configs: [{to: a@b.c, from: c@d.e, smarthost: 'h:25'}]
"#;
    let cfg = Config::load(yaml, "am.yml").unwrap_or_else(|e| panic!("{e}"));
    let fields: Vec<(String, String)> = cfg.receivers[0]
        .iter()
        .flat_map(|(_, ic)| {
            ic.templated_fields()
                .into_iter()
                .map(|(k, v)| (k, v.to_owned()))
                .collect::<Vec<_>>()
        })
        .filter(|(k, _)| ["message", "headers.Subject"].contains(&k.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("headers.Subject".to_owned(), call("email.default.subject")),
            ("message".to_owned(), call("telegram.default.text")),
            ("message".to_owned(), call("dingtalk.default.text")),
            ("message".to_owned(), call("feishu.default.post")),
        ]
    );
}
