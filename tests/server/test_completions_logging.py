"""completion/complete, logging/setLevel and log and progress notifications during KrosAI work,
prompts/get errors, and the errors for a KrosAI that cannot be reached or that hangs."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import (
    INVALID_PARAMS,
    LoggingMessageNotificationParams,
    PromptReference,
    ResourceTemplateReference,
)

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.krosai import BaseURLError
from kros_mcp.server.completions import MAX_VALUES
from kros_mcp.server.errors import to_tool_error
from tests.support.harness import Harness, Session, assert_clean_error

pytestmark = pytest.mark.anyio

PROVISION = PromptReference(type="ref/prompt", name="provision_number")
NUMBER_TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="kros://phone-numbers/{id}")


async def _complete(s: Session, ref: Any, name: str, value: str) -> Any:
    result = await s.client.complete(ref, {"name": name, "value": value})
    return result.completion


async def test_completion_is_advertised_and_completes_prompt_arguments(harness: Harness) -> None:
    async with harness.connect() as s:
        countries = await _complete(s, PROVISION, "country", "")
        assert countries.values == ["NG", "KE", "GH", "RW", "EG", "AE"]
        assert (await _complete(s, PROVISION, "country", "k")).values == ["KE"]
        assert (await _complete(s, PROVISION, "country", "Nig")).values == ["NG"]
        assert (await _complete(s, PROVISION, "type", "to")).values == ["toll_free"]
        endpoints = await _complete(s, PROVISION, "endpoint_id", "ep_")
        assert endpoints.values == ["ep_support_agent", "ep_webhook_handler"]
        unknown = await s.client.complete(
            PromptReference(type="ref/prompt", name="test_prompt"), {"name": "x", "value": "a"}
        )
        assert unknown.completion.values == []


async def test_completion_offers_owned_number_ids_and_numbers(harness: Harness) -> None:
    async with harness.connect() as s:
        bought = [await s.sandbox_buy("NG"), await s.sandbox_buy("KE")]
        ids = await _complete(s, NUMBER_TEMPLATE, "id", "pn_")
        assert sorted(ids.values) == sorted(b["id"] for b in bought)
        kenyan = await _complete(s, NUMBER_TEMPLATE, "id", "+254")
        assert kenyan.values == [bought[1]["number"]]
        # The resource reads by E.164 as well as by id.
        read = await s.client.read_resource(f"kros://phone-numbers/{bought[1]['number']}")
        assert bought[1]["id"] in read.contents[0].text  # type: ignore[union-attr]


async def test_completion_is_scoped_to_the_callers_organisation_and_capped(
    harness: Harness,
) -> None:
    async with harness.connect() as s:
        await s.sandbox_buy("NG")
        await s.sandbox("PUT", "/_sandbox/rate-limits", {"default": 10_000})
        other = await s.sandbox("POST", "/_sandbox/orgs", {"balance_cents": 10**9})
        many = [
            await s.sandbox(
                "POST", "/v1/endpoints", {"name": f"E{i}", "type": "webhook"}, key=other["api_key"]
            )
            for i in range(MAX_VALUES + 5)
        ]
    theirs = Harness(harness.data_dir.parent / "other", harness.mode, harness.opened)
    theirs.configure(KROS_MCP_SANDBOX_KEY=other["api_key"], KROS_MCP_DATA_DIR=harness.data_dir)
    async with theirs.connect() as t:
        endpoints = await _complete(t, PROVISION, "endpoint_id", "")
        assert len(endpoints.values) == MAX_VALUES and endpoints.has_more is True
        assert endpoints.total == len(many) + 2
        assert await _complete(t, NUMBER_TEMPLATE, "id", "") is not None
        assert (await _complete(t, NUMBER_TEMPLATE, "id", "pn_")).values == []


async def test_completion_values_are_cached_briefly(harness: Harness) -> None:
    async with harness.connect() as s:
        first = await _complete(s, PROVISION, "endpoint_id", "")
        await s.sandbox("POST", "/v1/endpoints", {"name": "New", "type": "webhook"})
        again = await _complete(s, PROVISION, "endpoint_id", "")
        assert again.values == first.values  # within the cache time: no new KrosAI call


async def test_prompts_get_errors_are_invalid_params_without_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness.connect() as s:
        with pytest.raises(MCPError) as unknown:
            await s.client.get_prompt("nope", {})
        assert unknown.value.error.code == INVALID_PARAMS
        assert "Unknown prompt 'nope'" in unknown.value.error.message
        assert "provision_number" in unknown.value.error.message
        with pytest.raises(MCPError) as missing:
            await s.client.get_prompt("provision_number", {"country": "NG"})
        assert missing.value.error.code == INVALID_PARAMS
        assert "endpoint_id" in missing.value.error.message
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)


async def test_logging_level_and_notifications_during_retries(harness: Harness) -> None:
    heard: list[LoggingMessageNotificationParams] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        heard.append(params)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    harness.configure(KROS_MCP_CONFIRMATION="none")
    options: dict[str, Any] = {"logging_callback": on_log}
    if harness.mode == "auto":
        options["log_level"] = "info"  # 2026-07-28: the request opts in
    async with harness.connect(**options) as s:
        s.fast_retries()
        offer = await s.offer("NG")
        await s.fault("rate_limit", "purchase")
        bought = await s.client.call_tool(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            progress_callback=on_progress,
        )
        assert bought.is_error is False
        assert [h.logger for h in heard] == ["kros_mcp.krosai"]
        assert heard[0].level == "info" and "rate-limited the purchase" in str(heard[0].data)
        assert progress and progress[0][0] == 1 and "retry 1" in (progress[0][2] or "")
        if harness.mode == "legacy":
            await s.client.set_logging_level("warning")
            await s.fault("error_before", "list", status=503)
            await s.ok("list_numbers")
            assert len(heard) == 1  # a retry is info, below the level asked for


async def test_reconciliation_is_reported_as_it_happens(harness: Harness) -> None:
    heard: list[LoggingMessageNotificationParams] = []
    progress: list[str | None] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        heard.append(params)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    harness.configure(KROS_MCP_CONFIRMATION="none")
    options: dict[str, Any] = {"logging_callback": on_log}
    if harness.mode == "auto":
        options["log_level"] = "debug"
    async with harness.connect(**options) as s:
        offer = await s.offer("NG")
        await s.fault("drop_after", "purchase")
        result = await s.client.call_tool(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            progress_callback=on_progress,
        )
        assert result.is_error is False
        assert "warning" in [h.level for h in heard]
        assert any("checking owned numbers" in (m or "") for m in progress)
        assert any("bought as pn_" in (m or "") for m in progress)


async def test_logging_capability_is_advertised_to_2025_clients(harness: Harness) -> None:
    if harness.mode != "legacy":
        pytest.skip("logging/setLevel is a 2025-era request")
    async with harness.connect() as s:
        caps = s.client.session.server_capabilities  # type: ignore[attr-defined]
        assert caps is not None and caps.logging is not None and caps.completions is not None
        assert await s.client.set_logging_level("debug") is not None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_krosai_names_the_network_and_the_base_url(
    tmp_path: Any, mode: str
) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/v1"
    settings = Settings(
        KROS_MCP_DATA_DIR=tmp_path, KROSAI_API_KEY="kros_live_" + "0" * 32, KROSAI_BASE_URL=base
    )
    async with Client(build_server(settings), mode=mode) as client:
        result = await client.call_tool("list_numbers", {})
    text = assert_clean_error(result, "unreachable", "refused", "network", "KROSAI_BASE_URL", base)
    assert "Try again in a minute" not in text


def test_a_base_url_without_its_version_is_explained_to_the_model() -> None:
    cause = BaseURLError(
        "https://api.krosai.com answered 404 for GET /phone-numbers, a route KrosAI always has: "
        "the base URL looks wrong: it has no version path",
        base_url="https://api.krosai.com",
    )
    text = str(to_tool_error(cause))
    assert "KROSAI_BASE_URL" in text and "version path" in text and "NOT_FOUND" not in text
    assert "list_numbers" not in text


async def test_a_hanging_krosai_gets_the_servers_explanation_within_the_deadline(
    harness: Harness,
) -> None:
    """KROSAI_DEADLINE bounds a tool call's KrosAI time (45 s by default, under a 60 s client
    timeout); here 1.5 s against a sandbox that takes 30 s to answer."""
    harness.configure(KROSAI_DEADLINE=1.5)
    async with harness.connect() as s:
        await s.sandbox(
            "POST",
            "/_sandbox/faults",
            {"kind": "latency", "operation": "*", "seconds": 30, "times": None},
        )
        started = time.monotonic()
        result = await s.call("search_available", {"country": "NG"})
        elapsed = time.monotonic() - started
    assert elapsed < 5
    assert_clean_error(result, "did not answer", "before the deadline")


def test_the_default_deadline_sits_well_below_a_60_second_client_timeout() -> None:
    assert Settings().krosai_deadline <= 45
