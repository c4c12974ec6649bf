from __future__ import annotations

import logging

import pytest
from mcp.types import CallToolResult, InputRequiredResult

from kros_mcp.server.middleware import CallLog
from kros_mcp.server.tools import TOOL_NAMES

from .calls import Handler, call_for, ok

pytestmark = pytest.mark.anyio


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "kros_mcp.calls"]


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (ok(), "ok"),
        (CallToolResult(content=[], is_error=True), "error"),
        (InputRequiredResult(request_state="sealed"), "input_required"),
    ],
)
async def test_one_record_per_call_with_its_outcome(
    caplog: pytest.LogCaptureFixture, result: object, outcome: str
) -> None:
    caplog.set_level(logging.INFO, logger="kros_mcp.calls")
    await CallLog(TOOL_NAMES)(call_for("t_a", "get_number"), Handler(result))
    (record,) = _records(caplog)
    assert (record.tool, record.outcome, record.tenant) == ("get_number", outcome, "t_a")  # type: ignore[attr-defined]
    assert record.latency_ms >= 0 and len(record.call_id) == 16  # type: ignore[attr-defined]


async def test_a_call_that_raises_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kros_mcp.calls")
    with pytest.raises(RuntimeError):
        await CallLog(TOOL_NAMES)(call_for(), Handler(RuntimeError("boom")))
    assert [r.outcome for r in _records(caplog)] == ["error"]  # type: ignore[attr-defined]


async def test_a_name_that_is_no_tool_is_not_logged_as_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="kros_mcp.calls")
    forged = "list_numbers ok\n2026-01-01 tool purchase_number ok"
    await CallLog(TOOL_NAMES)(call_for(name=forged), Handler())
    (record,) = _records(caplog)
    assert record.tool == "(unknown)" and forged not in record.getMessage()  # type: ignore[attr-defined]


async def test_nothing_is_built_when_call_logging_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kros_mcp.calls")
    handler = Handler()
    await CallLog(TOOL_NAMES)(call_for(), handler)
    assert _records(caplog) == [] and len(handler.calls) == 1
