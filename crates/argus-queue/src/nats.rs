//! The queue on NATS JetStream, for servers that share no local state.
//!
//! Topic `t` is stream `ARGUS_T` (prefix configurable) holding subject `argus.t`, file
//! storage, created on first use. A publish returns once the stream's publish ack arrived:
//! that is JetStream's durability point. A consumer group is a durable pull consumer with
//! explicit acks; what is not acked within `ack_wait` is delivered again.
//!
//! Streams use *interest* retention: an entry is deleted once every consumer group has
//! acked it, like the embedded log's segments. Entries published while a stream has no
//! consumer would be dropped at once by JetStream, so the groups in
//! [`NatsOptions::groups`] are created with every stream, before its first entry. With
//! `max_bytes` set, the stream refuses new entries when full (discard policy *new*), which
//! `publish` reports as [`QueueError::Full`]: nothing old is dropped silently.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, PullConsumer, pull},
    context::PublishErrorKind,
    stream::{DiscardPolicy, RetentionPolicy, StorageType},
};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::{
    AckToken, BoxFuture, Consumer, ConsumerStats, Delivery, QueueError, QueueStats, TopicStats,
    check_group, check_topic,
};

/// Settings of the JetStream queue.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// Server URL(s), comma separated: `nats://127.0.0.1:4222`.
    pub url: String,
    /// Token for servers that require one.
    pub token: Option<String>,
    /// Stream name prefix; the topic, upper-cased, follows. Default `ARGUS_`.
    pub stream_prefix: String,
    /// Subject prefix; the topic follows. Default `argus.`.
    pub subject_prefix: String,
    /// Consumer groups created with every stream, so no entry is published to a stream
    /// without interest (which JetStream would drop). Default `["handlers"]`.
    pub groups: Vec<String>,
    /// Most bytes one stream may hold; past it publish fails with `Full`. Default: none.
    pub max_bytes: Option<u64>,
    /// How long a delivered entry may stay un-acked before it is delivered again. 30 s.
    pub ack_wait: Duration,
    /// Most entries delivered and not yet acked per consumer group. Default 10 000.
    pub max_ack_pending: i64,
    /// The `retry_after` returned with [`QueueError::Full`]. Default 1 s.
    pub full_retry_after: Duration,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            url: "nats://127.0.0.1:4222".into(),
            token: None,
            stream_prefix: "ARGUS_".into(),
            subject_prefix: "argus.".into(),
            groups: vec!["handlers".into()],
            max_bytes: None,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 10_000,
            full_retry_after: Duration::from_secs(1),
        }
    }
}

/// The queue on NATS JetStream.
pub struct NatsQueue {
    client: async_nats::Client,
    js: jetstream::Context,
    opts: NatsOptions,
    /// Streams known to exist (created or checked by this process).
    streams: tokio::sync::Mutex<HashMap<String, jetstream::stream::Stream>>,
    topics: Mutex<Vec<String>>,
}

fn nats_err(e: impl std::fmt::Display) -> QueueError {
    QueueError::Nats(e.to_string())
}

/// JetStream refuses a publish for a stream or account limit: the queue is full.
fn is_limit_error(e: &jetstream::context::PublishError) -> bool {
    if e.kind() != PublishErrorKind::Other {
        return false;
    }
    let Some(api) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<jetstream::Error>())
    else {
        return false;
    };
    let text = api.to_string();
    // Codes: 10047 insufficient resources, 10077 store failed (max bytes/msgs exceeded).
    matches!(api.error_code().0, 10047 | 10077)
        || text.contains("maximum bytes exceeded")
        || text.contains("maximum messages exceeded")
        || text.contains("insufficient resources")
}

