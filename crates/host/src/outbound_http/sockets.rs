//! `wasi:sockets` permissions, as Spin 3.6's outbound-networking factor sets
//! them, from the same `allowed_outbound_hosts` list as outbound HTTP:
//!
//! * a TCP connect to `ip:port` needs an entry that allows `tcp://ip:port`;
//!   a UDP bind, connect or send to `ip:port` one that allows `udp://ip:port`
//!   (`*://`, `*` hosts, ports and port ranges, CIDR ranges all apply);
//! * a guest may not bind TCP sockets (so never listen or accept);
//! * name lookup is off (`permanent-resolver-failure`), as wasmtime's default
//!   under Spin leaves it.
//!
//! A refused address gives the guest `access-denied`.
//!
//! Spin 3.6.3 runs wasmtime 42; wasmtime 48 also asks about the implicit bind
//! that precedes a connect (the unspecified address, port 0), which is allowed
//! here so that connects work as they do under Spin. An explicit TCP bind to
//! that address is therefore allowed too (Spin denies it), but listening is
//! not. Datagrams received are not checked, as wasmtime 42 did not check them.

use super::allowed_hosts::AllowedHosts;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

/// Configures `builder`'s sockets for a component with this allow-list.
pub fn configure(builder: &mut WasiCtxBuilder, allowed: Arc<AllowedHosts>, component: Arc<str>) {
    builder
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |addr, use_| {
            let permitted = permits(&allowed, addr, use_);
            if !permitted {
                if let Some(scheme) = scheme_of(use_) {
                    eprintln!(
                        "[{component}] outbound connection to {scheme}://{addr} denied: add \"{scheme}://{addr}\" to allowed_outbound_hosts of component `{component}`"
                    );
                }
            }
            Box::pin(async move { permitted })
        });
}

/// The allow-list scheme an address use is checked against, if any.
fn scheme_of(use_: SocketAddrUse) -> Option<&'static str> {
    match use_ {
        SocketAddrUse::TcpConnect => Some("tcp"),
        SocketAddrUse::UdpBind | SocketAddrUse::UdpSend => Some("udp"),
        _ => None,
    }
}

fn permits(allowed: &AllowedHosts, addr: SocketAddr, use_: SocketAddrUse) -> bool {
    match use_ {
        // The implicit bind of a connect (see the module comment).
        SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
        SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
        SocketAddrUse::UdpReceive => true,
        SocketAddrUse::TcpConnect | SocketAddrUse::UdpBind | SocketAddrUse::UdpSend => {
            let scheme = scheme_of(use_).unwrap_or("tcp");
            allowed.allows(scheme, &addr.ip().to_string(), addr.port())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tcp_and_udp_follow_the_allow_list() {
        let h = hosts(&[
            "tcp://127.0.0.1:5000",
            "udp://0.0.0.0:0",
            "udp://127.0.0.1:5300..5302",
            "*://10.0.0.0/8:*",
            "tcp://[::1]:7000",
        ]);
        let connect = SocketAddrUse::TcpConnect;
        assert!(permits(&h, addr("127.0.0.1:5000"), connect));
        assert!(!permits(&h, addr("127.0.0.1:5001"), connect));
        assert!(!permits(&h, addr("127.0.0.1:5300"), connect));
        assert!(permits(&h, addr("10.9.8.7:1"), connect));
        assert!(permits(&h, addr("[::1]:7000"), connect));
        assert!(permits(&h, addr("0.0.0.0:0"), SocketAddrUse::UdpBind));
        assert!(!permits(&h, addr("127.0.0.1:0"), SocketAddrUse::UdpBind));
        assert!(permits(&h, addr("127.0.0.1:5301"), SocketAddrUse::UdpSend));
        assert!(!permits(&h, addr("127.0.0.1:5302"), SocketAddrUse::UdpSend));
        assert!(!permits(&h, addr("127.0.0.1:5000"), SocketAddrUse::UdpSend));
    }

    #[test]
    fn http_entries_do_not_open_sockets_and_guests_cannot_listen() {
        let h = hosts(&["http://127.0.0.1:5000", "*://*:*"]);
        assert!(permits(&h, addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(!permits(&h, addr("127.0.0.1:8080"), SocketAddrUse::TcpBind));
        assert!(!permits(&h, addr("0.0.0.0:0"), SocketAddrUse::TcpListen));
        assert!(!permits(&h, addr("1.2.3.4:5"), SocketAddrUse::TcpAccept));
        let only_http = hosts(&["http://127.0.0.1:5000"]);
        assert!(!permits(
            &only_http,
            addr("127.0.0.1:5000"),
            SocketAddrUse::TcpConnect
        ));
    }
}
