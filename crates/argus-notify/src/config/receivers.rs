//! Receivers and their integrations (`receivers:` in `alertmanager.yml`).
//!
//! A **receiver** is a named list of **integrations**, each one delivery target of a kind
//! (`webhook_configs`, `email_configs`, …). The notification log keys its entries by
//! receiver, integration kind and the integration's index within that kind, as
//! Alertmanager does. Alertmanager's kinds this crate does not type in full (PagerDuty,
//! OpsGenie, Pushover, VictorOps, SNS, Discord, Webex) are kept as raw values so a
//! configuration using them still loads; Argus adds `dingtalk_configs`, `wecom_configs`,
//! `feishu_configs` and `script_configs`. Any other `*_configs` key is an error naming it.

use std::{collections::BTreeMap, fmt};

use jiff::SignedDuration;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, MapAccess, Visitor},
};

use super::http::{HttpConfig, TlsConfig};
pub use super::secret::Secret;
use crate::scalar;

/// Checks an HTTP(S) URL as Alertmanager's `parseURL` does: scheme `http` or `https`, and
/// a host.
pub fn check_url(s: &str) -> Result<String, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("unsupported scheme \"\" for URL {s:?}"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?} for URL"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if host.is_empty() {
        return Err("missing host for URL".into());
    }
    Ok(s.to_owned())
}

fn de_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar::parse_scalar(d, "an http(s) URL", check_url).map(Some)
}

fn de_secret_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    // `<secret>` is what Alertmanager prints for a hidden URL; it reads back as set.
    scalar::parse_scalar(d, "an http(s) URL", |s| {
        if s == "<secret>" {
            Ok(Secret::new(s))
        } else {
            check_url(s).map(Secret::new)
        }
    })
    .map(Some)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
    scalar::parse_scalar(d, "a duration", |s| {
        crate::duration::parse_duration(s).map_err(|e| e.to_string())
    })
}

fn t() -> bool {
    true
}

fn tpl(name: &str) -> String {
    crate::template::call(name)
}

/// The kinds of integration, with the names the notification log and the metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntegrationKind {
    /// `webhook_configs`
    Webhook,
    /// `email_configs`
    Email,
    /// `pagerduty_configs` (kept raw)
    Pagerduty,
    /// `opsgenie_configs` (kept raw)
    Opsgenie,
    /// `wechat_configs` (the WeCom application API)
    Wechat,
    /// `slack_configs`
    Slack,
    /// `victorops_configs` (kept raw)
    Victorops,
    /// `pushover_configs` (kept raw)
    Pushover,
    /// `sns_configs` (kept raw)
    Sns,
    /// `telegram_configs`
    Telegram,
    /// `discord_configs` (kept raw)
    Discord,
    /// `webex_configs` (kept raw)
    Webex,
    /// `dingtalk_configs` (Argus)
    Dingtalk,
    /// `wecom_configs` (Argus: the WeCom group robot)
    Wecom,
    /// `feishu_configs` (Argus: Feishu/Lark bots)
    Feishu,
    /// `script_configs` (Argus: a program reading the payload on stdin)
    Script,
}

impl IntegrationKind {
    /// Every kind, in Alertmanager's build order, then Argus's.
    pub const ALL: [IntegrationKind; 16] = [
        IntegrationKind::Webhook,
        IntegrationKind::Email,
        IntegrationKind::Pagerduty,
        IntegrationKind::Opsgenie,
        IntegrationKind::Wechat,
        IntegrationKind::Slack,
        IntegrationKind::Victorops,
        IntegrationKind::Pushover,
        IntegrationKind::Sns,
        IntegrationKind::Telegram,
        IntegrationKind::Discord,
        IntegrationKind::Webex,
        IntegrationKind::Dingtalk,
        IntegrationKind::Wecom,
        IntegrationKind::Feishu,
        IntegrationKind::Script,
    ];

