//! Build-time pre-initialisation of a component (wasmtime's wizer).
//!
//! Spin runs every request in a fresh instance, so work a component does once per
//! instance (iris-api loading and optimising its embedded model) is paid by every
//! request. `preinit` runs that work once at build time instead: it instantiates the
//! component, calls its initialisation export, and writes the instance's memories
//! and globals back into the component as its initial state. The result is an
//! ordinary component that Spin, containerd-shim-spin and `spinflow up` run as is.
//!
//! The initialisation export runs with WASI but nothing granted (no files, network,
//! environment or outbound host; output discarded): clocks and random numbers work,
//! for example for a hash map's seed. Random numbers come from a fixed seed, so the
//! same input always gives the same snapshot. Spin's variables
//! (`fermyon:spin/variables`, `wasi:config/store`) answer with the build-time values
//! given to [`preinit`] (a component reads its build inputs there: host calls, which
//! leave nothing behind in the snapshot, unlike files or environment variables that
//! wasi-libc would cache). Spin's other imports (key-value, SQLite...) trap: nothing
//! they open would exist in the instances made from the snapshot.

use crate::outbound_http::allowed_hosts::AllowedHosts;
use crate::outbound_http::OutboundHooks;
use crate::variables::ComponentVariables;
use anyhow::{anyhow, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Instance, Linker, LinkerInstance, ResourceType, WasmList};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

/// The export that [`preinit`] calls unless told otherwise; wizer's convention.
pub const DEFAULT_INIT_EXPORT: &str = "wizer-initialize";

/// Returns `wasm` with the state left by its `init_export` function as its initial
/// state. The export stays; it should be idempotent. `variables` are what the
/// export reads through Spin's variables interfaces.
pub fn preinit(
    wasm: &[u8],
    init_export: &str,
    variables: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    // Removing the export breaks the component: wizer drops it from the component and
    // from the core module, but the component still aliases the core export.
    wizer.init_func(init_export).keep_init_func(true);
    let (context, instrumented) = wizer
        .instrument_component(wasm)
        .map_err(|e| anyhow!("{e:#}"))
        .context("the component cannot be pre-initialised")?;

    let mut config = Config::new();
    config.wasm_component_model(true);
    // For WASIp3 components, whose imports include `async func`s (stubbed below).
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::new(&engine, &instrumented)
        .map_err(anyhow::Error::from)
        .context("compiling the instrumented component")?;
    let mut linker: Linker<InitState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    crate::variables::add_to_linker(&mut linker, |s| &mut s.variables)?;
    stub_other_imports(&mut linker, &component)?;
    let mut store = Store::new(&engine, InitState::new(variables));
    // Async calls: the stubs of `async func` imports are concurrent host functions,
    // which need them. Nothing here waits on I/O.
    let instance = futures::executor::block_on(linker.instantiate_async(&mut store, &component))
        .map_err(anyhow::Error::from)
        .context("instantiating the component")?;

    let init = instance
        .get_typed_func::<(), ()>(&mut store, init_export)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("the component has no export `{init_export}: func()`"))?;
    futures::executor::block_on(init.call_async(&mut store, ()))
        .map_err(anyhow::Error::from)
        .with_context(|| format!("`{init_export}` failed"))?;

    let mut state = Snapshotted {
        store: &mut store,
        instance,
    };
    let snapshot = futures::executor::block_on(wizer.snapshot_component(&context, &mut state))
        .map_err(|e| anyhow!("{e:#}"))
        .context("snapshotting the initialised instance")?;
    Ok(snapshot)
}

/// The packages that the linker defines: WASI from wasmtime-wasi and
/// wasmtime-wasi-http (their 0.2 versions), and the variables interfaces.
const PROVIDED: [&str; 9] = [
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/",
    "fermyon:spin/variables@2.0.0",
    "wasi:config/store@0.2.0-draft-2024-09-27",
];

