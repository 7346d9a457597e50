//! Artifact files (`artifact_files`), stored as chunks (`artifact_chunks`) of a blob
//! (`artifact_blobs`). An upload is: [`begin_upload`], then [`write_chunk`] per chunk (each its own short write, so other writers are not blocked
//! for the length of a large upload), then [`commit_upload`] which atomically points the
//! path at the new blob and frees the old one (or [`abort_upload`] on failure). An upload
//! that never reaches either is reclaimed once idle (see [`super::artifact_uploads`]).
//! Paths are store paths, already checked by the caller (`services::artifact_paths`).

use super::artifact_uploads as reclaim;
use super::db::{transaction, Db, DbExt, SqlValue};
use crate::error::{ApiResult, MlflowError};
use crate::params;
use crate::util::time::now_ms;
use std::collections::BTreeMap;

/// Bytes per stored chunk (and per streamed piece of a download).
pub const CHUNK_SIZE: usize = 1 << 20;

/// Starts an upload (pending until committed), after reclaiming idle ones.
pub fn begin_upload(db: &dyn Db) -> ApiResult<i64> {
    // Reclaiming is housekeeping: its failure (a busy database) must not fail this upload.
    if let Err(e) = reclaim::reclaim_idle(db, reclaim::idle_bound_ms()) {
        eprintln!(
            "mlflow-server: reclaiming idle uploads failed: {}",
            e.message
        );
    }
    db.query_one(
        "INSERT INTO artifact_blobs (created) VALUES (?) RETURNING blob_id",
        &params![now_ms()],
    )?
    .map(|r| r.int(0))
    .ok_or_else(|| MlflowError::internal("blob insert returned no id"))
}

/// Stores chunk `seq` of a pending upload, unless the upload was reclaimed meanwhile (one
/// statement: the check and the write cannot be split by a reclaim).
pub fn write_chunk(db: &dyn Db, blob: i64, seq: i64, data: Vec<u8>) -> ApiResult<()> {
    db.query_one(
        "INSERT INTO artifact_chunks (blob_id, seq, data) SELECT ?, ?, ?
         WHERE EXISTS (SELECT 1 FROM artifact_uploads WHERE blob_id = ? AND touched > 0)
         RETURNING seq",
        &[
            SqlValue::Integer(blob),
            SqlValue::Integer(seq),
            SqlValue::Blob(data),
            SqlValue::Integer(blob),
        ],
    )?
    .map(drop)
    .ok_or_else(|| reclaim::reclaimed(blob))
}

/// Frees a blob: chunks, blob row, and its pending-upload row last (so that an abort cut
/// short still leaves the rest for the reclaim).
fn drop_blob(db: &dyn Db, blob: i64) -> ApiResult<()> {
    db.exec(
        "DELETE FROM artifact_chunks WHERE blob_id = ?",
        &params![blob],
    )?;
    reclaim::forget_blob(db, blob)
}

pub fn abort_upload(db: &dyn Db, blob: i64) -> ApiResult<()> {
    drop_blob(db, blob)
}

/// Makes `path` (already checked by `services::artifact_paths::safe_path`) name the
/// uploaded blob.
pub fn commit_upload(db: &dyn Db, path: &str, blob: i64, size: i64) -> ApiResult<()> {
    if path.is_empty() {
        return Err(MlflowError::invalid(
            "Invalid path: an artifact needs a file name",
        ));
    }
    transaction(db, || {
        // No longer pending, unless a reclaim took it first.
        db.query_one(
            "DELETE FROM artifact_uploads WHERE blob_id = ? AND touched > 0 RETURNING blob_id",
            &params![blob],
        )?
        .ok_or_else(|| reclaim::reclaimed(blob))?;
        if is_dir(db, path)? {
            return Err(MlflowError::invalid(format!(
                "Invalid path: '{path}' is a directory of artifacts"
            )));
        }
        if let Some(old) = db.query_one(
            "SELECT blob_id FROM artifact_files WHERE path = ?",
            &params![path],
        )? {
            drop_blob(db, old.int(0))?;
        }
        db.exec(
            "INSERT INTO artifact_files (path, blob_id, size, updated) VALUES (?, ?, ?, ?)
             ON CONFLICT (path) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, updated = excluded.updated",
            &params![path, blob, size, now_ms()],
        )
    })
}

/// Convenience for small, already-buffered bodies.
pub fn put(db: &dyn Db, path: &str, bytes: &[u8]) -> ApiResult<()> {
    let blob = begin_upload(db)?;
    let result = bytes
        .chunks(CHUNK_SIZE)
        .enumerate()
        .try_for_each(|(i, c)| write_chunk(db, blob, i as i64, c.to_vec()))
        .and_then(|_| commit_upload(db, path, blob, bytes.len() as i64));
    if result.is_err() {
        let _ = abort_upload(db, blob);
    }
    result
}

