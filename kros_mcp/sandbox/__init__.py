"""A local KrosAI-compatible API on SQLite: the default backend when no API key is set."""

from .app import Sandbox, create_app
from .db import KYC_STATES, SANDBOX_API_KEY, SandboxDB, SandboxError
from .faults import FAULT_KINDS, ConnectionDropped, Fault
from .inventory import BLOCKS, COUNTRIES, generate_inventory
from .transport import SandboxTransport

__all__ = [
    "BLOCKS",
    "COUNTRIES",
    "ConnectionDropped",
    "FAULT_KINDS",
    "Fault",
    "KYC_STATES",
    "SANDBOX_API_KEY",
    "Sandbox",
    "SandboxDB",
    "SandboxError",
    "SandboxTransport",
    "create_app",
    "generate_inventory",
]
