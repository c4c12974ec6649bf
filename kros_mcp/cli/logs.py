"""Logging to stderr (on stdio, stdout is the protocol), as text or as JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time

__all__ = ["configure_logging"]

# Fields that call logs attach with `extra=`; anything else stays out of the JSON object.
_FIELDS = ("call_id", "request_id", "tenant", "tool", "outcome", "latency_ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in _FIELDS if hasattr(record, k)})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__  # the type only: tracebacks can carry data
        return json.dumps(entry, separators=(",", ":"))


class _ClientGoneFilter(logging.Filter):
    """A client hanging up mid-request is its business: one line, not an ERROR with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ == "ClientDisconnect":
            logging.getLogger("kros_mcp.server").info("a client disconnected mid-request")
            return False
        return True


def configure_logging(fmt: str = "text", *, calls: bool = False) -> None:
    """Warnings and kros_mcp's own info lines to stderr; `calls` adds one line per tool call."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("kros_mcp").setLevel(logging.INFO)
    logging.getLogger("kros_mcp.calls").setLevel(logging.INFO if calls else logging.WARNING)
    handler.addFilter(_ClientGoneFilter())
