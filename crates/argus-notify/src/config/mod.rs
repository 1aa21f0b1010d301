//! `alertmanager.yml`, read as Alertmanager 0.25 reads it.
//!
//! [`Config::load`] parses the YAML strictly (an unknown key is an error, as with
//! go-yaml's `UnmarshalStrict`), applies the `global` defaults to integrations the way
//! Alertmanager does, and makes Alertmanager's checks: a root route with a receiver and
//! no matchers, no `continue` or time intervals on the root, every receiver and time
//! interval a route names defined, unique receiver and interval names, valid `group_by`.
//! Every error is a [`ConfigError`] naming the file, line, field path and reason.

pub mod http;
mod locate;
pub mod receivers;
mod secret;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    path::Path as FsPath,
    sync::Arc,
};

use jiff::SignedDuration;
use serde::{Deserialize, Deserializer};

pub use http::{Authorization, BasicAuth, HttpConfig, TlsConfig};
pub use locate::{Path, Seg, locate};
pub use receivers::{
    DingtalkConfig, EmailConfig, FeishuConfig, IntegrationConfig, IntegrationKind, RawIntegration,
    Receiver, ScriptConfig, Secret, SlackConfig, TelegramConfig, WebhookConfig, WechatConfig,
    WecomConfig, check_url,
};

use crate::{
    labels::is_valid_label_name,
    matcher::{MatchType, Matcher, Matchers, parse_matchers},
    scalar,
    template::{Templates, call},
    timeinterval::TimeInterval,
};

/// A configuration that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file, or `<input>` for text loaded without one.
    pub file: String,
    /// 1-based line of the offending node, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The field path (`route.routes[1].receiver`); empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl ConfigError {
    fn render(&self) -> String {
        let mut s = self.file.clone();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        if !self.path.is_empty() {
            s.push_str(&format!(": {}", self.path));
        }
        s.push_str(&format!(": {}", self.reason));
        s
    }
}

/// The `global` section. Defaults are Alertmanager's, plus the endpoints of Argus's chat
/// integrations.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// An alert posted without `endsAt` resolves this long after it was last received
    /// (5m).
    #[serde(deserialize_with = "de_duration")]
    pub resolve_timeout: SignedDuration,
    /// The default `http_config` of HTTP integrations.
    pub http_config: Option<HttpConfig>,
    /// Default sender address.
    #[serde(deserialize_with = "scalar::string")]
    pub smtp_from: String,
    /// Default HELO name (`localhost`).
    #[serde(deserialize_with = "scalar::string")]
    pub smtp_hello: String,
    /// Default `host:port`.
    #[serde(deserialize_with = "de_host_port")]
    pub smtp_smarthost: String,
    /// Default AUTH user.
    #[serde(deserialize_with = "scalar::string")]
    pub smtp_auth_username: String,
    /// Default AUTH password.
    pub smtp_auth_password: Secret,
    /// Default AUTH password file.
    #[serde(deserialize_with = "scalar::string")]
    pub smtp_auth_password_file: String,
    /// Default CRAM-MD5 secret.
    pub smtp_auth_secret: Secret,
    /// Default PLAIN identity.
    #[serde(deserialize_with = "scalar::string")]
    pub smtp_auth_identity: String,
    /// Whether STARTTLS is required (true).
    pub smtp_require_tls: bool,
    /// Default Slack webhook URL.
    pub slack_api_url: Option<Secret>,
    /// Default Slack webhook URL file.
    pub slack_api_url_file: String,
    /// PagerDuty endpoint.
    #[serde(deserialize_with = "de_url")]
    pub pagerduty_url: String,
    /// OpsGenie endpoint.
    #[serde(deserialize_with = "de_url")]
    pub opsgenie_api_url: String,
    /// OpsGenie key.
    pub opsgenie_api_key: Secret,
    /// OpsGenie key file.
    pub opsgenie_api_key_file: String,
    /// WeCom application API base.
    #[serde(deserialize_with = "de_url")]
    pub wechat_api_url: String,
    /// WeCom application secret.
    pub wechat_api_secret: Secret,
    /// WeCom corporation id.
    #[serde(deserialize_with = "scalar::string")]
    pub wechat_api_corp_id: String,
    /// VictorOps endpoint.
    #[serde(deserialize_with = "de_url")]
    pub victorops_api_url: String,
    /// VictorOps key.
    pub victorops_api_key: Secret,
    /// VictorOps key file.
    pub victorops_api_key_file: String,
    /// Telegram API base.
    #[serde(deserialize_with = "de_url")]
    pub telegram_api_url: String,
    /// Webex endpoint.
    #[serde(deserialize_with = "de_url")]
    pub webex_api_url: String,
    /// DingTalk robot endpoint (Argus).
    #[serde(deserialize_with = "de_url")]
    pub dingtalk_api_url: String,
    /// WeCom robot endpoint (Argus).
    #[serde(deserialize_with = "de_url")]
    pub wecom_api_url: String,
    /// Feishu/Lark hook base (Argus).
    #[serde(deserialize_with = "de_url")]
    pub feishu_api_url: String,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: SignedDuration::from_mins(5),
            http_config: None,
            smtp_from: String::new(),
            smtp_hello: "localhost".into(),
            smtp_smarthost: String::new(),
            smtp_auth_username: String::new(),
            smtp_auth_password: Secret::default(),
            smtp_auth_password_file: String::new(),
            smtp_auth_secret: Secret::default(),
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            slack_api_url: None,
            slack_api_url_file: String::new(),
            pagerduty_url: "https://events.pagerduty.com/v2/enqueue".into(),
            opsgenie_api_url: "https://api.opsgenie.com/".into(),
            opsgenie_api_key: Secret::default(),
            opsgenie_api_key_file: String::new(),
            wechat_api_url: "https://qyapi.weixin.qq.com/cgi-bin/".into(),
            wechat_api_secret: Secret::default(),
            wechat_api_corp_id: String::new(),
            victorops_api_url: "https://alert.victorops.com/integrations/generic/20131114/alert/"
                .into(),
            victorops_api_key: Secret::default(),
            victorops_api_key_file: String::new(),
            telegram_api_url: "https://api.telegram.org".into(),
            webex_api_url: "https://webexapis.com/v1/messages".into(),
            dingtalk_api_url: "https://oapi.dingtalk.com/robot/send".into(),
            wecom_api_url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send".into(),
            feishu_api_url: "https://open.feishu.cn/open-apis/bot/v2/hook/".into(),
        }
    }
}