    /// The integration's name (`webhook`, `email`, …), as in the notification log.
    pub fn name(self) -> &'static str {
        match self {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Email => "email",
            IntegrationKind::Pagerduty => "pagerduty",
            IntegrationKind::Opsgenie => "opsgenie",
            IntegrationKind::Wechat => "wechat",
            IntegrationKind::Slack => "slack",
            IntegrationKind::Victorops => "victorops",
            IntegrationKind::Pushover => "pushover",
            IntegrationKind::Sns => "sns",
            IntegrationKind::Telegram => "telegram",
            IntegrationKind::Discord => "discord",
            IntegrationKind::Webex => "webex",
            IntegrationKind::Dingtalk => "dingtalk",
            IntegrationKind::Wecom => "wecom",
            IntegrationKind::Feishu => "feishu",
            IntegrationKind::Script => "script",
        }
    }

    /// The receiver key holding this kind (`webhook_configs`).
    pub fn config_key(self) -> String {
        format!("{}_configs", self.name())
    }

    /// `send_resolved` when a config does not say: Alertmanager's defaults (true for
    /// webhook, PagerDuty, OpsGenie, VictorOps, Pushover, SNS, Telegram, Discord, Webex;
    /// false for email, Slack, WeChat), and true for Argus's kinds because the issue asks
    /// that resolutions be sent.
    pub fn default_send_resolved(self) -> bool {
        !matches!(
            self,
            IntegrationKind::Email | IntegrationKind::Slack | IntegrationKind::Wechat
        )
    }

    /// Whether Argus can send through this kind; the others load, and their deliveries
    /// fail with the reason.
    pub fn can_send(self) -> bool {
        matches!(
            self,
            IntegrationKind::Webhook
                | IntegrationKind::Email
                | IntegrationKind::Slack
                | IntegrationKind::Telegram
                | IntegrationKind::Dingtalk
                | IntegrationKind::Wecom
                | IntegrationKind::Feishu
                | IntegrationKind::Script
        )
    }

    fn from_key(key: &str) -> Option<Self> {
        let name = key.strip_suffix("_configs")?;
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for IntegrationKind {
    /// The name (`webhook`), as the API and the metrics show it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `webhook_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Whether resolved alerts are sent (default true).
    #[serde(default = "t")]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Where to POST.
    #[serde(default, deserialize_with = "de_url")]
    pub url: Option<String>,
    /// At most this many alerts per message; 0 = all (the rest are counted in
    /// `truncatedAlerts`).
    #[serde(default)]
    pub max_alerts: u64,
}

/// `email_configs` entry; unset fields are filled from `global.smtp_*` at load.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Default false.
    #[serde(default)]
    pub send_resolved: bool,
    /// Recipients (required).
    #[serde(default, deserialize_with = "scalar::string")]
    pub to: String,
    /// Sender (global `smtp_from`).
    #[serde(default, deserialize_with = "scalar::string")]
    pub from: String,
    /// SMTP HELO name (global `smtp_hello`, `localhost`).
    #[serde(default, deserialize_with = "scalar::string")]
    pub hello: String,
    /// `host:port` (global `smtp_smarthost`).
    #[serde(default, deserialize_with = "scalar::string")]
    pub smarthost: String,
    /// AUTH user.
    #[serde(default, deserialize_with = "scalar::string")]
    pub auth_username: String,
    /// AUTH password.
    #[serde(default)]
    pub auth_password: Secret,
    /// AUTH password read from a file.
    #[serde(default, deserialize_with = "scalar::string")]
    pub auth_password_file: String,
    /// CRAM-MD5 secret.
    #[serde(default)]
    pub auth_secret: Secret,
    /// PLAIN identity.
    #[serde(default, deserialize_with = "scalar::string")]
    pub auth_identity: String,
    /// Extra headers, names canonicalized (`subject` → `Subject`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTML body template.
    #[serde(default = "email_html")]
    pub html: String,
    /// Text body template.
    #[serde(default)]
    pub text: String,
    /// STARTTLS required (global `smtp_require_tls`, true). Ignored with TLS on connect.
    #[serde(default)]
    pub require_tls: Option<bool>,
    /// TLS from the first byte; unset: when the port is 465, as Alertmanager decides.
    /// (Argus's own key: Alertmanager has no way to ask for it on another port.)
    #[serde(default)]
    pub tls_on_connect: Option<bool>,
    /// Trusted authorities, the name to check, or skipping the check.
    #[serde(default)]
    pub tls_config: TlsConfig,
}

