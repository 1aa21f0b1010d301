//! The embedded queue: a durable, append-only log per topic in one directory.
//!
//! `<dir>/<topic>/` holds the topic's segment files and `consumers/`, the committed position
//! of each consumer group (formats in `docs/formats/queue.md`). A publish returns once its
//! record is `fdatasync`ed; concurrent publishers share fsyncs (group commit). A group's
//! position advances to the lowest entry not acked and is made durable by every ack, so a
//! restart redelivers exactly the entries not acked. A segment is deleted once every
//! registered group is past it. Past `max_bytes` on disk, publish fails with
//! [`QueueError::Full`] until consumers catch up.
//!
//! Blocking file I/O runs on tokio's blocking pool; consumers wait for new entries on a
//! watch channel, never by polling.

mod group;
mod segment;
mod topic;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::{File, OpenOptions},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;

use self::{
    group::Group,
    segment::{HEADER_LEN, RECORD_HEADER_LEN, lock},
    topic::{Topic, topic_dirs},
};
use crate::{
    AckToken, BoxFuture, Consumer, Delivery, QueueError, QueueStats, check_group, check_topic,
};

/// Settings of the embedded log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// A segment is sealed and a new one started when the next entry would take it past
    /// this many bytes. Also bounds the size of one entry. Default 64 MiB.
    pub segment_bytes: u64,
    /// The most bytes all segment files of all topics may take together; past it, publish
    /// fails with [`QueueError::Full`]. Default 1 GiB.
    pub max_bytes: u64,
    /// The `retry_after` returned with [`QueueError::Full`]. Default 1 s.
    pub full_retry_after: Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 << 20,
            max_bytes: 1 << 30,
            full_retry_after: Duration::from_secs(1),
        }
    }
}

impl LogOptions {
    /// The largest payload one entry may have.
    pub fn max_entry_bytes(&self) -> u64 {
        self.segment_bytes
            .min(self.max_bytes)
            .min(u32::MAX as u64)
            .saturating_sub(HEADER_LEN + RECORD_HEADER_LEN)
    }
}

/// What all topics of one queue share.
pub(crate) struct Shared {
    opts: LogOptions,
    /// Bytes of all segment files.
    total: AtomicU64,
    /// fsyncs of segment data so far (group commit makes this lower than publishes).
    syncs: AtomicU64,
}

impl Shared {
    /// Counts `n` more bytes on disk, or fails with `Full` if they would pass the limit.
    fn reserve(&self, n: u64) -> Result<(), QueueError> {
        let max = self.opts.max_bytes;
        self.total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                let after = t.checked_add(n)?;
                (after <= max).then_some(after)
            })
            .map(|_| ())
            .map_err(|_| QueueError::Full {
                retry_after: self.opts.full_retry_after,
            })
    }

    fn release(&self, n: u64) {
        // Saturating: never wrap even if accounting were off.
        let _ = self
            .total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(n))
            });
    }
}

struct Inner {
    dir: PathBuf,
    shared: Arc<Shared>,
    topics: Mutex<BTreeMap<String, Arc<Topic>>>,
    /// Holds an exclusive `flock` on `<dir>/LOCK` so two processes never share the log.
    _lock: File,
}

impl Inner {
    fn topic(&self, name: &str) -> Result<Arc<Topic>, QueueError> {
        let mut topics = lock(&self.topics);
        if let Some(t) = topics.get(name) {
            return Ok(t.clone());
        }
        let t = Arc::new(Topic::open(name, self.dir.join(name), self.shared.clone())?);
        topics.insert(name.to_string(), t.clone());
        Ok(t)
    }
}

/// The embedded durable log. Cheap to clone; all clones share one directory.
#[derive(Clone)]
pub struct LogQueue {
    inner: Arc<Inner>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, QueueError> + Send + 'static,
) -> Result<T, QueueError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| QueueError::Closed(format!("queue task failed: {e}")))?
}

/// How long `open` waits for a previous holder of the lock to let go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Takes the exclusive `flock` on `file`, waiting up to [`LOCK_WAIT`]. A lock can be held
/// for a moment after its owner let go: by a process that is exiting, or by a child that
/// another thread forked and that has not yet exec'd (it shares the file until then).
fn lock_exclusive(file: &File) -> rustix::io::Result<()> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                // flock has no timed wait: poll.
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