/// A node of the routing tree as written. [`crate::route::Route`] is the resolved form
/// (inherited options, sorted matchers).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver name; empty inherits the parent's.
    #[serde(default, deserialize_with = "scalar::string")]
    pub receiver: String,
    /// Labels to group by as written; `...` means all labels.
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub group_by: Vec<String>,
    /// Deprecated equality matchers.
    #[serde(default, rename = "match", deserialize_with = "de_match")]
    pub match_: BTreeMap<String, String>,
    /// Deprecated regex matchers (the pattern as written).
    #[serde(default, deserialize_with = "de_match_re")]
    pub match_re: BTreeMap<String, String>,
    /// Matchers in Alertmanager's syntax, sorted.
    #[serde(default, deserialize_with = "de_matchers")]
    pub matchers: Vec<Matcher>,
    /// Intervals during which this route sends nothing (not inherited).
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub mute_time_intervals: Vec<String>,
    /// Intervals outside which this route sends nothing (not inherited).
    #[serde(default, deserialize_with = "scalar::string_list")]
    pub active_time_intervals: Vec<String>,
    /// Whether matching goes on to later siblings.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// Child routes.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Wait before the first notification of a new group (inherited; 30s at the root).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub group_wait: Option<SignedDuration>,
    /// Wait between notifications of a group (inherited; 5m).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub group_interval: Option<SignedDuration>,
    /// Wait before repeating an unchanged notification (inherited; 4h).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub repeat_interval: Option<SignedDuration>,
}

impl RouteConfig {
    /// All matchers of the node: `match`, then `match_re`, then `matchers`, sorted as
    /// Alertmanager's `NewRoute` sorts them.
    pub fn all_matchers(&self) -> Matchers {
        let mut ms = Vec::new();
        for (n, v) in &self.match_ {
            ms.push(Matcher::equal(n, v));
        }
        for (n, v) in &self.match_re {
            if let Ok(m) = Matcher::new(MatchType::Regexp, n, v) {
                ms.push(m);
            }
        }
        ms.extend(self.matchers.iter().cloned());
        let mut ms = Matchers(ms);
        ms.sort();
        ms
    }
}

