"""Connections to a server bound by kros-mcp send small writes at once (TCP_NODELAY): without it a
response written in two parts waited for the client's delayed acknowledgement, 40 ms a request."""

from __future__ import annotations

import socket

from kros_mcp.cli.listen import bind


def test_accepted_connections_have_nodelay() -> None:
    listener = bind("127.0.0.1", 0, "serve")
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with socket.create_connection(listener.getsockname()[:2], timeout=5):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()
