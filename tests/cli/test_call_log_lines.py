"""The per-call log line: written by a thread (a slow stderr never holds up the event loop), with
a unique call id and no thread or process lookups, and every queued line written at exit."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from kros_mcp.cli import logs
from kros_mcp.server.middleware.call_log import calls_log, log_tool_call


class RecordingStream(io.StringIO):
    """Remembers which threads wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[int] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.get_ident())
        return super().write(text)


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingStream]:
    """Where configure() sends log lines (pytest sets sys.stderr anew for each test phase, so it
    is replaced in the test itself)."""
    out = RecordingStream()
    out.monkeypatch = monkeypatch  # type: ignore[attr-defined]
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, calls_log.handlers[:], calls_log.propagate)
    yield out
    logs.configure_logging()  # stops the writing thread
    root.handlers[:], root.level = saved[0], saved[1]
    calls_log.handlers[:], calls_log.propagate = saved[2], saved[3]
    calls_log.setLevel(logging.NOTSET)


def configure(stream: RecordingStream, fmt: str, *, calls: bool) -> None:
    stream.monkeypatch.setattr(sys, "stderr", stream)  # type: ignore[attr-defined]
    logs.configure_logging(fmt, calls=calls)


def _flush() -> None:
    logs._stop_batcher()


def test_call_lines_are_written_by_another_thread_as_json(stream: RecordingStream) -> None:
    configure(stream, "json", calls=True)
    for i in range(50):
        log_tool_call("list_numbers", i, "t_abc", "ok", 0.0)
    log_tool_call("(unknown)", "r" * 500, "t_abc", "error", 0.0)
    _flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 51
    assert threading.get_ident() not in stream.writers
    ids = [line["call_id"] for line in lines]
    assert len(set(ids)) == 51 and all(len(i) == 16 for i in ids)
    assert lines[0]["message"] == "tool list_numbers ok" and lines[0]["request_id"] == "0"
    assert lines[-1]["tool"] == "(unknown)" and len(lines[-1]["request_id"]) == 64


def test_other_lines_are_still_written_where_they_are_logged(stream: RecordingStream) -> None:
    configure(stream, "text", calls=True)
    logging.getLogger("kros_mcp.server").warning("store slow")
    assert stream.getvalue() == "WARNING kros_mcp.server: store slow\n"
    assert stream.writers == {threading.get_ident()}


def test_records_do_not_look_up_threads_or_processes(stream: RecordingStream) -> None:
    configure(stream, "text", calls=False)
    record = logging.getLogger("kros_mcp").makeRecord(
        "kros_mcp", logging.INFO, "", 0, "m", (), None
    )
    assert record.thread is None and record.process is None and record.processName is None


def test_queued_lines_are_written_before_the_process_exits() -> None:
    code = (
        "from kros_mcp.cli.logs import configure_logging\n"
        "from kros_mcp.server.middleware.call_log import log_tool_call\n"
        "configure_logging('text', calls=True)\n"
        "for i in range(200): log_tool_call('get_number', i, 't', 'ok', 0.0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr.count("INFO kros_mcp.calls: tool get_number ok") == 200, done.stderr[-500:]