fn email_html() -> String {
    tpl("email.default.html")
}

/// A Slack attachment field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// Short (side by side).
    #[serde(default)]
    pub short: Option<bool>,
}

/// A Slack action confirmation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfirm {
    /// Text.
    #[serde(default)]
    pub text: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// OK button.
    #[serde(default)]
    pub ok_text: String,
    /// Dismiss button.
    #[serde(default)]
    pub dismiss_text: String,
}

/// A Slack attachment action (button).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAction {
    /// `button`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Label.
    #[serde(default)]
    pub text: String,
    /// Link.
    #[serde(default)]
    pub url: String,
    /// Style.
    #[serde(default)]
    pub style: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// Confirmation dialog.
    #[serde(default)]
    pub confirm: Option<SlackConfirm>,
}

/// `slack_configs` entry; the templates default to Alertmanager's `slack.default.*`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Default false.
    #[serde(default)]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Incoming webhook URL (global `slack_api_url`).
    #[serde(default, deserialize_with = "de_secret_url")]
    pub api_url: Option<Secret>,
    /// The URL read from a file (global `slack_api_url_file`).
    #[serde(default)]
    pub api_url_file: String,
    /// Channel.
    #[serde(default)]
    pub channel: String,
    /// Username.
    #[serde(default = "slack_username")]
    pub username: String,
    /// Color.
    #[serde(default = "slack_color")]
    pub color: String,
    /// Title.
    #[serde(default = "slack_title")]
    pub title: String,
    /// Title link.
    #[serde(default = "slack_titlelink")]
    pub title_link: String,
    /// Pretext.
    #[serde(default = "slack_pretext")]
    pub pretext: String,
    /// Text.
    #[serde(default = "slack_text")]
    pub text: String,
    /// Fields.
    #[serde(default)]
    pub fields: Vec<SlackField>,
    /// Short fields.
    #[serde(default)]
    pub short_fields: bool,
    /// Footer.
    #[serde(default = "slack_footer")]
    pub footer: String,
    /// Fallback.
    #[serde(default = "slack_fallback")]
    pub fallback: String,
    /// Callback id.
    #[serde(default = "slack_callbackid")]
    pub callback_id: String,
    /// Icon emoji.
    #[serde(default = "slack_iconemoji")]
    pub icon_emoji: String,
    /// Icon URL.
    #[serde(default = "slack_iconurl")]
    pub icon_url: String,
    /// Image URL.
    #[serde(default)]
    pub image_url: String,
    /// Thumb URL.
    #[serde(default)]
    pub thumb_url: String,
    /// Link names.
    #[serde(default)]
    pub link_names: bool,
    /// Markdown fields.
    #[serde(default)]
    pub mrkdwn_in: Vec<String>,
    /// Actions.
    #[serde(default)]
    pub actions: Vec<SlackAction>,
}

fn slack_username() -> String {
    tpl("slack.default.username")
}
fn slack_color() -> String {
    r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.to_owned()
}
fn slack_title() -> String {
    tpl("slack.default.title")
}
fn slack_titlelink() -> String {
    tpl("slack.default.titlelink")
}
fn slack_pretext() -> String {
    tpl("slack.default.pretext")
}
fn slack_text() -> String {
    tpl("slack.default.text")
}
fn slack_footer() -> String {
    tpl("slack.default.footer")
}
fn slack_fallback() -> String {
    tpl("slack.default.fallback")
}
fn slack_callbackid() -> String {
    tpl("slack.default.callbackid")
}
fn slack_iconemoji() -> String {
    tpl("slack.default.iconemoji")
}
fn slack_iconurl() -> String {
    tpl("slack.default.iconurl")
}

