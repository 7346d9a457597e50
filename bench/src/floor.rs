//! The HTTP floor of the machine: a minimal native hyper server that reads each
//! request and answers the same fixed bytes. Nothing serving HTTP here can beat it,
//! and against it the load generator shows its own ceiling.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `body` (as `application/json`) to every request until the process ends.
pub async fn serve(addr: SocketAddr, body: Bytes) -> Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("Serving http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    // Read the request body as a real server would.
                    let _ = req.into_body().collect().await;
                    let resp = hyper::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(body))
                        .expect("static response");
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
