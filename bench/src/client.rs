//! A small JSON client over one keep-alive connection, for the tracking workloads
//! that need answers (run ids, read-backs), not just throughput, and the timestamps
//! their MLflow requests carry.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use serde_json::Value;

use crate::loadgen;

/// Milliseconds since the Unix epoch, as MLflow timestamps are.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

pub struct Client {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(authority: &str) -> Self {
        Client {
            authority: authority.to_string(),
            sender: None,
        }
    }

    /// Sends one request and returns the status, the parsed JSON body (Null when the
    /// body is not JSON) and the latency. Reconnects once if the server closed the
    /// connection.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value, Duration)> {
        let payload = body
            .map(|b| Bytes::from(serde_json::to_vec(b).expect("json")))
            .unwrap_or_default();
        for attempt in 0..2 {
            if self.sender.is_none() {
                self.sender = Some(loadgen::connect(&self.authority).await?);
            }
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, &self.authority);
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let req = req.body(Full::new(payload.clone()))?;
            let t0 = Instant::now();
            match loadgen::send(self.sender.as_mut().expect("connected"), req).await {
                Ok((status, bytes)) => {
                    let elapsed = t0.elapsed();
                    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    return Ok((status, json, elapsed));
                }
                Err(e) if attempt == 0 => {
                    self.sender = None;
                    let _ = e;
                }
                Err(e) => return Err(e).with_context(|| format!("{method} {path}")),
            }
        }
        unreachable!("two attempts return")
    }

    /// Like `call`, but any non-2xx is an error that quotes the answer.
    pub async fn ok(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Value, Duration)> {
        let (status, json, elapsed) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            let text = json.to_string();
            bail!(
                "{method} {path} -> {status}: {}",
                &text[..text.len().min(300)]
            );
        }
        Ok((json, elapsed))
    }
}