/// `telegram_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// Default true.
    #[serde(default = "t")]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// API base (global `telegram_api_url`, `https://api.telegram.org`).
    #[serde(default, deserialize_with = "de_url")]
    pub api_url: Option<String>,
    /// Bot token (required).
    #[serde(default)]
    pub bot_token: Secret,
    /// Chat id (required, non-zero).
    #[serde(default)]
    pub chat_id: i64,
    /// Message template.
    #[serde(default = "telegram_message")]
    pub message: String,
    /// Send silently.
    #[serde(default)]
    pub disable_notifications: bool,
    /// `HTML` (default), `Markdown`, `MarkdownV2` or empty.
    #[serde(default = "telegram_parse_mode")]
    pub parse_mode: String,
}

fn telegram_message() -> String {
    tpl("telegram.default.message")
}
fn telegram_parse_mode() -> String {
    "HTML".to_owned()
}

/// `wechat_configs` entry (the WeCom *application* API); unset fields come from
/// `global.wechat_*`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    /// Default false.
    #[serde(default)]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Application secret.
    #[serde(default)]
    pub api_secret: Secret,
    /// Corporation id.
    #[serde(default, deserialize_with = "scalar::string")]
    pub corp_id: String,
    /// Message template.
    #[serde(default = "wechat_message")]
    pub message: String,
    /// API base, ending in `/`.
    #[serde(default, deserialize_with = "de_url")]
    pub api_url: Option<String>,
    /// Users.
    #[serde(default = "wechat_to_user", deserialize_with = "scalar::string")]
    pub to_user: String,
    /// Departments.
    #[serde(default = "wechat_to_party", deserialize_with = "scalar::string")]
    pub to_party: String,
    /// Tags.
    #[serde(default = "wechat_to_tag", deserialize_with = "scalar::string")]
    pub to_tag: String,
    /// Application id.
    #[serde(default = "wechat_agent_id", deserialize_with = "scalar::string")]
    pub agent_id: String,
    /// `text` (default) or `markdown`.
    #[serde(default, deserialize_with = "scalar::string")]
    pub message_type: String,
}

fn wechat_message() -> String {
    tpl("wechat.default.message")
}
fn wechat_to_user() -> String {
    tpl("wechat.default.to_user")
}
fn wechat_to_party() -> String {
    tpl("wechat.default.to_party")
}
fn wechat_to_tag() -> String {
    tpl("wechat.default.to_tag")
}
fn wechat_agent_id() -> String {
    tpl("wechat.default.agent_id")
}

/// `dingtalk_configs` entry (Argus): a DingTalk group robot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingtalkConfig {
    /// Default true.
    #[serde(default = "t")]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Robot endpoint (global `dingtalk_api_url`,
    /// `https://oapi.dingtalk.com/robot/send`); may be the whole webhook URL as DingTalk
    /// shows it, `access_token` included.
    #[serde(default, deserialize_with = "de_secret_url")]
    pub api_url: Option<Secret>,
    /// The robot's `access_token`, unless `api_url` holds it.
    #[serde(default)]
    pub access_token: Secret,
    /// The signing secret (`SEC…`); when set, requests carry `timestamp` and `sign`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// `markdown` (default) or `text`.
    #[serde(default = "markdown")]
    pub message_type: String,
    /// Markdown title template.
    #[serde(default = "dingtalk_title")]
    pub title: String,
    /// Message template.
    #[serde(default = "dingtalk_message")]
    pub message: String,
    /// Mobile numbers to @-mention.
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub at_mobiles: Vec<String>,
    /// User ids to @-mention.
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub at_user_ids: Vec<String>,
    /// @-mention everyone.
    #[serde(default)]
    pub at_all: bool,
}

fn markdown() -> String {
    "markdown".to_owned()
}
fn dingtalk_title() -> String {
    tpl("dingtalk.default.title")
}
fn dingtalk_message() -> String {
    tpl("dingtalk.default.message")
}

