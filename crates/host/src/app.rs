//! A loaded application: validated manifest, resolved configuration, compiled
//! components and the router. `App::load` does all start-up checks;
//! `App::invoke` serves a request on a fresh instance of a WASIp2 component, or
//! on a reused instance of a WASIp3 one (`instance_reuse`).

use crate::allowed_hosts::{AllowedHost, AllowedHosts};
use crate::engine::{self, EngineOptions, HttpWorld, EPOCH_TICK};
use crate::instance_reuse::{Instances, ReusePolicy};
use crate::key_value::{KeyValueState, KvStores};
use crate::manifest::{LoadedManifest, RouteDecl, StaticResponse};
use crate::outbound_http::OutboundHooks;
use crate::router::{RouteTarget, Router};
use crate::runtime_config::{RuntimeConfig, StorageLocation};
use crate::sqlite::{Databases, SqliteState};
use crate::state::{self, HostState};
use crate::stdio::{HostStream, PrefixedOutput};
use crate::variables::{AppVariables, ComponentVariables};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::handler::{ExpirationError, ProxyHandler};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

/// Everything `spinflow up` can be told.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub manifest: PathBuf,
    pub state_dir: Option<PathBuf>,
    pub runtime_config_file: Option<PathBuf>,
    /// Serve only these components (empty = all).
    pub component_ids: Vec<String>,
    /// `-e KEY=VALUE`: environment of every component.
    pub env: Vec<(String, String)>,
    /// `--variable name=value`: application variable values.
    pub variables: BTreeMap<String, String>,
    /// `--sqlite`: statements run against the default database before serving.
    pub sqlite_statements: Vec<String>,
    /// `--key-value key=value`: entries set in the default store before serving.
    pub key_values: Vec<(String, String)>,
    /// Largest request body, unless a component sets its own (see `limits`).
    pub max_request_body_bytes: u64,
    /// Wall-clock limit of one request (guest execution and response headers).
    pub request_timeout: Option<Duration>,
    pub cache_dir: Option<PathBuf>,
    pub engine: EngineOptions,
    /// How instances of WASIp3 components are reused.
    pub reuse: ReusePolicy,
}

impl AppOptions {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            state_dir: None,
            runtime_config_file: None,
            component_ids: Vec::new(),
            env: Vec::new(),
            variables: BTreeMap::new(),
            sqlite_statements: Vec::new(),
            key_values: Vec::new(),
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            request_timeout: Some(Duration::from_secs(600)),
            cache_dir: engine::default_cache_dir(),
            engine: EngineOptions::default(),
            reuse: ReusePolicy::default(),
        }
    }
}

/// Default request body limit: large enough for model artifacts (which are
/// streamed, not buffered, by the host).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: u64 = 4 << 30;

/// Requests from the network that run at once (the instance pool's other half
/// is headroom for chained requests).
pub const MAX_NETWORK_REQUESTS: usize = engine::MAX_CONCURRENT_INSTANCES as usize / 2;

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

