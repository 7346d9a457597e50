//! Guest stdout/stderr, line-buffered and prefixed with the component id in the host log.

use bytes::Bytes;
use std::io::Write;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostStream {
    Stdout,
    Stderr,
}

/// A `StdoutStream` for one component; cloned into each instance.
#[derive(Clone)]
pub struct PrefixedOutput {
    prefix: std::sync::Arc<str>,
    target: HostStream,
}

impl PrefixedOutput {
    pub fn new(component_id: &str, target: HostStream) -> Self {
        Self {
            prefix: format!("[{component_id}] ").into(),
            target,
        }
    }
}

impl IsTerminal for PrefixedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PrefixedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter {
            prefix: self.prefix.clone(),
            target: self.target,
            pending: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            prefix: self.prefix.clone(),
            target: self.target,
            pending: Vec::new(),
        })
    }
}

/// Collects bytes and writes each complete line with the prefix; the rest on flush/drop.
struct LineWriter {
    prefix: std::sync::Arc<str>,
    target: HostStream,
    pending: Vec<u8>,
}

/// Lines longer than this are written out even without a newline.
const MAX_PENDING: usize = 64 * 1024;

impl LineWriter {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        if let Some(last_newline) = self.pending.iter().rposition(|&b| b == b'\n') {
            let complete: Vec<u8> = self.pending.drain(..=last_newline).collect();
            self.emit(&complete);
        }
        if self.pending.len() > MAX_PENDING {
            self.flush_pending();
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let mut rest = std::mem::take(&mut self.pending);
            rest.push(b'\n');
            self.emit(&rest);
        }
    }

    /// Writes complete lines (the slice ends with `\n`) in one locked write.
    fn emit(&self, lines: &[u8]) {
        let mut out = Vec::with_capacity(lines.len() + self.prefix.len() * 2);
        for line in lines.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(self.prefix.as_bytes());
            out.extend_from_slice(line);
        }
        // The host log is best effort: a closed stdout must not fail the guest.
        let _ = match self.target {
            HostStream::Stdout => std::io::stdout().lock().write_all(&out),
            HostStream::Stderr => std::io::stderr().lock().write_all(&out),
        };
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush_pending();
    }
}

#[async_trait::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1024 * 1024)
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.get_mut().push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.get_mut().flush_pending();
        std::task::Poll::Ready(Ok(()))
    }
}
