"""An nginx configuration generated from a Kubernetes Ingress, as ingress-nginx would.

The through-the-Ingress test runs real nginx with this configuration, so what
it proves is what k8s/base/ingress.yaml says: the settings come from the
Ingress's `nginx.ingress.kubernetes.io/*` annotations (with the controller's
defaults where an annotation is absent), never from a second copy. An
annotation this module does not know is an error rather than silently
ignored, so the manifest and the test cannot drift apart.

Facts taken from ingress-nginx (controller v1.15, read for behaviour only):
- limit-rps / limit-rpm / limit-connections -> limit_req_zone / limit_conn_zone
  keyed by client address, burst = limit x limit-burst-multiplier (default 5),
  `limit_req ... nodelay`; refused requests get limit-req-status-code, whose
  controller default is 503.
- enable-cors: origins matched against cors-allow-origin ('*' in a host
  becomes one DNS label), preflight (OPTIONS) answered 204 by nginx itself,
  other requests get the CORS headers added; defaults for methods, headers,
  credentials (true) and max-age (1728000).
- proxy-body-size (default 1m), proxy-connect-timeout (5 s), proxy-send-timeout
  and proxy-read-timeout (60 s), proxy-next-upstream "error timeout" with 3
  tries, ssl-redirect (default true when the Ingress has TLS; code 308).
ingress-nginx sets CORS headers with the headers-more module; plain
`add_header ... always` gives the same headers here (our backends set none).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PREFIX = "nginx.ingress.kubernetes.io/"

# Controller defaults (ingress-nginx's ConfigMap defaults and annotation parsers).
DEFAULTS = {
    "limit-burst-multiplier": "5",
    "cors-allow-origin": "*",
    "cors-allow-methods": "GET, PUT, POST, DELETE, PATCH, OPTIONS",
    "cors-allow-headers": "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,"
                          "Cache-Control,Content-Type,Range,Authorization",
    "cors-allow-credentials": "true",
    "cors-max-age": "1728000",
    "proxy-body-size": "1m",
    "proxy-connect-timeout": "5",
    "proxy-send-timeout": "60",
    "proxy-read-timeout": "60",
    "proxy-next-upstream": "error timeout",
    "proxy-next-upstream-tries": "3",
}
LIMIT_REQ_STATUS_CODE = 503  # controller ConfigMap key limit-req-status-code
LIMIT_CONN_STATUS_CODE = 503  # controller ConfigMap key limit-conn-status-code
SSL_REDIRECT_CODE = 308  # controller ConfigMap key http-redirect-code

KNOWN = set(DEFAULTS) | {
    "limit-rps", "limit-rpm", "limit-connections",
    "enable-cors", "cors-expose-headers",
    "ssl-redirect", "force-ssl-redirect",
}


class UnsupportedAnnotation(ValueError):
    pass


@dataclass
class IngressSettings:
    """The annotations of one Ingress, with the controller's defaults filled in."""

    values: dict

    @classmethod
    def from_ingress(cls, ingress: dict) -> "IngressSettings":
        annotations = ingress.get("metadata", {}).get("annotations") or {}
        values = dict(DEFAULTS)
        for key, value in annotations.items():
            if not key.startswith(PREFIX):
                continue  # other controllers' annotations (cert-manager...) are not nginx's business
            name = key.removeprefix(PREFIX)
            if name not in KNOWN:
                raise UnsupportedAnnotation(
                    f"{key} is not modelled by tests/ingress/nginx_conf.py: "
                    "teach it this annotation so the test keeps matching the Ingress"
                )
            values[name] = str(value)
        return cls(values)

    def int(self, name: str) -> int:
        return int(self.values.get(name, "0") or "0")

    def flag(self, name: str, default: bool = False) -> bool:
        return self.values.get(name, str(default)).strip().lower() == "true"

    def origins(self) -> list[str]:
        return [o.strip() for o in self.values["cors-allow-origin"].split(",") if o.strip()]


