//! Binds Spin 1's unversioned `fermyon:spin/postgres`, which spin-sdk 5 has
//! no guest API for, from the WIT files spin-sdk ships (no copy): finds the
//! spin-sdk this package depends on with `cargo metadata` and writes
//! `$OUT_DIR/v1_bindings.rs`, a `wit_bindgen::generate!` over that directory
//! (a macro's path must be a literal, so lib.rs includes the file).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let wit = spin_sdk_dir().join("wit");
    let wit = serde_json::to_string(wit.to_str().expect("UTF-8 path to spin-sdk")).unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("v1_bindings.rs");
    std::fs::write(
        out,
        format!(
            "spin_sdk::wit_bindgen::generate!({{\n    \
                 inline: \"package spinflow:pg-probe; world v1 {{ import fermyon:spin/postgres; }}\",\n    \
                 path: {wit},\n    \
                 world: \"spinflow:pg-probe/v1\",\n    \
                 runtime_path: \"spin_sdk::wit_bindgen::rt\",\n    \
                 generate_all,\n\
             }});\n"
        ),
    )
    .unwrap();
}

/// The sources of the spin-sdk in this package's dependency graph.
fn spin_sdk_dir() -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = |offline: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(&manifest);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().expect("run cargo metadata")
    };
    let output = match metadata(true) {
        o if o.status.success() => o,
        _ => metadata(false),
    };
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let this = packages
        .iter()
        .find(|p| p["name"] == "pg-probe" && p["source"].is_null())
        .expect("pg-probe in cargo metadata");
    let node = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == this["id"])
        .expect("pg-probe in the resolve graph");
    let sdk = node["deps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "spin_sdk")
        .expect("spin-sdk among pg-probe's dependencies");
    let package = packages
        .iter()
        .find(|p| p["id"] == sdk["pkg"])
        .expect("spin-sdk in cargo metadata");
    PathBuf::from(package["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf()
}
