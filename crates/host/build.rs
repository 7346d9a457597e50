//! Copies the WIT packages shipped by the `spin-sdk` crate into
//! `wit-deps/spin-sdk/deps` (git-ignored) and writes beside them the world this
//! host implements, so that `bindgen!` generates the Spin host interfaces from
//! the very files our components are built against. Nothing is copied into git.
//!
//! The WASIp3 release-candidate packages (and the SDK's top-level world, which
//! includes them) are left out: the host serves WASIp2 components only, and
//! their `future`/`stream` types would require wasmtime's component-model-async.

use std::path::{Path, PathBuf};

/// The spin-sdk release whose WIT the host implements (the components pin the same one).
const SPIN_SDK_DIR: &str = "spin-sdk-5.2.0";

/// The Spin interfaces this host implements (WASI and wasi:http come from wasmtime-wasi).
const HOST_WORLD: &str = "package spinflow:host;

world host {
    import fermyon:spin/variables@2.0.0;
    import fermyon:spin/key-value@2.0.0;
    import fermyon:spin/sqlite@2.0.0;
    import spin:sqlite/sqlite@3.0.0;
    import wasi:keyvalue/store@0.2.0-draft2;
    import wasi:keyvalue/atomics@0.2.0-draft2;
    import wasi:keyvalue/batch@0.2.0-draft2;
    import wasi:config/store@0.2.0-draft-2024-09-27;
}
";

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-env-changed=SPINFLOW_SPIN_SDK_WIT");
    println!("cargo:rerun-if-env-changed=CARGO_HOME");
    let source = locate_sdk_wit()?;
    let dest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("wit-deps/spin-sdk");
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    std::fs::create_dir_all(dest.join("deps"))?;
    for entry in std::fs::read_dir(source.join("deps"))? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().contains("0.3.0-rc") {
            continue;
        }
        let target = dest.join("deps").join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    std::fs::write(dest.join("host.wit"), HOST_WORLD)?;
    println!("cargo:rerun-if-changed={}", source.display());
    Ok(())
}

/// `SPINFLOW_SPIN_SDK_WIT` wins (vendored builds); otherwise the crate's unpacked
/// source in the cargo registry, which the `spin-sdk` build-dependency guarantees.
fn locate_sdk_wit() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("SPINFLOW_SPIN_SDK_WIT") {
        return Ok(PathBuf::from(dir));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or_else(|| anyhow::anyhow!("neither CARGO_HOME nor HOME is set"))?;
    let registry_src = cargo_home.join("registry/src");
    for index in std::fs::read_dir(&registry_src)? {
        let wit = index?.path().join(SPIN_SDK_DIR).join("wit");
        if wit.join("world.wit").is_file() {
            return Ok(wit);
        }
    }
    anyhow::bail!(
        "could not find {SPIN_SDK_DIR}/wit under {}; set SPINFLOW_SPIN_SDK_WIT",
        registry_src.display()
    )
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