def origin_regex(origins: list[str]) -> str:
    """ingress-nginx's origin matching: literal origins, the first '*' as one DNS label."""
    parts = []
    for origin in origins:
        escaped = re.escape(origin).replace(r"\*", r"[A-Za-z0-9\-]+", 1)
        parts.append(f"({escaped})")
    return "(" + "|".join(parts) + ")$"


def _cors_block(s: IngressSettings) -> list[str]:
    headers = [
        "add_header Access-Control-Allow-Origin $http_origin always;",
        f"add_header Access-Control-Allow-Methods '{s.values['cors-allow-methods']}' always;",
        f"add_header Access-Control-Allow-Headers '{s.values['cors-allow-headers']}' always;",
        f"add_header Access-Control-Max-Age {s.int('cors-max-age')} always;",
    ]
    if s.flag("cors-allow-credentials", True):
        headers.insert(1, "add_header Access-Control-Allow-Credentials true always;")
    if s.values.get("cors-expose-headers"):
        headers.append(f"add_header Access-Control-Expose-Headers '{s.values['cors-expose-headers']}' always;")
    origins = s.origins()
    lines = ['set $cors "";']
    if origins == ["*"]:
        lines.append('set $cors "true";')
        headers[0] = "add_header Access-Control-Allow-Origin * always;"
    else:
        lines.append(f'if ($http_origin ~* {origin_regex(origins)}) {{ set $cors "true"; }}')
    lines.append('if ($request_method = OPTIONS) { set $cors "${cors}options"; }')
    lines.append('if ($cors = "true") {')
    lines += ["    " + h for h in headers]
    lines.append("}")
    lines.append('if ($cors = "trueoptions") {')
    lines += ["    " + h for h in headers]
    lines += ["    return 204;", "}"]
    return lines


def _location_paths(path: str, path_type: str) -> list[str]:
    """nginx location blocks for one Ingress path (ingress-nginx's mapping)."""
    if path_type == "Exact":
        return [f"= {path}"]
    if path_type == "Prefix" and path != "/":
        trimmed = path.rstrip("/")
        return [f"= {trimmed}", f"{trimmed}/"]
    return [path]


def upstream_name(namespace: str, service: str, port) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{namespace}-{service}-{port}")


