//! The embedded log: order, restarts, acks, torn tails, segment deletion, backpressure.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use argus_queue::{LogOptions, LogQueue, Queue, QueueError};
use bytes::Bytes;

use crate::{drain, ids, payload, publish_n, publish_until_full};

const NO_WAIT: Duration = Duration::from_millis(0);
const SHORT: Duration = Duration::from_millis(50);

fn open(dir: &Path) -> LogQueue {
    LogQueue::open(dir, LogOptions::default()).expect("open")
}

fn small(dir: &Path, segment_bytes: u64, max_bytes: u64) -> LogQueue {
    let opts = LogOptions {
        segment_bytes,
        max_bytes,
        full_retry_after: Duration::from_millis(1500),
    };
    LogQueue::open(dir, opts).expect("open")
}

fn segments(dir: &Path, topic: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join(topic))
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn publish_then_consume_in_order_with_payloads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open(dir.path());
    publish_n(&q, "samples", 0..100).await;
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let first = c.next(30, NO_WAIT).await.expect("next");
    assert_eq!(ids(&first), (0..30).collect::<Vec<_>>());
    let rest = drain(c.as_ref(), NO_WAIT).await;
    assert_eq!(ids(&rest), (30..100).collect::<Vec<_>>());
    for d in first.iter().chain(&rest) {
        assert_eq!(d.payload, payload(d.id));
        assert_eq!(d.topic(), "samples");
    }
    assert_eq!(
        q.topics().await.expect("topics"),
        vec!["samples".to_string()]
    );
}

#[tokio::test]
async fn restart_resumes_exactly_after_the_last_ack() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let q = open(dir.path());
        publish_n(&q, "samples", 0..50).await;
        let c = q.consumer("samples", "handlers").await.expect("consumer");
        let got = c.next(50, NO_WAIT).await.expect("next");
        assert_eq!(got.len(), 50);
        c.ack(&got[..20]).await.expect("ack");
        // Everything dropped here without a clean shutdown step.
    }
    let q = open(dir.path());
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), (20..50).collect::<Vec<_>>());
    assert!(got.iter().all(|d| d.payload == payload(d.id)));
    // A publish after the restart continues the ids.
    q.publish("samples", payload(50)).await.expect("publish");
    let more = c.next(10, Duration::from_secs(1)).await.expect("next");
    assert_eq!(ids(&more), vec![50]);
}

#[tokio::test]
async fn out_of_order_acks_persist_the_lowest_unacked_point_and_the_acks_above_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let q = open(dir.path());
        publish_n(&q, "alarm", 0..10).await;
        let c = q.consumer("alarm", "handlers").await.expect("consumer");
        let got = c.next(10, NO_WAIT).await.expect("next");
        let pick = |want: &[u64]| {
            got.iter()
                .filter(|d| want.contains(&d.id))
                .cloned()
                .collect::<Vec<_>>()
        };
        c.ack(&pick(&[5, 7, 9])).await.expect("ack");
        c.ack(&pick(&[2, 0, 1])).await.expect("ack");
        let stats = q.stats().await.expect("stats");
        assert_eq!(stats.topics[0].consumers[0].pending, 4);
    }
    let q = open(dir.path());
    let stats = q.stats().await.expect("stats");
    assert_eq!(
        stats.topics[0].consumers[0].pending, 4,
        "pending after restart"
    );
    let c = q.consumer("alarm", "handlers").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), vec![3, 4, 6, 8]);
    // Ack those too: the group is then at the end, durably.
    c.ack(&got).await.expect("ack");
    drop(c);
    drop(q);
    let q = open(dir.path());
    let c = q.consumer("alarm", "handlers").await.expect("consumer");
    assert!(c.next(10, SHORT).await.expect("next").is_empty());
    assert_eq!(
        q.stats().await.expect("stats").topics[0].consumers[0].pending,
        0
    );
}

