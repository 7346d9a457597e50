//! A loaded application: its compiled components, their configuration and
//! the router. `App::load` (`load`) does every start-up check; `App::invoke`
//! serves a request on a fresh instance of a WASIp2 component, or on a reused
//! instance of a WASIp3 one (`instance_reuse`). Chained requests
//! (`http://<id>.spin.internal`) come back here from `outbound_http`.

mod engines;
mod load;
mod options;

pub use options::{AppOptions, DEFAULT_MAX_REQUEST_BODY_BYTES, MAX_NETWORK_REQUESTS};

use crate::engine::EPOCH_TICK;
use crate::files::ComponentFiles;
use crate::instance_id::new_instance_id;
use crate::instance_reuse::{Instances, NewStore, ReusePolicy};
use crate::key_value::KeyValueState;
use crate::manifest::StaticResponse;
use crate::outbound_http::allowed_hosts::AllowedHosts;
use crate::outbound_http::{sockets, OutboundHooks, ServiceChaining};
use crate::responses::error_response;
use crate::router::Router;
use crate::spin_headers::prepare_chained_request;
use crate::sqlite::SqliteState;
use crate::state::HostState;
use crate::stdio::PrefixedOutput;
use crate::variables::ComponentVariables;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{format_err, Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::handler::{ExpirationError, ProxyHandler};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

/// How requests reach a component's instances.
enum Handler {
    /// `wasi:http/incoming-handler@0.2.x`: a fresh instance per request.
    P2(ProxyPre<HostState>),
    /// `wasi:http/handler@0.3.0`: instances reused (`instance_reuse`). The
    /// handler needs the app, so it is made on the first request.
    P3 {
        pre: ServicePre<HostState>,
        handler: OnceLock<ProxyHandler<Instances>>,
    },
}

/// One servable component.
pub struct ComponentRuntime {
    pub id: Arc<str>,
    engine: Engine,
    handler: Handler,
    env: Vec<(String, String)>,
    variables: ComponentVariables,
    sqlite: SqliteState,
    key_value: KeyValueState,
    allowed_hosts: Arc<AllowedHosts>,
    /// The component's `files`, copied at load, preopened per instance.
    files: ComponentFiles,
    /// Guest stdout and stderr, prefixed with the id (made once, cloned per instance).
    stdout: PrefixedOutput,
    stderr: PrefixedOutput,
    pub max_request_body_bytes: u64,
}

pub struct App {
    pub name: String,
    pub version: Option<String>,
    components: HashMap<String, Arc<ComponentRuntime>>,
    pub router: Router<StaticResponse>,
    pub request_timeout: Option<Duration>,
    reuse: ReusePolicy,
    pub state_dir: PathBuf,
    /// The copies of the components' `files`; removed when the app is dropped.
    _files_root: Option<tempfile::TempDir>,
    /// Requests from the network that may run at once; the rest queue here
    /// instead of failing when the instance pool is exhausted. Chained requests
    /// take no permit (their caller holds one), and the pool keeps room for them.
    request_permits: Arc<tokio::sync::Semaphore>,
}

/// Why a request produced no guest response.
#[derive(Debug)]
pub enum InvokeError {
    /// The guest trapped, returned an error code or never answered.
    Guest(String),
    /// The request ran longer than the request timeout.
    Timeout,
    /// The request body was larger than allowed.
    BodyTooLarge,
}

impl InvokeError {
    /// Reports the failure on stderr.
    pub fn log(&self, component: &str) {
        match self {
            InvokeError::Guest(msg) => eprintln!("[{component}] request failed: {msg}"),
            InvokeError::Timeout => eprintln!("[{component}] request timed out"),
            InvokeError::BodyTooLarge => eprintln!("[{component}] request body too large"),
        }
    }
}

impl App {
    pub fn component(&self, id: &str) -> Option<&Arc<ComponentRuntime>> {
        self.components.get(id)
    }

    /// Instantiates each component once, so link or pool-limit problems show at start-up.
    async fn warm_up(self: &Arc<Self>) -> Result<()> {
        for component in self.components.values() {
            self.instantiate(component)
                .await
                .with_context(|| format!("component `{}` cannot be instantiated", component.id))?;
        }
        Ok(())
    }

    /// Creates a store and an instance of `component`, and drops them: the
    /// per-request set-up cost without the request.
    pub async fn instantiate(self: &Arc<Self>, component: &ComponentRuntime) -> Result<()> {
        let mut store = self.new_store(component)?;
        match &component.handler {
            Handler::P2(pre) => {
                pre.instantiate_async(&mut store).await?;
            }
            Handler::P3 { pre, .. } => {
                pre.instantiate_async(&mut store).await?;
            }
        }
        Ok(())
    }

    /// A store for one instance of `component`, with a deadline of one request.
    pub(crate) fn new_store(
        self: &Arc<Self>,
        component: &ComponentRuntime,
    ) -> Result<Store<HostState>> {
        let chaining: Weak<dyn ServiceChaining> = Arc::downgrade(self) as Weak<App>;
        let mut wasi = WasiCtx::builder();
        wasi.envs(&component.env)
            .stdout(component.stdout.clone())
            .stderr(component.stderr.clone());
        sockets::configure(
            &mut wasi,
            component.allowed_hosts.clone(),
            component.id.clone(),
        );
        component
            .files
            .preopen(&mut wasi)
            .with_context(|| format!("component `{}`: files", component.id))?;
        let state = HostState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            variables: component.variables.clone(),
            sqlite: component.sqlite.clone(),
            key_value: component.key_value.clone(),
            outbound: OutboundHooks {
                component_id: component.id.clone(),
                allowed: component.allowed_hosts.clone(),
                chaining: Some(chaining),
            },
            instance: new_instance_id(),
        };
        let mut store = Store::new(&component.engine, state);
        let ticks = match self.request_timeout {
            Some(t) => (t.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64,
            None => u64::MAX,
        };
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        Ok(store)
    }

    /// Waits for a turn to run a request from the network.
    pub async fn request_permit(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.request_permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// Runs `request` through a fresh instance of `component`, or a reused one
    /// for a WASIp3 component (`invoke_reused`). For a fresh instance, `permit`
    /// (if any) is held until the guest has finished, body streaming included.
    pub async fn invoke<B>(
        self: &Arc<Self>,
        component: &Arc<ComponentRuntime>,
        request: http::Request<B>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<http::Response<HyperOutgoingBody>, InvokeError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let pre = match &component.handler {
            Handler::P2(pre) => pre.clone(),
            Handler::P3 { pre, handler } => {
                let handler = handler.get_or_init(|| {
                    ProxyHandler::new(Instances {
                        new_store: self.store_maker(&component.id),
                        pre: pre.clone(),
                        policy: self.reuse,
                        request_timeout: self.request_timeout,
                    })
                });
                return self.invoke_reused(handler, request, permit).await;
            }
        };
        let mut store = self
            .new_store(component)
            .map_err(|e| InvokeError::Guest(format!("{e:#}")))?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let guest_error = |e: wasmtime::Error| InvokeError::Guest(format!("{e:#}"));
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(guest_error)?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(guest_error)?;
        // The guest keeps running after it sends the response head, to stream the body.
        let task = tokio::spawn(async move {
            let _permit = permit;
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, outparam)
                .await
        });
        let outcome = match self.request_timeout {
            Some(limit) => match tokio::time::timeout(limit, receiver).await {
                Ok(r) => r,
                Err(_) => {
                    task.abort();
                    return Err(InvokeError::Timeout);
                }
            },
            None => receiver.await,
        };
        match outcome {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(InvokeError::Guest(format!(
                "guest returned error code {code:?}"
            ))),
            Err(_) => Err(InvokeError::Guest(match task.await {
                Ok(Ok(())) => "guest did not set a response".to_string(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => format!("guest task failed: {e}"),
            })),
        }
    }

    /// Runs `request` through a reused instance of a WASIp3 component. `permit`
    /// is held until the response head: the instance, not the request, holds
    /// pool slots, and it is dropped when idle.
    async fn invoke_reused<B>(
        &self,
        handler: &ProxyHandler<Instances>,
        request: http::Request<B>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<http::Response<HyperOutgoingBody>, InvokeError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        use http_body_util::BodyExt;
        let request = request.map(|body| body.map_err(Into::into).boxed_unsync());
        let response = handler.handle((), request);
        let outcome = match self.request_timeout {
            Some(limit) => tokio::time::timeout(limit, response)
                .await
                .map_err(|_| InvokeError::Timeout)?,
            None => response.await,
        };
        drop(permit);
        outcome.map_err(|e| {
            if e.is::<ExpirationError>() {
                InvokeError::Timeout
            } else {
                InvokeError::Guest(format!("{e:#}"))
            }
        })
    }

    /// Serves a chained request (`http://<id>.spin.internal/...`) in-process, as
    /// if `id` were routed at `/...`.
    pub async fn handle_chained(
        self: &Arc<Self>,
        id: &str,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
    ) -> Result<http::Response<wasmtime_wasi_http::WasiBody>, wasmtime_wasi_http::Error> {
        let component = self
            .component(id)
            .cloned()
            .ok_or(wasmtime_wasi_http::Error::DestinationNotFound)?;
        let request = prepare_chained_request(request);
        match self.invoke(&component, request, None).await {
            Ok(response) => Ok(response),
            Err(e) => {
                e.log(&component.id);
                Ok(error_response(500))
            }
        }
    }

    /// Makes stores for new instances of component `id` (of a WASIp3
    /// component, whose instances `instance_reuse` makes). Weak: the app owns
    /// the instances through its components.
    fn store_maker(self: &Arc<Self>, id: &Arc<str>) -> NewStore {
        let (app, id) = (Arc::downgrade(self), id.clone());
        Box::new(move || {
            let app = app
                .upgrade()
                .ok_or_else(|| format_err!("the app is shutting down"))?;
            let component = app
                .component(&id)
                .ok_or_else(|| format_err!("no component `{id}`"))?;
            app.new_store(component)
                .map_err(wasmtime::Error::from_anyhow)
        })
    }
}

impl ServiceChaining for App {
    fn handle_chained(
        self: Arc<Self>,
        component_id: String,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
    ) -> Pin<
        Box<
            dyn Future<
                    Output = Result<
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        wasmtime_wasi_http::Error,
                    >,
                > + Send,
        >,
    > {
        Box::pin(async move { App::handle_chained(&self, &component_id, request).await })
    }

    fn serves(&self, component_id: &str) -> bool {
        self.components.contains_key(component_id)
    }
}
