"""Turns TCP_NODELAY back on for uvicorn's multi-worker mode (uvicorn issue #3149).

With `--workers` above 1, uvicorn binds the listening socket itself with `proto` 0;
accepted sockets inherit it and asyncio then skips TCP_NODELAY, so every keep-alive
request after the first waits for a delayed ACK (~40 ms on Linux). Placed on
PYTHONPATH for the "nodelay-fixed" peer variants only; the default variants run as
their users run them.
"""

import socket

try:
    import uvicorn.config as _config
except ImportError:  # not a uvicorn process
    _config = None

if _config is not None:
    _bind_socket = _config.Config.bind_socket

    def _bind_socket_tcp(self):
        sock = _bind_socket(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock

    _config.Config.bind_socket = _bind_socket_tcp
