"""Settings as read from the environment."""

from __future__ import annotations

import pytest

from kros_mcp.config import Settings


@pytest.mark.parametrize("raw", ["kros_live_abc123\n", "  kros_live_abc123 ", "\tkros_live_abc123\r\n"])
def test_a_pasted_key_loses_the_whitespace_around_it(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KROSAI_API_KEY", raw)
    key = Settings().krosai_api_key
    assert key is not None and key.get_secret_value() == "kros_live_abc123"


def test_a_blank_key_means_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KROSAI_API_KEY", "   ")
    assert Settings().krosai_api_key is None
