//! The notifier's [`Sender`]: each delivery through its channel (argus-channels), built
//! from the receivers of the loaded notifier configuration ([`argus_notify::Config`],
//! `global` defaults already applied). The notifier's engine decided what to send; this
//! only finds the channel the delivery names (receiver, integration kind and its index)
//! and hands the notification over.
//!
//! An integration whose channel cannot be built (a kind Argus cannot send, such as
//! PagerDuty, or a CA file that cannot be read) is logged when the sender is built; its
//! deliveries then fail with the reason, and the receiver's other integrations work.

use super::sender::Sender;
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

impl ChannelSender {
    /// No channels: the notifier without a file (it has no integrations either).
    pub fn empty() -> ChannelSender {
        ChannelSender {
            channels: HashMap::new(),
            broken: HashMap::new(),
        }
    }

    /// The channels of every receiver of `config`.
    pub fn new(config: &argus_notify::Config) -> ChannelSender {
        let mut out = ChannelSender::empty();
        for receiver in &config.receivers {
            for (idx, integration) in receiver.iter() {
                let kind = integration.kind();
                let key = (receiver.name.clone(), kind.name().to_string(), idx as u32);
                let built = Channel::new(
                    &receiver.name,
                    integration,
                    config.notification_templates.clone(),
                );
                match built {
                    Ok(c) => {
                        out.channels.insert(key, c);
                    }
                    Err(e) => {
                        let why = format!("{}[{idx}]: {e}", kind.config_key());
                        tracing::warn!(receiver = %receiver.name, error = %why, "integration cannot send; its notifications will fail");
                        out.broken.insert(key, why);
                    }
                }
            }
        }
        out
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
            let outcome = argus_channels::deliver(channel, &d.notification).await;
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
        let config = argus_notify::Config::load(yaml, "am.yml").unwrap_or_else(|e| panic!("{e}"));
        let s = ChannelSender::new(&config);
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
