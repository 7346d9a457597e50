//! Measures the host's CPU time for one request through a component, in-process
//! (no network), on one thread: CPU time is what other load on the machine
//! distorts least. Prints the mean per request and per fresh instance.
//!
//! `cargo run --release -p spinflow-host --example request_cost -- <spin.toml> <component-id> <N> [METHOD PATH [BODY [NAME:VALUE...]]]`
//!
//! For example iris-api's one-row prediction, with the app's runtime config
//! from `SPINFLOW_RUNTIME_CONFIG`:
//! `... -- spin.toml iris-api 20000 POST /predict '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' x-api-key:dev-key`

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use spinflow_host::{App, AppOptions};
use std::time::Duration;

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    // The first field of schedstat is the time spent on the CPU, in ns.
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("schedstat field");
    Duration::from_nanos(ns)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [manifest, id, n, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: request_cost <spin.toml> <component-id> <N> [METHOD PATH [BODY [NAME:VALUE...]]]");
    };
    let n: u32 = n.parse()?;
    let (method, path) = match rest {
        [method, path, ..] => (method.as_str(), path.as_str()),
        _ => ("GET", "/"),
    };
    let body = rest.get(2).cloned().unwrap_or_default();
    let headers: Vec<(&str, &str)> = rest
        .iter()
        .skip(3)
        .filter_map(|h| h.split_once(':'))
        .collect();

    let mut options = AppOptions::new(manifest);
    options.runtime_config_file = std::env::var_os("SPINFLOW_RUNTIME_CONFIG").map(Into::into);
    options.state_dir = Some(std::env::temp_dir().join("spinflow-request-cost"));
    let app = App::load(&options).await?;
    let component = app.component(id).expect("component").clone();
    let request = || {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"));
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Full::new(Bytes::from(body.clone())))
    };
    let serve = |request| {
        let (app, component) = (app.clone(), component.clone());
        async move {
            let response = app
                .invoke(&component, request, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let status = response.status();
            let bytes = response.into_body().collect().await?.to_bytes();
            anyhow::ensure!(status.is_success(), "{status}: {bytes:?}");
            anyhow::Ok(())
        }
    };
    for _ in 0..(n / 10).max(100) {
        serve(request()?).await?;
    }
    let start = thread_cpu();
    for _ in 0..n {
        serve(request()?).await?;
    }
    let per_request = (thread_cpu() - start) / n;
    let start = thread_cpu();
    for _ in 0..n {
        app.instantiate(&component).await?;
    }
    let per_instance = (thread_cpu() - start) / n;
    println!("CPU per request {per_request:?}, per fresh instance {per_instance:?} (mean of {n})");
    Ok(())
}
