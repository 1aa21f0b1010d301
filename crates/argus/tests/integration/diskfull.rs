//! A full disk (issue 18): the server on a small filesystem of its own (a size-limited
//! tmpfs). When space runs out, ingest answers 503 with `Retry-After`; nothing already
//! acknowledged is lost; once space is freed, ingest and the queue's consumers resume by
//! themselves, without a restart.

use crate::common::{client, start_in, value, wait_for};
use argus_testkit::smallfs::SmallFs;
use std::time::Duration;

/// One body of `n` lines, each a new series `fill{batch, line}` (stamped on receipt).
fn body(batch: u32, n: u32) -> String {
    (0..n)
        .map(|j| format!("fill,batch=b{batch},line=l{j:05} value={j}\n"))
        .collect()
}

#[test]
fn ingest_resumes_by_itself_once_space_is_freed() {
    let fs = SmallFs::mount(64 << 20).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(fs.path().join("data")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(fs.path().join("data"), dir.path().join("data"))
        .unwrap_or_else(|e| panic!("{e}"));
    let argus = start_in("server", "", dir);
    let write = |batch: u32| {
        client()
            .post(format!("{}/write", argus.url))
            .bearer_auth(&argus.token)
            .body(body(batch, 2000))
            .send()
            .unwrap_or_else(|e| panic!("POST /write: {e}"))
    };
    let mut acked: u32 = 0;
    for b in 0..5 {
        assert_eq!(write(b).status(), 204);
        acked += 2000;
    }
    let count = |argus: &crate::common::Argus| {
        argus
            .query("count(fill_value)")
            .first()
            .map(value)
            .unwrap_or(0.0)
    };
    assert_eq!(count(&argus), 10_000.0);
    // Take every byte left, then write until refused.
    fs.fill("ballast");
    let mut batch = 5;
    let refused = loop {
        let r = write(batch);
        if r.status() != 204 {
            break r;
        }
        acked += 2000;
        batch += 1;
        assert!(batch < 1000, "the disk never ran full");
    };
    assert_eq!(refused.status(), 503);
    let retry = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After {retry:?}");
    let message = refused.text().unwrap_or_default();
    assert!(message.contains("No space left"), "{message}");

    std::fs::remove_file(fs.path().join("ballast")).unwrap_or_else(|e| panic!("{e}"));
    // Within a few retries, writes go through again: no restart.
    batch += 1;
    wait_for(
        "ingest after space was freed",
        Duration::from_secs(30),
        || (write(batch).status() == 204).then_some(()),
    );
    acked += 2000;
    // The consumers resumed too: every acknowledged line is queryable.
    wait_for(
        "every acknowledged line queryable",
        Duration::from_secs(60),
        || (count(&argus) == acked as f64).then_some(()),
    );
    // And after a restart.
    let (_, dir) = argus.terminate();
    let argus = start_in("server", "", dir);
    wait_for("the lines after a restart", Duration::from_secs(60), || {
        (count(&argus) == acked as f64).then_some(())
    });
    drop(argus);
}
