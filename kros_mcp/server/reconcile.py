"""Recovery wired to the server: settle unfinished writes at start, and sweep while running."""

from __future__ import annotations

from ..krosai import KrosAIClient
from ..safety import THIS_PROCESS, Scope, Sweep, reconcile
from .deps import Deps
from .guard import scope_of

__all__ = ["reconcile_unfinished", "sweep_for"]


def _grace(deps: Deps) -> float:
    # A call lasts at most its deadline (twice: a purchase and its checks) plus the purchase
    # reconciliation's own limit.
    return deps.settings.krosai_deadline * 2 + deps.client.reconcile.max_seconds


def sweep_for(deps: Deps) -> Sweep:
    """The recovery sweep for these dependencies: every tenant it has a client for."""

    def targets() -> list[tuple[Scope, KrosAIClient]]:
        if deps.tenants is None:
            return [(scope_of(deps), deps.client)]
        return [(scope_of(deps.for_api_key(key)), client) for key, client in deps.tenants.active()]

    settings = deps.settings
    return Sweep(
        store=deps.store,
        targets=targets,
        process=THIS_PROCESS,
        interval=settings.sweep_interval,
        grace=_grace(deps),
        audit_days=settings.audit_retention_days,
        request_days=settings.request_retention_days,
    )


async def reconcile_unfinished(deps: Deps) -> int:
    """Settle every unfinished write of this tenant now; returns how many were settled."""
    sweep = sweep_for(deps)
    return await reconcile(
        scope_of(deps), deps.client, grace=sweep.grace, lease=sweep.lease, at_start=True
    )