/// `wecom_configs` entry (Argus): a WeCom group robot (`webhook/send?key=`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomConfig {
    /// Default true.
    #[serde(default = "t")]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Robot endpoint (global `wecom_api_url`,
    /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send`); may be the whole webhook
    /// URL, `key` included.
    #[serde(default, deserialize_with = "de_secret_url")]
    pub api_url: Option<Secret>,
    /// The robot's `key`, unless `api_url` holds it.
    #[serde(default)]
    pub key: Secret,
    /// `markdown` (default) or `text`.
    #[serde(default = "markdown")]
    pub message_type: String,
    /// Message template.
    #[serde(default = "wecom_message")]
    pub message: String,
    /// User ids to mention (`text` only; `@all` for everyone).
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub mentioned_list: Vec<String>,
    /// Mobile numbers to mention (`text` only).
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub mentioned_mobile_list: Vec<String>,
}

fn wecom_message() -> String {
    tpl("wecom.default.message")
}

/// `feishu_configs` entry (Argus): a Feishu/Lark custom bot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeishuConfig {
    /// Default true.
    #[serde(default = "t")]
    pub send_resolved: bool,
    /// Prometheus `http_config` (global `http_config` when absent).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Hook base (global `feishu_api_url`,
    /// `https://open.feishu.cn/open-apis/bot/v2/hook/`; Lark: `open.larksuite.com`), or
    /// the whole hook URL when `token` is left out.
    #[serde(default, deserialize_with = "de_secret_url")]
    pub api_url: Option<Secret>,
    /// The hook's token, the last path segment, unless `api_url` is the whole hook URL.
    #[serde(default)]
    pub token: Secret,
    /// The signing secret; when set, requests carry `timestamp` and `sign`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// `interactive` (default, a card), `post` or `text`.
    #[serde(default = "interactive")]
    pub message_type: String,
    /// Title template.
    #[serde(default = "feishu_title")]
    pub title: String,
    /// Message template.
    #[serde(default = "feishu_message")]
    pub message: String,
}

fn interactive() -> String {
    "interactive".to_owned()
}
fn feishu_title() -> String {
    tpl("feishu.default.title")
}
fn feishu_message() -> String {
    tpl("feishu.default.message")
}

/// `script_configs` entry (Argus): runs a program with the webhook v4 payload as JSON
/// on its standard input; exit status 0 is success.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    /// Default true.
    #[serde(default = "t")]
    pub send_resolved: bool,
    /// The program (an absolute path, or relative to the configuration file).
    #[serde(default, deserialize_with = "scalar::string")]
    pub command: String,
    /// Its arguments.
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Killed after this long (default 30s).
    #[serde(default = "script_timeout", deserialize_with = "de_duration")]
    pub timeout: SignedDuration,
    /// At most this many alerts in the payload; 0 = all.
    #[serde(default)]
    pub max_alerts: u64,
}

fn script_timeout() -> SignedDuration {
    SignedDuration::from_secs(30)
}

/// An Alertmanager integration this crate keeps untyped.
#[derive(Debug, Clone, PartialEq)]
pub struct RawIntegration {
    /// `send_resolved`, or the kind's default.
    pub send_resolved: bool,
    /// The whole entry as given.
    pub value: serde_json::Value,
}

/// One integration's configuration.
// Built once per load and moved rarely; boxing the larger kinds would only add noise to
// every match on them.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrationConfig {
    /// Webhook.
    Webhook(WebhookConfig),
    /// Email.
    Email(EmailConfig),
    /// Slack.
    Slack(SlackConfig),
    /// Telegram.
    Telegram(TelegramConfig),
    /// WeChat (WeCom application).
    Wechat(WechatConfig),
    /// DingTalk robot.
    Dingtalk(DingtalkConfig),
    /// WeCom robot.
    Wecom(WecomConfig),
    /// Feishu/Lark bot.
    Feishu(FeishuConfig),
    /// Script.
    Script(ScriptConfig),
    /// A kind kept raw.
    Raw(IntegrationKind, RawIntegration),
}

