//! Connection handling of the HTTP trigger: how many connections may be open,
//! how long one may stay silent, stalled or idle, and the process's
//! open-files limit.
//!
//! Deadlines of a connection (enforced by [`watchdog`], next to hyper's
//! connection future, which is dropped, closing the socket, when one passes):
//!
//! * **Headers**: a new connection has `header_read` to deliver its first
//!   request's headers; on a kept-alive connection, a request has
//!   `header_read` from its first byte.
//! * **Keep-alive**: a connection with no request in progress that receives
//!   nothing for `keep_alive` is closed.
//!
//! hyper's own `header_read_timeout` is not used: its timer (hyper 1.12)
//! starts as soon as a connection waits for a request, including the idle wait
//! between two requests of a kept-alive connection, so it cannot let a
//! kept-alive connection wait 75 s while giving a request's headers only 10 s.
//! Proxies in front of the host (ingress-nginx keeps upstream connections idle
//! for 60 s) need the longer idle wait, or they race the host's close and
//! answer 502. The watchdog only looks at events, and parses nothing: bytes
//! arriving and leaving ([`WatchedIo`]), hyper calling the service (a
//! request's headers are complete: [`Exchange::begin`]) and hyper dropping the
//! response body (its answer is written, but for what hyper still buffers:
//! [`ExchangeBody`]). While a request is in progress, other limits apply: the
//! request body's idle timeout (`request_body`), the send timeout ([`WatchedIo`])
//! and the request timeout (`app`).

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Connections open at once when `--max-connections` is not given, unless the
/// open-files limit calls for fewer (see [`default_max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Open files kept for the host's own use when the open-files limit allows it:
/// component and cache files, and SQLite, whose every connection (up to one per
/// running instance, 256) holds the database and its `-wal` and `-shm` files.
const RESERVED_FILES: u64 = 1024;

/// The default connection cap: [`DEFAULT_MAX_CONNECTIONS`], but at most the
/// soft open-files limit minus [`RESERVED_FILES`] (at least half the limit).
pub fn default_max_connections() -> usize {
    match open_files_limit() {
        Some(soft) => {
            let fit = soft.saturating_sub(RESERVED_FILES).max(soft / 2).max(1);
            usize::try_from(fit).map_or(DEFAULT_MAX_CONNECTIONS, |fit| {
                fit.min(DEFAULT_MAX_CONNECTIONS)
            })
        }
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// Raises the soft open-files limit to the hard limit, where the platform
/// allows it; returns the soft limit in force afterwards (`None` where it is
/// not known). Every connection is an open file, and so is every SQLite file.
pub fn raise_open_files_limit() -> Option<u64> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    // An infinite hard limit cannot be set for open files (fs.nr_open caps it):
    // increase_nofile_limit then keeps what it can.
    let _ = rlimit::increase_nofile_limit(hard);
    open_files_limit()
}

/// The soft open-files limit (`None` where it is not known).
pub fn open_files_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// The connection deadlines (`None`: no limit).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionTimeouts {
    /// To receive a request's headers: from the connection's start for its
    /// first request, from a later request's first byte.
    pub header_read: Option<Duration>,
    /// For a connection with no request in progress to receive anything.
    pub keep_alive: Option<Duration>,
}

const NONE: u64 = u64::MAX;

/// What one connection is doing, as far as its deadlines care. Shared by the
/// connection's IO, its service and its watchdog, which all run on the
/// connection's task: relaxed atomics are enough.
pub(crate) struct Activity {
    origin: Instant,
    /// Requests whose headers were received and whose answer is not written yet.
    in_flight: AtomicUsize,
    /// Requests received on this connection.
    requests: AtomicU64,
    /// When the last request in progress ended, or hyper last wrote the tail
    /// of its answer (ns since `origin`).
    idle_since: AtomicU64,
    /// First byte received since the last request ended (ns since `origin`),
    /// or `NONE`; moved up, as `idle_since`, by writes of an answer's tail.
    first_byte: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(NONE),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(NONE - 1)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.origin + Duration::from_nanos(nanos)
    }

    /// Bytes arrived: between requests, they start the next request's header deadline.
    fn received(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.first_byte.load(Ordering::Relaxed) == NONE
        {
            self.first_byte.store(self.now(), Ordering::Relaxed);
        }
    }

    /// Bytes were written. hyper may still be writing the last part of an
    /// answer after it dropped the response body: while it does, with
    /// progress, the deadlines wait (a write that makes no progress has the
    /// send timeout).
    fn sent(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let now = self.now();
            self.idle_since.store(now, Ordering::Relaxed);
            if self.first_byte.load(Ordering::Relaxed) != NONE {
                self.first_byte.store(now, Ordering::Relaxed);
            }
        }
    }

    /// When the connection must be closed if nothing changes; `None` while a
    /// request is in progress or when no limit applies.
    fn deadline(&self, timeouts: &ConnectionTimeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        if self.requests.load(Ordering::Relaxed) == 0 {
            return timeouts.header_read.map(|t| self.origin + t);
        }
        match self.first_byte.load(Ordering::Relaxed) {
            NONE => timeouts
                .keep_alive
                .map(|t| self.at(self.idle_since.load(Ordering::Relaxed)) + t),
            first => timeouts.header_read.map(|t| self.at(first) + t),
        }
    }
}

