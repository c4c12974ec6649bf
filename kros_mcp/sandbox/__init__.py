"""A local KrosAI-compatible API on SQLite: the default backend when no API key is set.

Its names are imported from their modules on first use, so that importing this package (the server
does, to reach the sandbox on demand) costs nothing until the sandbox is actually needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Sandbox, create_app
    from .db import KYC_STATES, SANDBOX_API_KEY, SandboxDB, SandboxError
    from .faults import FAULT_KINDS, ConnectionDropped, Fault
    from .inventory import BLOCKS, COUNTRIES, generate_inventory
    from .transport import LazySandbox, SandboxTransport

# Each exported name and the module that defines it.
_HOMES = {
    "Sandbox": "app",
    "create_app": "app",
    "KYC_STATES": "db",
    "SANDBOX_API_KEY": "db",
    "SandboxDB": "db",
    "SandboxError": "db",
    "FAULT_KINDS": "faults",
    "ConnectionDropped": "faults",
    "Fault": "faults",
    "BLOCKS": "inventory",
    "COUNTRIES": "inventory",
    "generate_inventory": "inventory",
    "LazySandbox": "transport",
    "SandboxTransport": "transport",
}

__all__ = [
    "BLOCKS",
    "COUNTRIES",
    "FAULT_KINDS",
    "KYC_STATES",
    "SANDBOX_API_KEY",
    "ConnectionDropped",
    "Fault",
    "LazySandbox",
    "Sandbox",
    "SandboxDB",
    "SandboxError",
    "SandboxTransport",
    "create_app",
    "generate_inventory",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups are plain attribute reads (and can be monkeypatched)
    return value
