//! The notifier's [`Sender`]: each delivery through its channel (argus-channels), built
//! from the `receivers` of the notifier file. The notifier's engine decided what to
//! send; this only finds the channel the delivery names (receiver, integration kind and
//! its index) and hands the notification over.
//!
//! Alertmanager lets `global` give defaults (`smtp_smarthost`, `slack_api_url`, …): they
//! are filled into each receiver's entries that lack them before the channels are built.
//! A receiver whose channels cannot be built (a kind Argus cannot send, such as
//! PagerDuty) is logged at start; its deliveries then fail with the reason.

use super::notifier::Sender;
use argus_channels::Channel;
use argus_notify::Delivery;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

type Key = (String, String, u32);

pub struct ChannelSender {
    channels: HashMap<Key, Channel>,
    /// Integrations that could not be built, and why.
    broken: HashMap<Key, String>,
}

/// `global` keys Alertmanager uses as defaults, by integration kind: (global key, key).
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("email_configs", "smtp_from", "from"),
    ("email_configs", "smtp_smarthost", "smarthost"),
    ("email_configs", "smtp_hello", "hello"),
    ("email_configs", "smtp_auth_username", "auth_username"),
    ("email_configs", "smtp_auth_password", "auth_password"),
    ("email_configs", "smtp_require_tls", "require_tls"),
    ("slack_configs", "slack_api_url", "api_url"),
    ("telegram_configs", "telegram_api_url", "api_url"),
];

impl ChannelSender {
    /// No channels: the notifier without a file (it has no integrations either).
    pub fn empty() -> ChannelSender {
        ChannelSender {
            channels: HashMap::new(),
            broken: HashMap::new(),
        }
    }

    /// The channels of the notifier file at `path` (empty: none).
    pub fn from_file(path: &str) -> Result<ChannelSender, String> {
        if path.is_empty() {
            return Ok(ChannelSender::empty());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        ChannelSender::from_yaml(&text, path)
    }

    pub fn from_yaml(text: &str, file: &str) -> Result<ChannelSender, String> {
        let doc: serde_json::Value =
            serde_norway::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let global = doc.get("global").cloned().unwrap_or_default();
        let mut out = ChannelSender::empty();
        for r in doc["receivers"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or("").to_string();
            let mut r = r.clone();
            for (list, gkey, key) in DEFAULTS {
                let Some(default) = global.get(*gkey) else {
                    continue;
                };
                for entry in r
                    .get_mut(*list)
                    .and_then(|l| l.as_array_mut())
                    .into_iter()
                    .flatten()
                {
                    if let Some(obj) = entry.as_object_mut() {
                        obj.entry(key.to_string())
                            .or_insert_with(|| default.clone());
                    }
                }
            }
            // Each integration on its own: one Argus cannot send (PagerDuty) or cannot
            // read leaves the receiver's others working.
            let Some(obj) = r.as_object() else {
                continue;
            };
            for (key, list) in obj {
                let Some(kind) = key.strip_suffix("_configs") else {
                    continue;
                };
                for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
                    let mut tagged = entry.clone();
                    if let Some(o) = tagged.as_object_mut() {
                        o.insert("kind".into(), kind.into());
                    }
                    let built = serde_json::from_value::<argus_channels::ChannelConfig>(tagged)
                        .map_err(|e| format!("{key}[{i}]: {e}"))
                        .and_then(|c| {
                            Channel::new(&name, c).map_err(|e| format!("{key}[{i}]: {e}"))
                        });
                    match built {
                        Ok(c) => {
                            out.channels
                                .insert((name.clone(), kind.to_string(), i as u32), c);
                        }
                        Err(e) => {
                            tracing::warn!(receiver = %name, file, error = %e, "integration cannot send; its notifications will fail");
                            out.broken
                                .insert((name.clone(), kind.to_string(), i as u32), e);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Sender for ChannelSender {
    fn test<'a>(
        &'a self,
        receiver: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Vec<serde_json::Value>>> + Send + 'a>> {
        Box::pin(async move {
            let mut mine: Vec<(&Key, &Channel)> = self
                .channels
                .iter()
                .filter(|(k, _)| k.0 == receiver)
                .collect();
            let broken: Vec<(&Key, &String)> = self
                .broken
                .iter()
                .filter(|(k, _)| k.0 == receiver)
                .collect();
            if mine.is_empty() && broken.is_empty() {
                return None;
            }
            mine.sort_by(|a, b| a.0.cmp(b.0));
            let mut out: Vec<serde_json::Value> = broken
                .into_iter()
                .map(|(k, why)| {
                    serde_json::json!({ "ok": false, "error": why, "integration": k.1, "index": k.2 })
                })
                .collect();
            for (k, c) in mine {
                let outcome = argus_channels::send_test(c).await;
                let mut v = serde_json::to_value(&outcome).unwrap_or_default();
                v["integration"] = k.1.clone().into();
                v["index"] = k.2.into();
                out.push(v);
            }
            Some(out)
        })
    }

    fn receivers(&self) -> Vec<(String, Vec<String>)> {
        let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (r, kind, _) in self.channels.keys() {
            by.entry(r.clone()).or_default().push(kind.clone());
        }
        for (r, kind, _) in self.broken.keys() {
            by.entry(r.clone()).or_default().push(kind.clone());
        }
        by.into_iter()
            .map(|(r, mut k)| {
                k.sort();
                (r, k)
            })
            .collect()
    }

    fn send<'a>(
        &'a self,
        d: &'a Delivery,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let key = (
                d.integration.receiver.clone(),
                d.integration.integration.clone(),
                d.integration.idx,
            );
            let Some(channel) = self.channels.get(&key) else {
                return Err(match self.broken.get(&key) {
                    Some(why) => format!("receiver {:?}: {why}", d.integration.receiver),
                    None => format!(
                        "receiver {:?} has no {} channel #{}",
                        d.integration.receiver, d.integration.integration, d.integration.idx
                    ),
                });
            };
            // The two crates share the webhook v4 form: its exact body is the hand-over.
            let n: argus_channels::Notification =
                serde_json::from_str(&d.notification.webhook_body(0))
                    .map_err(|e| format!("notification: {e}"))?;
            let outcome = argus_channels::deliver(channel, &n).await;
            if outcome.ok {
                Ok(())
            } else {
                Err(outcome
                    .error
                    .unwrap_or_else(|| "delivery failed".to_string()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_defaults_fill_receivers_and_kinds_are_indexed() {
        let yaml = r#"
global:
  smtp_smarthost: 127.0.0.1:2525
  smtp_from: argus@example.com
  smtp_require_tls: false
route:
  receiver: ops
receivers:
  - name: ops
    email_configs:
      - to: a@example.com
      - to: b@example.com
    webhook_configs:
      - url: http://127.0.0.1:1/
  - name: pager
    pagerduty_configs:
      - routing_key: x
"#;
        let s = ChannelSender::from_yaml(yaml, "am.yml").unwrap_or_else(|e| panic!("{e}"));
        assert!(s.channels.contains_key(&("ops".into(), "email".into(), 1)));
        assert!(
            s.channels
                .contains_key(&("ops".into(), "webhook".into(), 0))
        );
        assert_eq!(s.channels.len(), 3);
        let key = ("pager".to_string(), "pagerduty".to_string(), 0);
        assert!(
            s.broken.get(&key).is_some_and(|e| e.contains("pagerduty")),
            "{:?}",
            s.broken
        );
    }
}