/// An inhibition rule as written; old (`source_match`, `source_match_re`) and new
/// (`source_matchers`) forms are ANDed.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Deprecated source equality matchers.
    #[serde(default, deserialize_with = "de_match")]
    pub source_match: BTreeMap<String, String>,
    /// Deprecated source regex matchers.
    #[serde(default, deserialize_with = "de_match_re")]
    pub source_match_re: BTreeMap<String, String>,
    /// Source matchers.
    #[serde(default, deserialize_with = "de_matchers")]
    pub source_matchers: Vec<Matcher>,
    /// Deprecated target equality matchers.
    #[serde(default, deserialize_with = "de_match")]
    pub target_match: BTreeMap<String, String>,
    /// Deprecated target regex matchers.
    #[serde(default, deserialize_with = "de_match_re")]
    pub target_match_re: BTreeMap<String, String>,
    /// Target matchers.
    #[serde(default, deserialize_with = "de_matchers")]
    pub target_matchers: Vec<Matcher>,
    /// Labels whose values must be equal on source and target.
    #[serde(default, deserialize_with = "de_label_names")]
    pub equal: Vec<String>,
}

fn join_matchers(
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
    ms: &[Matcher],
) -> Matchers {
    let mut out: Vec<Matcher> = eq.iter().map(|(n, v)| Matcher::equal(n, v)).collect();
    out.extend(
        re.iter()
            .filter_map(|(n, v)| Matcher::new(MatchType::Regexp, n, v).ok()),
    );
    out.extend(ms.iter().cloned());
    Matchers(out)
}

impl InhibitRuleConfig {
    /// Source matchers of all three forms.
    pub fn sources(&self) -> Matchers {
        join_matchers(
            &self.source_match,
            &self.source_match_re,
            &self.source_matchers,
        )
    }
    /// Target matchers of all three forms.
    pub fn targets(&self) -> Matchers {
        join_matchers(
            &self.target_match,
            &self.target_match_re,
            &self.target_matchers,
        )
    }
}

/// A named time interval (`time_intervals` or the older top-level `mute_time_intervals`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeInterval {
    /// The name routes use.
    #[serde(default)]
    pub name: String,
    /// The entries; the interval contains an instant if any entry does.
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

/// A whole `alertmanager.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `global`, defaults applied.
    pub global: GlobalConfig,
    /// The root route.
    pub route: RouteConfig,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Receivers, global defaults applied to their integrations.
    pub receivers: Vec<Receiver>,
    /// Template file globs, relative ones joined to the configuration file's directory.
    pub templates: Vec<String>,
    /// The template set (Argus's defaults, then the `templates:` files) and every
    /// templated field of the receivers, parsed: what the channels render with.
    pub notification_templates: Arc<Templates>,
    /// The deprecated top-level `mute_time_intervals`.
    pub mute_time_intervals: Vec<NamedTimeInterval>,
    /// `time_intervals`.
    pub time_intervals: Vec<NamedTimeInterval>,
    /// The text the configuration was parsed from.
    pub original: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<GlobalConfig>,
    #[serde(default)]
    route: Option<RouteConfig>,
    #[serde(default)]
    inhibit_rules: Option<Vec<InhibitRuleConfig>>,
    #[serde(default)]
    receivers: Option<Vec<Receiver>>,
    #[serde(default, deserialize_with = "scalar::string_list")]
    templates: Vec<String>,
    #[serde(default)]
    mute_time_intervals: Option<Vec<NamedTimeInterval>>,
    #[serde(default)]
    time_intervals: Option<Vec<NamedTimeInterval>>,
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
    scalar::parse_scalar(d, "a duration", |s| {
        crate::duration::parse_duration(s).map_err(|e| e.to_string())
    })
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SignedDuration>, D::Error> {
    de_duration(d).map(Some)
}

fn de_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar::parse_scalar(d, "an http(s) URL", check_url)
}

/// `host:port` as Go's `net.SplitHostPort` accepts it, with a non-empty port.
pub fn check_host_port(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    let port = if let Some(rest) = s.strip_prefix('[') {
        let (_, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {s}: missing ']' in address"))?;
        after
            .strip_prefix(':')
            .ok_or_else(|| format!("address {s}: missing port in address"))?
    } else {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("address {s}: missing port in address"))?;
        if host.contains(':') {
            return Err(format!("address {s}: too many colons in address"));
        }
        port
    };
    if port.is_empty() {
        return Err(format!("address {s:?}: port cannot be empty"));
    }
    Ok(s.to_owned())
}