impl LogQueue {
    /// Opens the log in `dir` (created if missing), truncating torn tails. Blocking: call it
    /// before serving or from `spawn_blocking`. Fails if another process keeps it open
    /// for 2 s.
    pub fn open(dir: impl AsRef<Path>, opts: LogOptions) -> Result<LogQueue, QueueError> {
        let dir = dir.as_ref().to_path_buf();
        if opts.max_entry_bytes() == 0 {
            return Err(QueueError::Closed(format!(
                "queue options leave no room for an entry: segment_bytes {} and max_bytes {} must exceed {} bytes",
                opts.segment_bytes,
                opts.max_bytes,
                HEADER_LEN + RECORD_HEADER_LEN
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|e| QueueError::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| QueueError::io(&lock_path, e))?;
        lock_exclusive(&lock_file).map_err(|e| {
            QueueError::io(
                &lock_path,
                std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("the queue directory is in use by another process ({e})"),
                ),
            )
        })?;
        let shared = Arc::new(Shared {
            opts,
            total: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        let mut topics = BTreeMap::new();
        for (name, path) in topic_dirs(&dir)? {
            let t = Topic::open(&name, path, shared.clone())?;
            topics.insert(name, Arc::new(t));
        }
        Ok(LogQueue {
            inner: Arc::new(Inner {
                dir,
                shared,
                topics: Mutex::new(topics),
                _lock: lock_file,
            }),
        })
    }

    /// fsyncs of segment data since open: with concurrent publishers, fewer than publishes.
    pub fn syncs(&self) -> u64 {
        self.inner.shared.syncs.load(Ordering::Relaxed)
    }

    /// Bytes of all segment files now.
    pub fn bytes(&self) -> u64 {
        self.inner.shared.total.load(Ordering::Acquire)
    }
}

impl crate::Queue for LogQueue {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            check_topic(topic)?;
            let max = self.inner.shared.opts.max_entry_bytes();
            if payload.len() as u64 > max {
                return Err(QueueError::TooLarge {
                    size: payload.len() as u64,
                    max,
                });
            }
            let inner = self.inner.clone();
            let topic = topic.to_string();
            blocking(move || inner.topic(&topic)?.publish(&payload).map(|_| ())).await
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
            let inner = self.inner.clone();
            let (topic, group) = (topic.to_string(), group.to_string());
            let (topic, group) = blocking(move || {
                let t = inner.topic(&topic)?;
                let g = t.group(&group)?;
                Ok((t, g))
            })
            .await?;
            Ok(Box::new(LogConsumer {
                topic,
                group,
                outstanding: Mutex::new(BTreeSet::new()),
            }) as Box<dyn Consumer>)
        })
    }

    fn topics(&self) -> BoxFuture<'_, Result<Vec<String>, QueueError>> {
        Box::pin(async move { Ok(lock(&self.inner.topics).keys().cloned().collect()) })
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
        Box::pin(async move {
            let topics: Vec<Arc<Topic>> = lock(&self.inner.topics).values().cloned().collect();
            let topics = topics
                .iter()
                .map(|t| t.stats())
                .collect::<Result<Vec<_>, _>>()?;
            Ok(QueueStats {
                bytes: self.bytes(),
                limit_bytes: Some(self.inner.shared.opts.max_bytes),
                topics,
            })
        })
    }
}

/// A handle on a consumer group of the embedded log.
struct LogConsumer {
    topic: Arc<Topic>,
    group: Arc<Group>,
    /// Entries delivered through this handle and not acked: redelivered to the group's
    /// other handles when this one is dropped.
    outstanding: Mutex<BTreeSet<u64>>,
}

impl LogConsumer {
    fn token(&self) -> usize {
        Arc::as_ptr(&self.group) as usize
    }