#[tokio::test]
async fn torn_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let q = open(dir.path());
        publish_n(&q, "log", 0..5).await;
    }
    let seg = segments(dir.path(), "log").pop().expect("a segment");
    let good_len = fs::metadata(&seg).expect("metadata").len();
    // A record header claiming 1000 bytes followed by 10: a write torn by a crash.
    let mut bytes = fs::read(&seg).expect("read");
    bytes.extend_from_slice(&1000u32.to_le_bytes());
    bytes.extend_from_slice(&[0xAB; 14]);
    fs::write(&seg, &bytes).expect("write");

    let q = open(dir.path());
    assert_eq!(
        fs::metadata(&seg).expect("metadata").len(),
        good_len,
        "tail truncated"
    );
    q.publish("log", payload(5)).await.expect("publish");
    let c = q.consumer("log", "handlers").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), (0..6).collect::<Vec<_>>());
    assert!(got.iter().all(|d| d.payload == payload(d.id)));
}

#[tokio::test]
async fn a_last_record_with_a_bad_checksum_is_dropped_as_torn() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let q = open(dir.path());
        publish_n(&q, "log", 0..3).await;
    }
    let seg = segments(dir.path(), "log").pop().expect("a segment");
    let mut bytes = fs::read(&seg).expect("read");
    let n = bytes.len();
    bytes[n - 1] ^= 0xFF; // last byte of the last payload
    fs::write(&seg, &bytes).expect("write");
    let q = open(dir.path());
    let c = q.consumer("log", "handlers").await.expect("consumer");
    assert_eq!(ids(&drain(c.as_ref(), SHORT).await), vec![0, 1]);
}

#[tokio::test]
async fn segments_are_deleted_once_every_group_is_past_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = small(dir.path(), 1024, 1 << 30);
    let a = q.consumer("samples", "a").await.expect("consumer");
    let b = q.consumer("samples", "b").await.expect("consumer");
    for i in 0..60 {
        q.publish("samples", Bytes::from(vec![i as u8; 100]))
            .await
            .expect("publish");
    }
    let before = segments(dir.path(), "samples").len();
    assert!(before >= 6, "expected several segments, got {before}");
    let bytes_before = q.bytes();

    let got_a = drain(a.as_ref(), NO_WAIT).await;
    assert_eq!(got_a.len(), 60);
    a.ack(&got_a).await.expect("ack");
    assert_eq!(
        segments(dir.path(), "samples").len(),
        before,
        "group b still needs them"
    );

    let got_b = drain(b.as_ref(), NO_WAIT).await;
    b.ack(&got_b[..30]).await.expect("ack");
    let mid = segments(dir.path(), "samples").len();
    assert!(
        mid < before && mid > 1,
        "{mid} segments after b acked half of {before}"
    );
    b.ack(&got_b[30..]).await.expect("ack");
    assert_eq!(
        segments(dir.path(), "samples").len(),
        1,
        "only the active segment is left"
    );
    assert!(
        q.bytes() < bytes_before / 4,
        "{} bytes left of {bytes_before}",
        q.bytes()
    );
    let on_disk: u64 = segments(dir.path(), "samples")
        .iter()
        .map(|p| fs::metadata(p).expect("m").len())
        .sum();
    assert_eq!(q.bytes(), on_disk);

    // After a restart the retained data and ids are consistent.
    drop((a, b, q));
    let q = small(dir.path(), 1024, 1 << 30);
    q.publish("samples", Bytes::from_static(b"after"))
        .await
        .expect("publish");
    let a = q.consumer("samples", "a").await.expect("consumer");
    let got = drain(a.as_ref(), SHORT).await;
    assert_eq!(ids(&got), vec![60]);
    assert_eq!(got[0].payload, Bytes::from_static(b"after"));
}

