"""Listening on a port: bind first, say so only once bound, then hand the socket to uvicorn."""

from __future__ import annotations

import errno
import socket
from typing import Any

__all__ = ["bind", "serve_on"]

BACKLOG = 2048  # uvicorn's default


def bind(host: str, port: int, command: str) -> socket.socket:
    """A listening socket on host:port; on failure, exit with one line saying why and what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use (another process listens there); stop it or choose another --port"
        elif exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
            reason = f"{host} is not an address of this machine; choose another --host"
        elif exc.errno == errno.EACCES:
            reason = "permission denied (ports below 1024 need privileges); choose another --port"
        else:
            reason = exc.strerror or str(exc)
        raise SystemExit(f"kros-mcp {command}: cannot listen on {host}:{port}: {reason}") from None
    # Accepted connections inherit it. asyncio sets it only on sockets it made itself (it checks
    # the protocol number, which create_server leaves 0): without it a response written in two
    # parts waits for the client's delayed acknowledgement, 40 ms a request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve_on(sock: socket.socket, app: Any, **options: Any) -> None:
    """Run `app` with uvicorn on the already bound `sock` (options as for uvicorn.Config)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **options))
    server.run(sockets=[sock])
    if not server.started:  # the application's start-up failed; uvicorn has logged why
        raise SystemExit(3)
