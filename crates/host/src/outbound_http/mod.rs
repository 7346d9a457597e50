//! Outbound HTTP from guests, as Spin's outbound-networking and outbound-HTTP
//! factors serve it: `allowed_outbound_hosts` (`allowed_hosts`) is checked
//! first, then requests to `http://<component-id>.spin.internal` are served
//! in-process (service chaining, by whatever implements [`ServiceChaining`]:
//! the app) and everything else goes to the network.

pub mod allowed_hosts;

use allowed_hosts::{default_port, AllowedHosts};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

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
        if let Some(target) = host.strip_suffix(CHAINING_SUFFIX) {
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
