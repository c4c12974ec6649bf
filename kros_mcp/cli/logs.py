"""Logging to stderr (on stdio, stdout is the protocol), as text or as JSON lines.

Over HTTP every tool call logs a line. The event loop only appends the record to a list; a
thread wakes every few hundredths of a second, formats what has gathered and writes it in one
go. So a slow stderr (a pipe a log collector drains late) never stalls the event loop, and under
load a line costs neither a write nor a thread switch of its own. Everything else is written
where it is logged. No record looks up its thread or process.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from collections import deque

__all__ = ["configure_logging"]

BATCH_SECONDS = 0.05  # how long a call line may wait to be written

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


class _BatchingHandler(logging.Handler):
    """Gathers records; a thread of its own writes them through `target` in batches."""

    def __init__(self, target: logging.StreamHandler) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.target = target
        self._pending: deque[logging.LogRecord] = deque()
        self._stopping = threading.Event()
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kros-mcp call log", daemon=True)
        self._thread.start()

    def handle(self, record: logging.LogRecord) -> bool:
        # No lock and no formatting on the caller's side: deque.append is atomic.
        self._pending.append(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.append(record)

    def _run(self) -> None:
        while not self._stopping.wait(BATCH_SECONDS):
            self.write_pending()
        self.write_pending()

    def write_pending(self) -> None:
        with self._writing:
            lines = []
            while self._pending:
                record = self._pending.popleft()
                if self.target.filter(record):
                    lines.append(self.target.format(record) + "\n")
            if lines:
                with self.target.lock or _NO_LOCK:
                    self.target.stream.write("".join(lines))
                    self.target.flush()

    def flush(self) -> None:
        self.write_pending()

    def stop(self) -> None:
        """Write what has gathered and stop the thread. (Not close(): logging.config closes
        every handler when uvicorn configures its loggers, and this one must go on.)"""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.write_pending()


_NO_LOCK = threading.Lock()
_batcher: _BatchingHandler | None = None


def _stop_batcher() -> None:
    """Write what has gathered and stop the writing thread (at exit, or before a new one)."""
    global _batcher
    if _batcher is not None:
        _batcher.stop()
        _batcher = None


atexit.register(_stop_batcher)


def configure_logging(fmt: str = "text", *, calls: bool = False) -> None:
    """Warnings and kros_mcp's own info lines to stderr; `calls` adds one line per tool call."""
    global _batcher
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
    _stop_batcher()
    if calls:
        _batcher = _BatchingHandler(handler)
        call_lines.handlers[:] = [_batcher]
        call_lines.propagate = False
    else:
        call_lines.handlers.clear()
        call_lines.propagate = True
