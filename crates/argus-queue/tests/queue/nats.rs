//! NATS JetStream, against a real `nats-server` started per test on free ports.
//! Without the server installed these tests fail, saying how to install it.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use argus_queue::{NatsOptions, NatsQueue, Queue, QueueError, TopicStats};
use bytes::Bytes;

use crate::{drain, ids, payload, publish_n, publish_until_full};

const SHORT: Duration = Duration::from_millis(300);

fn nats_server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return p.into();
    }
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "nats-server not found (looked in /usr/sbin, /usr/bin, /usr/local/bin and $NATS_SERVER): \
         install the Debian package with `apt-get install nats-server` (scripts/test.sh does)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running nats-server with JetStream; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    monitor: u16,
    store: PathBuf,
}

impl Server {
    fn start(store: &Path) -> Server {
        Server::start_on(store, free_port(), free_port())
    }

    fn start_on(store: &Path, port: u16, monitor: u16) -> Server {
        let bin = nats_server_binary();
        let child = Command::new(&bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-m",
                &monitor.to_string(),
                "-js",
                "-sd",
            ])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut server = Server {
            child,
            port,
            monitor,
            store: store.to_path_buf(),
        };
        server.wait_ready();
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Polls the monitoring endpoint until JetStream reports healthy.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nats-server exited during start-up: {status}");
            }
            if healthz(self.monitor) == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server not healthy after 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server cleanly (SIGTERM, as systemd does) and starts it again on the same
    /// store and ports.
    fn restart(mut self) -> Server {
        let (store, port, monitor) = (self.store.clone(), self.port, self.monitor);
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exited = self.child.wait().expect("wait for nats-server");
        assert!(exited.code().is_some() || exited.signal().is_some());
        drop(self);
        Server::start_on(&store, port, monitor)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP status of `GET /healthz?js-enabled-only=true`, if the server answered.
fn healthz(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /healthz?js-enabled-only=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split_whitespace().nth(1)?.parse().ok()
}

/// A server on a fresh temporary store, which lives as long as the returned directory.
fn start_temp() -> (tempfile::TempDir, Server) {
    let store = tempfile::tempdir().expect("tempdir");
    let server = Server::start(store.path());
    (store, server)
}

/// The queue's figures for `topic`.
async fn topic_stats(q: &NatsQueue, topic: &str) -> TopicStats {
    let stats = q.stats().await.expect("stats");
    let found = stats.topics.into_iter().find(|t| t.topic == topic);
    found.expect("topic stats")
}

async fn connect(server: &Server, f: impl FnOnce(&mut NatsOptions)) -> NatsQueue {
    let mut opts = NatsOptions {
        url: server.url(),
        ..NatsOptions::default()
    };
    f(&mut opts);
    NatsQueue::connect(opts).await.expect("connect")
}

#[tokio::test]
async fn nats_publish_consume_ack() {
    let (_store, server) = start_temp();
    let q = connect(&server, |_| {}).await;
    publish_n(&q, "samples", 0..10).await;
    q.publish("my-type", payload(99)).await.expect("publish");
    assert_eq!(
        q.topics().await.expect("topics"),
        vec!["my-type".to_string(), "samples".to_string()]
    );

    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let got = c.next(4, SHORT).await.expect("next");
    assert_eq!(ids(&got), vec![1, 2, 3, 4]);
    let rest = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&rest), (5..=10).collect::<Vec<_>>());
    for d in got.iter().chain(&rest) {
        assert_eq!(d.payload, payload(d.id - 1));
        assert_eq!(d.topic(), "samples");
    }
    let samples = topic_stats(&q, "samples").await;
    assert_eq!(samples.next_id, 11);
    assert_eq!(samples.consumers[0].pending, 10);

    c.ack(&got).await.expect("ack");
    c.ack(&rest).await.expect("ack");
    let samples = topic_stats(&q, "samples").await;
    assert_eq!(
        (
            samples.consumers[0].group.as_str(),
            samples.consumers[0].pending
        ),
        ("handlers", 0)
    );
    assert_eq!(
        samples.entries, 0,
        "interest retention removed what every group acked"
    );

    // A consumer waiting for the next entry gets it as soon as it is published.
    let start = Instant::now();
    let (got, ()) = tokio::join!(c.next(10, Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        q.publish("samples", payload(10)).await.expect("publish");
    });
    assert_eq!(ids(&got.expect("next")), vec![11]);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "waited {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn nats_unacked_entries_are_redelivered_to_a_new_consumer_instance() {
    let (_store, server) = start_temp();
    let q = connect(&server, |o| o.ack_wait = Duration::from_secs(1)).await;
    publish_n(&q, "alarm", 0..5).await;
    {
        let c = q.consumer("alarm", "handlers").await.expect("consumer");
        let got = c.next(5, SHORT).await.expect("next");
        assert_eq!(ids(&got), vec![1, 2, 3, 4, 5]);
        c.ack(&[got[0].clone(), got[3].clone()]).await.expect("ack");
    }
    let c = q.consumer("alarm", "handlers").await.expect("consumer");
    // After the ack wait (1 s) the three un-acked entries come back, and only they.
    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while again.len() < 3 && Instant::now() < deadline {
        again.extend(c.next(10, Duration::from_secs(3)).await.expect("next"));
    }
    let mut got = ids(&again);
    got.sort();
    assert_eq!(got, vec![2, 3, 5]);
    assert!(again.iter().all(|d| d.payload == payload(d.id - 1)));
    c.ack(&again).await.expect("ack");
    assert!(
        c.next(10, Duration::from_millis(1500))
            .await
            .expect("next")
            .is_empty()
    );
}

