//! Measures the per-request cost of the host in-process (no network): a fresh
//! store + instance, and a whole request through a component, averaged.
//!
//! `cargo run --release -p spinflow-host --example instantiation_cost -- <spin.toml> <component-id> [N]`

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use spinflow_host::{App, AppOptions};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let manifest = args
        .next()
        .expect("usage: instantiation_cost <spin.toml> <component-id> [N]");
    let id = args.next().expect("component id");
    let n: u32 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let mut options = AppOptions::new(manifest);
    options.state_dir = Some(std::env::temp_dir().join("spinflow-instantiation-cost"));
    for pooling in [true, false] {
        options.engine.pooling = pooling;
        let app = App::load(&options).await?;
        let component = app.component(&id).expect("component").clone();
        for _ in 0..1000 {
            app.instantiate(&component).await?;
        }
        let start = Instant::now();
        for _ in 0..n {
            app.instantiate(&component).await?;
        }
        let per_instance = start.elapsed() / n;
        let start = Instant::now();
        for _ in 0..n {
            let request = http::Request::builder()
                .uri("http://localhost/")
                .body(Full::new(Bytes::new()))?;
            let response = app
                .invoke(&component, request, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            response.into_body().collect().await?;
        }
        let per_request = start.elapsed() / n;
        println!(
            "pooling={pooling}: store+instance {per_instance:?}, whole request {per_request:?} (mean of {n})"
        );
    }
    Ok(())
}
