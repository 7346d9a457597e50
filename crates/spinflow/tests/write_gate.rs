//! The SQLite write gate with real guests: the probe component (built here for
//! wasm32-wasip2) served in-process through `App::invoke`, no network.

mod common;

use bytes::Bytes;
use host::{App, AppOptions};
use http_body_util::{BodyExt, Full};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Builds probe.wasm (a no-op when fresh) and returns its path.
fn probe_wasm() -> PathBuf {
    common::build_wasm(&["probe"]);
    common::repo_root().join("target/wasm32-wasip2/wasm-release/probe.wasm")
}

struct Fixture {
    app: Arc<App>,
    _dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"spin_manifest_version = 2
[application]
name = "gate"
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{}"
sqlite_databases = ["default"]
key_value_stores = ["default"]
"#,
            probe_wasm().display()
        ),
    )
    .unwrap();
    let mut options = AppOptions::new(&manifest);
    options.state_dir = Some(dir.path().join("state"));
    options.cache_dir = Some(common::repo_root().join("target/spinflow-test-cache"));
    options.sqlite_statements = vec![
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);"
            .into(),
    ];
    Fixture {
        app: App::load(&options).await.unwrap(),
        _dir: dir,
    }
}

/// One request; `Err` if the guest failed (trapped).
async fn call(app: &Arc<App>, query: &str) -> Result<String, String> {
    let component = app.component("probe").unwrap().clone();
    let request = http::Request::builder()
        .uri(format!("http://localhost/?{query}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    // A guard against a hang (a gate never released), not a timing assertion.
    let response = tokio::time::timeout(
        Duration::from_secs(120),
        app.invoke(&component, request, None),
    )
    .await
    .expect("the request hung")
    .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_traps_inside_a_transaction_releases_the_gate() {
    let f = start().await;
    let trapped = call(&f.app, "op=tx-trap&db=default").await;
    assert!(trapped.is_err(), "the probe did not trap: {trapped:?}");
    // The next writer gets through, and the trapped guest's update was rolled back.
    assert_eq!(call(&f.app, "op=tx-incr&db=default").await.unwrap(), "1");
    assert_eq!(call(&f.app, "op=tx-incr&db=default").await.unwrap(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guests_lose_no_increment_nor_transaction() {
    let f = start().await;
    const GUESTS: usize = 24;
    const ROUNDS: usize = 10;
    let tasks: Vec<_> = (0..GUESTS)
        .map(|g| {
            let app = f.app.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    call(&app, "op=incr&store=default&key=hits&delta=1").await?;
                    call(&app, "op=tx-incr&db=default").await?;
                    if g % 6 == 0 {
                        // Traps in between must not wedge anybody.
                        call(&app, "op=tx-trap&db=default").await.unwrap_err();
                    }
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let total = (GUESTS * ROUNDS) as i64;
    let hits = call(&f.app, "op=incr&store=default&key=hits&delta=0")
        .await
        .unwrap();
    assert_eq!(hits, total.to_string());
    let n = call(&f.app, "op=tx-incr&db=default").await.unwrap();
    assert_eq!(n, (total + 1).to_string());
}
