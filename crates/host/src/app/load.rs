//! `App::load`: every start-up check, in the order Spin makes them, then the
//! compiled components and the router.

use super::engines::{http_handler, Engines};
use super::options::{AppOptions, MAX_NETWORK_REQUESTS};
use super::{App, ComponentRuntime};
use crate::engine::{self, HttpWorld};
use crate::files::{ComponentFiles, Staging};
use crate::key_value::{KeyValueState, KvStores};
use crate::manifest::{ComponentDecl, LoadedManifest, RouteDecl, StaticResponse};
use crate::outbound_http::allowed_hosts::{AllowedHost, AllowedHosts};
use crate::router::{RouteTarget, Router};
use crate::runtime_config::{RuntimeConfig, StorageLocation};
use crate::sqlite::{Databases, SqliteState};
use crate::stdio::{HostStream, PrefixedOutput};
use crate::variables::{AppVariables, ComponentVariables};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

impl App {
    /// Loads the manifest, checks and resolves its configuration, opens the
    /// stores, compiles the components and instantiates each once.
    pub async fn load(options: &AppOptions) -> Result<Arc<Self>> {
        let loaded = LoadedManifest::load(&options.manifest)?;
        let runtime_config = runtime_config(options)?;
        let state_dir = state_dir(options, &runtime_config, &loaded)?;
        let retained = retained_components(&loaded, &options.component_ids)?;
        let app_vars = AppVariables::resolve(&loaded.manifest, &options.variables, |k| {
            std::env::var(k).ok()
        })?;
        // Per-component configuration is checked, and files are copied, before
        // anything is compiled.
        let mut files = Staging::new(&loaded.dir, options.allow_transient_write);
        let plans = plan_components(&loaded, &retained, &app_vars, &mut files, options)?;
        let storage = Storage::open(&loaded, &plans, &runtime_config, &state_dir, options).await?;
        let components = compile_components(&loaded, plans, &storage, options)?;
        let router = build_router(&loaded, &components)?;
        let manifest = &loaded.manifest;
        let app = Arc::new(App {
            name: manifest.application.name.clone(),
            version: manifest.application.version.clone(),
            components,
            router,
            request_timeout: options.request_timeout,
            reuse: options.reuse,
            state_dir,
            _files_root: files.into_root(),
            request_permits: Arc::new(tokio::sync::Semaphore::new(MAX_NETWORK_REQUESTS)),
        });
        app.warm_up().await?;
        Ok(app)
    }
}

/// `--runtime-config-file`, or Spin's defaults.
fn runtime_config(options: &AppOptions) -> Result<RuntimeConfig> {
    match &options.runtime_config_file {
        Some(path) => RuntimeConfig::load(path, &std::env::current_dir()?),
        None => Ok(RuntimeConfig::default()),
    }
}

