//! The wasmtime engine and component compilation, with compiled code cached on disk.
//! A core module is converted to a component first (`componentize`).
//!
//! The cache key is the SHA-256 of the `.wasm` bytes (the module's, for a
//! module: a cached module is not converted again) plus wasmtime's
//! precompile-compatibility hash of the engine configuration (wasmtime version,
//! target, tunables), so a changed component, engine setting or host build
//! never loads stale code.

use crate::componentize;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch ticks; request timeouts are counted in these ticks.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Use the pooling instance allocator (fast instantiation, memory reserved up front).
    pub pooling: bool,
    /// Largest linear memory a guest may grow to.
    pub max_instance_memory: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            pooling: true,
            max_instance_memory: 2 << 30,
        }
    }
}

/// The `wasi:http` world a component serves, which decides its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpWorld {
    /// `wasi:http/incoming-handler@0.2.x`: synchronous calls.
    P2,
    /// `wasi:http/handler@0.3.x`: the component model's async ABI. Its engine
    /// has wasmtime's concurrency support, which made every WASIp2 request
    /// ~40 µs (~50 %) more expensive in CPU when the two shared an engine.
    P3,
}

impl HttpWorld {
    /// P3 if the component (not a nested one) exports `wasi:http/handler@0.3.*`;
    /// for a core module, if one of its exports lifts that interface (wit-bindgen
    /// names them `[async-lift]wasi:http/handler@0.3.0#handle` and the like).
    pub fn of_component(bytes: &[u8]) -> Result<Self> {
        use wasmparser::{Parser, Payload};
        const P3_HANDLER: &str = "wasi:http/handler@0.3.";
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::Version { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentExportSection(exports) if depth == 1 => {
                    for export in exports {
                        if export?.name.name.starts_with(P3_HANDLER) {
                            return Ok(Self::P3);
                        }
                    }
                }
                Payload::ExportSection(exports) if depth == 1 => {
                    for export in exports {
                        if export?.name.contains(P3_HANDLER) {
                            return Ok(Self::P3);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Self::P2)
    }
}

fn base_config(world: HttpWorld) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    match world {
        HttpWorld::P2 => config.concurrency_support(false),
        HttpWorld::P3 => config.wasm_component_model_async(true),
    };
    config.epoch_interruption(true);
    // Names compiled guest functions for `perf` (/tmp/perf-<pid>.map): how guest time
    // is profiled. Off by default: the map grows with every compiled component.
    if std::env::var_os("SPINFLOW_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Builds the engine. If the pooling allocator cannot reserve its address space
/// (e.g. under a tight `ulimit -v`), falls back to on-demand allocation.
pub fn build_engine(options: &EngineOptions, world: HttpWorld) -> Result<Engine> {
    if options.pooling {
        let mut pooling = PoolingAllocationConfig::default();
        // Up to this many requests run at once; more wait for a free slot.
        pooling
            .total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * 4)
            .total_memories(MAX_CONCURRENT_INSTANCES * 2)
            .total_tables(MAX_CONCURRENT_INSTANCES * 4)
            .total_stacks(MAX_CONCURRENT_INSTANCES)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_core_instances_per_component(32)
            .max_component_instance_size(4 << 20)
            .max_core_instance_size(4 << 20)
            .table_elements(200_000)
            .max_memory_size(options.max_instance_memory);
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pooling
                .pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_SCANNED)
                .table_keep_resident(TABLE_KEEP_RESIDENT_SCANNED);
        } else {
            pooling
                .linear_memory_keep_resident(KEEP_RESIDENT_UNSCANNED)
                .table_keep_resident(KEEP_RESIDENT_UNSCANNED);
        }
        let mut config = base_config(world);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        match Engine::new(&config) {
            Ok(engine) => return Ok(engine),
            Err(e) => eprintln!(
                "spinflow: pooling allocator unavailable ({e}); using on-demand instance allocation"
            ),
        }
    }
    let config = base_config(world);
    Ok(Engine::new(&config)?)
}

/// With Linux's PAGEMAP_SCAN ioctl (6.7+), wasmtime resets only the pages an
/// instance dirtied, by copy, up to this much per linear memory, and keeps
/// them mapped. Without it, each request's dirtied pages were decommitted with
/// madvise (a TLB shootdown on every core) and faulted back in, copy-on-write,
/// by the next request: ~30% of the CPU on a trivial component, more on
/// iris-api. Resident memory does not grow much: these pages were touched anyway.
const KEEP_RESIDENT_SCANNED: usize = 16 << 20;
const TABLE_KEEP_RESIDENT_SCANNED: usize = 1 << 20;
/// Without the scan, the first bytes are memset whether dirtied or not: small.
const KEEP_RESIDENT_UNSCANNED: usize = 64 << 10;

/// Instances (and so requests) that can run concurrently with the pooling allocator.
pub const MAX_CONCURRENT_INSTANCES: u32 = 256;

/// Reads a component's (or a core module's) bytes.
pub fn read_component(wasm_path: &Path) -> Result<Vec<u8>> {
    std::fs::read(wasm_path).with_context(|| {
        format!(
            "cannot read component {} (build it first: `spinflow build`)",
            wasm_path.display()
        )
    })
}

/// Compiles a component (or a core module, converted first) read by
/// [`read_component`], from the compiled-code cache when possible.
pub fn load_component(
    engine: &Engine,
    bytes: &[u8],
    wasm_path: &Path,
    cache_dir: Option<&Path>,
) -> Result<Component> {
    let Some(cache_dir) = cache_dir else {
        return compile(engine, bytes, wasm_path);
    };
    let cached = cache_dir.join(format!("{}.cwasm", cache_key(engine, bytes)));
    if cached.is_file() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the
        // same compatibility hash (it is in the file name), into a cache dir we own.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => {
                // Recently used entries are the ones pruning keeps.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&cached)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok(component);
            }
            Err(e) => eprintln!(
                "spinflow: ignoring unusable cache entry {}: {e}",
                cached.display()
            ),
        }
    }
    let component = compile(engine, bytes, wasm_path)?;
    if let Err(e) = store(&component, cache_dir, &cached) {
        eprintln!(
            "spinflow: could not write compiled-code cache {}: {e:#}",
            cached.display()
        );
    }
    prune(cache_dir, CACHE_ENTRIES);
    Ok(component)
}

