//! The engines of an app: one per `wasi:http` world, with its linker, built
//! when a component needs it; and which handler a compiled component exports.

use super::Handler;
use crate::engine::{self, EngineOptions, HttpWorld};
use crate::state::{self, HostState};
use anyhow::{bail, Result};
use std::sync::OnceLock;
use wasmtime::component::Linker;
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// An engine, with its linker, per `wasi:http` world, built when a component needs it.
pub(super) struct Engines<'a> {
    options: &'a EngineOptions,
    p2: Option<(Engine, Linker<HostState>)>,
    p3: Option<(Engine, Linker<HostState>)>,
}

impl<'a> Engines<'a> {
    pub(super) fn new(options: &'a EngineOptions) -> Self {
        Self {
            options,
            p2: None,
            p3: None,
        }
    }

    pub(super) fn get(&mut self, world: HttpWorld) -> Result<&(Engine, Linker<HostState>)> {
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
pub(super) fn http_handler(
    instance_pre: wasmtime::component::InstancePre<HostState>,
) -> Result<Handler> {
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
