//! The per-instance store data (`Store<HostState>`) and the linker that wires
//! every host capability to it.

use crate::engine::HttpWorld;
use crate::instance_id::InstanceId;
use crate::key_value::{self, KeyValueState, KeyValueView};
use crate::outbound_http::OutboundHooks;
use crate::outbound_mqtt::{self, MqttView};
use crate::outbound_pg::{self, PgView};
use crate::outbound_redis::{self, RedisView};
use crate::sqlite::{self, SqliteState, SqliteView};
use crate::variables::{self, ComponentVariables};
use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::Engine;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Everything one instance can reach. Built for every instance: per request
/// for WASIp2 components, per reused instance for WASIp3 ones.
pub struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub variables: ComponentVariables,
    pub sqlite: SqliteState,
    pub key_value: KeyValueState,
    pub outbound: OutboundHooks,
    /// This instance, to the storage backends.
    pub instance: InstanceId,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

fn outbound_hooks(s: &mut HostState) -> &OutboundHooks {
    &s.outbound
}

fn redis_view(s: &mut HostState) -> RedisView<'_> {
    RedisView {
        outbound: &s.outbound,
        table: &mut s.table,
    }
}

fn mqtt_view(s: &mut HostState) -> MqttView<'_> {
    MqttView {
        outbound: &s.outbound,
        table: &mut s.table,
    }
}

fn pg_view(s: &mut HostState) -> PgView<'_> {
    PgView {
        outbound: &s.outbound,
        table: &mut s.table,
    }
}

fn sqlite_view(s: &mut HostState) -> SqliteView<'_> {
    SqliteView {
        state: &s.sqlite,
        table: &mut s.table,
        instance: s.instance,
    }
}

fn key_value_view(s: &mut HostState) -> KeyValueView<'_> {
    KeyValueView {
        state: &s.key_value,
        table: &mut s.table,
        instance: s.instance,
    }
}

fn component_variables(s: &mut HostState) -> &mut ComponentVariables {
    &mut s.variables
}

/// A linker with WASI p2, wasi:http 0.2 and the Spin interfaces, and for
/// WASIp3 components WASI p3 and wasi:http 0.3 too (a WASIp3 component may
/// use any of them).
pub fn linker(engine: &Engine, world: HttpWorld) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    crate::outbound_http::add_to_linker(&mut linker, outbound_hooks)?;
    if world == HttpWorld::P3 {
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    }

    variables::add_to_linker(&mut linker, component_variables)?;
    sqlite::add_to_linker(&mut linker, sqlite_view)?;
    key_value::add_to_linker(&mut linker, key_value_view)?;
    outbound_redis::add_to_linker(&mut linker, redis_view)?;
    outbound_mqtt::add_to_linker(&mut linker, mqtt_view)?;
    outbound_pg::add_to_linker(&mut linker, pg_view)?;
    Ok(linker)
}