impl App {
    pub async fn load(options: &AppOptions) -> Result<Arc<Self>> {
        let loaded = LoadedManifest::load(&options.manifest)?;
        let manifest = &loaded.manifest;
        let cwd = std::env::current_dir()?;
        let runtime_config = match &options.runtime_config_file {
            Some(path) => RuntimeConfig::load(path, &cwd)?,
            None => RuntimeConfig::default(),
        };
        let state_dir = options
            .state_dir
            .clone()
            .or(runtime_config.state_dir.clone())
            .unwrap_or_else(|| loaded.dir.join(".spin"));
        let state_dir = std::path::absolute(state_dir)?;

        let retained = retained_components(&loaded, &options.component_ids)?;
        let app_vars =
            AppVariables::resolve(manifest, &options.variables, |k| std::env::var(k).ok())?;

        // Resolve per-component configuration and validate it before compiling anything.
        let mut plans = Vec::new();
        let (mut kv_labels, mut sqlite_labels) = (BTreeSet::new(), BTreeSet::new());
        for id in &retained {
            let decl = &manifest.component[id];
            let variables = ComponentVariables::resolve(&app_vars, &decl.variables)
                .with_context(|| format!("component `{id}`: invalid variables"))?;
            let raw_hosts: Vec<&String> = decl
                .allowed_outbound_hosts
                .iter()
                .chain(decl.allowed_http_hosts.iter())
                .collect();
            if !options.component_ids.is_empty() {
                check_chaining(id, &raw_hosts, &retained)?;
            }
            let allowed = resolve_allowed_hosts(&raw_hosts, &app_vars)
                .with_context(|| format!("component `{id}`: invalid allowed_outbound_hosts"))?;
            kv_labels.extend(decl.key_value_stores.iter().cloned());
            sqlite_labels.extend(decl.sqlite_databases.iter().cloned());
            plans.push((id.clone(), variables, allowed));
        }

        let kv_locations = store_locations(
            "key_value_stores",
            &kv_labels,
            &runtime_config.key_value_stores,
            state_dir.join("sqlite_key_value.db"),
        )?;
        let sqlite_locations = store_locations(
            "sqlite_databases",
            &sqlite_labels,
            &runtime_config.sqlite_databases,
            state_dir.join("sqlite_db.db"),
        )?;
        let kv_stores = Arc::new(KvStores::open(&kv_locations)?);
        let databases = Arc::new(Databases::open(&sqlite_locations)?);
        for sql in &options.sqlite_statements {
            databases
                .execute_batch("default", sql)
                .with_context(|| format!("--sqlite statement failed: {sql}"))?;
        }
        if !options.key_values.is_empty() {
            seed_key_values(&kv_stores, &options.key_values).await?;
        }

        let mut engines = Engines::new(&options.engine);
        let mut components = HashMap::new();
        for (id, variables, allowed) in plans {
            let decl = &manifest.component[&id];
            let source = loaded.component_source(&id)?;
            let bytes =
                engine::read_component(&source).with_context(|| format!("component `{id}`"))?;
            let world = HttpWorld::of_component(&bytes)
                .with_context(|| format!("component `{id}`: cannot read {}", source.display()))?;
            let (engine, linker) = engines.get(world)?;
            let component =
                engine::load_component(engine, &bytes, &source, options.cache_dir.as_deref())
                    .with_context(|| format!("component `{id}`"))?;
            let instance_pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component `{id}` imports something spinflow does not provide")
                })?;
            let handler = http_handler(instance_pre).with_context(|| {
                format!(
                    "component `{id}` exports neither wasi:http/incoming-handler@0.2 nor wasi:http/handler@0.3"
                )
            })?;
            let runtime = ComponentRuntime {
                id: id.as_str().into(),
                engine: engine.clone(),
                handler,
                env: decl
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain(options.env.iter().cloned())
                    .collect(),
                variables,
                sqlite: SqliteState {
                    databases: databases.clone(),
                    allowed: Arc::new(
                        decl.sqlite_databases
                            .iter()
                            .cloned()
                            .collect::<HashSet<_>>(),
                    ),
                },
                key_value: KeyValueState {
                    stores: kv_stores.clone(),
                    allowed: Arc::new(
                        decl.key_value_stores
                            .iter()
                            .cloned()
                            .collect::<HashSet<_>>(),
                    ),
                },
                allowed_hosts: Arc::new(allowed),
                stdout: PrefixedOutput::new(&id, HostStream::Stdout),
                stderr: PrefixedOutput::new(&id, HostStream::Stderr),
                max_request_body_bytes: component_body_limit(decl, options.max_request_body_bytes)
                    .with_context(|| format!("component `{id}`"))?,
            };
            components.insert(id, Arc::new(runtime));
        }

        let mut routes = Vec::new();
        for trigger in manifest.http_triggers()? {
            let RouteDecl::Path(route) = &trigger.route else {
                continue;
            };
            if route.starts_with("/.well-known/spin") {
                eprintln!("spinflow: route {route} is reserved by Spin and will never be reached");
                continue;
            }
            match (&trigger.component, &trigger.static_response) {
                (Some(c), _) if components.contains_key(c) => {
                    routes.push((route.clone(), RouteTarget::Component(c.clone())))
                }
                (Some(_), _) => {}
                (None, Some(response)) => {
                    routes.push((route.clone(), RouteTarget::Static(response.clone())))
                }
                (None, None) => unreachable!("validated by the manifest parser"),
            }
        }
        let (router, shadowed) = Router::build(routes);
        for raw in shadowed {
            eprintln!(
                "spinflow: route {raw} is a duplicate of a later route and will never be reached"
            );
        }

        let app = Arc::new(App {
            name: manifest.application.name.clone(),
            version: manifest.application.version.clone(),
            components,
            router,
            request_timeout: options.request_timeout,
            reuse: options.reuse,
            state_dir,
            request_permits: Arc::new(tokio::sync::Semaphore::new(MAX_NETWORK_REQUESTS)),
        });
        app.warm_up().await?;
        Ok(app)
    }

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
        let mut store = self.new_store(component);
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
    pub(crate) fn new_store(self: &Arc<Self>, component: &ComponentRuntime) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        wasi.envs(&component.env)
            .stdout(component.stdout.clone())
            .stderr(component.stderr.clone());
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
                app: Arc::downgrade(self),
            },
            instance: crate::sqlite_pool::new_owner(),
        };
        let mut store = Store::new(&component.engine, state);
        let ticks = match self.request_timeout {
            Some(t) => (t.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64,
            None => u64::MAX,
        };
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
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
                        app: Arc::downgrade(self),
                        component_id: component.id.clone(),
                        pre: pre.clone(),
                        policy: self.reuse,
                        request_timeout: self.request_timeout,
                    })
                });
                return self.invoke_reused(handler, request, permit).await;
            }
        };
        let mut store = self.new_store(component);
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
        let request = crate::server::prepare_chained_request(request);
        match self.invoke(&component, request, None).await {
            Ok(response) => Ok(response),
            Err(e) => {
                crate::server::log_invoke_error(&component.id, &e);
                Ok(crate::server::error_response(500))
            }
        }
    }
}