impl IntegrationConfig {
    /// The kind.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            IntegrationConfig::Webhook(_) => IntegrationKind::Webhook,
            IntegrationConfig::Email(_) => IntegrationKind::Email,
            IntegrationConfig::Slack(_) => IntegrationKind::Slack,
            IntegrationConfig::Telegram(_) => IntegrationKind::Telegram,
            IntegrationConfig::Wechat(_) => IntegrationKind::Wechat,
            IntegrationConfig::Dingtalk(_) => IntegrationKind::Dingtalk,
            IntegrationConfig::Wecom(_) => IntegrationKind::Wecom,
            IntegrationConfig::Feishu(_) => IntegrationKind::Feishu,
            IntegrationConfig::Script(_) => IntegrationKind::Script,
            IntegrationConfig::Raw(k, _) => *k,
        }
    }

    /// Whether resolved alerts go out through this integration.
    pub fn send_resolved(&self) -> bool {
        match self {
            IntegrationConfig::Webhook(c) => c.send_resolved,
            IntegrationConfig::Email(c) => c.send_resolved,
            IntegrationConfig::Slack(c) => c.send_resolved,
            IntegrationConfig::Telegram(c) => c.send_resolved,
            IntegrationConfig::Wechat(c) => c.send_resolved,
            IntegrationConfig::Dingtalk(c) => c.send_resolved,
            IntegrationConfig::Wecom(c) => c.send_resolved,
            IntegrationConfig::Feishu(c) => c.send_resolved,
            IntegrationConfig::Script(c) => c.send_resolved,
            IntegrationConfig::Raw(_, r) => r.send_resolved,
        }
    }
}

impl IntegrationConfig {
    /// The fields that are Go templates, with their key (`title`, `headers.Subject`,
    /// `fields[0].value`) and text: rendered over the template data when it sends.
    pub fn templated_fields(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = Vec::new();
        match self {
            IntegrationConfig::Email(c) => {
                for (h, v) in &c.headers {
                    out.push((format!("headers.{h}"), v.as_str()));
                }
                out.push(("html".into(), c.html.as_str()));
                out.push(("text".into(), c.text.as_str()));
                out.push(("to".into(), c.to.as_str()));
                out.push(("from".into(), c.from.as_str()));
            }
            IntegrationConfig::Slack(c) => {
                for (k, v) in [
                    ("channel", &c.channel),
                    ("username", &c.username),
                    ("color", &c.color),
                    ("title", &c.title),
                    ("title_link", &c.title_link),
                    ("pretext", &c.pretext),
                    ("text", &c.text),
                    ("footer", &c.footer),
                    ("fallback", &c.fallback),
                    ("callback_id", &c.callback_id),
                    ("icon_emoji", &c.icon_emoji),
                    ("icon_url", &c.icon_url),
                    ("image_url", &c.image_url),
                    ("thumb_url", &c.thumb_url),
                ] {
                    out.push((k.to_owned(), v.as_str()));
                }
                for (i, f) in c.fields.iter().enumerate() {
                    out.push((format!("fields[{i}].title"), f.title.as_str()));
                    out.push((format!("fields[{i}].value"), f.value.as_str()));
                }
                for (i, a) in c.actions.iter().enumerate() {
                    for (k, v) in [
                        ("type", &a.kind),
                        ("text", &a.text),
                        ("url", &a.url),
                        ("style", &a.style),
                        ("name", &a.name),
                        ("value", &a.value),
                    ] {
                        out.push((format!("actions[{i}].{k}"), v.as_str()));
                    }
                    if let Some(cf) = &a.confirm {
                        for (k, v) in [
                            ("text", &cf.text),
                            ("title", &cf.title),
                            ("ok_text", &cf.ok_text),
                            ("dismiss_text", &cf.dismiss_text),
                        ] {
                            out.push((format!("actions[{i}].confirm.{k}"), v.as_str()));
                        }
                    }
                }
            }
            IntegrationConfig::Telegram(c) => out.push(("message".to_owned(), c.message.as_str())),
            IntegrationConfig::Wechat(c) => {
                out.push(("message".to_owned(), c.message.as_str()));
                out.push(("to_user".to_owned(), c.to_user.as_str()));
                out.push(("to_party".to_owned(), c.to_party.as_str()));
                out.push(("to_tag".to_owned(), c.to_tag.as_str()));
                out.push(("agent_id".to_owned(), c.agent_id.as_str()));
            }
            IntegrationConfig::Dingtalk(c) => {
                out.push(("title".to_owned(), c.title.as_str()));
                out.push(("message".to_owned(), c.message.as_str()));
            }
            IntegrationConfig::Wecom(c) => out.push(("message".to_owned(), c.message.as_str())),
            IntegrationConfig::Feishu(c) => {
                out.push(("title".to_owned(), c.title.as_str()));
                out.push(("message".to_owned(), c.message.as_str()));
            }
            IntegrationConfig::Webhook(_)
            | IntegrationConfig::Script(_)
            | IntegrationConfig::Raw(..) => {}
        }
        out
    }
}

