use super::*;

const FULL: &str = r#"
global:
  resolve_timeout: 10m
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'am'
  smtp_auth_password: 'pw'
  slack_api_url: 'https://hooks.slack.com/services/T/B/X'
  wechat_api_secret: 's3cret'
  wechat_api_corp_id: 'corp'

templates:
  - 'templates/*.tmpl'
  - '/etc/am/extra.tmpl'

route:
  receiver: team-default
  group_by: ['alertname', 'cluster']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  routes:
    - matchers:
        - severity="critical"
        - service=~"db|cache", env!=staging
      receiver: team-pager
      continue: true
      group_by: ['...']
      mute_time_intervals: [offhours]
    - match:
        team: frontend
      match_re:
        service: ^(web|api)$
      receiver: team-frontend
      active_time_intervals: [business]
      routes:
        - matchers: [ 'job!~"test.*"' ]
          group_wait: 10s

inhibit_rules:
  - source_matchers: [ severity="critical" ]
    target_matchers: [ severity="warning" ]
    equal: [ alertname, cluster ]
  - source_match:
      severity: page
    target_match_re:
      severity: 'warn|info'
    equal: [ instance ]

receivers:
  - name: team-default
    email_configs:
      - to: 'ops@example.org'
        headers:
          subject: 'Alert!'
  - name: team-pager
    webhook_configs:
      - url: 'http://127.0.0.1:5001/hook'
        max_alerts: 10
      - url: 'https://example.org/b'
        send_resolved: false
    slack_configs:
      - channel: '#alerts'
    telegram_configs:
      - bot_token: '123:abc'
        chat_id: -1001234
    pagerduty_configs:
      - routing_key: 'key'
  - name: team-frontend
    wechat_configs:
      - to_party: 2
        agent_id: 1000002
    dingtalk_configs:
      - access_token: 'tok'
        secret: 'SECabc'
        at_mobiles: [13800000000]
    wecom_configs:
      - key: 'k'
        message_type: text
    feishu_configs:
      - token: 't'
    script_configs:
      - command: /usr/local/bin/notify.sh
        args: [--verbose]
        timeout: 1m

mute_time_intervals:
  - name: offhours
    time_intervals:
      - times: [ { start_time: '00:00', end_time: '08:00' } ]

time_intervals:
  - name: business
    time_intervals:
      - weekdays: ['monday:friday']
        times: [ { start_time: '09:00', end_time: '18:00' } ]
        location: Asia/Shanghai
"#;

