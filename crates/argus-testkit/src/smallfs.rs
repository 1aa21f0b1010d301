//! A **small filesystem** of its own for disk-full tests: a size-limited tmpfs mounted
//! on a temporary directory, unmounted when dropped. Filling it is quick, and freeing
//! space is removing a file.
//!
//! Mounting needs root (the test suite runs as root, as the README says: it installs its
//! packages with apt-get). [`SmallFs::mount`] says so when it cannot.

use std::path::Path;
use std::process::Command;

pub struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// A tmpfs of `bytes` (rounded up to pages by the kernel) on a new temporary directory.
    pub fn mount(bytes: u64) -> Result<SmallFs, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0755"))
            .arg("argus-test")
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs on {} failed ({}): {}; disk-full tests need root",
                dir.path().display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallFs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem with a file `name` of zeros until no space is left; returns
    /// the bytes written. Removing the file frees them.
    pub fn fill(&self, name: &str) -> u64 {
        use std::io::Write;
        let Ok(mut f) = std::fs::File::create(self.path().join(name)) else {
            return 0;
        };
        let block = vec![0u8; 64 << 10];
        let mut n = 0;
        loop {
            match f.write(&block) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k as u64,
            }
        }
        let _ = f.sync_all();
        n
    }

    /// Bytes free on the filesystem.
    pub fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.path())
            .output();
        out.ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .nth(1)
                    .and_then(|l| l.trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazily, so that a file still open somewhere cannot keep it mounted.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
