//! Configuration: receivers as an `alertmanager.yml` writes them, loaded by argus-notify
//! (the one receiver model), and the errors a channel that cannot work gets before any
//! alert fires.

use argus_channels::Channel;
use argus_notify::{Config, IntegrationKind as Kind};
use serde_json::json;

use crate::common::{load_integration, try_channel};

fn error_of(config: serde_json::Value) -> String {
    match try_channel("ops", config) {
        Ok(_) => "no error".into(),
        Err(e) => e,
    }
}

fn channels(yaml: &str) -> Vec<Result<Channel, String>> {
    let cfg = Config::load(yaml, "am.yml").unwrap_or_else(|e| panic!("{e}"));
    cfg.receivers
        .iter()
        .flat_map(|r| {
            r.iter().map(|(_, ic)| {
                Channel::new(&r.name, ic, cfg.notification_templates.clone())
                    .map_err(|e| e.to_string())
            })
        })
        .collect()
}

#[test]
fn a_receiver_with_every_kind_makes_its_channels() {
    let yaml = r#"
route: {receiver: ops}
receivers:
  - name: ops
    webhook_configs: [{url: 'http://hooks.example/a', max_alerts: 10}]
    email_configs:
      - {to: 'ops@example.com, Ann <ann@example.com>', from: argus@example.com,
         smarthost: 'smtp.example.com:587', auth_username: argus, auth_password: pw,
         headers: {Subject: alert, X-Team: ops}}
    slack_configs: [{api_url: 'https://hooks.slack.com/services/T/B/X', channel: '#ops'}]
    dingtalk_configs: [{access_token: t, secret: SECx}]
    wecom_configs: [{key: k}]
    feishu_configs:
      - {token: t}
      - {api_url: 'https://open.larksuite.com/open-apis/bot/v2/hook/', token: t}
    telegram_configs: [{bot_token: '1:A', chat_id: 42}]
    script_configs: [{command: /bin/true, timeout: 5s}]
"#;
    let channels: Vec<Channel> = channels(yaml)
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let kinds: Vec<Kind> = channels.iter().map(Channel::kind).collect();
    // Alertmanager's build order, then Argus's kinds.
    assert_eq!(
        kinds,
        [
            Kind::Webhook,
            Kind::Email,
            Kind::Slack,
            Kind::Telegram,
            Kind::Dingtalk,
            Kind::Wecom,
            Kind::Feishu,
            Kind::Feishu,
            Kind::Script
        ]
    );
    assert!(channels.iter().all(|c| c.receiver() == "ops"));
    // Alertmanager's send_resolved defaults: false for email and Slack.
    let resolved: Vec<bool> = channels.iter().map(Channel::send_resolved).collect();
    assert_eq!(
        resolved,
        [true, false, false, true, true, true, true, true, true]
    );
}

#[test]
fn kinds_argus_cannot_send_load_and_their_channels_say_why() {
    let yaml = r#"
global: {wechat_api_secret: s, wechat_api_corp_id: c}
route: {receiver: pager}
receivers:
  - name: pager
    pagerduty_configs: [{routing_key: x, severity: critical}]
    wechat_configs: [{to_user: '@all'}]
    webhook_configs: [{url: 'http://hooks.example/a'}]
"#;
    let built = channels(yaml);
    assert_eq!(built.len(), 3);
    assert!(
        built[0].is_ok(),
        "the webhook works: {:?}",
        built[0].as_ref().err()
    );
    assert_eq!(
        built[1].as_ref().err().map(String::as_str),
        Some("pagerduty channel: Argus cannot send pagerduty_configs")
    );
    assert_eq!(
        built[2].as_ref().err().map(String::as_str),
        Some(
            "wechat channel: Argus cannot send wechat_configs (for a WeCom group robot, use wecom_configs)"
        )
    );
}

