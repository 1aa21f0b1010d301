//! The HTTP channels against the recorder: what each sends (payload, headers,
//! signatures), and how delivery retries.

use std::time::Duration;

use argus_channels::{Reason, RetryPolicy, deliver, send_test};
use argus_notify::{IntegrationKind as Kind, TEST_ALERTNAME};
use serde_json::json;

use crate::common::{
    NOW, Recorder, Reply, alert, channel, closed_port, high_cpu, hmac_b64, notification, ts,
};

#[tokio::test]
async fn webhook_posts_the_v4_payload_as_alertmanager_does() {
    let r = Recorder::start("").await;
    let ch = channel(
        "ops",
        json!({"kind": "webhook", "url": r.url("/hook?team=a"),
               "http_config": {"basic_auth": {"username": "argus", "password": "s3cret"}}}),
    );
    let n = high_cpu();
    let out = deliver(&ch, &n).await;
    assert!(out.ok, "{out:?}");
    assert_eq!(
        (out.attempts, out.status, out.kind),
        (1, Some(200), Kind::Webhook)
    );

    let reqs = r.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(
        (req.method.as_str(), req.uri.as_str()),
        ("POST", "/hook?team=a")
    );
    assert_eq!(req.header("user-agent"), "Alertmanager/0.25.0");
    assert_eq!(req.header("content-type"), "application/json");
    // base64("argus:s3cret")
    assert_eq!(req.header("authorization"), "Basic YXJndXM6czNjcmV0");
    assert_eq!(req.body.as_ref(), n.webhook_body(0).as_bytes());
    let body = std::str::from_utf8(&req.body).expect("utf-8");
    assert!(body.ends_with("}\n"));
    assert!(
        body.contains(r#""summary":"CPU \u003cbusy\u003e \u0026 hot on db1""#),
        "{body}"
    );
    assert!(
        body.contains(r#""startsAt":"2026-12-07T09:55:00.25Z","endsAt":"0001-01-01T00:00:00Z""#),
        "{body}"
    );
    assert!(body.starts_with(r#"{"receiver":"ops","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighCPU","host":"db1","severity":"page"}"#), "{body}");
    assert!(body.ends_with(r#""externalURL":"http://argus.example:9090","version":"4","groupKey":"{}:{alertname=\"HighCPU\"}","truncatedAlerts":0}
"#), "{body}");
}

#[tokio::test]
async fn webhook_max_alerts_counts_the_rest_as_truncated() {
    let r = Recorder::start("").await;
    let ch = channel(
        "ops",
        json!({"kind": "webhook", "url": r.url("/"), "max_alerts": 1,
               "http_config": {"authorization": {"credentials": "tok"}}}),
    );
    assert!(deliver(&ch, &high_cpu()).await.ok);
    let req = &r.requests()[0];
    assert_eq!(req.header("authorization"), "Bearer tok");
    let v = req.json();
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["truncatedAlerts"], 1);
    assert_eq!(v["alerts"][0]["labels"]["host"], "db1");
}

#[tokio::test]
async fn status_500_then_200_is_delivered_on_the_second_attempt() {
    let r = Recorder::start("").await;
    r.then(Reply::new(500, "overloaded"));
    let ch = channel("ops", json!({"kind": "webhook", "url": r.url("/")}));
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    assert_eq!((out.attempts, out.status), (2, Some(200)));
    assert_eq!(r.requests().len(), 2);
    assert_eq!(r.requests()[0].body, r.requests()[1].body);
}

#[tokio::test]
async fn status_400_fails_at_once() {
    let r = Recorder::start("").await;
    r.then(Reply::new(400, "bad payload"));
    let ch = channel("ops", json!({"kind": "webhook", "url": r.url("/")}));
    let out = deliver(&ch, &high_cpu()).await;
    assert!(!out.ok);
    assert_eq!(
        (out.attempts, out.status, out.reason),
        (1, Some(400), Some(Reason::Status))
    );
    assert_eq!(
        out.error.as_deref(),
        Some("unexpected status code 400: bad payload")
    );
    assert_eq!(r.requests().len(), 1);
}

#[tokio::test]
async fn status_500_every_time_fails_after_the_last_attempt() {
    let r = Recorder::start("").await;
    for _ in 0..3 {
        r.then(Reply::new(503, "down"));
    }
    let ch = channel("ops", json!({"kind": "webhook", "url": r.url("/")}));
    let out = deliver(&ch, &high_cpu()).await;
    assert!(!out.ok);
    assert_eq!((out.attempts, out.status), (3, Some(503)));
    assert_eq!(r.requests().len(), 3);
}

#[tokio::test]
async fn connection_refused_is_retried_then_fails() {
    let port = closed_port();
    let ch = channel(
        "ops",
        json!({"kind": "webhook", "url": format!("http://127.0.0.1:{port}/")}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(!out.ok);
    assert_eq!(
        (out.attempts, out.status, out.reason),
        (3, None, Some(Reason::Network))
    );
    let error = out.error.unwrap_or_default();
    assert!(error.contains("onnect"), "{error}");
    assert!(!error.contains("127.0.0.1"), "no URL in errors: {error}");
}

#[tokio::test]
async fn the_whole_delivery_stops_at_the_policy_timeout() {
    let port = closed_port();
    let ch = channel(
        "ops",
        json!({"kind": "webhook", "url": format!("http://127.0.0.1:{port}/")}),
    )
    .with_policy(RetryPolicy {
        timeout: Duration::from_millis(600),
        attempt_timeout: Duration::from_millis(200),
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
        max_attempts: 0,
    });
    let out = deliver(&ch, &high_cpu()).await;
    assert!(!out.ok);
    // Waits of 75–125 ms within 600 ms: between 4 and 8 attempts, never past the limit.
    assert!((4..=8).contains(&out.attempts), "{out:?}");
    assert!(out.duration < Duration::from_millis(700), "{out:?}");
}

#[tokio::test]
async fn a_slow_server_times_the_attempt_out_and_is_retried() {
    let r = Recorder::start("").await;
    r.then(Reply::new(200, "").delay(Duration::from_secs(2)));
    let ch =
        channel("ops", json!({"kind": "webhook", "url": r.url("/")})).with_policy(RetryPolicy {
            attempt_timeout: Duration::from_millis(300),
            ..crate::common::fast()
        });
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    assert_eq!(out.attempts, 2);
    let slow = RetryPolicy {
        attempt_timeout: Duration::from_millis(300),
        max_attempts: 1,
        ..crate::common::fast()
    };
    r.then(Reply::new(200, "").delay(Duration::from_secs(2)));
    let out = deliver(&ch.clone().with_policy(slow), &high_cpu()).await;
    assert_eq!(
        (out.ok, out.reason),
        (false, Some(Reason::Timeout)),
        "{out:?}"
    );
}

#[tokio::test]
async fn status_429_waits_for_retry_after() {
    let r = Recorder::start("").await;
    r.then(Reply::new(429, "slow down").header("retry-after", "1"));
    let ch = channel("ops", json!({"kind": "webhook", "url": r.url("/")}));
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    assert_eq!(out.attempts, 2);
    assert!(out.duration >= Duration::from_secs(1), "{out:?}");
}

#[tokio::test]
async fn send_test_delivers_the_fixed_test_notification() {
    let r = Recorder::start("").await;
    let ch = channel("team.ops", json!({"kind": "webhook", "url": r.url("/")}));
    let out = send_test(&ch).await;
    assert!(out.ok, "{out:?}");
    let v = r.requests()[0].json();
    assert_eq!(v["receiver"], "team\\.ops");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["alerts"][0]["labels"]["alertname"], TEST_ALERTNAME);
    assert_eq!(v["alerts"][0]["startsAt"], NOW);
    assert_eq!(
        v["alerts"][0]["annotations"]["summary"],
        "Test notification from Argus"
    );
}

#[tokio::test]
async fn slack_posts_an_attachment_like_alertmanager() {
    let r = Recorder::start("ok").await;
    let ch = channel(
        "ops",
        json!({"kind": "slack", "api_url": r.url("/services/T0/B0/XXX"), "channel": "#ops",
               "username": "argus", "send_resolved": true}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let req = &r.requests()[0];
    assert_eq!(req.uri, "/services/T0/B0/XXX");
    assert_eq!(req.header("content-type"), "application/json");
    let v = req.json();
    assert_eq!(v["channel"], "#ops");
    assert_eq!(v["username"], "argus");
    let a = &v["attachments"][0];
    assert_eq!(a["title"], "[FIRING:2] HighCPU (page)");
    assert_eq!(a["fallback"], "[FIRING:2] HighCPU (page)");
    assert_eq!(a["title_link"], "http://argus.example:9090");
    assert_eq!(a["color"], "danger");
    assert_eq!(a["mrkdwn_in"], json!(["fallback", "pretext", "text"]));
    let text = a["text"].as_str().unwrap_or_default();
    // As Alertmanager's Slack text, values are not escaped.
    assert!(text.starts_with("*Firing (2)*\n*HighCPU* host=db1, severity=page\nsummary: CPU <busy> & hot on db1\nrunbook: https://wiki/cpu\n"), "{text}");
    assert!(
        text.contains("<http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1|Source>"),
        "{text}"
    );
    assert_eq!(
        (a["footer"].as_str(), a["callback_id"].as_str()),
        (Some(""), Some(""))
    );

    let mut resolved = high_cpu();
    for a in &mut resolved.alerts {
        a.status = "resolved".into();
        a.ends_at = Some(ts("2026-12-07T09:59:00Z"));
    }
    resolved.status = "resolved".into();
    assert!(deliver(&ch, &resolved).await.ok);
    let a = &r.requests()[1].json()["attachments"][0];
    assert_eq!(a["color"], "good");
    assert_eq!(a["title"], "[RESOLVED] HighCPU (page)");
}

#[tokio::test]
async fn slack_api_errors_fail_and_ratelimited_is_retried() {
    let r = Recorder::start(r#"{"ok":true}"#).await;
    r.then(Reply::new(200, r#"{"ok":false,"error":"ratelimited"}"#));
    let ch = channel(
        "ops",
        json!({"kind": "slack", "api_url": r.url("/api/chat.postMessage")}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts), (true, 2), "{out:?}");

    r.then(Reply::new(
        200,
        r#"{"ok":false,"error":"channel_not_found"}"#,
    ));
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Rejected))
    );
    assert_eq!(out.error.as_deref(), Some("slack: channel_not_found"));

    r.then(Reply::new(400, "invalid_payload"));
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts, out.status), (false, 1, Some(400)));
}

#[tokio::test]
async fn a_configured_title_replaces_the_default() {
    let r = Recorder::start("ok").await;
    let ch = channel(
        "ops",
        json!({"kind": "slack", "api_url": r.url("/hook"), "title": "configured title"}),
    );
    assert!(deliver(&ch, &high_cpu()).await.ok);
    let reqs = r.requests();
    assert_eq!(
        reqs[0].json()["attachments"][0]["title"],
        "configured title"
    );
}

const SECRET: &str = "SEC0123456789abcdef";

#[tokio::test]
async fn dingtalk_signs_the_request_and_sends_markdown() {
    let r = Recorder::start(r#"{"errcode":0,"errmsg":"ok"}"#).await;
    let ch = channel(
        "ops",
        json!({"kind": "dingtalk", "api_url": r.url("/robot/send"), "access_token": "tok123",
               "secret": SECRET, "at_mobiles": ["13800000000"]}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let req = &r.requests()[0];
    assert!(
        req.uri
            .starts_with("/robot/send?access_token=tok123&timestamp="),
        "{}",
        req.uri
    );
    // The test's clock, in milliseconds.
    let ms = ts(NOW).as_millisecond();
    assert_eq!(req.query("timestamp"), Some(ms.to_string()));
    let expected = hmac_b64(SECRET.as_bytes(), format!("{ms}\n{SECRET}").as_bytes());
    assert_eq!(req.query("sign").as_deref(), Some(expected.as_str()));
    // Sent URL-encoded once: '+', '/' and '=' of base64 as %2B, %2F, %3D.
    let raw = req.raw_query("sign").unwrap_or_default();
    assert!(!raw.contains(['+', '/', '=']), "{raw}");
    assert_eq!(
        raw,
        form_urlencoded::byte_serialize(expected.as_bytes()).collect::<String>()
    );

    let v = req.json();
    assert_eq!(v["msgtype"], "markdown");
    assert_eq!(v["markdown"]["title"], "[FIRING:2] HighCPU (page)");
    let text = v["markdown"]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("#### [FIRING:2] HighCPU (page)\n\n### Firing (2)\n\n- **HighCPU** host=db1, severity=page  \n  summary: CPU <busy> & hot on db1  \n"), "{text}");
    assert!(text.ends_with("\n\n@13800000000"), "{text}");
    assert_eq!(v["at"]["atMobiles"], json!(["13800000000"]));
    assert_eq!(v["at"]["isAtAll"], false);
}

#[tokio::test]
async fn dingtalk_errcode_fails_unless_it_means_rate_limited() {
    let r = Recorder::start(r#"{"errcode":0,"errmsg":"ok"}"#).await;
    // The robot's whole URL as DingTalk shows it, no separate token; text messages.
    let ch = channel(
        "ops",
        json!({"kind": "dingtalk", "api_url": r.url("/robot/send?access_token=abc"),
               "message_type": "text"}),
    );
    r.then(Reply::new(
        200,
        r#"{"errcode":310000,"errmsg":"keywords not in content"}"#,
    ));
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.status, out.reason),
        (false, 1, Some(200), Some(Reason::Rejected))
    );
    assert_eq!(
        out.error.as_deref(),
        Some("dingtalk: errcode 310000: keywords not in content")
    );

    r.then(Reply::new(
        200,
        r#"{"errcode":130101,"errmsg":"send too fast"}"#,
    ));
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts), (true, 2), "{out:?}");

    let reqs = r.requests();
    assert_eq!(reqs[0].uri, "/robot/send?access_token=abc");
    let v = reqs[0].json();
    assert_eq!(v["msgtype"], "text");
    let content = v["text"]["content"].as_str().unwrap_or_default();
    assert!(
        content.starts_with("[FIRING:2] HighCPU (page)\n\nFiring (2)\nHighCPU host=db1"),
        "{content}"
    );
}

#[tokio::test]
async fn wecom_markdown_is_cut_to_4096_bytes_and_text_to_2048() {
    let r = Recorder::start(r#"{"errcode":0,"errmsg":"ok"}"#).await;
    let many: Vec<_> = (0..200)
        .map(|i| {
            let host = format!("db{i}");
            alert(
                &[("alertname", "DiskFull"), ("host", host.as_str())],
                &[("summary", "磁盘已满 disk full")],
                false,
            )
        })
        .collect();
    let n = notification("ops", many);
    let md = channel(
        "ops",
        json!({"kind": "wecom", "api_url": r.url("/cgi-bin/webhook/send"), "key": "k-1"}),
    );
    assert!(deliver(&md, &n).await.ok);
    let text = channel(
        "ops",
        json!({"kind": "wecom", "api_url": r.url("/cgi-bin/webhook/send?key=k-2"), "message_type": "text",
               "mentioned_list": ["@all"], "mentioned_mobile_list": ["13800000000"]}),
    );
    assert!(deliver(&text, &n).await.ok);

    let reqs = r.requests();
    assert_eq!(reqs[0].uri, "/cgi-bin/webhook/send?key=k-1");
    let v = reqs[0].json();
    assert_eq!(v["msgtype"], "markdown");
    let content = v["markdown"]["content"].as_str().unwrap_or_default();
    assert!(
        content.len() <= 4096 && content.len() > 4000,
        "{}",
        content.len()
    );
    assert!(
        content.starts_with(
            "**[FIRING:200] DiskFull**\n\n### Firing (200)\n\n- **DiskFull** host=db0"
        ),
        "{content}"
    );
    assert!(content.ends_with('…'));

    assert_eq!(reqs[1].uri, "/cgi-bin/webhook/send?key=k-2");
    let v = reqs[1].json();
    assert_eq!(v["msgtype"], "text");
    let content = v["text"]["content"].as_str().unwrap_or_default();
    assert!(
        content.len() <= 2048 && content.len() > 2000,
        "{}",
        content.len()
    );
    assert_eq!(v["text"]["mentioned_list"], json!(["@all"]));
    assert_eq!(v["text"]["mentioned_mobile_list"], json!(["13800000000"]));

    r.then(Reply::new(
        200,
        r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
    ));
    let out = deliver(&md, &n).await;
    assert_eq!((out.ok, out.attempts), (false, 1));
    r.then(Reply::new(
        200,
        r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
    ));
    let out = deliver(&md, &n).await;
    assert_eq!((out.ok, out.attempts), (true, 2));
}

#[tokio::test]
async fn feishu_signs_the_body_and_sends_a_card() {
    let r = Recorder::start(r#"{"code":0,"msg":"success","data":{}}"#).await;
    let ch = channel(
        "ops",
        json!({"kind": "feishu", "api_url": r.url("/open-apis/bot/v2/hook/"), "token": "t-0",
               "secret": SECRET}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let req = &r.requests()[0];
    assert_eq!(req.uri, "/open-apis/bot/v2/hook/t-0");
    let v = req.json();
    let secs = ts(NOW).as_second();
    assert_eq!(v["timestamp"], secs.to_string());
    let expected = hmac_b64(format!("{secs}\n{SECRET}").as_bytes(), b"");
    assert_eq!(v["sign"], expected);
    assert_eq!(v["msg_type"], "interactive");
    assert_eq!(
        v["card"]["header"]["title"]["content"],
        "[FIRING:2] HighCPU (page)"
    );
    assert_eq!(v["card"]["header"]["template"], "red");
    let md = v["card"]["elements"][0]["text"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(md.starts_with("**Firing (2)**\n**HighCPU** host=db1, severity=page\nsummary: CPU <busy> & hot on db1\n"), "{md}");
    assert!(
        md.contains("[Source](http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1)"),
        "{md}"
    );

    // A text bot given as its whole URL, unsigned; a refusal is not retried.
    let text = channel(
        "ops",
        json!({"kind": "feishu", "api_url": r.url("/open-apis/bot/v2/hook/t-1"), "message_type": "text"}),
    );
    r.then(Reply::new(200, r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#));
    let out = deliver(&text, &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Rejected))
    );
    assert!(
        out.error
            .unwrap_or_default()
            .starts_with("feishu: code 19021: sign match fail")
    );
    let v = r.requests()[1].json();
    assert_eq!(r.requests()[1].uri, "/open-apis/bot/v2/hook/t-1");
    assert!(v.get("sign").is_none());
    assert!(
        v["content"]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[FIRING:2] HighCPU (page)\n\n")
    );

    // A rate limit answered with 400 and a code is retried.
    r.then(Reply::new(
        400,
        r#"{"code":11232,"msg":"frequency limited"}"#,
    ));
    let out = deliver(&text, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts), (true, 2), "{out:?}");
}

#[tokio::test]
async fn feishu_post_has_a_title_and_one_line_per_paragraph() {
    let r = Recorder::start(r#"{"StatusCode":0,"StatusMessage":"success"}"#).await;
    let ch = channel(
        "ops",
        json!({"kind": "feishu", "api_url": r.url("/hook/"), "token": "x", "message_type": "post"}),
    );
    assert!(deliver(&ch, &high_cpu()).await.ok);
    let v = r.requests()[0].json();
    assert_eq!(v["msg_type"], "post");
    let post = &v["content"]["post"]["zh_cn"];
    assert_eq!(post["title"], "[FIRING:2] HighCPU (page)");
    assert_eq!(
        post["content"][0],
        json!([{"tag": "text", "text": "Firing (2)"}])
    );
    assert_eq!(
        post["content"][1],
        json!([{"tag": "text", "text": "HighCPU host=db1, severity=page"}])
    );
}

#[tokio::test]
async fn telegram_sends_html_cut_to_4096_characters() {
    let r = Recorder::start(r#"{"ok":true,"result":{"message_id":1}}"#).await;
    let ch = channel(
        "ops",
        json!({"kind": "telegram", "api_url": r.url(""), "bot_token": "123:ABC", "chat_id": -1001,
               "disable_notifications": true}),
    );
    let out = deliver(&ch, &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let req = &r.requests()[0];
    assert_eq!(req.uri, "/bot123:ABC/sendMessage");
    let v = req.json();
    assert_eq!(v["chat_id"], -1001);
    assert_eq!(v["parse_mode"], "HTML");
    assert_eq!(v["disable_notification"], true);
    let text = v["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("<b>[FIRING:2] HighCPU (page)</b>\n\n<b>Firing (2)</b>\n<b>HighCPU</b> host=db1, severity=page\nsummary: CPU &lt;busy&gt; &amp; hot on db1\n"), "{text}");

    let many: Vec<_> = (0..300)
        .map(|i| {
            let host = format!("db{i}");
            alert(
                &[("alertname", "Down"), ("host", host.as_str())],
                &[("summary", "déjà vu <&>")],
                false,
            )
        })
        .collect();
    assert!(deliver(&ch, &notification("ops", many)).await.ok);
    let text = r.requests()[1].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(text.chars().count(), 4096);
    assert!(text.ends_with('…'));
}

#[tokio::test]
async fn telegram_errors_and_its_rate_limit() {
    let r = Recorder::start(r#"{"ok":true,"result":{}}"#).await;
    let ch = channel(
        "ops",
        json!({"kind": "telegram", "api_url": r.url("/"), "bot_token": "123:SECRETTOKEN", "chat_id": 42}),
    );
    r.then(Reply::new(
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
    ));
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts, out.status), (false, 1, Some(400)));
    assert_eq!(
        out.error.as_deref(),
        Some("telegram: 400: Bad Request: chat not found")
    );

    r.then(Reply::new(429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#));
    let out = deliver(&ch, &high_cpu()).await;
    assert_eq!((out.ok, out.attempts), (true, 2), "{out:?}");
    assert!(out.duration >= Duration::from_secs(1));

    // The token is in the URL; a failure must not show it.
    let port = closed_port();
    let down = channel(
        "ops",
        json!({"kind": "telegram", "api_url": format!("http://127.0.0.1:{port}"), "bot_token": "123:SECRETTOKEN", "chat_id": 42}),
    );
    let out = deliver(&down, &high_cpu()).await;
    assert!(!out.ok);
    assert!(!out.error.unwrap_or_default().contains("SECRETTOKEN"));
}

/// The whole path of a custom message: a `templates:` file next to the configuration,
/// a receiver whose fields call it, the rendered text in the request the robot gets.
#[tokio::test]
async fn a_receivers_templates_are_rendered_into_what_it_sends() {
    let r = Recorder::start(r#"{"errcode":0,"errmsg":"ok"}"#).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
    std::fs::write(
        dir.path().join("templates/ops.tmpl"),
        r#"{{ define "__subject" }}【{{ .Status | toUpper }}】{{ .CommonLabels.alertname }}{{ end }}
{{ define "ops.message" -}}
告警 {{ len .Alerts.Firing }} 条：
{{ range .Alerts }}- {{ .Labels.host }}：{{ .Annotations.summary }}（{{ .StartsAt.Format "15:04" }}）
{{ end }}{{ join "," .CommonLabels.Names }}
{{- end }}"#,
    )
    .expect("write template");
    let yaml = format!(
        r#"
templates: ['templates/*.tmpl']
route: {{receiver: ops}}
receivers:
  - name: ops
    wecom_configs:
      - api_url: {url}
        key: k
        message: '{{{{ template "ops.message" . }}}}'
    dingtalk_configs:
      - api_url: {url}
        access_token: t
        message: '{{{{ .Alerts.Nope }}}}'
"#,
        url = r.url("/send")
    );
    std::fs::write(dir.path().join("am.yml"), yaml).expect("write config");
    let cfg = argus_notify::Config::load_file(dir.path().join("am.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let ops = &cfg.receivers[0];
    let channels: Vec<argus_channels::Channel> = ops
        .iter()
        .map(|(_, ic)| {
            argus_channels::Channel::new(&ops.name, ic, cfg.notification_templates.clone())
                .expect("a channel")
                .with_clock(crate::common::clock())
                .with_policy(crate::common::fast())
        })
        .collect();

    let out = deliver(&channels[1], &high_cpu()).await;
    assert!(out.ok, "{out:?}");
    let v = r.requests()[0].json();
    assert_eq!(v["msgtype"], "markdown");
    assert_eq!(
        v["markdown"]["content"],
        "告警 2 条：\n- db1：CPU <busy> & hot on db1（09:55）\n- db2：CPU <busy> & hot on db2（09:55）\nalertname,severity"
    );

    // DingTalk's default title calls the file's __subject; its message fails to render:
    // the delivery fails at once with Go's reason, and nothing is sent.
    let out = deliver(&channels[0], &high_cpu()).await;
    assert_eq!(
        (out.ok, out.attempts, out.reason),
        (false, 1, Some(Reason::Template))
    );
    assert_eq!(
        out.error.as_deref(),
        Some(
            "template: ops.dingtalk_configs[0].message:1:10: executing \"ops.dingtalk_configs[0].message\" at <.Alerts.Nope>: can't evaluate field Nope in type template.Alerts"
        )
    );
    assert_eq!(r.requests().len(), 1);
    let title = cfg
        .notification_templates
        .render(
            &argus_notify::template::call("dingtalk.default.title"),
            &high_cpu().template_data(),
        )
        .unwrap_or_else(|e| e);
    assert_eq!(title, "【FIRING】HighCPU");
}