fn de_host_port<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar::parse_scalar(d, "host:port", check_host_port)
}

fn de_match<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    scalar::map_of(d, true, |s| Ok(s.to_owned()))
}

fn de_match_re<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    scalar::map_of(d, true, |s| {
        Matcher::new(MatchType::Regexp, "x", s)
            .map(|_| s.to_owned())
            .map_err(|e| e.to_string())
    })
}

fn de_matchers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Matcher>, D::Error> {
    let lists = scalar::list_of(d, "a list of matcher strings", |s| {
        parse_matchers(s).map_err(|e| e.to_string())
    })?;
    let mut ms = Matchers(lists.into_iter().flatten().collect());
    ms.sort();
    Ok(ms.0)
}

fn de_label_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    scalar::list_of(d, "a list of label names", |s| {
        if is_valid_label_name(s) {
            Ok(s.to_owned())
        } else {
            Err(format!("{s:?} is not a valid label name"))
        }
    })
}

/// Canonical MIME header key, as Go's `textproto.CanonicalMIMEHeaderKey`:
/// `content-type` → `Content-Type`.
fn canonical_header(h: &str) -> String {
    if h.contains(|c: char| c == ' ' || !c.is_ascii() || c.is_ascii_control()) {
        return h.to_owned();
    }
    let mut upper = true;
    h.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

struct Checker<'a> {
    file: &'a str,
    yaml: &'a str,
}

impl Checker<'_> {
    fn err(&self, path: &Path, reason: impl Into<String>) -> ConfigError {
        let (line, column) = match locate(self.yaml, path) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}

fn serde_error(file: &str, e: &serde_norway::Error) -> ConfigError {
    let mut msg = e.to_string();
    let (line, column) = match e.location() {
        Some(l) => {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(stripped) = msg.strip_suffix(&suffix) {
                msg = stripped.to_owned();
            }
            (Some(l.line()), Some(l.column()))
        }
        None => (None, None),
    };
    // serde_norway prefixes the field path (`route.routes[1]: ...`).
    let mut path = String::new();
    if let Some((p, rest)) = msg.split_once(": ")
        && !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
    {
        path = p.to_owned();
        msg = rest.to_owned();
    }
    ConfigError {
        file: file.to_owned(),
        line,
        column,
        path,
        reason: msg,
    }
}

impl Config {
    /// Parses and checks a configuration; `file` names it in errors, and relative
    /// `templates:` globs are taken from its directory.
    pub fn load(yaml: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: Option<RawConfig> =
            serde_norway::from_str(yaml).map_err(|e| serde_error(file, &e))?;
        let ck = Checker { file, yaml };
        let root = Path::root();
        let Some(raw) = raw else {
            return Err(ck.err(&root, "no route provided in config"));
        };
        let mut cfg = Config {
            global: raw.global.unwrap_or_default(),
            route: RouteConfig::default(),
            inhibit_rules: raw.inhibit_rules.unwrap_or_default(),
            receivers: raw.receivers.unwrap_or_default(),
            templates: raw.templates,
            notification_templates: Arc::default(),
            mute_time_intervals: raw.mute_time_intervals.unwrap_or_default(),
            time_intervals: raw.time_intervals.unwrap_or_default(),
            original: yaml.to_owned(),
        };
        let Some(route) = raw.route else {
            return Err(ck.err(&root, "no route provided in config"));
        };
        cfg.route = route;
        check_route_fields(&ck, &cfg.route, &root.key("route"))?;
        if cfg.route.continue_ {
            return Err(ck.err(
                &root.key("route").key("continue"),
                "cannot have continue in root route",
            ));
        }
        cfg.check_global(&ck)?;
        cfg.apply_receiver_defaults(&ck)?;
        cfg.check_names(&ck)?;
        cfg.load_templates(&ck)?;
        Ok(cfg)
    }