fn load(y: &str) -> Config {
    Config::load(y, "am.yml").unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(y: &str) -> ConfigError {
    match Config::load(y, "am.yml") {
        Ok(_) => panic!("loaded:\n{y}"),
        Err(e) => e,
    }
}

const MIN: &str = "route:\n  receiver: a\nreceivers:\n  - name: a\n";

#[test]
fn parses_a_full_alertmanager_file() {
    let c = load(FULL);
    assert_eq!(c.global.resolve_timeout, SignedDuration::from_mins(10));
    assert_eq!(c.templates, vec!["templates/*.tmpl", "/etc/am/extra.tmpl"]);
    assert_eq!(c.route.receiver, "team-default");
    assert_eq!(c.route.group_by, vec!["alertname", "cluster"]);
    assert_eq!(c.route.repeat_interval, Some(SignedDuration::from_hours(3)));
    let pager = &c.route.routes[0];
    assert_eq!(
        pager.all_matchers().to_string(),
        r#"{env!="staging",service=~"db|cache",severity="critical"}"#
    );
    assert!(pager.continue_);
    assert_eq!(pager.group_by, vec!["..."]);
    assert_eq!(pager.mute_time_intervals, vec!["offhours"]);
    let fe = &c.route.routes[1];
    assert_eq!(
        fe.all_matchers().to_string(),
        r#"{service=~"^(web|api)$",team="frontend"}"#
    );
    assert_eq!(fe.routes[0].group_wait, Some(SignedDuration::from_secs(10)));
    assert_eq!(fe.active_time_intervals, vec!["business"]);

    assert_eq!(c.inhibit_rules.len(), 2);
    assert_eq!(c.inhibit_rules[0].equal, vec!["alertname", "cluster"]);
    assert_eq!(
        c.inhibit_rules[1].sources().to_string(),
        r#"{severity="page"}"#
    );
    assert_eq!(
        c.inhibit_rules[1].targets().to_string(),
        r#"{severity=~"warn|info"}"#
    );

    let names: Vec<_> = c.named_time_intervals().into_keys().collect();
    assert_eq!(names, vec!["business", "offhours"]);
}

#[test]
fn integrations_get_global_defaults_and_kind_defaults() {
    let c = load(FULL);
    let Some(def) = c.receiver("team-default") else {
        panic!("no team-default")
    };
    let IntegrationConfig::Email(e) = &def.of(IntegrationKind::Email)[0] else {
        panic!("not email")
    };
    assert_eq!(e.smarthost, "smtp.example.org:587");
    assert_eq!(e.from, "alertmanager@example.org");
    assert_eq!(e.hello, "localhost");
    assert_eq!(e.auth_username, "am");
    assert_eq!(e.auth_password.expose(), "pw");
    assert_eq!(e.require_tls, Some(true));
    assert!(!e.send_resolved);
    assert_eq!(e.headers.get("Subject").map(String::as_str), Some("Alert!"));
    assert_eq!(e.html, r#"{{ template "email.default.html" . }}"#);

    let Some(pager) = c.receiver("team-pager") else {
        panic!("no team-pager")
    };
    let kinds: Vec<(IntegrationKind, usize, bool)> = pager
        .iter()
        .map(|(i, ic)| (ic.kind(), i, ic.send_resolved()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (IntegrationKind::Webhook, 0, true),
            (IntegrationKind::Webhook, 1, false),
            (IntegrationKind::Pagerduty, 0, true),
            (IntegrationKind::Slack, 0, false),
            (IntegrationKind::Telegram, 0, true),
        ]
    );
    let IntegrationConfig::Webhook(w) = &pager.of(IntegrationKind::Webhook)[0] else {
        panic!("not webhook")
    };
    assert_eq!(w.max_alerts, 10);
    let IntegrationConfig::Slack(s) = &pager.of(IntegrationKind::Slack)[0] else {
        panic!("not slack")
    };
    assert_eq!(
        s.api_url.as_ref().map(Secret::expose),
        Some("https://hooks.slack.com/services/T/B/X")
    );
    let IntegrationConfig::Telegram(t) = &pager.of(IntegrationKind::Telegram)[0] else {
        panic!("not telegram")
    };
    assert_eq!((t.chat_id, t.parse_mode.as_str()), (-1_001_234, "HTML"));
    assert_eq!(t.api_url.as_deref(), Some("https://api.telegram.org"));

    let Some(fe) = c.receiver("team-frontend") else {
        panic!("no team-frontend")
    };
    let IntegrationConfig::Wechat(w) = &fe.of(IntegrationKind::Wechat)[0] else {
        panic!("not wechat")
    };
    // Numbers where Alertmanager has strings read as their text, as go-yaml does.
    assert_eq!((w.to_party.as_str(), w.agent_id.as_str()), ("2", "1000002"));
    assert_eq!(w.corp_id, "corp");
    assert_eq!(w.message_type, "text");
    assert_eq!(
        w.api_url.as_deref(),
        Some("https://qyapi.weixin.qq.com/cgi-bin/")
    );
    let IntegrationConfig::Dingtalk(d) = &fe.of(IntegrationKind::Dingtalk)[0] else {
        panic!("not dingtalk")
    };
    assert_eq!(d.at_mobiles, vec!["13800000000"]);
    assert_eq!(d.secret.as_ref().map(Secret::expose), Some("SECabc"));
    assert_eq!(
        d.api_url.as_ref().map(Secret::expose),
        Some("https://oapi.dingtalk.com/robot/send")
    );
    assert!(d.send_resolved);
    let IntegrationConfig::Script(s) = &fe.of(IntegrationKind::Script)[0] else {
        panic!("not script")
    };
    assert_eq!(s.timeout, SignedDuration::from_mins(1));
    assert_eq!(s.args, vec!["--verbose"]);
    assert_eq!(format!("{:?}", d.access_token), "<secret>");
}

#[test]
fn minimal_file_uses_alertmanager_defaults() {
    let c = load(MIN);
    assert_eq!(c.global.resolve_timeout, SignedDuration::from_mins(5));
    assert!(c.global.smtp_require_tls);
    assert!(c.templates.is_empty());
    let c = load("global:\nroute:\n  receiver: a\nreceivers:\n  - name: a\n");
    assert_eq!(c.global.smtp_hello, "localhost");
}

#[test]
fn undefined_receiver_names_path_and_line() {
    let e = load_err(
        "route:\n  receiver: a\n  routes:\n    - receiver: a\n    - receiver: nope\nreceivers:\n  - name: a\n",
    );
    assert_eq!(e.path, "route.routes[1].receiver");
    assert_eq!(e.line, Some(5));
    assert_eq!(e.reason, r#"undefined receiver "nope" used in route"#);
    assert_eq!(
        e.to_string(),
        r#"am.yml:5:17: route.routes[1].receiver: undefined receiver "nope" used in route"#
    );
}

#[test]
fn undefined_time_interval() {
    let e = load_err(&format!(
        "{MIN}route:\n  receiver: a\n  routes:\n    - receiver: a\n      mute_time_intervals: [never]\n"
    ));
    // A duplicate `route` key is itself an error: use a clean file instead.
    assert!(e.reason.contains("duplicate"), "{e}");
    let e = load_err(
        "route:\n  receiver: a\n  routes:\n    - receiver: a\n      mute_time_intervals: [never]\nreceivers:\n  - name: a\n",
    );
    assert_eq!(e.path, "route.routes[0].mute_time_intervals[0]");
    assert_eq!(e.line, Some(5));
    assert_eq!(e.reason, r#"undefined time interval "never" used in route"#);
}

#[test]
fn root_route_checks() {
    let e = load_err("route:\n  receiver: a\n  matchers: [a=b]\nreceivers:\n  - name: a\n");
    assert_eq!((e.path.as_str(), e.line), ("route.matchers", Some(3)));
    assert_eq!(e.reason, "root route must not have any matchers");
    let e = load_err("route:\n  group_by: [a]\nreceivers:\n  - name: a\n");
    assert_eq!(e.reason, "root route must specify a default receiver");
    let e = load_err("route:\n  receiver: a\n  continue: true\nreceivers:\n  - name: a\n");
    assert_eq!(e.reason, "cannot have continue in root route");
    let e = load_err("receivers:\n  - name: a\n");
    assert_eq!(e.reason, "no route provided in config");
    let e = load_err("");
    assert_eq!(e.reason, "no route provided in config");
}

#[test]
fn duplicate_receiver_and_interval_names() {
    let e = load_err("route:\n  receiver: a\nreceivers:\n  - name: a\n  - name: a\n");
    assert_eq!(e.path, "receivers[1].name");
    assert_eq!(e.line, Some(5));
    assert_eq!(e.reason, r#"notification config name "a" is not unique"#);
    let e = load_err(&format!(
        "{MIN}time_intervals:\n  - name: x\n    time_intervals: []\nmute_time_intervals:\n  - name: x\n    time_intervals: []\n"
    ));
    assert_eq!(e.path, "time_intervals[0].name");
    assert_eq!(e.reason, r#"time interval "x" is not unique"#);
}

#[test]
fn unknown_integration_kind_and_fields_are_named() {
    let e = load_err(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    fax_configs:\n      - to: 1\n",
    );
    assert!(
        e.reason.contains("unknown integration kind `fax_configs`"),
        "{e}"
    );
    assert_eq!(e.path, "receivers[0]");
    let e = load_err("route:\n  receiver: a\n  group_wiat: 1m\nreceivers:\n  - name: a\n");
    assert!(e.reason.starts_with("unknown field `group_wiat`"), "{e}");
    assert_eq!((e.path.as_str(), e.line), ("route", Some(3)));
    let e = load_err(
        "route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: http://x\n        urll: y\n",
    );
    assert!(e.reason.contains("unknown field `urll`"), "{e}");
    assert_eq!(
        (e.path.as_str(), e.line),
        ("receivers[0].webhook_configs[0]", Some(7)),
        "{e}"
    );
}

#[test]
fn bad_values_point_at_their_line() {
    let e = load_err(
        "route:\n  receiver: a\n  routes:\n    - group_wait: 5 minutes\nreceivers:\n  - name: a\n",
    );
    assert_eq!(e.line, Some(4));
    assert_eq!(e.path, "route.routes[0].group_wait");
    assert_eq!(e.reason, r#"not a valid duration string: "5 minutes""#);
    let e = load_err(
        "route:\n  receiver: a\n  routes:\n    - matchers: ['a=\"b']\nreceivers:\n  - name: a\n",
    );
    assert_eq!(e.line, Some(4));
    assert!(e.reason.contains("unescaped double quote"), "{e}");
    let e = load_err(
        "route:\n  receiver: a\n  routes:\n    - match_re: {a: '(('}\nreceivers:\n  - name: a\n",
    );
    assert!(e.reason.contains("invalid regular expression"), "{e}");
    let e = load_err(
        "route:\n  receiver: a\n  routes:\n    - match: {1a: x}\nreceivers:\n  - name: a\n",
    );
    assert!(e.reason.contains(r#"invalid label name "1a""#), "{e}");
}

#[test]
fn group_by_checks() {
    let e = load_err("route:\n  receiver: a\n  group_by: ['...', a]\nreceivers:\n  - name: a\n");
    assert!(e.reason.starts_with("cannot have wildcard group_by"), "{e}");
    let e = load_err("route:\n  receiver: a\n  group_by: [a, a]\nreceivers:\n  - name: a\n");
    assert_eq!(e.reason, r#"duplicated label "a" in group_by"#);
    assert_eq!(e.path, "route.group_by[1]");
    let e = load_err("route:\n  receiver: a\n  group_by: [a-b]\nreceivers:\n  - name: a\n");
    assert_eq!(e.reason, r#"invalid label name "a-b" in group_by list"#);
    let e = load_err("route:\n  receiver: a\n  group_interval: 0s\nreceivers:\n  - name: a\n");
    assert_eq!(e.reason, "group_interval cannot be zero");
}

#[test]
fn integration_requirements() {
    let with = |r: &str| format!("route:\n  receiver: a\nreceivers:\n  - name: a\n{r}");
    let e = load_err(&with("    email_configs:\n      - to: x@y\n"));
    assert_eq!(e.reason, "no global SMTP smarthost set");
    assert_eq!(e.path, "receivers[0].email_configs[0]");
    assert_eq!(e.line, Some(6));
    let e = load_err(&with("    slack_configs:\n      - channel: x\n"));
    assert_eq!(
        e.reason,
        "no global Slack API URL set either inline or in a file"
    );
    let e = load_err(&with("    webhook_configs:\n      - max_alerts: 1\n"));
    assert_eq!(e.reason, "missing URL in webhook config");
    let e = load_err(&with("    webhook_configs:\n      - url: ftp://x\n"));
    assert!(e.reason.contains("unsupported scheme \"ftp\""), "{e}");
    let e = load_err(&with("    telegram_configs:\n      - bot_token: x\n"));
    assert_eq!(e.reason, "missing chat_id on telegram_config");
    let e = load_err(&with("    wechat_configs:\n      - message: x\n"));
    assert_eq!(e.reason, "no global Wechat ApiSecret set");
    let e = load_err(&with("    dingtalk_configs:\n      - secret: x\n"));
    assert_eq!(
        e.reason,
        "missing access_token on dingtalk_config (or the whole robot URL as api_url)"
    );
    // The robot's whole webhook URL holds the token.
    let c = load(&with(
        "    dingtalk_configs:\n      - api_url: https://oapi.dingtalk.com/robot/send?access_token=T\n",
    ));
    let IntegrationConfig::Dingtalk(d) = &c.receivers[0].of(IntegrationKind::Dingtalk)[0] else {
        panic!("not dingtalk")
    };
    assert!(d.access_token.is_empty());
    let e = load_err(&with("    feishu_configs:\n      - secret: x\n"));
    assert_eq!(
        e.reason,
        "missing token on feishu_config (or the whole hook URL as api_url)"
    );
    let e = load_err(&with("    script_configs:\n      - args: [x]\n"));
    assert_eq!(e.reason, "missing command on script_config");
}

#[test]
fn load_file_joins_relative_templates() {
    let dir = std::env::temp_dir().join(format!("argus-notify-cfg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("alertmanager.yml");
    let written = std::fs::write(
        &path,
        format!("{MIN}templates: ['t/*.tmpl', '/abs.tmpl']\n"),
    );
    assert!(written.is_ok());
    let c = Config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.templates,
        vec![
            dir.join("t/*.tmpl").display().to_string(),
            "/abs.tmpl".to_owned()
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
    let e = Config::load_file(dir.join("missing.yml")).err();
    assert!(e.is_some_and(|e| e.reason.starts_with("cannot read")));
}

#[test]
fn accepts_what_amtool_0_25_accepts() {
    // Each of these passed `amtool check-config` of Alertmanager 0.25.0.
    let c = load(
        "route:\n  receiver: a\n  routes:\n    - matchers: ['a=b, c=~\"x|y\"', 'd!=e', 'f!~g']\n      match: {code: 500}\n      receiver: a\nreceivers:\n  - name: a\n",
    );
    assert_eq!(
        c.route.routes[0].all_matchers().to_string(),
        r#"{a="b",c=~"x|y",code="500",d!="e",f!~"g"}"#
    );
    let c = load(
        "route:\n  receiver: a\n  group_by: []\n  routes: [{receiver: a, group_by: []}]\nreceivers:\n  - name: a\n",
    );
    assert!(c.route.group_by.is_empty());
    // AM does not range-check months.
    let c = load(
        "route:\n  receiver: a\ntime_intervals:\n  - name: t\n    time_intervals: [{days_of_month: ['-1'], months: [13]}]\nreceivers:\n  - name: a\n",
    );
    assert_eq!(c.time_intervals[0].time_intervals.len(), 1);
}