fn compile(engine: &Engine, bytes: &[u8], path: &Path) -> Result<Component> {
    let converted;
    let bytes = if componentize::is_component(bytes) {
        bytes
    } else {
        converted = componentize::componentize(bytes).with_context(|| {
            format!(
                "{} is a core wasm module that cannot be converted to a component",
                path.display()
            )
        })?;
        &converted
    };
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot compile component {}", path.display()))
}

fn store(component: &Component, dir: &Path, path: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    // Write then rename, so a concurrent start never reads half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Compiled components kept in the cache; every rebuild of a component adds one.
const CACHE_ENTRIES: usize = 16;

/// Removes all but the `keep` most recently used cache entries (best effort).
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, old) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(old);
    }
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            unreachable!("only the digest is used")
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.write(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.write(&Sha256::digest(wasm));
    let digest = hasher.0.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The default compiled-code cache: `$SPINFLOW_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/spinflow`, else `~/.cache/spinflow`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPINFLOW_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("spinflow"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/spinflow"))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives.
pub fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("spinflow-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .expect("spawn epoch thread");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn prune_keeps_the_most_recently_used_entries() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            let path = dir.path().join(format!("{name}.cwasm"));
            std::fs::write(&path, b"x").unwrap();
            let age = Duration::from_secs(100 * (i as u64 + 1));
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(now - age)
                .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"kept").unwrap();
        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["a.cwasm", "b.cwasm", "notes.txt"]);
    }
}