    /// Reads the `templates:` files (relative globs from the configuration file's
    /// directory, as Alertmanager's `LoadFile` takes them) and parses every templated
    /// field of the receivers, so a template that does not parse or calls an undefined
    /// template is an error now, naming the field.
    fn load_templates(&mut self, ck: &Checker<'_>) -> Result<(), ConfigError> {
        let dir = FsPath::new(ck.file).parent().unwrap_or(FsPath::new(""));
        for t in &mut self.templates {
            if !t.is_empty() && !FsPath::new(t.as_str()).is_absolute() {
                *t = dir.join(t.as_str()).display().to_string();
            }
        }
        let mut templates = Templates::load(&self.templates).map_err(|e| ConfigError {
            file: e.file,
            line: None,
            column: None,
            path: String::new(),
            reason: e.reason,
        })?;
        for (ri, rcv) in self.receivers.iter().enumerate() {
            let rp = Path::root().key("receivers").index(ri);
            for (kind, list) in &rcv.integrations {
                for (i, ic) in list.iter().enumerate() {
                    let ip = rp.key(&kind.config_key()).index(i);
                    for (field, text) in ic.templated_fields() {
                        let name = format!("{}.{}[{i}].{field}", rcv.name, kind.config_key());
                        templates.prepare(&name, text).map_err(|e| {
                            let mut p = ip.clone();
                            for part in field.split('.') {
                                p = match part.split_once('[') {
                                    Some((k, n)) => {
                                        p.key(k).index(n.trim_end_matches(']').parse().unwrap_or(0))
                                    }
                                    None => p.key(part),
                                };
                            }
                            // A field left to its default has no line of its own.
                            let mut err = ck.err(&p, e);
                            if err.line.is_none() {
                                let at = ck.err(&ip, "");
                                (err.line, err.column) = (at.line, at.column);
                            }
                            err
                        })?;
                    }
                }
            }
        }
        self.notification_templates = Arc::new(templates);
        Ok(())
    }

    /// Reads, parses and checks a file; relative template globs are taken from the
    /// file's directory, as Alertmanager's `LoadFile` does.
    pub fn load_file(path: impl AsRef<FsPath>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            column: None,
            path: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        Config::load(&text, &file)
    }

    /// The receiver of that name.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// Every named time interval, old and new keys together.
    pub fn named_time_intervals(&self) -> BTreeMap<String, Vec<TimeInterval>> {
        self.mute_time_intervals
            .iter()
            .chain(&self.time_intervals)
            .map(|n| (n.name.clone(), n.time_intervals.clone()))
            .collect()
    }

    fn check_global(&self, ck: &Checker<'_>) -> Result<(), ConfigError> {
        let g = &self.global;
        let p = Path::root().key("global");
        let pairs = [
            (
                g.slack_api_url.is_some() && !g.slack_api_url_file.is_empty(),
                "slack_api_url",
                "at most one of slack_api_url & slack_api_url_file must be configured",
            ),
            (
                !g.opsgenie_api_key.is_empty() && !g.opsgenie_api_key_file.is_empty(),
                "opsgenie_api_key",
                "at most one of opsgenie_api_key & opsgenie_api_key_file must be configured",
            ),
            (
                !g.victorops_api_key.is_empty() && !g.victorops_api_key_file.is_empty(),
                "victorops_api_key",
                "at most one of victorops_api_key & victorops_api_key_file must be configured",
            ),
            (
                !g.smtp_auth_password.is_empty() && !g.smtp_auth_password_file.is_empty(),
                "smtp_auth_password",
                "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
            ),
        ];
        for (bad, key, msg) in pairs {
            if bad {
                return Err(ck.err(&p.key(key), msg));
            }
        }
        Ok(())
    }

    fn apply_receiver_defaults(&mut self, ck: &Checker<'_>) -> Result<(), ConfigError> {
        let g = self.global.clone();
        let mut names = BTreeSet::new();
        for (ri, rcv) in self.receivers.iter_mut().enumerate() {
            let rp = Path::root().key("receivers").index(ri);
            if !names.insert(rcv.name.clone()) {
                return Err(ck.err(
                    &rp.key("name"),
                    format!("notification config name {:?} is not unique", rcv.name),
                ));
            }
            for (kind, list) in rcv.integrations.iter_mut() {
                for (i, ic) in list.iter_mut().enumerate() {
                    let ip = rp.key(&kind.config_key()).index(i);
                    apply_integration_defaults(ck, &g, ic, &ip)?;
                }
            }
        }
        Ok(())
    }

