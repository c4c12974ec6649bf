"""Logging to stderr (on stdio, stdout is the protocol), as text or as JSON lines.

Over HTTP every tool call logs a line. Those lines are handed to a thread that formats and writes
them, so that a slow stderr (a pipe a log collector drains late) never stalls the event loop;
everything else is written where it is logged. No record looks up its thread or process.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import time
from logging.handlers import QueueHandler, QueueListener
from queue import SimpleQueue

__all__ = ["configure_logging"]

_listener: QueueListener | None = None

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


class _RecordQueueHandler(QueueHandler):
    """Queues the record as it is: the listener's handler formats it, in the listener's thread.
    (QueueHandler.prepare would format it here, on the event loop, and copy it.)"""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def _stop_listener() -> None:
    """Write what is queued and stop the writing thread (at exit, or before a new one)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def _write_calls_from_a_thread(calls: logging.Logger, handler: logging.Handler) -> None:
    global _listener
    _stop_listener()
    queue: SimpleQueue[logging.LogRecord] = SimpleQueue()
    _listener = QueueListener(queue, handler)
    calls.handlers[:] = [_RecordQueueHandler(queue)]
    calls.propagate = False
    _listener.start()


atexit.register(_stop_listener)


def configure_logging(fmt: str = "text", *, calls: bool = False) -> None:
    """Warnings and kros_mcp's own info lines to stderr; `calls` adds one line per tool call."""
    # Thread, process and multiprocessing names are in no format here: don't look them up.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
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
    handler.addFilter(_ClientGoneFilter())
    call_lines = logging.getLogger("kros_mcp.calls")
    call_lines.setLevel(logging.INFO if calls else logging.WARNING)
    if calls:
        _write_calls_from_a_thread(call_lines, handler)
    else:
        _stop_listener()
        call_lines.handlers.clear()
        call_lines.propagate = True
