//! Configuration: receivers as Alertmanager writes them, and the errors a bad one gets
//! before any alert fires.

use argus_channels::{Channel, ChannelConfig, Kind, ReceiverConfig};
use serde_json::json;

fn error_of(config: serde_json::Value) -> String {
    let config: ChannelConfig = match serde_json::from_value(config) {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    match Channel::new("ops", config) {
        Ok(_) => "no error".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_receiver_with_every_kind_makes_its_channels() {
    let r: ReceiverConfig = serde_json::from_value(json!({
        "name": "ops",
        "webhook_configs": [{"url": "http://hooks.example/a", "max_alerts": 10}],
        "email_configs": [{"to": "ops@example.com, Ann <ann@example.com>", "from": "argus@example.com",
                           "smarthost": "smtp.example.com:587", "auth_username": "argus",
                           "auth_password": "pw", "headers": {"Subject": "alert", "X-Team": "ops"}}],
        "slack_configs": [{"api_url": "https://hooks.slack.com/services/T/B/X", "channel": "#ops"}],
        "dingtalk_configs": [{"access_token": "t", "secret": "SECx"}],
        "wecom_configs": [{"key": "k"}],
        "feishu_configs": [{"token": "t"},
                           {"api_url": "https://open.larksuite.com/open-apis/bot/v2/hook/", "token": "t"}],
        "telegram_configs": [{"bot_token": "1:A", "chat_id": 42}],
        "script_configs": [{"command": "/bin/true", "timeout": "5s"}]
    }))
    .expect("parses");
    let channels = r.channels().expect("valid");
    let kinds: Vec<Kind> = channels.iter().map(Channel::kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Webhook,
            Kind::Email,
            Kind::Slack,
            Kind::Dingtalk,
            Kind::Wecom,
            Kind::Feishu,
            Kind::Feishu,
            Kind::Telegram,
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
fn unknown_keys_are_errors_that_name_them() {
    let e = serde_json::from_value::<ReceiverConfig>(json!({"name": "x", "pagerduty_configs": []}))
        .expect_err("unknown kind");
    assert!(
        e.to_string().contains("unknown field `pagerduty_configs`"),
        "{e}"
    );
    assert!(
        error_of(json!({"kind": "webhook", "url": "http://a/", "urll": 1}))
            .contains("unknown field `urll`")
    );
    assert!(error_of(json!({"kind": "email", "to": "a@b", "from": "c@d", "smarthost": "h:25", "auth_secret": "x"}))
        .contains("unknown field `auth_secret`"));
    assert!(error_of(json!({"kind": "pagerduty"})).contains("unknown variant `pagerduty`"));
}

#[test]
fn bad_values_are_errors_that_name_the_field() {
    let cases = [
        (
            json!({"kind": "webhook", "url": "ftp://a/"}),
            "webhook channel: url: scheme \"ftp\" is not http or https",
        ),
        (
            json!({"kind": "webhook", "url": ""}),
            "webhook channel: url: required",
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
            "dingtalk channel: access_token: required (or the whole robot URL as api_url)",
        ),
        (
            json!({"kind": "dingtalk", "access_token": "t", "secret": ""}),
            "dingtalk channel: secret: empty; leave it out for a robot without signing",
        ),
        (
            json!({"kind": "wecom"}),
            "wecom channel: key: required (or the whole robot URL as api_url)",
        ),
        (
            json!({"kind": "feishu"}),
            "feishu channel: token: required (or the whole hook URL as api_url)",
        ),
        (
            json!({"kind": "telegram", "bot_token": "1:A", "chat_id": 0}),
            "telegram channel: chat_id: required",
        ),
        (
            json!({"kind": "telegram", "bot_token": "1:A", "chat_id": 1, "parse_mode": "html"}),
            "telegram channel: parse_mode: one of HTML, MarkdownV2, Markdown, or empty for plain text",
        ),
        (
            json!({"kind": "email", "to": "not an address", "from": "a@b.c", "smarthost": "h:25"}),
            "email channel: to: ",
        ),
        (
            json!({"kind": "email", "to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com"}),
            "email channel: smarthost: \"smtp.example.com\" is not host:port",
        ),
        (
            json!({"kind": "email", "to": "a@b.c", "from": "a@b.c", "smarthost": "smtp.example.com:25",
                "require_tls": false, "auth_username": "u", "auth_password": "p"}),
            "email channel: require_tls: false with auth_username set: the password would cross the network to smtp.example.com unencrypted",
        ),
        (
            json!({"kind": "script", "command": ""}),
            "script channel: command: required",
        ),
        (
            json!({"kind": "script", "command": "x", "timeout": "soon"}),
            "duration \"soon\"",
        ),
    ];
    for (config, expected) in cases {
        let e = error_of(config.clone());
        assert!(
            e.starts_with(expected) || e.contains(expected),
            "{config}: {e}"
        );
    }
}

#[test]
fn secrets_do_not_show_in_debug_or_serialized_configs() {
    let c: ChannelConfig = serde_json::from_value(json!({
        "kind": "dingtalk", "api_url": "https://oapi.dingtalk.com/robot/send?access_token=TOKEN",
        "secret": "SECRETSIGN"}))
    .expect("parses");
    let shown = format!("{c:?} {}", serde_json::to_string(&c).expect("serializes"));
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
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a json block in the README");
    let r: ReceiverConfig = serde_json::from_str(block).expect("the README's receiver parses");
    let kinds: Vec<Kind> = r
        .channels()
        .expect("valid")
        .iter()
        .map(Channel::kind)
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
