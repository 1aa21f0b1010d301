use std::collections::HashMap;

use argus_core::line_protocol::FieldValue;

use super::*;
use crate::inputs::testcases;

testcases::table_input_tests!(
    /// Each case has `proc/mounts` and `statvfs.json`, the answer of `statvfs(2)` per mount
    /// point; a mount point missing from it fails as if permission were denied.
    "disk",
    first_gathers("typical_host", &[]),
    |config, case| {
        let json = std::fs::read_to_string(case.join("statvfs.json"))?;
        let table: HashMap<PathBuf, FsUsage> = serde_json::from_str(&json)?;
        let mut disk = Disk::new(&config)?;
        disk.stat = Box::new(move |path| {
            table
                .get(path)
                .copied()
                .ok_or_else(|| io::Error::from(io::ErrorKind::PermissionDenied))
        });
        anyhow::Ok(disk)
    }
);

#[test]
fn mount_fields_are_unescaped() {
    assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
    assert_eq!(unescape(r"a\011b\012c\134d"), "a\tb\nc\\d");
    assert_eq!(unescape(r"trailing\04"), r"trailing\04");
    assert_eq!(unescape(r"\777x"), r"\777x");
    assert_eq!(unescape(r"caf\303\251"), "café");
}

#[test]
fn the_last_mount_on_a_path_hides_the_earlier_ones() {
    let mounts =
        parse_mounts("/dev/a /x ext4 rw 0 0\n/dev/b /y ext4 rw 0 0\n/dev/c /x xfs ro 0 0\n\n")
            .expect("parse");
    let visible: Vec<(String, String)> = visible(mounts)
        .into_iter()
        .map(|m| (m.device, m.path))
        .collect();
    assert_eq!(
        visible,
        [("b".into(), "/y".into()), ("c".into(), "/x".into())]
    );
}

#[test]
fn a_short_mounts_line_is_an_error() {
    assert_eq!(
        parse_mounts("/dev/a /x ext4 rw 0 0\n/dev/b /y\n"),
        Err(ParseError::new(
            2,
            "expected device, path, type and options"
        ))
    );
}

#[test]
fn host_root_prefixes_the_statvfs_path_but_not_the_tag() {
    let host = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(host.path().join("data")).expect("mkdir");
    let proc = testcases::proc_root(&[(
        "mounts",
        "/dev/sdz1 /data ext4 rw 0 0\n/dev/sdz2 /missing ext4 rw 0 0\n",
    )]);
    let out = testcases::gather_all(Disk::new(&Config {
        procfs_root: proc.path().to_path_buf(),
        host_root: host.path().to_path_buf(),
        ..Config::default()
    }));
    // `/missing` does not exist under the host root: skipped, not an error.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tags[0], ("path".into(), "/data".into()));
    let st = rustix::fs::statvfs(host.path()).expect("statvfs");
    assert_eq!(
        out[0].fields[0],
        ("total".into(), FieldValue::UInt(st.f_blocks * st.f_frsize))
    );
}

#[test]
fn real_mounts_match_proc_mounts_and_statvfs() {
    let config = Config::default();
    let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    // Independently: the last (visible) fstype of each mount point.
    let mut last_fstype: HashMap<String, String> = HashMap::new();
    for line in mounts.lines() {
        let cols: Vec<&str> = line.split(' ').collect();
        last_fstype.insert(cols[1].replace("\\040", " "), cols[2].to_string());
    }

    let out = testcases::gather_all(Disk::new(&config));

    let mut paths = HashSet::new();
    for line in &out {
        let tag = |key: &str| testcases::tag_of(line, key).expect(key).to_string();
        let path = tag("path");
        assert!(paths.insert(path.clone()), "{path} reported twice");
        assert_eq!(last_fstype.get(&path), Some(&tag("fstype")), "{path}");
        assert!(!config.ignore_fs.contains(&tag("fstype")), "{path}");
        let st = rustix::fs::statvfs(path.as_str()).expect("statvfs");
        assert_eq!(
            line.fields[0],
            ("total".into(), FieldValue::UInt(st.f_blocks * st.f_frsize)),
            "{path}"
        );
        assert_eq!(
            line.fields[4],
            ("inodes_total".into(), FieldValue::UInt(st.f_files)),
            "{path}"
        );
    }
    // The root filesystem is reported whenever it is a real one (not overlay in Docker).
    if let Some(root_fs) = last_fstype.get("/") {
        assert_eq!(paths.contains("/"), !config.ignore_fs.contains(root_fs));
    }
}