/// An engine, with its linker, per `wasi:http` world, built when a component needs it.
struct Engines<'a> {
    options: &'a EngineOptions,
    p2: Option<(Engine, Linker<HostState>)>,
    p3: Option<(Engine, Linker<HostState>)>,
}

impl<'a> Engines<'a> {
    fn new(options: &'a EngineOptions) -> Self {
        Self {
            options,
            p2: None,
            p3: None,
        }
    }

    fn get(&mut self, world: HttpWorld) -> Result<&(Engine, Linker<HostState>)> {
        let slot = match world {
            HttpWorld::P2 => &mut self.p2,
            HttpWorld::P3 => &mut self.p3,
        };
        if slot.is_none() {
            let engine = engine::build_engine(self.options, world)?;
            engine::start_epoch_ticker(&engine);
            let linker = state::linker(&engine, world)?;
            *slot = Some((engine, linker));
        }
        Ok(slot.as_ref().expect("just built"))
    }
}

/// The component's HTTP handler: WASIp2 or WASIp3. Like Spin, refuses a
/// component that exports both.
fn http_handler(instance_pre: wasmtime::component::InstancePre<HostState>) -> Result<Handler> {
    let p3 = ServicePre::new(instance_pre.clone()).ok();
    let p2 = ProxyPre::new(instance_pre);
    match (p2, p3) {
        (Ok(_), Some(_)) => bail!(
            "it exports both wasi:http/incoming-handler@0.2 and wasi:http/handler@0.3; export one"
        ),
        (Err(_), Some(pre)) => Ok(Handler::P3 {
            pre,
            handler: OnceLock::new(),
        }),
        (p2, None) => Ok(Handler::P2(p2?)),
    }
}