/// A drained queue does not keep a large active segment of applied entries: once every
/// group is past all of it, it is sealed and deleted; a small one stays.
#[tokio::test]
async fn a_consumed_active_segment_is_sealed_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 64 KiB segments: an active segment over 16 KiB is worth sealing once consumed.
    let q = small(dir.path(), 64 << 10, 1 << 30);
    let c = q.consumer("samples", "g").await.expect("consumer");
    for i in 0..40u8 {
        q.publish("samples", Bytes::from(vec![i; 1000]))
            .await
            .expect("publish");
    }
    assert_eq!(
        segments(dir.path(), "samples").len(),
        1,
        "40 KB fit one segment"
    );
    let got = drain(c.as_ref(), NO_WAIT).await;
    assert_eq!(got.len(), 40);
    c.ack(&got[..39]).await.expect("ack");
    assert!(
        q.bytes() > 40_000,
        "one entry is not applied yet: all is kept"
    );
    c.ack(&got[39..]).await.expect("ack");
    let left = segments(dir.path(), "samples");
    assert_eq!(left.len(), 1, "a new, empty active segment");
    let on_disk: u64 = left.iter().map(|p| fs::metadata(p).expect("m").len()).sum();
    assert!(on_disk < 100, "{on_disk} bytes left");
    assert_eq!(q.bytes(), on_disk);

    // A small consumed segment is not sealed (no file per entry for a trickle).
    q.publish("samples", Bytes::from_static(b"small"))
        .await
        .expect("publish");
    let got = drain(c.as_ref(), NO_WAIT).await;
    assert_eq!(ids(&got), vec![40]);
    c.ack(&got).await.expect("ack");
    assert_eq!(segments(dir.path(), "samples"), left);

    // Ids go on across the sealing and a restart.
    drop((c, q));
    let q = small(dir.path(), 64 << 10, 1 << 30);
    q.publish("samples", Bytes::from_static(b"after"))
        .await
        .expect("publish");
    let c = q.consumer("samples", "g").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), vec![41]);
    assert_eq!(got[0].payload, Bytes::from_static(b"after"));
}

#[tokio::test]
async fn two_consumer_groups_are_independent() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let q = open(dir.path());
        let a = q.consumer("heartbeat", "handlers").await.expect("consumer");
        let b = q.consumer("heartbeat", "archive").await.expect("consumer");
        publish_n(&q, "heartbeat", 0..20).await;
        let got_a = drain(a.as_ref(), NO_WAIT).await;
        a.ack(&got_a).await.expect("ack");
        let got_b = b.next(5, NO_WAIT).await.expect("next");
        assert_eq!(ids(&got_b), (0..5).collect::<Vec<_>>());
        b.ack(&got_b[..3]).await.expect("ack");
        let stats = q.stats().await.expect("stats");
        let pending: Vec<(String, u64)> = stats.topics[0]
            .consumers
            .iter()
            .map(|c| (c.group.clone(), c.pending))
            .collect();
        assert_eq!(
            pending,
            vec![("archive".into(), 17), ("handlers".into(), 0)]
        );
    }
    let q = open(dir.path());
    let a = q.consumer("heartbeat", "handlers").await.expect("consumer");
    let b = q.consumer("heartbeat", "archive").await.expect("consumer");
    assert!(drain(a.as_ref(), SHORT).await.is_empty());
    assert_eq!(
        ids(&drain(b.as_ref(), SHORT).await),
        (3..20).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn full_queue_refuses_publishes_until_consumers_catch_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = small(dir.path(), 2048, 8192);
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let entry = Bytes::from(vec![7u8; 1000]);
    let (accepted, retry_after) = publish_until_full(&q, entry.clone()).await;
    assert_eq!(retry_after, Duration::from_millis(1500));
    assert!(
        (6..=8).contains(&accepted),
        "accepted {accepted} entries of 1 KB in 8 KiB"
    );
    assert!(q.bytes() <= 8192);
    // Still full on another topic: the limit is for the whole directory.
    assert!(matches!(
        q.publish("log", Bytes::from(vec![1u8; 1000])).await,
        Err(QueueError::Full { .. })
    ));

    let got = drain(c.as_ref(), NO_WAIT).await;
    assert_eq!(got.len() as u64, accepted);
    c.ack(&got).await.expect("ack");
    q.publish("samples", entry.clone())
        .await
        .expect("publish resumes after consumers caught up");
    let got = c.next(10, Duration::from_secs(1)).await.expect("next");
    assert_eq!(ids(&got), vec![accepted]);
}