    /// Takes up to `max` entries below `durable` for this handle: first those put back by
    /// dropped handles, then new ones, skipping entries already acked.
    fn claim(&self, max: usize, durable: u64) -> Vec<u64> {
        let mut ids = Vec::new();
        {
            let mut st = lock(&self.group.state);
            while ids.len() < max {
                let Some(id) = st.redeliver.pop_first() else {
                    break;
                };
                if id >= st.committed && !st.acked.contains(&id) {
                    ids.push(id);
                }
            }
            // Acks may have moved the committed offset past entries never delivered in
            // this process (acked before a restart): those are not read again.
            st.next_read = st.next_read.max(st.committed);
            while ids.len() < max && st.next_read < durable {
                let id = st.next_read;
                st.next_read += 1;
                if !st.acked.contains(&id) {
                    ids.push(id);
                }
            }
        }
        lock(&self.outstanding).extend(ids.iter().copied());
        ids
    }

    /// Gives entries back to the group (a read failed, or this handle is going away).
    fn give_back(&self, ids: &[u64]) {
        {
            let mut st = lock(&self.group.state);
            let committed = st.committed;
            for &id in ids {
                if id >= committed && !st.acked.contains(&id) {
                    st.redeliver.insert(id);
                }
            }
        }
        let mut out = lock(&self.outstanding);
        for id in ids {
            out.remove(id);
        }
        drop(out);
        self.topic.wake();
    }
}

impl Drop for LogConsumer {
    fn drop(&mut self) {
        let ids: Vec<u64> = std::mem::take(&mut *lock(&self.outstanding))
            .into_iter()
            .collect();
        if !ids.is_empty() {
            self.give_back(&ids);
        }
    }
}

impl Consumer for LogConsumer {
    fn next(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Delivery>, QueueError>> {
        Box::pin(async move {
            if max == 0 {
                return Ok(Vec::new());
            }
            let deadline = tokio::time::Instant::now() + wait;
            // Subscribed before looking, so an entry made durable in between wakes us.
            let mut durable = self.topic.subscribe();
            loop {
                let end = *durable.borrow_and_update();
                let ids = self.claim(max, end);
                if !ids.is_empty() {
                    let topic = self.topic.clone();
                    let read_ids = ids.clone();
                    return match blocking(move || topic.read(&read_ids)).await {
                        Ok(entries) => {
                            let token = self.token();
                            Ok(entries
                                .into_iter()
                                .map(|(id, payload)| Delivery {
                                    id,
                                    payload,
                                    ack: AckToken::Log {
                                        topic: self.topic.name.clone(),
                                        group: token,
                                    },
                                })
                                .collect())
                        }
                        Err(e) => {
                            self.give_back(&ids);
                            Err(e)
                        }
                    };
                }
                match tokio::time::timeout_at(deadline, durable.changed()).await {
                    Err(_elapsed) => return Ok(Vec::new()),
                    Ok(Err(_closed)) => return Err(QueueError::Closed("topic closed".into())),
                    Ok(Ok(())) => {}
                }
            }
        })
    }

    fn ack<'a>(&'a self, deliveries: &'a [Delivery]) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let token = self.token();
            for d in deliveries {
                match &d.ack {
                    AckToken::Log { group, .. } if *group == token => {}
                    _ => {
                        return Err(QueueError::ForeignDelivery {
                            topic: d.topic().to_string(),
                            id: d.id,
                        });
                    }
                }
            }
            let version = {
                let mut st = lock(&self.group.state);
                let mut changed = false;
                for d in deliveries {
                    st.redeliver.remove(&d.id);
                    if d.id >= st.committed {
                        changed |= st.acked.insert(d.id);
                    }
                }
                loop {
                    let c = st.committed;
                    if !st.acked.remove(&c) {
                        break;
                    }
                    st.committed = c + 1;
                }
                if changed {
                    st.version += 1;
                }
                changed.then_some(st.version)
            };
            {
                let mut out = lock(&self.outstanding);
                for d in deliveries {
                    out.remove(&d.id);
                }
            }
            let Some(version) = version else {
                return Ok(());
            };
            let (group, topic) = (self.group.clone(), self.topic.clone());
            blocking(move || {
                group.persist(version)?;
                topic.collect()
            })
            .await
        })
    }
}
