"""KrosAI clients on a sandbox app in this process, with retry rules fast enough for tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from kros_mcp.krosai import KrosAIClient, ReconcilePolicy, RetryPolicy
from kros_mcp.sandbox import SANDBOX_API_KEY, SandboxTransport

__all__ = ["FAST_RECONCILE", "FAST_RETRY", "RunningSandbox", "make_client"]

FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, deadline=10.0)
FAST_RECONCILE = ReconcilePolicy(scan_delays=(0.0, 0.05))


def make_client(app: Starlette, api_key: str = SANDBOX_API_KEY, **kwargs: Any) -> KrosAIClient:
    """A KrosAI client that reaches `app` in-process."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("reconcile", FAST_RECONCILE)
    return KrosAIClient(
        api_key, base_url="http://sandbox.test/v1", transport=SandboxTransport(app), **kwargs
    )


@dataclass
class RunningSandbox:
    """A sandbox app served on a real socket."""

    app: Starlette
    base_url: str  # ends in /v1
    root: str