/// Defines every other import (Spin's key-value and SQLite, wasi:keyvalue...) as
/// functions that trap when called. (`Linker::define_unknown_imports_as_traps` would
/// also shadow the WASI interfaces whose version differs from the one defined.)
fn stub_other_imports(linker: &mut Linker<InitState>, component: &Component) -> Result<()> {
    let engine = component.engine().clone();
    for (name, item) in component.component_type().imports(&engine) {
        // A WASIp3 component may import WASI 0.3 as well: stubbed like the rest.
        let provided = PROVIDED.iter().any(|p| name.starts_with(p));
        if provided && (!name.starts_with("wasi:") || name.contains("@0.2.")) {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentInstance(instance) => {
                let mut stub = linker.instance(name)?;
                for (item_name, item) in instance.exports(&engine) {
                    stub_item(
                        &mut stub,
                        &format!("{name}#{item_name}"),
                        item_name,
                        &item.ty,
                    )?;
                }
            }
            ty => stub_item(&mut linker.root(), name, name, &ty)?,
        }
    }
    Ok(())
}

/// A resource type for stubbed interfaces; no value of it is ever made.
struct Unavailable;

fn stub_item(
    linker: &mut LinkerInstance<'_, InitState>,
    qualified: &str,
    name: &str,
    item: &ComponentItem,
) -> Result<()> {
    match item {
        ComponentItem::ComponentFunc(func) if func.async_() => {
            let message = format!("`{qualified}` is not available during pre-initialisation");
            linker.func_new_concurrent(name, move |_, _, _, _| {
                let message = message.clone();
                Box::pin(async move { Err(wasmtime::Error::msg(message)) })
            })?;
        }
        ComponentItem::ComponentFunc(_) => {
            let message = format!("`{qualified}` is not available during pre-initialisation");
            linker.func_new(name, move |_, _, _, _| {
                Err(wasmtime::Error::msg(message.clone()))
            })?;
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<Unavailable>(), |_, _| Ok(()))?;
        }
        _ => {}
    }
    Ok(())
}

const SEED: u64 = 0x5eed;

/// The store data of the initialising instance: WASI with nothing granted,
/// wasi:http with no outbound host allowed, and the build-time variables.
struct InitState {
    ctx: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundHooks,
    table: ResourceTable,
    variables: ComponentVariables,
}

impl InitState {
    fn new(variables: HashMap<String, String>) -> Self {
        // Seeded random numbers make the snapshot a function of the input alone
        // (hash map seeds decide the heap's layout), so builds are reproducible.
        // The values end up in every instance either way.
        let mut ctx = WasiCtx::builder();
        ctx.secure_random(StdRng::seed_from_u64(SEED))
            .insecure_random(StdRng::seed_from_u64(SEED))
            .insecure_random_seed(u128::from(SEED));
        Self {
            ctx: ctx.build(),
            http: WasiHttpCtx::new(),
            outbound: OutboundHooks {
                component_id: Arc::from("preinit"),
                allowed: Arc::new(AllowedHosts::default()),
                chaining: None,
            },
            table: ResourceTable::new(),
            variables: ComponentVariables::from_values(variables),
        }
    }
}

impl WasiHttpView for InitState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl WasiView for InitState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Wizer reads the instance's state through accessor functions it added to the
/// component (one per memory and global, grouped in exported instances).
struct Snapshotted<'a> {
    store: &'a mut Store<InitState>,
    instance: Instance,
}

impl Snapshotted<'_> {
    async fn call<R>(&mut self, instance: &str, func: &str) -> R
    where
        R: wasmtime::component::Lift + wasmtime::component::ComponentType + 'static,
    {
        let exported = self
            .instance
            .get_export_index(&mut *self.store, None, instance)
            .unwrap_or_else(|| panic!("wizer's accessor instance {instance} is exported"));
        let index = self
            .instance
            .get_export_index(&mut *self.store, Some(&exported), func)
            .unwrap_or_else(|| panic!("wizer's accessor {instance}#{func} is exported"));
        let typed = self
            .instance
            .get_typed_func::<(), (R,)>(&mut *self.store, index)
            .unwrap_or_else(|e| panic!("wizer's accessor {instance}#{func}: {e}"));
        typed
            .call_async(&mut *self.store, ())
            .await
            .unwrap_or_else(|e| panic!("wizer's accessor {instance}#{func} trapped: {e}"))
            .0
    }
}

// Wizer's instrumentation guarantees these accessors exist with these types, so a
// failure to find or call one is a bug in wizer and panics.
impl ComponentInstanceState for Snapshotted<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        let list: WasmList<u8> = self.call(instance, func).await;
        contents(list.as_le_slice(&*self.store));
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func).await
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func).await
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func).await.to_bits()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func).await.to_bits()
    }
}
