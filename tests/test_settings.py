"""Settings as read from the environment."""

from __future__ import annotations

import pytest

from kros_mcp.config import Settings


@pytest.mark.parametrize(
    "raw", ["kros_live_abc123\n", "  kros_live_abc123 ", "\tkros_live_abc123\r\n"]
)
def test_a_pasted_key_loses_the_whitespace_around_it(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KROSAI_API_KEY", raw)
    key = Settings().krosai_api_key
    assert key is not None and key.get_secret_value() == "kros_live_abc123"


def test_a_blank_key_means_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KROSAI_API_KEY", "   ")
    assert Settings().krosai_api_key is None


def test_misspelt_settings_are_named_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    from kros_mcp.config import unknown_variables

    monkeypatch.setenv("KROS_MCP_READONLY", "1")
    monkeypatch.setenv("KROSAI_APIKEY", "x")
    monkeypatch.setenv(
        "KROS_MCP_TEST_POSTGRES_URL", "postgresql://x"
    )  # the tests' own: not a setting
    monkeypatch.setenv("KROS_MCP_READ_ONLY", "1")
    assert unknown_variables() == [
        "KROSAI_APIKEY (did you mean KROSAI_API_KEY?)",
        "KROS_MCP_READONLY (did you mean KROS_MCP_READ_ONLY?)",
    ]