#[test]
fn unknown_keys_are_load_errors_that_name_receiver_integration_and_key() {
    let e = error_of(json!({"kind": "webhook", "url": "http://a/", "urll": 1}));
    assert!(e.starts_with("am.yml:"), "{e}");
    assert!(e.contains("receivers[0].webhook_configs[0]"), "{e}");
    assert!(e.contains("unknown field `urll`"), "{e}");
    let e = error_of(
        json!({"kind": "webhook", "url": "http://a/", "http_config": {"tls_config": {"ca_fil": "x"}}}),
    );
    assert!(e.contains("unknown field `ca_fil`"), "{e}");
    let e = error_of(json!({"kind": "slack", "api_url": "http://a/", "colour": "red"}));
    assert!(e.contains("unknown field `colour`"), "{e}");
}

#[test]
fn keys_alertmanager_knows_but_argus_cannot_honour_fail_the_channel() {
    let cases = [
        (
            json!({"kind": "webhook", "url": "http://a/", "http_config": {"oauth2": {"client_id": "x"}}}),
            "webhook channel: http_config.oauth2: not supported by Argus yet",
        ),
        (
            json!({"kind": "webhook", "url": "https://a/", "http_config": {"tls_config": {"cert_file": "c.pem", "key_file": "k.pem"}}}),
            "webhook channel: http_config.tls_config.cert_file: client certificates are not supported by Argus yet",
        ),
        (
            json!({"kind": "email", "to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com:587",
                   "auth_username": "u", "auth_secret": "s"}),
            "email channel: auth_secret: CRAM-MD5 is not supported by Argus; give auth_password for PLAIN or LOGIN",
        ),
        (
            json!({"kind": "email", "to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com:587",
                   "auth_username": "u", "auth_password": "p", "auth_identity": "other"}),
            "email channel: auth_identity: an identity other than auth_username is not supported by Argus",
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(error_of(config.clone()), expected, "{config}");
    }
    // Argus's own key, TLS from the first byte on any port, loads.
    assert_eq!(
        error_of(json!({"kind": "email", "to": "a@b.c", "from": "a@b.c",
                        "smarthost": "smtp.example.com:2465", "tls_on_connect": true})),
        "no error"
    );
}

#[test]
fn global_defaults_reach_the_channels() {
    let globals = json!({
        "smtp_smarthost": "127.0.0.1:2525", "smtp_from": "argus@example.com",
        "smtp_hello": "argus.example.com", "smtp_auth_username": "u",
        "smtp_auth_password": "p", "smtp_auth_identity": "u", "smtp_require_tls": false,
        "slack_api_url": "https://hooks.slack.com/services/T/B/X",
        "telegram_api_url": "http://127.0.0.1:1",
        "http_config": {"authorization": {"credentials": "TOK"}},
    });
    let email = load_integration(
        "ops",
        json!({"kind": "email", "to": "a@b.c"}),
        globals.clone(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let argus_notify::IntegrationConfig::Email(e) = &email else {
        panic!("not email")
    };
    assert_eq!(
        (
            e.smarthost.as_str(),
            e.from.as_str(),
            e.hello.as_str(),
            e.auth_username.as_str(),
            e.auth_password.expose(),
            e.auth_identity.as_str(),
            e.require_tls
        ),
        (
            "127.0.0.1:2525",
            "argus@example.com",
            "argus.example.com",
            "u",
            "p",
            "u",
            Some(false)
        )
    );
    assert!(Channel::new("ops", &email, Default::default()).is_ok());
    let slack = load_integration("ops", json!({"kind": "slack"}), globals.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let argus_notify::IntegrationConfig::Slack(s) = &slack else {
        panic!("not slack")
    };
    assert_eq!(
        s.api_url.as_ref().map(argus_notify::Secret::expose),
        Some("https://hooks.slack.com/services/T/B/X")
    );
    let credentials = s
        .http_config
        .as_ref()
        .and_then(|h| h.authorization.as_ref())
        .map(|a| a.credentials.expose());
    assert_eq!(credentials, Some("TOK"));
    let tg = load_integration(
        "ops",
        json!({"kind": "telegram", "bot_token": "1:A", "chat_id": 1}),
        globals,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let argus_notify::IntegrationConfig::Telegram(t) = &tg else {
        panic!("not telegram")
    };
    assert_eq!(t.api_url.as_deref(), Some("http://127.0.0.1:1"));
}

#[test]
fn bad_values_are_errors_that_name_the_field() {
    let cases = [
        (
            json!({"kind": "webhook", "url": "ftp://a/"}),
            "unsupported scheme \"ftp\" for URL",
        ),
        (
            json!({"kind": "webhook", "url": "http://a/", "http_config": {
            "basic_auth": {"username": "u"}, "bearer_token": "t"}}),
            "webhook channel: http_config: at most one of basic_auth, authorization and bearer_token may be set",
        ),
        (
            json!({"kind": "webhook", "url": "https://a/", "http_config": {"tls_config": {"ca_file": "/nonexistent/ca.pem"}}}),
            "webhook channel: http_config.tls_config.ca_file: /nonexistent/ca.pem: No such file or directory (os error 2)",
        ),
        (
            json!({"kind": "dingtalk"}),
            "missing access_token on dingtalk_config (or the whole robot URL as api_url)",
        ),
        (
            json!({"kind": "dingtalk", "access_token": "t", "secret": ""}),
            "empty secret on dingtalk_config; leave it out for a robot without signing",
        ),
        (
            json!({"kind": "wecom"}),
            "missing key on wecom_config (or the whole robot URL as api_url)",
        ),
        (
            json!({"kind": "feishu"}),
            "missing token on feishu_config (or the whole hook URL as api_url)",
        ),
        (
            json!({"kind": "telegram", "bot_token": "1:A", "chat_id": 0}),
            "missing chat_id on telegram_config",
        ),
        (
            json!({"kind": "telegram", "bot_token": "1:A", "chat_id": 1, "parse_mode": "html"}),
            "unknown parse_mode on telegram_config",
        ),
        (
            json!({"kind": "email", "to": "not an address", "from": "a@b.c", "smarthost": "h:25"}),
            "email channel: to: ",
        ),
        (
            json!({"kind": "email", "to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com"}),
            "address smtp.example.com: missing port in address",
        ),
        (
            json!({"kind": "email", "to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com:25",
                "require_tls": false, "auth_username": "u", "auth_password": "p"}),
            "email channel: require_tls: false with auth_username set: the password would cross the network to smtp.example.com unencrypted",
        ),
        (
            json!({"kind": "script", "args": ["x"]}),
            "missing command on script_config",
        ),
        (
            json!({"kind": "script", "command": "x", "timeout": "soon"}),
            "soon",
        ),
    ];
    for (config, expected) in cases {
        let e = error_of(config.clone());
        assert!(e.contains(expected), "{config}: {e}");
    }
}

#[test]
fn secrets_do_not_show_in_debug_or_serialized_configs() {
    let ic = load_integration(
        "ops",
        json!({"kind": "dingtalk", "api_url": "https://oapi.dingtalk.com/robot/send?access_token=TOKEN",
               "secret": "SECRETSIGN"}),
        json!({}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let argus_notify::IntegrationConfig::Dingtalk(d) = &ic else {
        panic!("not dingtalk")
    };
    let shown = format!(
        "{ic:?} {}",
        serde_json::to_string(&(&d.api_url, &d.secret)).expect("serializes")
    );
    assert!(
        !shown.contains("TOKEN") && !shown.contains("SECRETSIGN"),
        "{shown}"
    );
    assert!(shown.contains("<secret>"));
}

#[test]
fn readme_example_parses() {
    let readme = include_str!("../../README.md");
    let block = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block in the README");
    let kinds: Vec<Kind> = channels(block)
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| panic!("{e}")).kind())
        .collect();
    assert_eq!(
        kinds,
        [
            Kind::Webhook,
            Kind::Email,
            Kind::Dingtalk,
            Kind::Feishu,
            Kind::Script
        ]
    );
}
