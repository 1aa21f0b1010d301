//! Writing a block: chunks, index and meta under a temporary name, fsynced, then renamed.

use super::index::{ChunkMeta, SymbolTable};
use super::{META_VERSION, Meta, dir_name};
use crate::chunk;
use crate::error::Result;
use crate::wal::sync_dir;
use argus_core::Labels;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Samples per block chunk: large chunks compress best (frame headers and the per-chunk
/// directory entry are spread thin), and 2048 samples still decode in microseconds.
pub const BLOCK_CHUNK_MAX: usize = 2048;

/// What to write: series sorted by labels, each with sorted, unique timestamps.
pub struct BlockSpec {
    pub id: u64,
    pub level: u32,
    pub sources: Vec<u64>,
}

/// Writes a block into `blocks_dir` and returns its meta, or `None` if there was nothing
/// to write.
pub fn write_block(
    blocks_dir: &Path,
    spec: BlockSpec,
    series: impl Iterator<Item = (Labels, Vec<i64>, Vec<f64>)>,
) -> Result<Option<Meta>> {
    let name = dir_name(spec.id);
    let tmp = blocks_dir.join(format!("{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let mut chunks_file = BufWriter::with_capacity(1 << 20, File::create(tmp.join("chunks"))?);
    let mut enc = chunk::Encoder::new();
    let mut buf = Vec::new();
    let mut offset = 0u64;
    let mut symbols = SymbolTable::default();
    let mut index: Vec<(Box<[u32]>, Vec<ChunkMeta>)> = Vec::new();
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    let (mut samples, mut nchunks) = (0u64, 0u64);
    for (labels, ts, vs) in series {
        if ts.is_empty() {
            continue;
        }
        let mut metas = Vec::with_capacity(ts.len().div_ceil(BLOCK_CHUNK_MAX));
        for (t, v) in ts.chunks(BLOCK_CHUNK_MAX).zip(vs.chunks(BLOCK_CHUNK_MAX)) {
            buf.clear();
            enc.encode(t, v, &mut buf);
            chunks_file.write_all(&buf)?;
            metas.push(ChunkMeta {
                min_t: t[0],
                max_t: t[t.len() - 1],
                count: t.len() as u32,
                offset,
                len: buf.len() as u32,
                crc: crc32fast::hash(&buf),
            });
            offset += buf.len() as u64;
            nchunks += 1;
        }
        min_t = min_t.min(ts[0]);
        max_t = max_t.max(ts[ts.len() - 1]);
        samples += ts.len() as u64;
        index.push((symbols.refs(&labels), metas));
    }
    if index.is_empty() {
        drop(chunks_file);
        std::fs::remove_dir_all(&tmp)?;
        return Ok(None);
    }
    chunks_file.flush()?;
    chunks_file.get_ref().sync_all()?;
    drop(chunks_file);

    let series_count = index.len() as u64;
    let mut f = File::create(tmp.join("index"))?;
    f.write_all(&symbols.write_index(index, min_t))?;
    f.sync_all()?;

    let meta = Meta {
        version: META_VERSION,
        id: spec.id,
        min_t,
        max_t,
        series: series_count,
        samples,
        chunks: nchunks,
        level: spec.level,
        sources: spec.sources,
        raw: true,
    };
    let mut f = File::create(tmp.join("meta.json"))?;
    f.write_all(&serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    sync_dir(&tmp)?;
    std::fs::rename(&tmp, blocks_dir.join(&name))?;
    sync_dir(blocks_dir)?;
    Ok(Some(meta))
}
