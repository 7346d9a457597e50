//! Request bodies on their way to the guest: received in full before the
//! request takes an instance slot when they are small ([`BodyPolicy`]), else
//! streamed; cut off past the component's limit (413) and when the client
//! stalls (408).

use crate::app::MAX_NETWORK_REQUESTS;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Bytes of request bodies held in the host at once, as a multiple of the body
/// buffer size (64 MiB by default). Past it, requests stream their bodies as
/// large ones do.
const BODY_BUFFER_BUDGET_FACTOR: u64 = 64;

/// What went wrong with a request body, if anything (`LimitedBody::fault`).
pub const BODY_OK: u8 = 0;
pub const BODY_TOO_LARGE: u8 = 1;
pub const BODY_TIMED_OUT: u8 = 2;

/// How request bodies reach the guest.
///
/// A stalled client must not hold an instance slot: a body of up to
/// `buffer_size` bytes (1 MiB by default: iris-api's own body limit, and above
/// the 1 MB of MLflow's log-batch) is received in full, each wait for more bytes bounded by
/// `idle_timeout`, *before* the request takes an instance slot, so clients that
/// send a few bytes and stop hold a connection and a little memory, never an
/// instance. Bodies held this way are bounded in total by `budget`.
///
/// A larger body (a declared `Content-Length` over `buffer_size`, a chunked
/// body that grows past it, or any body once the budget is spent) is streamed
/// to the guest as it arrives, so that artifact uploads of any size pass
/// through in bounded memory; such a request holds an instance slot while it
/// streams, so it also takes one of the `streaming` permits, which cover half
/// of the network requests' slots: stalled uploads can hold at most those,
/// never starve the rest. A streamed body that stops arriving for
/// `idle_timeout` fails the guest's read (the instance ends), and the answer
/// becomes 408.
pub struct BodyPolicy {
    idle_timeout: Option<Duration>,
    buffer_size: u64,
    budget: Arc<Semaphore>,
    streaming: Arc<Semaphore>,
}

impl BodyPolicy {
    /// Bodies up to `buffer_size` are received first; each wait for more
    /// bytes is bounded by `idle_timeout`.
    pub fn new(buffer_size: u64, idle_timeout: Option<Duration>) -> Self {
        let budget = buffer_size.saturating_mul(BODY_BUFFER_BUDGET_FACTOR);
        Self {
            idle_timeout,
            buffer_size,
            budget: Arc::new(Semaphore::new(
                usize::try_from(budget)
                    .map_or(Semaphore::MAX_PERMITS, |b| b.min(Semaphore::MAX_PERMITS)),
            )),
            streaming: Arc::new(Semaphore::new((MAX_NETWORK_REQUESTS / 2).max(1))),
        }
    }

    /// A body still arriving waits for one of the `streaming` permits, so that
    /// such requests hold at most part of the instance slots.
    pub async fn hold_streaming_slot(&self, body: &mut GuestBody) {
        if body.is_streaming() {
            body.streaming_slot = Some(
                self.streaming
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed"),
            );
        }
    }
}