impl NatsQueue {
    /// Connects to the server(s) in `opts.url`.
    pub async fn connect(opts: NatsOptions) -> Result<NatsQueue, QueueError> {
        for g in &opts.groups {
            check_group(g)?;
        }
        let mut connect = async_nats::ConnectOptions::new();
        if let Some(token) = &opts.token {
            connect = connect.token(token.clone());
        }
        let client =
            tokio::time::timeout(Duration::from_secs(10), connect.connect(opts.url.as_str()))
                .await
                .map_err(|_| {
                    QueueError::Nats(format!("connecting to {}: timed out after 10 s", opts.url))
                })?
                .map_err(|e| QueueError::Nats(format!("connecting to {}: {e}", opts.url)))?;
        let js = jetstream::new(client.clone());
        Ok(NatsQueue {
            client,
            js,
            opts,
            streams: tokio::sync::Mutex::new(HashMap::new()),
            topics: Mutex::new(Vec::new()),
        })
    }

    fn stream_name(&self, topic: &str) -> String {
        format!("{}{}", self.opts.stream_prefix, topic.to_ascii_uppercase())
    }

    fn subject(&self, topic: &str) -> String {
        format!("{}{topic}", self.opts.subject_prefix)
    }

    /// The topic's stream, created (with the configured groups) if missing.
    async fn stream(&self, topic: &str) -> Result<jetstream::stream::Stream, QueueError> {
        let mut streams = self.streams.lock().await;
        if let Some(s) = streams.get(topic) {
            return Ok(s.clone());
        }
        let config = jetstream::stream::Config {
            name: self.stream_name(topic),
            subjects: vec![self.subject(topic)],
            storage: StorageType::File,
            retention: RetentionPolicy::Interest,
            discard: DiscardPolicy::New,
            max_bytes: self
                .opts
                .max_bytes
                .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
            ..Default::default()
        };
        let stream = self
            .js
            .get_or_create_stream(config)
            .await
            .map_err(nats_err)?;
        for g in &self.opts.groups {
            self.pull_consumer(&stream, g).await?;
        }
        streams.insert(topic.to_string(), stream.clone());
        Ok(stream)
    }

    async fn pull_consumer(
        &self,
        stream: &jetstream::stream::Stream,
        group: &str,
    ) -> Result<PullConsumer, QueueError> {
        let config = pull::Config {
            durable_name: Some(group.to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.opts.ack_wait,
            max_ack_pending: self.opts.max_ack_pending,
            ..Default::default()
        };
        stream
            .get_or_create_consumer(group, config)
            .await
            .map_err(nats_err)
    }

    fn topic_of(&self, stream: &str) -> Option<String> {
        let t = stream
            .strip_prefix(&self.opts.stream_prefix)?
            .to_ascii_lowercase();
        crate::valid_name(&t).then_some(t)
    }
}

impl crate::Queue for NatsQueue {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            check_topic(topic)?;
            self.stream(topic).await?;
            let ack = self
                .js
                .publish(self.subject(topic), payload)
                .await
                .map_err(nats_err)?;
            match ack.await {
                Ok(_) => Ok(()),
                Err(e) if is_limit_error(&e) => Err(QueueError::Full {
                    retry_after: self.opts.full_retry_after,
                }),
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    Err(QueueError::TooLarge {
                        size: 0,
                        max: self.client.server_info().max_payload as u64,
                    })
                }
                Err(e) => Err(nats_err(e)),
            }
        })
    }

    fn consumer<'a>(
        &'a self,
        topic: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Consumer>, QueueError>> {
        Box::pin(async move {
            check_topic(topic)?;
            check_group(group)?;
            let stream = self.stream(topic).await?;
            let consumer = self.pull_consumer(&stream, group).await?;
            Ok(Box::new(NatsConsumer {
                topic: topic.into(),
                consumer,
                client: self.client.clone(),
            }) as Box<dyn Consumer>)
        })
    }

    fn topics(&self) -> BoxFuture<'_, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let mut names = self.js.stream_names();
            let mut topics = Vec::new();
            while let Some(name) = names.next().await {
                if let Some(t) = self.topic_of(&name.map_err(nats_err)?) {
                    topics.push(t);
                }
            }
            topics.sort();
            *self.topics.lock().unwrap_or_else(|p| p.into_inner()) = topics.clone();
            Ok(topics)
        })
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
        Box::pin(async move {
            let mut stats = QueueStats {
                limit_bytes: self.opts.max_bytes,
                ..Default::default()
            };
            for topic in self.topics().await? {
                let mut stream = self
                    .js
                    .get_stream(self.stream_name(&topic))
                    .await
                    .map_err(nats_err)?;
                let state = stream.info().await.map_err(nats_err)?.state.clone();
                let mut groups = Vec::new();
                let mut names = stream.consumer_names();
                while let Some(name) = names.next().await {
                    groups.push(name.map_err(nats_err)?);
                }
                groups.sort();
                let mut consumers = Vec::new();
                for g in groups {
                    let info = stream.consumer_info(&g).await.map_err(nats_err)?;
                    consumers.push(ConsumerStats {
                        group: g,
                        pending: info.num_pending + info.num_ack_pending as u64,
                    });
                }
                stats.bytes += state.bytes;
                stats.topics.push(TopicStats {
                    topic,
                    bytes: state.bytes,
                    entries: state.messages,
                    next_id: state.last_sequence + 1,
                    consumers,
                });
            }
            Ok(stats)
        })
    }
}

