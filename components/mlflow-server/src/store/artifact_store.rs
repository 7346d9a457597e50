//! Where artifact bytes live, behind one seam ([`ArtifactStore`]): the database
//! (`super::database_artifacts`, chunks in SQL tables) or an S3 bucket (`super::s3`).
//! Services list, open, upload and delete files through it and never learn which one
//! holds them. Paths are store paths (`<experiment>/<run>/artifacts/<file>`), already
//! checked by `services::artifact_paths`.
//!
//! Files move a piece at a time ([`ArtifactReader`], [`ArtifactWriter`]), so a large
//! file never sits whole in memory; [`ArtifactStore::put`] and [`ArtifactStore::get`]
//! are the buffered forms for small files.

use crate::error::{ApiResult, MlflowError};
use std::collections::BTreeMap;

/// A place that holds artifact files.
pub trait ArtifactStore {
    /// Immediate children of `dir` by name: `None` for a directory, else the file's
    /// size. A file path or a missing directory has none.
    fn children(&self, dir: &str) -> ApiResult<BTreeMap<String, Option<i64>>>;

    /// Whether files lie under `path` (which is then a directory, not a file).
    fn is_dir(&self, path: &str) -> ApiResult<bool>;

    /// Opens file `path` for reading; `None` when there is no such file.
    fn open(&self, path: &str) -> ApiResult<Option<Box<dyn ArtifactReader + '_>>>;

    /// Starts writing file `path`: it appears (or replaces the old one) only once the
    /// writer commits.
    fn create(&self, path: &str) -> ApiResult<Box<dyn ArtifactWriter + '_>>;

    /// Deletes a file, or a directory with everything under it.
    fn delete(&self, path: &str) -> ApiResult<()>;

    /// Stores a whole, already-buffered file.
    fn put(&self, path: &str, bytes: &[u8]) -> ApiResult<()> {
        let mut writer = self.create(path)?;
        match writer.write(bytes) {
            Ok(()) => writer.commit(),
            Err(e) => {
                writer.abort();
                Err(e)
            }
        }
    }

    /// A whole file in memory (small files); `None` when there is no such file.
    fn get(&self, path: &str) -> ApiResult<Option<Vec<u8>>> {
        let Some(mut reader) = self.open(path)? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(usize::try_from(reader.size()).unwrap_or(0));
        while let Some(piece) = reader.next_piece()? {
            bytes.extend(piece);
        }
        Ok(Some(bytes))
    }
}

/// A file being read, a piece at a time.
pub trait ArtifactReader {
    /// The file's size in bytes.
    fn size(&self) -> i64;
    /// The next piece of the file; `None` at its end.
    fn next_piece(&mut self) -> ApiResult<Option<Vec<u8>>>;
}

/// A file being written, a piece at a time.
pub trait ArtifactWriter {
    /// Appends bytes.
    fn write(&mut self, bytes: &[u8]) -> ApiResult<()>;
    /// Makes the written bytes the file.
    fn commit(self: Box<Self>) -> ApiResult<()>;
    /// Gives the upload up and frees what it stored (best effort: leftovers of an
    /// abort that fails are reclaimed by the store's own means).
    fn abort(self: Box<Self>);
}

/// The store when its configuration is wrong: every artifact call answers the same
/// error, while the rest of the server keeps working.
pub struct MisconfiguredStore(pub MlflowError);

impl ArtifactStore for MisconfiguredStore {
    fn children(&self, _: &str) -> ApiResult<BTreeMap<String, Option<i64>>> {
        Err(self.0.clone())
    }
    fn is_dir(&self, _: &str) -> ApiResult<bool> {
        Err(self.0.clone())
    }
    fn open(&self, _: &str) -> ApiResult<Option<Box<dyn ArtifactReader + '_>>> {
        Err(self.0.clone())
    }
    fn create(&self, _: &str) -> ApiResult<Box<dyn ArtifactWriter + '_>> {
        Err(self.0.clone())
    }
    fn delete(&self, _: &str) -> ApiResult<()> {
        Err(self.0.clone())
    }
}
