"""Helpers for serving the sandbox on a real socket."""

from __future__ import annotations

import logging

from .faults import ConnectionDropped


class _DroppedConnectionFilter(logging.Filter):
    """A dropped-connection fault is deliberate: log one line instead of a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ConnectionDropped):
            logging.getLogger("kros_mcp.sandbox").info(
                "fault: dropped a connection after the write"
            )
            return False
        return True


def quiet_dropped_connections() -> None:
    logging.getLogger("uvicorn.error").addFilter(_DroppedConnectionFilter())
