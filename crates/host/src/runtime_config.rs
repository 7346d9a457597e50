//! Spin's `runtime-config.toml`, for the parts spinflow implements:
//! `state_dir`, `log_dir`, `[key_value_store.<label>]` and `[sqlite_database.<label>]`
//! of type `spin`. Key-value paths are relative to the runtime-config file's
//! directory, SQLite paths to the working directory (both as in Spin).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntimeConfig {
    #[serde(default)]
    state_dir: Option<String>,
    #[serde(default)]
    log_dir: Option<String>,
    #[serde(default)]
    key_value_store: BTreeMap<String, StoreConfig>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, StoreConfig>,
}

#[derive(Debug, Deserialize)]
struct StoreConfig {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// Where a store or database keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    File(PathBuf),
    InMemory,
}

#[derive(Debug, Default)]
pub struct RuntimeConfig {
    pub state_dir: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    pub key_value_stores: BTreeMap<String, StorageLocation>,
    pub sqlite_databases: BTreeMap<String, StorageLocation>,
}

impl RuntimeConfig {
    /// Loads a runtime-config file; `cwd` is the directory SQLite paths are relative to.
    pub fn load(path: &Path, cwd: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read runtime config {}", path.display()))?;
        let file_dir = std::path::absolute(path)?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Self::parse(&text, &file_dir, cwd)
            .with_context(|| format!("invalid runtime config {}", path.display()))
    }

    pub fn parse(text: &str, file_dir: &Path, cwd: &Path) -> Result<Self> {
        let raw: RawRuntimeConfig = toml::from_str(text)?;
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let mut config = RuntimeConfig {
            state_dir: non_empty(raw.state_dir).map(|d| file_dir.join(d)),
            log_dir: non_empty(raw.log_dir).map(|d| file_dir.join(d)),
            ..Default::default()
        };
        for (label, store) in raw.key_value_store {
            let location = store.location(&format!("key_value_store.{label}"), file_dir)?;
            config.key_value_stores.insert(label, location);
        }
        for (label, db) in raw.sqlite_database {
            let location = db.location(&format!("sqlite_database.{label}"), cwd)?;
            config.sqlite_databases.insert(label, location);
        }
        Ok(config)
    }
}

impl StoreConfig {
    fn location(self, section: &str, base: &Path) -> Result<StorageLocation> {
        if self.kind != "spin" {
            bail!(
                "[{section}]: type {:?} is not supported by spinflow (only \"spin\")",
                self.kind
            );
        }
        if let Some(key) = self.other.keys().next() {
            bail!("[{section}]: unknown key `{key}`");
        }
        Ok(match self.path {
            Some(p) => StorageLocation::File(base.join(p)),
            None => StorageLocation::InMemory,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_spin_relativity_rules() {
        let config = RuntimeConfig::parse(
            r#"
            [key_value_store.default]
            type = "spin"
            path = "kv.db"
            [sqlite_database.default]
            type = "spin"
            path = "data/app.db"
            [sqlite_database.scratch]
            type = "spin"
            "#,
            Path::new("/etc/rc"),
            Path::new("/work"),
        )
        .unwrap();
        assert_eq!(
            config.key_value_stores["default"],
            StorageLocation::File("/etc/rc/kv.db".into())
        );
        assert_eq!(
            config.sqlite_databases["default"],
            StorageLocation::File("/work/data/app.db".into())
        );
        assert_eq!(
            config.sqlite_databases["scratch"],
            StorageLocation::InMemory
        );
    }

    #[test]
    fn rejects_unsupported_types_and_unknown_sections() {
        let err = RuntimeConfig::parse(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://x\"\n",
            Path::new("/"),
            Path::new("/"),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("redis"));
        assert!(RuntimeConfig::parse("[nope]\n", Path::new("/"), Path::new("/")).is_err());
    }
}
