"""Multi-tenant mode: each caller presents its own KrosAI key.

A key is served only once KrosAI has accepted it: the first request with a new key costs one cheap
read upstream (one page of one owned number), and the verdict, accepted or refused, is remembered
for a while (bounded, with a TTL) under the key's hash, never the key. Until then the caller gets
401 and nothing else: no session, no resource, no prompt.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from cachetools import TTLCache
from pydantic import SecretStr

from ..krosai import KrosAIClient
from ..krosai._singleflight import SingleFlight
from ..krosai.errors import AuthenticationError, PermissionDeniedError
from ..store import tenant_key

__all__ = ["TenantClients", "TenantKeys", "Verdict"]

log = logging.getLogger("kros_mcp.server")

Verdict = Literal["accepted", "refused"]


class TenantClients:
    """One KrosAI client per presented key, sharing one connection pool.

    Keys live only in memory, for as long as their client is among the most recently used."""

    def __init__(self, factory: Callable[[str | SecretStr], KrosAIClient], size: int = 256) -> None:
        self._factory = factory
        self._size = size
        self._clients: OrderedDict[str, KrosAIClient] = OrderedDict()
        self.reconciled: set[str] = set()

    def get(self, api_key: str) -> KrosAIClient:
        client = self._clients.get(api_key)
        if client is None:
            client = self._clients[api_key] = self._factory(api_key)
            while len(self._clients) > self._size:
                # Clients share the pool's transport, so dropping one closes no connection.
                self._clients.popitem(last=False)
        self._clients.move_to_end(api_key)
        return client

    def active(self) -> list[tuple[str, KrosAIClient]]:
        """The keys (and their clients) seen lately, for the recovery sweep."""
        return list(self._clients.items())


class VerificationUnavailable(Exception):
    """KrosAI could not say whether a key is good (unreachable, or answering with errors)."""


class TenantKeys:
    """Which presented keys KrosAI accepts, asked once per key and remembered for a while."""

    def __init__(
        self,
        clients: TenantClients,
        *,
        accepted_ttl: float = 300.0,
        refused_ttl: float = 60.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._accepted: TTLCache[str, bool] = TTLCache(size, accepted_ttl, timer=clock)
        self._refused: TTLCache[str, bool] = TTLCache(size, refused_ttl, timer=clock)
        self._checks: SingleFlight[Verdict] = SingleFlight()
        self.upstream_checks = 0  # how many times KrosAI was asked (for tests and diagnostics)

    def known(self, api_key: str) -> Verdict | None:
        """The remembered verdict for a key, without asking anyone."""
        tenant = tenant_key(api_key)
        if tenant in self._accepted:
            return "accepted"
        return "refused" if tenant in self._refused else None

    async def verify(self, api_key: str) -> Verdict:
        """Accepted or refused. Raises VerificationUnavailable when KrosAI cannot tell now."""
        verdict = self.known(api_key)
        if verdict is not None:
            return verdict
        return await self._checks.run(tenant_key(api_key), lambda: self._ask(api_key))

    async def _ask(self, api_key: str) -> Verdict:
        tenant = tenant_key(api_key)
        self.upstream_checks += 1
        try:
            await self._clients.get(api_key).list_numbers(limit=1)
        except (AuthenticationError, PermissionDeniedError):
            self._refused[tenant] = True
            self._accepted.pop(tenant, None)
            log.info("tenant key refused by KrosAI", extra={"tenant": tenant})
            return "refused"
        except Exception as exc:  # noqa: BLE001 - any other failure leaves the key undecided
            raise VerificationUnavailable(type(exc).__name__) from None
        self._accepted[tenant] = True
        self._refused.pop(tenant, None)
        return "accepted"


async def own_protected_numbers(client: KrosAIClient, protected: frozenset[str]) -> list[str]:
    """The protected entries (as the policy holds them: ids, or E.164) that name one of the numbers
    of the organisation behind `client`: a tenant is shown only what applies to it."""
    from ..krosai import e164

    if not protected:
        return []
    found: set[str] = set()
    async for owned in client.iter_numbers():
        found.update(p for p in (owned.id, e164(owned.number, valid=False)) if p in protected)
    return sorted(found)