/// A handle on a durable pull consumer.
struct NatsConsumer {
    topic: Arc<str>,
    consumer: PullConsumer,
    client: async_nats::Client,
}

impl NatsConsumer {
    fn delivery(&self, m: jetstream::Message) -> Result<Delivery, QueueError> {
        let id = m.info().map_err(nats_err)?.stream_sequence;
        let reply = m.message.reply.clone().ok_or_else(|| {
            QueueError::Nats("message without a reply subject: cannot be acked".into())
        })?;
        Ok(Delivery {
            id,
            payload: m.message.payload.clone(),
            ack: AckToken::Nats {
                topic: self.topic.clone(),
                reply,
            },
        })
    }
}

impl Consumer for NatsConsumer {
    fn next(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Delivery>, QueueError>> {
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            // What is there now, without waiting.
            let mut out = Vec::new();
            let mut batch = self
                .consumer
                .fetch()
                .max_messages(max)
                .messages()
                .await
                .map_err(nats_err)?;
            while let Some(m) = batch.next().await {
                out.push(self.delivery(m.map_err(nats_err)?)?);
            }
            if !out.is_empty() || wait.is_zero() {
                return Ok(out);
            }
            // Nothing: wait for one entry (a pull request of one, so none is left delivered
            // to a request nobody reads), then take what else has come.
            let mut one = self
                .consumer
                .batch()
                .max_messages(1)
                .expires(wait)
                .messages()
                .await
                .map_err(nats_err)?;
            while let Some(m) = one.next().await {
                out.push(self.delivery(m.map_err(nats_err)?)?);
            }
            if !out.is_empty() && max > 1 {
                let mut rest = self
                    .consumer
                    .fetch()
                    .max_messages(max - 1)
                    .messages()
                    .await
                    .map_err(nats_err)?;
                while let Some(m) = rest.next().await {
                    out.push(self.delivery(m.map_err(nats_err)?)?);
                }
            }
            Ok(out)
        })
    }

    fn ack<'a>(&'a self, deliveries: &'a [Delivery]) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut replies = Vec::with_capacity(deliveries.len());
            for d in deliveries {
                match &d.ack {
                    AckToken::Nats { topic, reply } if **topic == *self.topic => {
                        replies.push(reply.clone())
                    }
                    _ => {
                        return Err(QueueError::ForeignDelivery {
                            topic: d.topic().to_string(),
                            id: d.id,
                        });
                    }
                }
            }
            // Acks the server confirms ("double ack"), sent together.
            let mut set = tokio::task::JoinSet::new();
            for reply in replies {
                let client = self.client.clone();
                set.spawn(async move { client.request(reply, Bytes::from_static(b"+ACK")).await });
            }
            while let Some(r) = set.join_next().await {
                r.map_err(nats_err)?
                    .map_err(|e| QueueError::Nats(format!("ack: {e}")))?;
            }
            Ok(())
        })
    }
}
