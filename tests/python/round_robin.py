"""A round-robin HTTP proxy for the tests: one 127.0.0.1 port in front of several
`spinflow up` replicas, each request going to the next replica in turn, as a Kubernetes
Service spreads requests over pods. Bodies pass through byte for byte (compressed ones
stay compressed); it counts the requests each replica answered."""

import http.client
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Headers of one connection, not of the request (RFC 9110 §7.6.1), and the framing the
# proxy sets itself.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length", "host"}


class RoundRobinProxy:
    """`with RoundRobinProxy(["http://127.0.0.1:a", "http://127.0.0.1:b"]) as proxy:`
    serves `proxy.url`; `proxy.answered` counts the requests per replica."""

    def __init__(self, backends):
        self.backends = [b.removeprefix("http://").rstrip("/") for b in backends]
        self.answered = {b: 0 for b in self.backends}
        self._next = itertools.cycle(self.backends)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body = self._body()
                with proxy._lock:
                    backend = next(proxy._next)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(backend, timeout=300)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    payload = answer.read()
                except OSError as e:
                    # The replica is gone (killed by a test): as a load balancer would.
                    payload = f"replica {backend} unreachable: {e}".encode()
                    self.send_response(502)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                finally:
                    conn.close()
                with proxy._lock:
                    proxy.answered[backend] += 1
                self.send_response(answer.status, answer.reason)
                for k, v in answer.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