def render_nginx_conf(
    ingress: dict,
    *,
    endpoints: dict[tuple[str, int | str], list[str]],
    certificates: dict[str, tuple[Path, Path]],
    https_listen: str,
    http_listen: str | None,
    prefix: Path,
) -> str:
    """The nginx.conf for one Ingress.

    endpoints: (service name, service port) -> ["127.0.0.1:PORT", ...], i.e. what
    the Service's ClusterIP balances over. certificates: host -> (cert, key), the
    TLS secret's content. Listeners are "ADDR:PORT" strings (loopback in tests).
    """
    s = IngressSettings.from_ingress(ingress)
    meta = ingress["metadata"]
    namespace, name = meta.get("namespace", "default"), meta["name"]
    zone = re.sub(r"[^A-Za-z0-9_]", "_", f"{namespace}_{name}")
    spec = ingress["spec"]
    tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
    https_port = https_listen.rsplit(":", 1)[1]

    out = [
        "# Generated by tests/ingress/nginx_conf.py from Ingress "
        f"{namespace}/{name}; do not edit.",
    ]
    if os.geteuid() == 0:
        # Workers must read the test's private temp dir (certificates, prefix).
        out.append("user root;")
    out += [
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log warn;",
        "events { worker_connections 512; }",
        "http {",
        "    log_format upstreaminfo '$remote_addr \"$request\" $status \"$upstream_addr\"';",
        f"    access_log {prefix}/access.log upstreaminfo;",
        f"    client_body_temp_path {prefix}/client_body;",
        f"    proxy_temp_path {prefix}/proxy;",
        f"    fastcgi_temp_path {prefix}/fastcgi;",
        f"    uwsgi_temp_path {prefix}/uwsgi;",
        f"    scgi_temp_path {prefix}/scgi;",
        "    server_tokens off;",
        "    default_type application/octet-stream;",
        f"    limit_req_status {LIMIT_REQ_STATUS_CODE};",
        f"    limit_conn_status {LIMIT_CONN_STATUS_CODE};",
    ]

    limits = []
    if s.int("limit-connections"):
        out.append(f"    limit_conn_zone $binary_remote_addr zone={zone}_conn:5m;")
        limits.append(f"limit_conn {zone}_conn {s.int('limit-connections')};")
    for unit, key in (("s", "limit-rps"), ("m", "limit-rpm")):
        if s.int(key):
            out.append(f"    limit_req_zone $binary_remote_addr zone={zone}_{key[-3:]}:5m rate={s.int(key)}r/{unit};")
            burst = s.int(key) * s.int("limit-burst-multiplier")
            limits.append(f"limit_req zone={zone}_{key[-3:]} burst={burst} nodelay;")

    # One upstream per backend Service port: round robin over its endpoints,
    # as the Service (and ingress-nginx's default balancer) does.
    seen = set()
    for rule in spec.get("rules") or []:
        for p in (rule.get("http") or {}).get("paths") or []:
            svc = p["backend"]["service"]
            port = svc["port"].get("number", svc["port"].get("name"))
            up = upstream_name(namespace, svc["name"], port)
            if up in seen:
                continue
            seen.add(up)
            servers = endpoints.get((svc["name"], port))
            if not servers:
                raise ValueError(f"no endpoints given for Service {svc['name']}:{port}")
            out.append(f"    upstream {up} {{")
            out += [f"        server {addr};" for addr in servers]
            out += ["        keepalive 16;", "    }"]

    for rule in spec.get("rules") or []:
        host = rule.get("host", "_")
        tls = host in tls_hosts
        if tls and http_listen and s.flag("ssl-redirect", True):
            port_suffix = "" if https_port == "443" else f":{https_port}"
            out += [
                "    server {",
                f"        listen {http_listen};",
                f"        server_name {host};",
                f"        return {SSL_REDIRECT_CODE} https://$host{port_suffix}$request_uri;",
                "    }",
            ]
        elif http_listen:
            out += ["    server {", f"        listen {http_listen};", f"        server_name {host};"]
            out += _locations(rule, s, limits, namespace)
            out.append("    }")
        if tls:
            cert, key = certificates[host]
            out += [
                "    server {",
                f"        listen {https_listen} ssl;",
                f"        server_name {host};",
                f"        ssl_certificate {cert};",
                f"        ssl_certificate_key {key};",
                "        ssl_protocols TLSv1.2 TLSv1.3;",
            ]
            out += _locations(rule, s, limits, namespace)
            out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"


def _locations(rule: dict, s: IngressSettings, limits: list[str], namespace: str) -> list[str]:
    out = []
    for p in (rule.get("http") or {}).get("paths") or []:
        svc = p["backend"]["service"]
        port = svc["port"].get("number", svc["port"].get("name"))
        for loc in _location_paths(p.get("path", "/"), p.get("pathType", "Prefix")):
            body = []
            if s.flag("enable-cors"):
                body += _cors_block(s)
            body += limits
            body += [
                f"client_max_body_size {s.values['proxy-body-size']};",
                f"proxy_connect_timeout {s.int('proxy-connect-timeout')}s;",
                f"proxy_send_timeout {s.int('proxy-send-timeout')}s;",
                f"proxy_read_timeout {s.int('proxy-read-timeout')}s;",
                f"proxy_next_upstream {s.values['proxy-next-upstream']};",
                f"proxy_next_upstream_tries {s.int('proxy-next-upstream-tries')};",
                "proxy_buffering off;",
                "proxy_http_version 1.1;",
                'proxy_set_header Connection "";',
                "proxy_set_header Host $host;",
                "proxy_set_header X-Real-IP $remote_addr;",
                "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                "proxy_set_header X-Forwarded-Proto $scheme;",
                "proxy_set_header X-Forwarded-Host $host;",
                f"proxy_pass http://{upstream_name(namespace, svc['name'], port)};",
            ]
            out.append(f"        location {loc} {{")
            out += ["            " + line for line in body]
            out.append("        }")
    return out