/// `--state-dir`, else the runtime config's, else `.spin` beside the manifest.
fn state_dir(
    options: &AppOptions,
    runtime_config: &RuntimeConfig,
    loaded: &LoadedManifest,
) -> Result<PathBuf> {
    let state_dir = options
        .state_dir
        .clone()
        .or(runtime_config.state_dir.clone())
        .unwrap_or_else(|| loaded.dir.join(".spin"));
    Ok(std::path::absolute(state_dir)?)
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

/// A retained component's resolved configuration, before compilation.
struct ComponentPlan {
    id: String,
    variables: ComponentVariables,
    allowed_hosts: AllowedHosts,
    files: ComponentFiles,
}

fn plan_components(
    loaded: &LoadedManifest,
    retained: &[String],
    app_vars: &AppVariables,
    files: &mut Staging,
    options: &AppOptions,
) -> Result<Vec<ComponentPlan>> {
    let mut plans = Vec::new();
    for id in retained {
        let decl = &loaded.manifest.component[id];
        let variables = ComponentVariables::resolve(app_vars, &decl.variables)
            .with_context(|| format!("component `{id}`: invalid variables"))?;
        let raw_hosts: Vec<&String> = decl
            .allowed_outbound_hosts
            .iter()
            .chain(decl.allowed_http_hosts.iter())
            .collect();
        if !options.component_ids.is_empty() {
            check_chaining(id, &raw_hosts, retained)?;
        }
        let allowed_hosts = resolve_allowed_hosts(&raw_hosts, app_vars)
            .with_context(|| format!("component `{id}`: invalid allowed_outbound_hosts"))?;
        let files = files
            .stage(id, decl)
            .with_context(|| format!("component `{id}`: cannot mount files"))?;
        plans.push(ComponentPlan {
            id: id.clone(),
            variables,
            allowed_hosts,
            files,
        });
    }
    Ok(plans)
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

/// The key-value stores and SQL databases the retained components use.
struct Storage {
    key_value: Arc<KvStores>,
    databases: Arc<Databases>,
}

impl Storage {
    /// Opens every store a retained component declares, then runs `--sqlite`
    /// statements and sets `--key-value` entries.
    async fn open(
        loaded: &LoadedManifest,
        plans: &[ComponentPlan],
        runtime_config: &RuntimeConfig,
        state_dir: &std::path::Path,
        options: &AppOptions,
    ) -> Result<Self> {
        let (mut kv_labels, mut sqlite_labels) = (BTreeSet::new(), BTreeSet::new());
        for plan in plans {
            let decl = &loaded.manifest.component[&plan.id];
            kv_labels.extend(decl.key_value_stores.iter().cloned());
            sqlite_labels.extend(decl.sqlite_databases.iter().cloned());
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
        let key_value = Arc::new(KvStores::open(&kv_locations)?);
        let databases = Arc::new(Databases::open(&sqlite_locations)?);
        for sql in &options.sqlite_statements {
            databases
                .execute_batch("default", sql)
                .with_context(|| format!("--sqlite statement failed: {sql}"))?;
        }
        if !options.key_values.is_empty() {
            seed_key_values(&key_value, &options.key_values).await?;
        }
        Ok(Self {
            key_value,
            databases,
        })
    }
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

/// Compiles each planned component on the engine of its `wasi:http` world and
/// links it; a component that imports something the host lacks stops start-up.
fn compile_components(
    loaded: &LoadedManifest,
    plans: Vec<ComponentPlan>,
    storage: &Storage,
    options: &AppOptions,
) -> Result<HashMap<String, Arc<ComponentRuntime>>> {
    let mut engines = Engines::new(&options.engine);
    let mut components = HashMap::new();
    for plan in plans {
        let id = plan.id;
        let decl = &loaded.manifest.component[&id];
        let source = loaded.component_source(&id)?;
        let bytes = engine::read_component(&source).with_context(|| format!("component `{id}`"))?;
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
            variables: plan.variables,
            sqlite: SqliteState {
                databases: storage.databases.clone(),
                allowed: Arc::new(labels(&decl.sqlite_databases)),
            },
            key_value: KeyValueState {
                stores: storage.key_value.clone(),
                allowed: Arc::new(labels(&decl.key_value_stores)),
            },
            allowed_hosts: Arc::new(plan.allowed_hosts),
            files: plan.files,
            stdout: PrefixedOutput::new(&id, HostStream::Stdout),
            stderr: PrefixedOutput::new(&id, HostStream::Stderr),
            max_request_body_bytes: component_body_limit(decl, options.max_request_body_bytes)
                .with_context(|| format!("component `{id}`"))?,
        };
        components.insert(id, Arc::new(runtime));
    }
    Ok(components)
}

fn labels(declared: &[String]) -> HashSet<String> {
    declared.iter().cloned().collect()
}

/// `[component.<id>.tool.spinflow] max_request_body_bytes = N` overrides the
/// host-wide limit for one component (tool tables are ignored by Spin itself).
fn component_body_limit(decl: &ComponentDecl, default: u64) -> Result<u64> {
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

/// The HTTP routes of the served components and static responses; reserved
/// and shadowed routes are reported, as Spin reports them.
fn build_router(
    loaded: &LoadedManifest,
    components: &HashMap<String, Arc<ComponentRuntime>>,
) -> Result<Router<StaticResponse>> {
    let mut routes = Vec::new();
    for trigger in loaded.manifest.http_triggers()? {
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
    Ok(router)
}