#[tokio::test]
async fn nats_durable_consumer_resumes_after_reconnect_and_server_restart() {
    let (_store, server) = start_temp();
    {
        let q = connect(&server, |_| {}).await;
        publish_n(&q, "heartbeat", 0..10).await;
        let c = q.consumer("heartbeat", "handlers").await.expect("consumer");
        let got = c.next(6, SHORT).await.expect("next");
        c.ack(&got).await.expect("ack");
    } // the client goes away
    {
        let q = connect(&server, |_| {}).await;
        let c = q.consumer("heartbeat", "handlers").await.expect("consumer");
        let got = c.next(2, SHORT).await.expect("next");
        assert_eq!(ids(&got), vec![7, 8], "resumed after the acked entries");
        c.ack(&got).await.expect("ack");
    }
    // The server itself restarts on the same store: acked entries stay acked.
    let server = server.restart();
    let q = connect(&server, |_| {}).await;
    q.publish("heartbeat", payload(10)).await.expect("publish");
    let c = q.consumer("heartbeat", "handlers").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), vec![9, 10, 11]);
}

#[tokio::test]
async fn nats_full_stream_refuses_publishes_until_acked() {
    let (_store, server) = start_temp();
    let q = connect(&server, |o| {
        o.max_bytes = Some(8 * 1024);
        o.full_retry_after = Duration::from_secs(2);
    })
    .await;
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let entry = Bytes::from(vec![3u8; 1000]);
    let (accepted, retry_after) = publish_until_full(&q, entry.clone()).await;
    assert_eq!(retry_after, Duration::from_secs(2));
    assert!(
        (5..=8).contains(&accepted),
        "accepted {accepted} entries of 1 KB in 8 KiB"
    );
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(got.len() as u64, accepted);
    c.ack(&got).await.expect("ack");
    // Acked entries leave the stream; publishing resumes.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match q.publish("samples", entry.clone()).await {
            Ok(()) => break,
            Err(QueueError::Full { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("publish after acks: {e}"),
        }
    }
    assert_eq!(
        ids(&c.next(10, SHORT).await.expect("next")),
        vec![accepted + 1]
    );
}

#[tokio::test]
async fn nats_unreachable_server_is_a_clear_error() {
    let port = free_port();
    let opts = NatsOptions {
        url: format!("nats://127.0.0.1:{port}"),
        ..NatsOptions::default()
    };
    let err = NatsQueue::connect(opts)
        .await
        .err()
        .expect("no server there");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