/// A stored file: its blob, size and number of chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredFile {
    pub blob: i64,
    pub size: i64,
    pub chunks: i64,
}

pub fn open(db: &dyn Db, path: &str) -> ApiResult<Option<StoredFile>> {
    let Some(r) = db.query_one(
        "SELECT blob_id, size FROM artifact_files WHERE path = ?",
        &params![path],
    )?
    else {
        return Ok(None);
    };
    let blob = r.int(0);
    let chunks = db
        .query_one(
            "SELECT COUNT(*) FROM artifact_chunks WHERE blob_id = ?",
            &params![blob],
        )?
        .map(|r| r.int(0))
        .unwrap_or(0);
    Ok(Some(StoredFile {
        blob,
        size: r.int(1),
        chunks,
    }))
}

pub fn read_chunk(db: &dyn Db, blob: i64, seq: i64) -> ApiResult<Vec<u8>> {
    let mut row = db
        .query_one(
            "SELECT data FROM artifact_chunks WHERE blob_id = ? AND seq = ?",
            &params![blob, seq],
        )?
        .ok_or_else(|| {
            MlflowError::internal(format!("artifact chunk {seq} of blob {blob} is missing"))
        })?;
    Ok(row.take_blob(0))
}

/// Whole file in memory (small files, tests).
pub fn get(db: &dyn Db, path: &str) -> ApiResult<Option<Vec<u8>>> {
    let Some(f) = open(db, path)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(f.size as usize);
    for seq in 0..f.chunks {
        out.extend(read_chunk(db, f.blob, seq)?);
    }
    Ok(Some(out))
}

/// `[lo, hi)` bounds of the paths strictly under `dir` ('0' is the byte after '/').
fn subtree_bounds(dir: &str) -> (String, String) {
    if dir.is_empty() {
        (String::new(), "\u{10FFFF}".into())
    } else {
        (format!("{dir}/"), format!("{dir}0"))
    }
}

/// Whether files lie under `path` (which is then a directory, not a file).
pub fn is_dir(db: &dyn Db, path: &str) -> ApiResult<bool> {
    let (lo, hi) = subtree_bounds(path);
    Ok(db
        .query_one(
            "SELECT 1 FROM artifact_files WHERE path >= ? AND path < ? LIMIT 1",
            &params![lo, hi],
        )?
        .is_some())
}

/// Immediate children of `dir` by name: `None` for a directory, else the file's size.
/// A file path or a missing directory has none.
pub fn children(db: &dyn Db, dir: &str) -> ApiResult<BTreeMap<String, Option<i64>>> {
    let (lo, hi) = subtree_bounds(dir);
    let rows = db.query(
        "SELECT path, size FROM artifact_files WHERE path >= ? AND path < ? ORDER BY path",
        &params![lo.as_str(), hi.as_str()],
    )?;
    let mut children: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for r in rows {
        let full = r.text(0);
        let rel = &full[lo.len()..];
        match rel.split_once('/') {
            Some((child, _)) => {
                children.insert(child.to_string(), None);
            }
            None => {
                children.entry(rel.to_string()).or_insert(Some(r.int(1)));
            }
        }
    }
    Ok(children)
}

/// Deletes a file, or a directory with everything under it.
pub fn delete(db: &dyn Db, path: &str) -> ApiResult<()> {
    let (lo, hi) = subtree_bounds(path);
    transaction(db, || {
        let victims = db.query(
            "SELECT blob_id FROM artifact_files WHERE path = ? OR (path >= ? AND path < ?)",
            &params![path, lo.as_str(), hi.as_str()],
        )?;
        for v in victims {
            drop_blob(db, v.int(0))?;
        }
        db.exec(
            "DELETE FROM artifact_files WHERE path = ? OR (path >= ? AND path < ?)",
            &params![path, lo.as_str(), hi.as_str()],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    #[test]
    fn byte_exact_round_trip_across_chunks() {
        let db = testing::db();
        let data: Vec<u8> = (0..(CHUNK_SIZE * 2 + 123))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        put(&db, "1/r/artifacts/big.bin", &data).unwrap();
        let f = open(&db, "1/r/artifacts/big.bin").unwrap().unwrap();
        assert_eq!((f.size, f.chunks), (data.len() as i64, 3));
        assert_eq!(get(&db, "1/r/artifacts/big.bin").unwrap().unwrap(), data);
        // Overwrite frees the old blob.
        put(&db, "1/r/artifacts/big.bin", b"small").unwrap();
        assert_eq!(
            get(&db, "1/r/artifacts/big.bin").unwrap().unwrap(),
            b"small"
        );
        let n = db
            .query_one("SELECT COUNT(*) FROM artifact_chunks", &[])
            .unwrap()
            .unwrap()
            .int(0);
        assert_eq!(n, 1);
    }
}