#[tokio::test]
async fn too_large_and_invalid_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = small(dir.path(), 4096, 1 << 20);
    match q.publish("samples", Bytes::from(vec![0u8; 5000])).await {
        Err(QueueError::TooLarge { size, max }) => assert_eq!((size, max), (5000, 4096 - 16 - 8)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(
        matches!(q.publish("Bad.Topic", payload(0)).await, Err(QueueError::InvalidTopic(t)) if t == "Bad.Topic")
    );
    assert!(matches!(
        q.consumer("samples", "a/b").await,
        Err(QueueError::InvalidGroup(_))
    ));
    assert!(
        q.topics().await.expect("topics").is_empty(),
        "nothing created by refused calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_are_all_durable_and_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = Arc::new(open(dir.path()));
    let (tasks, per_task) = (16u64, 40u64);
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let q = q.clone();
        set.spawn(async move {
            for i in 0..per_task {
                q.publish("samples", payload(t * 1000 + i))
                    .await
                    .expect("publish");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("publisher");
    }
    let published = tasks * per_task;
    let syncs = q.syncs();
    eprintln!("{published} concurrent publishes took {syncs} fsyncs");
    assert!(
        syncs < published,
        "group commit: {syncs} fsyncs for {published} publishes"
    );
    drop(q);

    let q = open(dir.path());
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), (0..published).collect::<Vec<_>>());
    let mut payloads: Vec<Bytes> = got.into_iter().map(|d| d.payload).collect();
    payloads.sort();
    let mut want: Vec<Bytes> = (0..tasks)
        .flat_map(|t| (0..per_task).map(move |i| payload(t * 1000 + i)))
        .collect();
    want.sort();
    assert_eq!(payloads, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_consumer_wakes_on_publish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = Arc::new(open(dir.path()));
    let c = q.consumer("events", "handlers").await.expect("consumer");
    let q2 = q.clone();
    let publisher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        q2.publish("events", payload(0)).await.expect("publish");
    });
    let start = Instant::now();
    let got = c.next(10, Duration::from_secs(10)).await.expect("next");
    let waited = start.elapsed();
    assert_eq!(ids(&got), vec![0]);
    assert!(waited < Duration::from_secs(2), "woke after {waited:?}");
    publisher.await.expect("publisher");
    // And `wait` bounds an empty wait.
    let start = Instant::now();
    assert!(
        c.next(10, Duration::from_millis(200))
            .await
            .expect("next")
            .is_empty()
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn entries_held_by_a_dropped_handle_go_to_the_groups_other_handles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open(dir.path());
    publish_n(&q, "samples", 0..10).await;
    let a = q.consumer("samples", "handlers").await.expect("consumer");
    let b = q.consumer("samples", "handlers").await.expect("consumer");
    let got_a = a.next(4, NO_WAIT).await.expect("next");
    assert_eq!(ids(&got_a), vec![0, 1, 2, 3]);
    let got_b = b.next(3, NO_WAIT).await.expect("next");
    assert_eq!(
        ids(&got_b),
        vec![4, 5, 6],
        "handles of one group share entries"
    );
    a.ack(&got_a[..1]).await.expect("ack");
    drop(a);
    let rest = drain(b.as_ref(), NO_WAIT).await;
    assert_eq!(ids(&rest), vec![1, 2, 3, 7, 8, 9]);
}

#[tokio::test]
async fn a_delivery_can_only_be_acked_by_its_own_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open(dir.path());
    publish_n(&q, "samples", 0..1).await;
    let a = q.consumer("samples", "a").await.expect("consumer");
    let b = q.consumer("samples", "b").await.expect("consumer");
    let got = a.next(1, NO_WAIT).await.expect("next");
    assert!(matches!(
        b.ack(&got).await,
        Err(QueueError::ForeignDelivery { id: 0, .. })
    ));
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _q = open(dir.path());
    let err = LogQueue::open(dir.path(), LogOptions::default())
        .err()
        .expect("second open refused");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

#[tokio::test]
async fn a_new_group_starts_at_the_oldest_entry_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = open(dir.path());
    publish_n(&q, "custom-type", 0..5).await;
    let late = q.consumer("custom-type", "late").await.expect("consumer");
    assert_eq!(
        ids(&drain(late.as_ref(), NO_WAIT).await),
        vec![0, 1, 2, 3, 4]
    );
}

/// On a filesystem that runs full, publishing fails with the I/O error and nothing
/// acknowledged is harmed; once space is freed, publishing and acks resume in the same
/// process, and every acknowledged entry is delivered, in order, before and after a
/// reopen.
#[tokio::test]
async fn a_full_disk_refuses_publishes_until_space_is_freed() {
    let fs = argus_testkit::smallfs::SmallFs::mount(4 << 20).unwrap_or_else(|e| panic!("{e}"));
    let dir = fs.path().join("queue");
    let ballast = fs.path().join("ballast");
    let big = |i: u64| Bytes::from(format!("{i:08}-{}", "x".repeat(8 << 10)));
    let no_space = |e: &QueueError| matches!(e, QueueError::Io { source, .. } if source.raw_os_error() == Some(28));
    let q = small(&dir, 256 << 10, 1 << 30);
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    // A file of ours takes a quarter, so that freeing space is ours to do, as an
    // operator would; then publish until the disk refuses.
    fs::write(&ballast, vec![0u8; 1 << 20]).expect("ballast");
    let mut acked = Vec::new();
    let mut i = 0u64;
    let failure = loop {
        match q.publish("samples", big(i)).await {
            Ok(()) => acked.push(i),
            Err(e) => break e,
        }
        i += 1;
        assert!(i < 10_000, "the disk never ran full");
    };
    assert!(acked.len() > 100, "only {} entries fit", acked.len());
    assert!(no_space(&failure), "{failure}");
    // Still full: still refused with the cause, not as a closed queue.
    i += 1;
    let again = q.publish("samples", big(i)).await;
    assert!(again.as_ref().is_err_and(no_space), "{again:?}");
    // Consumers read meanwhile; their acks may wait for space, with the same cause.
    let mut got = drain(c.as_ref(), SHORT).await;
    assert_eq!(got.len(), acked.len());
    if let Err(e) = c.ack(&got[..5]).await {
        assert!(no_space(&e), "{e}");
    }

    fs::remove_file(&ballast).expect("free the ballast");
    for _ in 0..50 {
        i += 1;
        q.publish("samples", big(i))
            .await
            .unwrap_or_else(|e| panic!("after freeing space, entry {i}: {e}"));
        acked.push(i);
    }
    c.ack(&got[..10]).await.expect("ack after freeing space");
    got.extend(drain(c.as_ref(), SHORT).await);
    let want: Vec<Bytes> = acked.iter().map(|&i| big(i)).collect();
    assert_eq!(ids(&got), (0..acked.len() as u64).collect::<Vec<_>>());
    assert!(got.iter().map(|d| &d.payload).eq(want.iter()));
    drop((c, q));
    // Reopened: everything after the acked ten, whole and in order.
    let q = small(&dir, 256 << 10, 1 << 30);
    let c = q.consumer("samples", "handlers").await.expect("consumer");
    let got = drain(c.as_ref(), SHORT).await;
    assert_eq!(ids(&got), (10..acked.len() as u64).collect::<Vec<_>>());
    assert!(got.iter().map(|d| &d.payload).eq(want[10..].iter()));
}
