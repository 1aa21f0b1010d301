//! A consumer *group*'s position in a topic: its *committed* offset (every entry below it is
//! acked) and the entries acked above it, kept in memory and made durable in two
//! alternating *slot* files, `consumers/<group>.0` and `.1` (`docs/formats/queue.md`).
//! A slot is overwritten only when the other holds the latest state, so a crash in the
//! middle of a write leaves the previous state readable.

use std::{
    collections::BTreeSet,
    fs::{File, OpenOptions},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use super::segment::{lock, sync_dir};
use crate::QueueError;

const MAGIC: &[u8; 4] = b"AQCG";
const VERSION: u8 = 1;
const FIXED_LEN: usize = 4 + 1 + 3 + 8 + 8 + 4;

pub(super) struct GroupState {
    /// Every entry below this is acked.
    pub committed: u64,
    /// Entries acked at or above `committed`.
    pub acked: BTreeSet<u64>,
    /// The next entry never delivered to this group in this process.
    pub next_read: u64,
    /// Entries delivered to a handle that was dropped before acking them: delivered first.
    pub redeliver: BTreeSet<u64>,
    /// Bumped by every change that must be persisted.
    pub version: u64,
}

struct Slots {
    paths: [PathBuf; 2],
    files: [File; 2],
    /// Sequence number of the last slot written.
    seq: u64,
    /// The slot to write next (the one not holding `seq`).
    next: usize,
    /// `GroupState::version` last made durable.
    persisted_version: u64,
}

pub(super) struct Group {
    pub name: String,
    pub state: Mutex<GroupState>,
    slots: Mutex<Slots>,
    /// The committed offset on stable storage: segments below every group's are deleted.
    pub durable_committed: AtomicU64,
}

/// The state held in one slot.
#[derive(Debug, PartialEq, Eq)]
struct Slot {
    seq: u64,
    committed: u64,
    acked: Vec<u64>,
}

fn encode(slot: &Slot) -> Vec<u8> {
    let mut buf = Vec::with_capacity(FIXED_LEN + 8 * slot.acked.len() + 4);
    buf.extend_from_slice(MAGIC);
    buf.push(VERSION);
    buf.extend_from_slice(&[0, 0, 0]);
    buf.extend_from_slice(&slot.seq.to_le_bytes());
    buf.extend_from_slice(&slot.committed.to_le_bytes());
    buf.extend_from_slice(&(slot.acked.len() as u32).to_le_bytes());
    for id in &slot.acked {
        buf.extend_from_slice(&id.to_le_bytes());
    }
    let crc = crc32fast::hash(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A slot's state, or why it is not valid. An empty file is `Ok(None)`.
fn decode(b: &[u8]) -> Result<Option<Slot>, String> {
    if b.is_empty() {
        return Ok(None);
    }
    if b.len() < FIXED_LEN + 4 || &b[..4] != MAGIC {
        return Err("bad magic or too short".into());
    }
    if b[4] != VERSION {
        return Err(format!("unsupported version {}", b[4]));
    }
    let n = u32_at(b, 24).ok_or("truncated")? as usize;
    let body = FIXED_LEN + 8 * n;
    if b.len() != body + 4 {
        return Err(format!(
            "length {} does not match {} acked entries",
            b.len(),
            n
        ));
    }
    if u32_at(b, body) != Some(crc32fast::hash(&b[..body])) {
        return Err("checksum mismatch".into());
    }
    let seq = u64_at(b, 8).ok_or("truncated")?;
    let committed = u64_at(b, 16).ok_or("truncated")?;
    let mut acked = Vec::with_capacity(n);
    for i in 0..n {
        let id = u64_at(b, FIXED_LEN + 8 * i).ok_or("truncated")?;
        if id <= committed || acked.last().is_some_and(|&last| last >= id) {
            return Err("acked entries not ascending above the committed offset".into());
        }
        acked.push(id);
    }
    Ok(Some(Slot {
        seq,
        committed,
        acked,
    }))
}

fn slot_paths(dir: &Path, name: &str) -> [PathBuf; 2] {
    [dir.join(format!("{name}.0")), dir.join(format!("{name}.1"))]
}

/// The group name a slot file belongs to, if it is one.
pub(super) fn parse_slot_name(file: &str) -> Option<&str> {
    file.strip_suffix(".0")
        .or_else(|| file.strip_suffix(".1"))
        .filter(|n| crate::valid_name(n))
}

impl Group {
    /// Opens group `name` in the consumers directory `dir`: loads its durable state, or, if
    /// it has none, registers it durably at offset `start`. Returns the group and whether it
    /// is new.
    pub fn open(dir: &Path, name: &str, start: u64) -> Result<Group, QueueError> {
        let paths = slot_paths(dir, name);
        let mut files = Vec::with_capacity(2);
        let mut slots = Vec::with_capacity(2);
        let mut created = false;
        for path in &paths {
            let existed = path.exists();
            created |= !existed;
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| QueueError::io(path, e))?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut &f, &mut bytes).map_err(|e| QueueError::io(path, e))?;
            slots.push(decode(&bytes).map_err(|reason| (path.clone(), reason)));
            files.push(f);
        }
        if created {
            sync_dir(dir)?;
        }
        let [f0, f1]: [File; 2] = files
            .try_into()
            .map_err(|_| QueueError::Closed("internal: two slot files expected".into()))?;
        // The newest valid slot wins; a torn slot is ignored if the other one is valid.
        let mut best: Option<(usize, Slot)> = None;
        let mut errors = Vec::new();
        for (i, s) in slots.into_iter().enumerate() {
            match s {
                Ok(Some(slot)) => {
                    if best.as_ref().is_none_or(|(_, b)| slot.seq > b.seq) {
                        best = Some((i, slot));
                    }
                }
                Ok(None) => {}
                Err((path, reason)) => errors.push((path, reason)),
            }
        }
        let group = match best {
            Some((i, slot)) => {
                for (path, reason) in &errors {
                    tracing::warn!(path = %path.display(), reason, "queue: ignoring a torn consumer slot");
                }
                let acked: BTreeSet<u64> = slot.acked.into_iter().collect();
                Group::new(
                    name,
                    paths,
                    [f0, f1],
                    slot.seq,
                    1 - i,
                    slot.committed,
                    acked,
                )
            }
            None => {
                if let Some((path, reason)) = errors.into_iter().next() {
                    // Both slots unreadable: restarting from 0 would redeliver everything,
                    // from the oldest segment would skip: neither is acceptable silently.
                    return Err(QueueError::Corrupt {
                        path: path.display().to_string(),
                        reason,
                    });
                }
                let g = Group::new(name, paths, [f0, f1], 0, 0, start, BTreeSet::new());
                lock(&g.state).version = 1;
                g.persist(1)?;
                g
            }
        };
        Ok(group)
    }

    fn new(
        name: &str,
        paths: [PathBuf; 2],
        files: [File; 2],
        seq: u64,
        next: usize,
        committed: u64,
        acked: BTreeSet<u64>,
    ) -> Group {
        Group {
            name: name.to_string(),
            state: Mutex::new(GroupState {
                committed,
                acked,
                next_read: committed,
                redeliver: BTreeSet::new(),
                version: 0,
            }),
            slots: Mutex::new(Slots {
                paths,
                files,
                seq,
                next,
                persisted_version: 0,
            }),
            durable_committed: AtomicU64::new(committed),
        }
    }

    /// Makes the state durable at least as of `version`. Concurrent ackers share writes:
    /// whoever holds the slot lock writes the newest state, covering everyone before it.
    pub fn persist(&self, version: u64) -> Result<(), QueueError> {
        let mut slots = lock(&self.slots);
        if slots.persisted_version >= version {
            return Ok(());
        }
        let (version, slot) = {
            let st = lock(&self.state);
            (
                st.version,
                Slot {
                    seq: slots.seq + 1,
                    committed: st.committed,
                    acked: st.acked.iter().copied().collect(),
                },
            )
        };
        let buf = encode(&slot);
        let i = slots.next;
        let f = &slots.files[i];
        let r = f
            .write_all_at(&buf, 0)
            .and_then(|()| f.set_len(buf.len() as u64))
            .and_then(|()| f.sync_data());
        if let Err(e) = r {
            // The other slot still holds the last good state (a crash now reads that
            // one), and the next persist writes this slot again: nothing to repair.
            return Err(QueueError::io(&slots.paths[i], e));
        }
        slots.seq = slot.seq;
        slots.next = 1 - i;
        slots.persisted_version = version;
        self.durable_committed
            .store(slot.committed, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_round_trip_and_rejects() {
        let s = Slot {
            seq: 7,
            committed: 10,
            acked: vec![12, 15],
        };
        let b = encode(&s);
        assert_eq!(decode(&b), Ok(Some(s)));
        assert_eq!(decode(&[]), Ok(None));
        // Torn: any prefix is rejected.
        for n in 1..b.len() {
            assert!(decode(&b[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        // Leftover bytes are rejected.
        let mut long = b.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        // A flipped bit is caught.
        let mut flipped = b.clone();
        flipped[17] ^= 1;
        assert!(decode(&flipped).is_err());
    }
}