/// One request on a connection, from its complete headers until its answer is
/// written (hyper drops the response body then) or abandoned.
pub(crate) struct Exchange(Arc<Activity>);

impl Exchange {
    pub fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.requests.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            activity.idle_since.store(activity.now(), Ordering::Relaxed);
            activity.first_byte.store(NONE, Ordering::Relaxed);
        }
    }
}

/// A response body that ends its [`Exchange`] when hyper drops it.
pub(crate) struct ExchangeBody<B> {
    inner: B,
    _exchange: Exchange,
}

impl<B> ExchangeBody<B> {
    pub fn new(inner: B, exchange: Exchange) -> Self {
        Self {
            inner,
            _exchange: exchange,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for ExchangeBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Resolves when the connection's deadline has passed with no request in
/// progress; never if no limit is set. It wakes at least every
/// `min(header_read, keep_alive)` to see changes (a first byte moves the
/// deadline earlier), so a deadline is kept to within that.
pub(crate) async fn watchdog(activity: &Activity, timeouts: ConnectionTimeouts) {
    let Some(recheck) = [timeouts.header_read, timeouts.keep_alive]
        .into_iter()
        .flatten()
        .min()
    else {
        return std::future::pending().await;
    };
    loop {
        let now = Instant::now();
        match activity.deadline(&timeouts) {
            Some(deadline) if deadline <= now => return,
            Some(deadline) => tokio::time::sleep_until(deadline.min(now + recheck).into()).await,
            None => tokio::time::sleep(recheck).await,
        }
    }
}

/// A connection's socket: reports traffic to its [`Activity`], and fails
/// a write that makes no progress for the send timeout (a client that stops
/// reading its answer would otherwise hold the connection, and the instance
/// that streams the answer, forever).
pub(crate) struct WatchedIo<T> {
    inner: T,
    activity: Arc<Activity>,
    send_timeout: Option<Duration>,
    send_stall: Option<Pin<Box<Sleep>>>,
}

impl<T> WatchedIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>, send_timeout: Option<Duration>) -> Self {
        Self {
            inner,
            activity,
            send_timeout,
            send_stall: None,
        }
    }

    fn wrote(&self, poll: &Poll<io::Result<usize>>) {
        if matches!(poll, Poll::Ready(Ok(n)) if *n > 0) {
            self.activity.sent();
        }
    }

    fn watch_send<R>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => {
                let Some(limit) = self.send_timeout else {
                    return Poll::Pending;
                };
                let stall = self
                    .send_stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if stall.as_mut().poll(cx).is_ready() {
                    self.send_stall = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client took no data for the send timeout",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.send_stall = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(&poll);
        this.watch_send(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(&poll);
        this.watch_send(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch_send(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch_send(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts {
        header_read: Some(Duration::from_secs(10)),
        keep_alive: Some(Duration::from_secs(75)),
    };

    #[test]
    fn a_new_connection_has_the_header_timeout_from_its_start() {
        let activity = Activity::new();
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            Some(activity.origin + Duration::from_secs(10))
        );
        activity.received();
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            Some(activity.origin + Duration::from_secs(10))
        );
    }

    #[test]
    fn no_deadline_while_a_request_is_in_progress() {
        let activity = Activity::new();
        let exchange = Exchange::begin(&activity);
        activity.received();
        assert_eq!(activity.deadline(&TIMEOUTS), None);
        let second = Exchange::begin(&activity);
        drop(exchange);
        assert_eq!(activity.deadline(&TIMEOUTS), None);
        drop(second);
        assert!(activity.deadline(&TIMEOUTS).is_some());
    }

    #[test]
    fn an_idle_connection_has_the_keep_alive_timeout_until_a_byte_arrives() {
        let activity = Activity::new();
        drop(Exchange::begin(&activity));
        let idle = activity.at(activity.idle_since.load(Ordering::Relaxed));
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            Some(idle + Duration::from_secs(75))
        );
        activity.received();
        let first = activity.at(activity.first_byte.load(Ordering::Relaxed));
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            Some(first + Duration::from_secs(10))
        );
        // The next request's headers arrived: the next idle wait starts afresh.
        drop(Exchange::begin(&activity));
        assert_eq!(activity.first_byte.load(Ordering::Relaxed), NONE);
    }

    #[test]
    fn writing_an_answers_tail_moves_the_deadlines() {
        let activity = Activity::new();
        let exchange = Exchange::begin(&activity);
        activity.sent();
        assert_eq!(activity.idle_since.load(Ordering::Relaxed), 0);
        drop(exchange);
        let ended = activity.idle_since.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
        activity.sent();
        assert!(activity.idle_since.load(Ordering::Relaxed) > ended);
        assert_eq!(activity.first_byte.load(Ordering::Relaxed), NONE);
        activity.received();
        let first = activity.first_byte.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
        activity.sent();
        assert!(activity.first_byte.load(Ordering::Relaxed) > first);
    }

    #[test]
    fn the_default_cap_leaves_files_for_the_host() {
        let cap = default_max_connections();
        assert!((1..=DEFAULT_MAX_CONNECTIONS).contains(&cap));
        if let Some(soft) = open_files_limit() {
            assert!(cap as u64 <= soft.max(2) / 2 || cap as u64 + RESERVED_FILES <= soft);
        }
    }
}