    fn check_names(&self, ck: &Checker<'_>) -> Result<(), ConfigError> {
        let rp = Path::root().key("route");
        let r = &self.route;
        if r.receiver.is_empty() {
            return Err(ck.err(&rp, "root route must specify a default receiver"));
        }
        if !r.match_.is_empty() || !r.match_re.is_empty() || !r.matchers.is_empty() {
            let key = if !r.match_.is_empty() {
                "match"
            } else if !r.match_re.is_empty() {
                "match_re"
            } else {
                "matchers"
            };
            return Err(ck.err(&rp.key(key), "root route must not have any matchers"));
        }
        if !r.mute_time_intervals.is_empty() {
            return Err(ck.err(
                &rp.key("mute_time_intervals"),
                "root route must not have any mute time intervals",
            ));
        }
        if !r.active_time_intervals.is_empty() {
            return Err(ck.err(
                &rp.key("active_time_intervals"),
                "root route must not have any active time intervals",
            ));
        }
        let receivers: BTreeSet<&str> = self.receivers.iter().map(|r| r.name.as_str()).collect();
        check_receivers(ck, r, &rp, &receivers)?;

        let mut ti_names = BTreeSet::new();
        for (key, list, what) in [
            (
                "mute_time_intervals",
                &self.mute_time_intervals,
                "mute time interval",
            ),
            ("time_intervals", &self.time_intervals, "time interval"),
        ] {
            for (i, ti) in list.iter().enumerate() {
                let p = Path::root().key(key).index(i);
                if ti.name.is_empty() {
                    return Err(ck.err(&p, format!("missing name in {what}")));
                }
                if !ti_names.insert(ti.name.as_str()) {
                    return Err(ck.err(
                        &p.key("name"),
                        format!("{what} {:?} is not unique", ti.name),
                    ));
                }
            }
        }
        check_time_intervals(ck, r, &rp, &ti_names)
    }
}

/// Alertmanager's `Route.UnmarshalYAML` checks, for every node.
fn check_route_fields(ck: &Checker<'_>, r: &RouteConfig, p: &Path) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    let mut all = false;
    for (i, l) in r.group_by.iter().enumerate() {
        if l == "..." {
            all = true;
        } else if !is_valid_label_name(l) {
            return Err(ck.err(
                &p.key("group_by").index(i),
                format!("invalid label name {l:?} in group_by list"),
            ));
        } else if !seen.insert(l.as_str()) {
            return Err(ck.err(
                &p.key("group_by").index(i),
                format!("duplicated label {l:?} in group_by"),
            ));
        }
    }
    if all && !seen.is_empty() {
        return Err(ck.err(
            &p.key("group_by"),
            "cannot have wildcard group_by (`...`) and other other labels at the same time",
        ));
    }
    if r.group_interval == Some(SignedDuration::ZERO) {
        return Err(ck.err(&p.key("group_interval"), "group_interval cannot be zero"));
    }
    if r.repeat_interval == Some(SignedDuration::ZERO) {
        return Err(ck.err(&p.key("repeat_interval"), "repeat_interval cannot be zero"));
    }
    for (i, child) in r.routes.iter().enumerate() {
        check_route_fields(ck, child, &p.key("routes").index(i))?;
    }
    Ok(())
}

fn check_receivers(
    ck: &Checker<'_>,
    r: &RouteConfig,
    p: &Path,
    receivers: &BTreeSet<&str>,
) -> Result<(), ConfigError> {
    for (i, child) in r.routes.iter().enumerate() {
        check_receivers(ck, child, &p.key("routes").index(i), receivers)?;
    }
    if !r.receiver.is_empty() && !receivers.contains(r.receiver.as_str()) {
        return Err(ck.err(
            &p.key("receiver"),
            format!("undefined receiver {:?} used in route", r.receiver),
        ));
    }
    Ok(())
}

fn check_time_intervals(
    ck: &Checker<'_>,
    r: &RouteConfig,
    p: &Path,
    names: &BTreeSet<&str>,
) -> Result<(), ConfigError> {
    for (i, child) in r.routes.iter().enumerate() {
        check_time_intervals(ck, child, &p.key("routes").index(i), names)?;
    }
    for (key, list) in [
        ("active_time_intervals", &r.active_time_intervals),
        ("mute_time_intervals", &r.mute_time_intervals),
    ] {
        for (i, name) in list.iter().enumerate() {
            if !names.contains(name.as_str()) {
                return Err(ck.err(
                    &p.key(key).index(i),
                    format!("undefined time interval {name:?} used in route"),
                ));
            }
        }
    }
    Ok(())
}