/// A named receiver and its integrations, grouped by kind in configuration order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Receiver {
    /// The unique name routes refer to.
    pub name: String,
    /// Integrations per kind; the index within a kind's list is the nflog `idx`.
    pub integrations: BTreeMap<IntegrationKind, Vec<IntegrationConfig>>,
}

impl Receiver {
    /// Every integration with its kind index, in Alertmanager's build order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &IntegrationConfig)> {
        IntegrationKind::ALL.into_iter().flat_map(move |k| {
            self.integrations
                .get(&k)
                .into_iter()
                .flat_map(|v| v.iter().enumerate())
        })
    }

    /// The configs of one kind.
    pub fn of(&self, kind: IntegrationKind) -> &[IntegrationConfig] {
        self.integrations.get(&kind).map_or(&[], Vec::as_slice)
    }
}

/// Deserializes one kind's list, tagging each entry.
fn seq_of<'de, A, T>(
    map: &mut A,
    wrap: fn(T) -> IntegrationConfig,
) -> Result<Vec<IntegrationConfig>, A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    let v: Option<Vec<T>> = map.next_value()?;
    Ok(v.unwrap_or_default().into_iter().map(wrap).collect())
}

impl<'de> Deserialize<'de> for Receiver {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Receiver;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a receiver: name and *_configs lists")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Receiver, A::Error> {
                let mut r = Receiver::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "name" {
                        r.name = map.next_value::<String>()?;
                        continue;
                    }
                    let Some(kind) = IntegrationKind::from_key(&key) else {
                        let known: Vec<String> = IntegrationKind::ALL
                            .iter()
                            .map(|k| k.config_key())
                            .collect();
                        return Err(de::Error::custom(format!(
                            "unknown integration kind `{key}` (known: name, {})",
                            known.join(", ")
                        )));
                    };
                    if r.integrations.contains_key(&kind) {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    let list = match kind {
                        IntegrationKind::Webhook => seq_of(&mut map, IntegrationConfig::Webhook)?,
                        IntegrationKind::Email => seq_of(&mut map, IntegrationConfig::Email)?,
                        IntegrationKind::Slack => seq_of(&mut map, IntegrationConfig::Slack)?,
                        IntegrationKind::Telegram => seq_of(&mut map, IntegrationConfig::Telegram)?,
                        IntegrationKind::Wechat => seq_of(&mut map, IntegrationConfig::Wechat)?,
                        IntegrationKind::Dingtalk => seq_of(&mut map, IntegrationConfig::Dingtalk)?,
                        IntegrationKind::Wecom => seq_of(&mut map, IntegrationConfig::Wecom)?,
                        IntegrationKind::Feishu => seq_of(&mut map, IntegrationConfig::Feishu)?,
                        IntegrationKind::Script => seq_of(&mut map, IntegrationConfig::Script)?,
                        raw => {
                            let v: Option<Vec<serde_json::Value>> = map.next_value()?;
                            v.unwrap_or_default()
                                .into_iter()
                                .map(|value| {
                                    let send_resolved = value
                                        .get("send_resolved")
                                        .and_then(serde_json::Value::as_bool)
                                        .unwrap_or(raw.default_send_resolved());
                                    IntegrationConfig::Raw(
                                        raw,
                                        RawIntegration {
                                            send_resolved,
                                            value,
                                        },
                                    )
                                })
                                .collect()
                        }
                    };
                    r.integrations.insert(kind, list);
                }
                if r.name.is_empty() {
                    return Err(de::Error::custom("missing name in receiver"));
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}
