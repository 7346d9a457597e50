//! Outbound HTTP from guests, as Spin's outbound-networking and outbound-HTTP
//! factors serve it (and `wasi:sockets` permissions from the same list, `sockets`): `allowed_outbound_hosts` (`allowed_hosts`) is checked
//! first, then requests to `http://<component-id>.spin.internal` are served
//! in-process (service chaining, by whatever implements [`ServiceChaining`]:
//! the app) and everything else goes to the network.
//!
//! A chained request to a component the app does not serve (left out by
//! `--component-id`) traps the calling guest, as Spin's "unknown routing
//! destination" error does: its request then answers 500 with an empty body.
//! The hooks cannot trap, so `wasi:http/outgoing-handler.handle` is
//! wasmtime-wasi-http's behind that check ([`add_to_linker`]).

pub mod allowed_hosts;
pub mod sockets;

use allowed_hosts::{default_port, AllowedHosts};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types as p2_types};
use wasmtime_wasi_http::p2::types::HostOutgoingRequest;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView,
};

pub const CHAINING_SUFFIX: &str = ".spin.internal";

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

/// Serves chained requests in-process.
pub trait ServiceChaining: Send + Sync {
    /// Serves `request` with component `component_id`, as Spin does.
    fn handle_chained(
        self: Arc<Self>,
        component_id: String,
        request: http::Request<WasiBody>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<WasiBody>, HttpError>> + Send>>;

    /// Whether component `component_id` is served (chained requests can reach it).
    fn serves(&self, component_id: &str) -> bool;
}

/// The component a `<id>.spin.internal` host names, as Spin reads it: the
/// first label, when the rest is exactly `spin.internal` (any port).
pub fn chaining_target(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (rest == &CHAINING_SUFFIX[1..]).then_some(first)
}

/// The outbound policy of one instance.
pub struct OutboundHooks {
    pub component_id: Arc<str>,
    pub allowed: Arc<AllowedHosts>,
    /// Where chained requests go (none: nowhere); weak so that in-flight
    /// requests never keep the app alive.
    pub chaining: Option<Weak<dyn ServiceChaining>>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let port = uri
            .port_u16()
            .or_else(|| default_port(&scheme))
            .unwrap_or(0);
        if !self.allowed.allows(&scheme, &host, port) {
            let origin = match uri.port_u16() {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            };
            eprintln!(
                "[{}] outbound request to {origin} denied: add \"{origin}\" to allowed_outbound_hosts of component `{}`",
                self.component_id, self.component_id
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if let Some(target) = chaining_target(&host) {
            let target = target.to_string();
            let chaining = self.chaining.clone();
            request.headers_mut().remove(http::header::HOST);
            return Box::new(async move {
                let chaining = chaining
                    .and_then(|c| c.upgrade())
                    .ok_or(HttpError::DestinationUnavailable)?;
                let response = chaining.handle_chained(target, request).await?;
                let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                    Box::new(async { Ok(()) });
                Ok((response, done))
            });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}

impl OutboundHooks {
    /// The component an allowed chained request to `scheme://authority` names,
    /// if the app does not serve it.
    fn unserved_chaining_target(&self, scheme: &str, authority: &str) -> Option<String> {
        let chaining = self.chaining.as_ref()?.upgrade()?;
        let authority: http::uri::Authority = authority.parse().ok()?;
        let host = authority.host().to_ascii_lowercase();
        let target = chaining_target(&host)?;
        let port = authority
            .port_u16()
            .or_else(|| default_port(scheme))
            .unwrap_or(0);
        // A request the allow-list denies gets HttpRequestDenied, checked first as in Spin.
        (self.allowed.allows(scheme, &host, port) && !chaining.serves(target))
            .then(|| target.to_string())
    }
}

impl OutboundHooks {
    /// Whether the component may connect to `url` (`redis://host:port`,
    /// `mqtt://host:port?client_id=...`), as Spin checks the address given to
    /// its Redis and MQTT interfaces; `scheme` is assumed when `url` has none.
    /// A denied address is reported on stderr. `Err`: not a URL.
    pub fn allows_url(&self, url: &str, scheme: &str) -> Result<bool, String> {
        let with_scheme;
        let url = if url.contains("://") {
            url
        } else {
            with_scheme = format!("{scheme}://{url}");
            &with_scheme
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or(scheme).to_ascii_lowercase();
        let host = uri.host().ok_or_else(|| format!("{url:?} has no host"))?;
        let port = uri
            .port_u16()
            .or_else(|| default_port(&scheme))
            .unwrap_or(0);
        let allowed = self.allowed.allows(&scheme, host, port);
        if !allowed {
            let origin = format!("{scheme}://{host}:{port}");
            eprintln!(
                "[{}] outbound connection to {origin} denied: add \"{origin}\" to allowed_outbound_hosts of component `{}`",
                self.component_id, self.component_id
            );
        }
        Ok(allowed)
    }
}

/// The version of `wasi:http` that wasmtime-wasi-http 48 defines (guests'
/// 0.2.x imports resolve to it).
const WASI_HTTP_OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// Adds `wasi:http/types` and `wasi:http/outgoing-handler` (0.2), with
/// wasmtime-wasi-http's `handle` behind the chaining check; `hooks` gives an
/// instance's outbound policy.
pub fn add_to_linker<T: WasiHttpView + 'static>(
    linker: &mut Linker<T>,
    hooks: fn(&mut T) -> &OutboundHooks,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    linker.allow_shadowing(true);
    let defined = linker
        .instance(WASI_HTTP_OUTGOING_HANDLER)
        .and_then(|mut instance| {
            instance.func_wrap(
                "handle",
                move |mut store: StoreContextMut<'_, T>,
                      (request, options): (
                    Resource<HostOutgoingRequest>,
                    Option<Resource<RequestOptions>>,
                )| {
                    let data = store.data_mut();
                    let outgoing = data.http().table.get(&request)?;
                    let scheme = match &outgoing.scheme {
                        None | Some(p2_types::Scheme::Http) => "http".to_string(),
                        Some(p2_types::Scheme::Https) => "https".to_string(),
                        Some(p2_types::Scheme::Other(s)) => s.to_ascii_lowercase(),
                    };
                    let authority = outgoing.authority.clone().unwrap_or_default();
                    if let Some(target) = hooks(data).unserved_chaining_target(&scheme, &authority)
                    {
                        return Err(wasmtime::format_err!(
                            "unknown routing destination '{target}'"
                        ));
                    }
                    match outgoing_handler::Host::handle(&mut data.http(), request, options) {
                        Ok(response) => Ok((Ok(response),)),
                        Err(e) => Ok((Err(e.downcast()?),)),
                    }
                },
            )
        });
    linker.allow_shadowing(false);
    defined
}

#[cfg(test)]
mod tests {
    use super::chaining_target;

    #[test]
    fn chaining_targets_are_read_as_spin_reads_them() {
        assert_eq!(chaining_target("backend.spin.internal"), Some("backend"));
        assert_eq!(
            chaining_target("backend.spin.internal:8080"),
            Some("backend")
        );
        assert_eq!(chaining_target("a.b.spin.internal"), None);
        assert_eq!(chaining_target("spin.internal"), None);
        assert_eq!(chaining_target("example.com"), None);
    }
}
