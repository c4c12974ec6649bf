"""This server process, as recovery sees it: a random id, and the writes it has in flight.

Audit entries name the process that wrote them by this id only; where the process runs (host and
pid) is kept apart, in the state store's process table, for telling a crashed process from a live
one, and is never shown with the audit trail.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field

__all__ = ["THIS_PROCESS", "ProcessIdentity"]


@dataclass
class ProcessIdentity:
    """A server process: its id, where it runs, and the audit ids of the writes it is making."""

    id: str
    host: str
    pid: int
    in_flight: set[str] = field(default_factory=set)

    @classmethod
    def new(cls) -> ProcessIdentity:
        return cls(f"p_{secrets.token_hex(8)}", socket.gethostname(), os.getpid())


THIS_PROCESS = ProcessIdentity.new()
