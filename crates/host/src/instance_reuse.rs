//! WASIp3 components (`wasi:http/handler@0.3.0`) are served as Spin 4 serves
//! them: an instance takes up to 128 requests in all, up to 16 at a time, and
//! is dropped after 1 s without work. wasmtime-wasi-http's `ProxyHandler` does
//! the dispatching; this module says when an instance is made, how long it
//! lives and how many requests it takes. WASIp2 components keep a fresh
//! instance per request (`App::invoke`), as in Spin.

use crate::state::HostState;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::component::GuestTaskId;
use wasmtime::{Store, StoreContextMut};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, Proxy, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::WasiHttpView;

/// How long instances of a WASIp3 component live. The defaults are Spin's.
#[derive(Debug, Clone, Copy)]
pub struct ReusePolicy {
    /// Requests one instance serves in all before it is dropped.
    pub max_requests: usize,
    /// Requests one instance serves at the same time.
    pub max_concurrent: usize,
    /// An instance with nothing to do is dropped after this long.
    pub idle_timeout: Duration,
}

impl Default for ReusePolicy {
    fn default() -> Self {
        Self {
            max_requests: 128,
            max_concurrent: 16,
            idle_timeout: Duration::from_secs(1),
        }
    }
}

/// Makes the store of a new instance (the app does: it knows the component's
/// configuration).
pub type NewStore = Box<dyn Fn() -> wasmtime::Result<Store<HostState>> + Send + Sync>;

/// Makes the instances of one WASIp3 component for `ProxyHandler`.
pub struct Instances {
    pub new_store: NewStore,
    pub pre: ServicePre<HostState>,
    pub policy: ReusePolicy,
    /// Wall-clock limit of one request; `None` is no limit.
    pub request_timeout: Option<Duration>,
}

impl HandlerState for Instances {
    type StoreData = HostState;
    type WorkerExpiration = Expiration;
    type WorkerState = Acceptance;

    async fn instantiate(
        &self,
    ) -> wasmtime::Result<Instance<HostState, Self::WorkerExpiration, Self::WorkerState>> {
        let mut store = (self.new_store)()?;
        // The store outlives any one request, so its epoch deadline cannot be a
        // request's: instead the guest yields at every tick, which lets a request
        // that runs past its timeout be abandoned (see `Expiration`).
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        let service = self.pre.instantiate_async(&mut store).await?;
        let request_timeout = self.request_timeout.unwrap_or(Duration::MAX);
        Ok(Instance {
            store,
            proxy: Proxy::P3(service),
            view: HostState::http,
            expiration: Expiration {
                idle_timeout: self.policy.idle_timeout,
                request_timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::MAX)),
            },
            state: Acceptance {
                policy: self.policy,
                request_timeout,
            },
        })
    }
}

/// Which requests an instance takes, and when one of them has run too long.
pub struct Acceptance {
    policy: ReusePolicy,
    request_timeout: Duration,
}

impl WorkerState for Acceptance {
    type StoreData = HostState;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.policy.max_requests {
            ShouldAccept::Never
        } else if concurrent >= self.policy.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, HostState>,
        _data: (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>> {
        Box::pin(tokio::time::sleep(self.request_timeout))
    }

    fn drop(&self, store: Store<HostState>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            eprintln!("spinflow: an instance ended with an error: {e:#}");
        }
        drop(store);
    }
}

/// When an instance is dropped: after `idle_timeout` without requests, or when
/// its most recent request has run past `request_timeout` (a guest that never
/// yields control is only stopped this way).
pub struct Expiration {
    idle_timeout: Duration,
    request_timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        since: Instant,
    ) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => self.idle_timeout,
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.request_timeout,
        };
        let Some(deadline) = since.checked_add(limit) else {
            return Poll::Pending; // no limit
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}
