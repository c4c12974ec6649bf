"""API-key authentication that never shows the key."""

from __future__ import annotations

from collections.abc import Generator

import httpx2
from pydantic import SecretStr

_KNOWN_PREFIXES = ("kros_live_", "kros_test_")


def mask_api_key(key: str | SecretStr | None) -> str:
    """A printable stand-in for a key: its environment prefix, never a secret character."""
    if key is None:
        return "<none>"
    value = key.get_secret_value() if isinstance(key, SecretStr) else key
    for prefix in _KNOWN_PREFIXES:
        if value.startswith(prefix):
            return f"{prefix}****"
    return "****"


class ApiKeyAuth(httpx2.Auth):
    """Adds `x-api-key` per request, so the key is absent from client headers and reprs."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["x-api-key"] = self._api_key.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyAuth({mask_api_key(self._api_key)})"
