//! The default [`ArtifactStore`]: files as 1 MiB chunks in the database
//! (`super::artifacts`), written as an upload that becomes visible when it commits.

use super::artifact_store::{ArtifactReader, ArtifactStore, ArtifactWriter};
use super::artifacts::{self as chunks, CHUNK_SIZE};
use super::db::Db;
use crate::error::ApiResult;
use std::collections::BTreeMap;

/// Artifact files kept in the database `db`.
pub struct DatabaseArtifacts<'a>(pub &'a dyn Db);

impl ArtifactStore for DatabaseArtifacts<'_> {
    fn children(&self, dir: &str) -> ApiResult<BTreeMap<String, Option<i64>>> {
        chunks::children(self.0, dir)
    }

    fn is_dir(&self, path: &str) -> ApiResult<bool> {
        chunks::is_dir(self.0, path)
    }

    fn open(&self, path: &str) -> ApiResult<Option<Box<dyn ArtifactReader + '_>>> {
        Ok(chunks::open(self.0, path)?.map(|file| {
            Box::new(ChunkReader {
                db: self.0,
                file,
                next: 0,
            }) as Box<dyn ArtifactReader>
        }))
    }

    fn create(&self, path: &str) -> ApiResult<Box<dyn ArtifactWriter + '_>> {
        let blob = chunks::begin_upload(self.0)?;
        Ok(Box::new(ChunkWriter {
            db: self.0,
            path: path.to_string(),
            blob,
            pending: Vec::with_capacity(CHUNK_SIZE),
            seq: 0,
            size: 0,
        }))
    }

    fn delete(&self, path: &str) -> ApiResult<()> {
        chunks::delete(self.0, path)
    }
}

struct ChunkReader<'a> {
    db: &'a dyn Db,
    file: chunks::StoredFile,
    next: i64,
}

impl ArtifactReader for ChunkReader<'_> {
    fn size(&self) -> i64 {
        self.file.size
    }

    fn next_piece(&mut self) -> ApiResult<Option<Vec<u8>>> {
        if self.next >= self.file.chunks {
            return Ok(None);
        }
        let chunk = chunks::read_chunk(self.db, self.file.blob, self.next)?;
        self.next += 1;
        Ok(Some(chunk))
    }
}

/// Gathers written bytes into CHUNK_SIZE chunks: memory stays at about one chunk
/// whatever the file size.
struct ChunkWriter<'a> {
    db: &'a dyn Db,
    path: String,
    blob: i64,
    pending: Vec<u8>,
    seq: i64,
    size: i64,
}

impl ChunkWriter<'_> {
    fn store_pending(&mut self) -> ApiResult<()> {
        let full = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK_SIZE));
        chunks::write_chunk(self.db, self.blob, self.seq, full)?;
        self.seq += 1;
        Ok(())
    }
}

impl ArtifactWriter for ChunkWriter<'_> {
    fn write(&mut self, mut bytes: &[u8]) -> ApiResult<()> {
        self.size += bytes.len() as i64;
        while !bytes.is_empty() {
            let take = (CHUNK_SIZE - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() == CHUNK_SIZE {
                self.store_pending()?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> ApiResult<()> {
        let result = if self.pending.is_empty() {
            Ok(())
        } else {
            self.store_pending()
        }
        .and_then(|()| chunks::commit_upload(self.db, &self.path, self.blob, self.size));
        if result.is_err() {
            let _ = chunks::abort_upload(self.db, self.blob);
        }
        result
    }

    fn abort(self: Box<Self>) {
        let _ = chunks::abort_upload(self.db, self.blob);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::DbExt;
    use crate::store::testing;

    fn chunk_rows(db: &dyn Db) -> i64 {
        db.query_one("SELECT COUNT(*) FROM artifact_chunks", &[])
            .unwrap()
            .unwrap()
            .int(0)
    }

    #[test]
    fn pieces_of_any_size_become_whole_chunks() {
        let db = testing::db();
        let files = DatabaseArtifacts(&db);
        let data: Vec<u8> = (0..(2 * CHUNK_SIZE + 777))
            .map(|i| (i % 253) as u8)
            .collect();
        let mut writer = files.create("1/r/artifacts/f.bin").unwrap();
        for piece in data.chunks(65_537) {
            writer.write(piece).unwrap();
        }
        writer.commit().unwrap();
        assert_eq!(chunk_rows(&db), 3);
        let mut reader = files.open("1/r/artifacts/f.bin").unwrap().unwrap();
        assert_eq!(reader.size(), data.len() as i64);
        let mut back = Vec::new();
        while let Some(piece) = reader.next_piece().unwrap() {
            back.extend(piece);
        }
        assert!(back == data);

        // An aborted upload leaves neither a file nor chunks.
        let mut writer = files.create("1/r/artifacts/g.bin").unwrap();
        writer.write(&data).unwrap();
        writer.abort();
        assert!(files.open("1/r/artifacts/g.bin").unwrap().is_none());
        assert_eq!(chunk_rows(&db), 3);
    }
}