fn apply_integration_defaults(
    ck: &Checker<'_>,
    g: &GlobalConfig,
    ic: &mut IntegrationConfig,
    p: &Path,
) -> Result<(), ConfigError> {
    let http = |h: &mut Option<HttpConfig>| {
        if h.is_none() {
            h.clone_from(&g.http_config);
        }
    };
    let fill = |s: &mut Option<String>, default: &str| {
        if s.is_none() {
            *s = Some(default.to_owned());
        }
    };
    let fill_secret = |s: &mut Option<Secret>, default: &str| {
        if s.is_none() {
            *s = Some(Secret::new(default));
        }
    };
    // A robot's whole webhook URL may stand for its endpoint and token together.
    let url_has = |u: &Option<Secret>, param: &str| {
        u.as_ref().is_some_and(|u| {
            u.expose().split_once('?').is_some_and(|(_, q)| {
                q.split('&')
                    .any(|kv| kv.starts_with(param) && kv.len() > param.len())
            })
        })
    };
    match ic {
        IntegrationConfig::Webhook(c) => {
            http(&mut c.http_config);
            if c.url.is_none() {
                return Err(ck.err(p, "missing URL in webhook config"));
            }
        }
        IntegrationConfig::Email(c) => {
            if c.to.is_empty() {
                return Err(ck.err(p, "missing to address in email config"));
            }
            let mut headers = BTreeMap::new();
            for (h, v) in &c.headers {
                let n = canonical_header(h);
                if headers.insert(n.clone(), v.clone()).is_some() {
                    return Err(ck.err(
                        &p.key("headers"),
                        format!("duplicate header {n:?} in email config"),
                    ));
                }
            }
            // Alertmanager's default subject, a template like the rest.
            headers
                .entry("Subject".to_owned())
                .or_insert_with(|| call("email.default.subject"));
            c.headers = headers;
            if c.smarthost.is_empty() {
                if g.smtp_smarthost.is_empty() {
                    return Err(ck.err(p, "no global SMTP smarthost set"));
                }
                c.smarthost.clone_from(&g.smtp_smarthost);
            } else {
                check_host_port(&c.smarthost).map_err(|e| ck.err(&p.key("smarthost"), e))?;
            }
            if c.from.is_empty() {
                if g.smtp_from.is_empty() {
                    return Err(ck.err(p, "no global SMTP from set"));
                }
                c.from.clone_from(&g.smtp_from);
            }
            if c.hello.is_empty() {
                c.hello.clone_from(&g.smtp_hello);
            }
            if c.auth_username.is_empty() {
                c.auth_username.clone_from(&g.smtp_auth_username);
            }
            if c.auth_password.is_empty() && c.auth_password_file.is_empty() {
                c.auth_password = g.smtp_auth_password.clone();
                c.auth_password_file.clone_from(&g.smtp_auth_password_file);
            }
            if c.auth_secret.is_empty() {
                c.auth_secret = g.smtp_auth_secret.clone();
            }
            if c.auth_identity.is_empty() {
                c.auth_identity.clone_from(&g.smtp_auth_identity);
            }
            if c.require_tls.is_none() {
                c.require_tls = Some(g.smtp_require_tls);
            }
        }
        IntegrationConfig::Slack(c) => {
            http(&mut c.http_config);
            if c.api_url.is_some() && !c.api_url_file.is_empty() {
                return Err(ck.err(
                    p,
                    "at most one of api_url & api_url_file must be configured",
                ));
            }
            if c.api_url.is_none() && c.api_url_file.is_empty() {
                if g.slack_api_url.is_none() && g.slack_api_url_file.is_empty() {
                    return Err(ck.err(p, "no global Slack API URL set either inline or in a file"));
                }
                c.api_url.clone_from(&g.slack_api_url);
                c.api_url_file.clone_from(&g.slack_api_url_file);
            }
        }
        IntegrationConfig::Telegram(c) => {
            http(&mut c.http_config);
            if c.parse_mode != "HTML" && c.message == call("telegram.default.message") {
                c.message = call("telegram.default.text");
            }
            if c.bot_token.is_empty() {
                return Err(ck.err(p, "missing bot_token on telegram_config"));
            }
            if c.chat_id == 0 {
                return Err(ck.err(p, "missing chat_id on telegram_config"));
            }
            if !["", "Markdown", "MarkdownV2", "HTML"].contains(&c.parse_mode.as_str()) {
                return Err(ck.err(
                    &p.key("parse_mode"),
                    "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
                ));
            }
            fill(&mut c.api_url, &g.telegram_api_url);
        }
        IntegrationConfig::Wechat(c) => {
            http(&mut c.http_config);
            if c.message_type.is_empty() {
                c.message_type = "text".into();
            }
            if c.message_type != "text" && c.message_type != "markdown" {
                return Err(ck.err(
                    &p.key("message_type"),
                    format!(
                        "weChat message type {:?} does not match valid options ^(text|markdown)$",
                        c.message_type
                    ),
                ));
            }
            fill(&mut c.api_url, &g.wechat_api_url);
            if c.api_secret.is_empty() {
                if g.wechat_api_secret.is_empty() {
                    return Err(ck.err(p, "no global Wechat ApiSecret set"));
                }
                c.api_secret = g.wechat_api_secret.clone();
            }
            if c.corp_id.is_empty() {
                if g.wechat_api_corp_id.is_empty() {
                    return Err(ck.err(p, "no global Wechat CorpID set"));
                }
                c.corp_id.clone_from(&g.wechat_api_corp_id);
            }
            if let Some(u) = &mut c.api_url
                && !u.ends_with('/')
            {
                u.push('/');
            }
        }
        IntegrationConfig::Dingtalk(c) => {
            http(&mut c.http_config);
            fill_secret(&mut c.api_url, &g.dingtalk_api_url);
            if c.message_type == "text" && c.message == call("dingtalk.default.message") {
                c.message = call("dingtalk.default.text");
            }
            if c.access_token.is_empty() && !url_has(&c.api_url, "access_token=") {
                return Err(ck.err(
                    p,
                    "missing access_token on dingtalk_config (or the whole robot URL as api_url)",
                ));
            }
            if c.secret.as_ref().is_some_and(Secret::is_empty) {
                return Err(ck.err(
                    &p.key("secret"),
                    "empty secret on dingtalk_config; leave it out for a robot without signing",
                ));
            }
            if c.message_type != "markdown" && c.message_type != "text" {
                return Err(ck.err(
                    &p.key("message_type"),
                    format!(
                        "dingtalk message type {:?} must be markdown or text",
                        c.message_type
                    ),
                ));
            }
        }
        IntegrationConfig::Wecom(c) => {
            http(&mut c.http_config);
            fill_secret(&mut c.api_url, &g.wecom_api_url);
            if c.message_type == "text" && c.message == call("wecom.default.message") {
                c.message = call("wecom.default.text");
            }
            if c.key.is_empty() && !url_has(&c.api_url, "key=") {
                return Err(ck.err(
                    p,
                    "missing key on wecom_config (or the whole robot URL as api_url)",
                ));
            }
            if c.message_type != "markdown" && c.message_type != "text" {
                return Err(ck.err(
                    &p.key("message_type"),
                    format!(
                        "wecom message type {:?} must be markdown or text",
                        c.message_type
                    ),
                ));
            }
        }
        IntegrationConfig::Feishu(c) => {
            http(&mut c.http_config);
            // Without a token, `api_url` must be a whole hook URL, not the global base.
            if c.token.is_empty() && c.api_url.is_none() {
                return Err(ck.err(
                    p,
                    "missing token on feishu_config (or the whole hook URL as api_url)",
                ));
            }
            fill_secret(&mut c.api_url, &g.feishu_api_url);
            if c.message == call("feishu.default.message") {
                match c.message_type.as_str() {
                    "post" => c.message = call("feishu.default.post"),
                    "text" => c.message = call("feishu.default.text"),
                    _ => {}
                }
            }
            if c.secret.as_ref().is_some_and(Secret::is_empty) {
                return Err(ck.err(
                    &p.key("secret"),
                    "empty secret on feishu_config; leave it out for a bot without signing",
                ));
            }
            if !["interactive", "post", "text"].contains(&c.message_type.as_str()) {
                return Err(ck.err(
                    &p.key("message_type"),
                    format!(
                        "feishu message type {:?} must be interactive, post or text",
                        c.message_type
                    ),
                ));
            }
        }
        IntegrationConfig::Script(c) => {
            if c.command.is_empty() {
                return Err(ck.err(p, "missing command on script_config"));
            }
            if c.timeout <= SignedDuration::ZERO {
                return Err(ck.err(&p.key("timeout"), "timeout must be positive"));
            }
        }
        IntegrationConfig::Raw(..) => {}
    }
    Ok(())
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests;