/// Receives `body` as [`BodyPolicy`] says, before the request takes an instance
/// slot; `Err` is the status to answer instead (the body was too large, broken
/// or stalled).
pub async fn receive_body(
    mut body: LimitedBody,
    policy: &BodyPolicy,
    declared: Option<u64>,
) -> Result<GuestBody, u16> {
    let mut received = GuestBody {
        frames: VecDeque::new(),
        buffered: None,
        rest: None,
        idle_timeout: policy.idle_timeout,
        stall: None,
        streaming_slot: None,
        fault: body.fault.clone(),
    };
    if body.is_end_stream() {
        return Ok(received);
    }
    if policy.buffer_size == 0 || declared.is_some_and(|n| n > policy.buffer_size) {
        received.rest = Some(body);
        return Ok(received);
    }
    let mut size = 0u64;
    loop {
        let next = match policy.idle_timeout {
            Some(limit) => match tokio::time::timeout(limit, body.frame()).await {
                Ok(next) => next,
                Err(_) => return Err(408),
            },
            None => body.frame().await,
        };
        let frame = match next {
            None => return Ok(received),
            Some(Ok(frame)) => frame,
            // Past the limit, or the client broke the body off (reset, bad chunking).
            Some(Err(_)) if body.fault.load(Ordering::Relaxed) == BODY_TOO_LARGE => {
                return Err(413)
            }
            Some(Err(_)) => return Err(400),
        };
        let len = frame.data_ref().map_or(0, |d| d.len());
        received.frames.push_back(frame);
        size += len as u64;
        let within_budget = len == 0
            || match policy
                .budget
                .clone()
                .try_acquire_many_owned(u32::try_from(len).unwrap_or(u32::MAX))
            {
                Ok(permit) => {
                    match &mut received.buffered {
                        Some(held) => held.merge(permit),
                        None => received.buffered = Some(permit),
                    }
                    true
                }
                Err(_) => false,
            };
        if body.is_end_stream() {
            return Ok(received);
        }
        if size > policy.buffer_size || !within_budget {
            received.rest = Some(body);
            return Ok(received);
        }
    }
}

/// The request body the guest reads: the frames received before the instance
/// started, then, for a streamed body, the rest as it arrives, each wait for
/// more bounded by the idle timeout.
pub struct GuestBody {
    frames: VecDeque<Frame<Bytes>>,
    /// The budget `frames` hold, released once they are handed over.
    buffered: Option<OwnedSemaphorePermit>,
    /// The part still to arrive; `None` once the body was received in full.
    rest: Option<LimitedBody>,
    idle_timeout: Option<Duration>,
    /// Runs while the guest waits for bytes that do not come.
    stall: Option<Pin<Box<Sleep>>>,
    /// A `BodyPolicy::streaming` permit, held until the body has arrived.
    streaming_slot: Option<OwnedSemaphorePermit>,
    fault: Arc<AtomicU8>,
}

impl GuestBody {
    fn is_streaming(&self) -> bool {
        self.rest.is_some()
    }

    /// The body has ended (or failed): nothing more to wait for.
    fn finish(&mut self) {
        self.rest = None;
        self.stall = None;
        self.streaming_slot = None;
    }
}

impl Body for GuestBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(frame) = this.frames.pop_front() {
            if this.frames.is_empty() {
                this.buffered = None;
            }
            return Poll::Ready(Some(Ok(frame)));
        }
        let Some(rest) = &mut this.rest else {
            return Poll::Ready(None);
        };
        match Pin::new(rest).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.stall = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => {
                this.finish();
                Poll::Ready(other)
            }
            Poll::Pending => {
                let Some(limit) = this.idle_timeout else {
                    return Poll::Pending;
                };
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if stall.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.fault.store(BODY_TIMED_OUT, Ordering::Relaxed);
                this.finish();
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = self
            .frames
            .iter()
            .filter_map(|f| f.data_ref())
            .map(|d| d.len() as u64)
            .sum();
        let rest = match &self.rest {
            Some(rest) => rest.size_hint(),
            None => SizeHint::with_exact(0),
        };
        let mut hint = SizeHint::new();
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(buffered));
        }
        hint.set_lower(rest.lower().saturating_add(buffered));
        hint
    }
}

/// The incoming body, cut off with an error (and a flag) past `limit` bytes.
pub struct LimitedBody {
    inner: Incoming,
    remaining: u64,
    limit: u64,
    fault: Arc<AtomicU8>,
}

impl LimitedBody {
    /// `inner`, of at most `limit` bytes; `fault` says what went wrong, if anything.
    pub fn new(inner: Incoming, limit: u64, fault: Arc<AtomicU8>) -> Self {
        Self {
            inner,
            remaining: limit,
            limit,
            fault,
        }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.fault.store(BODY_TOO_LARGE, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(
                            wasmtime_wasi_http::Error::HttpRequestBodySize(Some(this.limit)),
                        )));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::Hyper(e))))
            }
            other => other.map(|_| None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