/// The component ids to serve; unknown ids are an error, as in Spin.
fn retained_components(loaded: &LoadedManifest, requested: &[String]) -> Result<Vec<String>> {
    let all: Vec<String> = loaded.manifest.component.keys().cloned().collect();
    if requested.is_empty() {
        return Ok(all);
    }
    for id in requested {
        if !loaded.manifest.component.contains_key(id) {
            bail!(
                "--component-id {id}: no such component in {} (components: {})",
                loaded.path.display(),
                all.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|id| requested.contains(id))
        .collect())
}

/// Renders `{{ var }}` templates with the application variables, as Spin does;
/// a template that renders empty (or to a bare `http://`) is dropped, which lets
/// a variable switch an optional endpoint off.
fn resolve_allowed_hosts(raw: &[&String], vars: &AppVariables) -> Result<AllowedHosts> {
    let mut hosts = Vec::new();
    for entry in raw {
        if !entry.contains("{{") {
            hosts.push(entry.to_string());
            continue;
        }
        let rendered = vars.render(entry)?;
        if !matches!(rendered.trim(), "" | "http://" | "https://") {
            hosts.push(rendered);
        }
    }
    AllowedHosts::parse(&hosts)
}

/// With `--component-id`, a retained component may not chain to a component
/// that is not retained, nor use `*.spin.internal`. Templated entries are not
/// checked (Spin checks the manifest before variables are resolved).
fn check_chaining(id: &str, raw_hosts: &[&String], retained: &[String]) -> Result<()> {
    for entry in raw_hosts.iter().filter(|e| !e.contains("{{")) {
        let Ok(host) = AllowedHost::parse(entry) else {
            continue; // reported with context when the list is parsed
        };
        match host.chaining_target() {
            Some("*") => bail!(
                "selected component `{id}` cannot use wildcard service chaining: allowed_outbound_hosts = [\"http://*.spin.internal\"]"
            ),
            Some(target) if !retained.iter().any(|c| c == target) => bail!(
                "selected component `{id}` cannot use service chaining to unselected component `{target}`: allowed_outbound_hosts = [\"http://{target}.spin.internal\"] (serve it too with --component-id {target})"
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Where each used label lives: the runtime config, else the default file for
/// `default`; any other unconfigured label is a start-up error, as in Spin.
fn store_locations(
    key: &str,
    used: &BTreeSet<String>,
    configured: &BTreeMap<String, StorageLocation>,
    default_path: PathBuf,
) -> Result<BTreeMap<String, StorageLocation>> {
    let mut out = BTreeMap::new();
    for label in used {
        let location = match configured.get(label) {
            Some(l) => l.clone(),
            None if label == "default" => StorageLocation::File(default_path.clone()),
            None => bail!(
                "unknown {key} label `{label}`: configure it in a runtime config file (--runtime-config-file)"
            ),
        };
        out.insert(label.clone(), location);
    }
    Ok(out)
}

async fn seed_key_values(stores: &KvStores, entries: &[(String, String)]) -> Result<()> {
    let store = stores
        .get("default")
        .context("--key-value needs a component that uses the `default` key-value store")?;
    for (k, v) in entries {
        store
            .set(k.clone(), v.clone().into_bytes())
            .await
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// `[component.<id>.tool.spinflow] max_request_body_bytes = N` overrides the
/// host-wide limit for one component (tool tables are ignored by Spin itself).
fn component_body_limit(decl: &crate::manifest::ComponentDecl, default: u64) -> Result<u64> {
    let Some(tool) = decl.tool.get("spinflow") else {
        return Ok(default);
    };
    match tool.get("max_request_body_bytes") {
        None => Ok(default),
        Some(toml::Value::Integer(n)) if *n > 0 => Ok(*n as u64),
        Some(other) => {
            bail!("tool.spinflow.max_request_body_bytes must be a positive integer, found {other}")
        }
    }
}
