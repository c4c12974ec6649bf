"""The `kros` fixture's type: `tests.support.http_servers.run_kros` bound to the test's data
directory (a clean environment: its own data directory and HOME, no KrosAI key)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

Run = Callable[..., subprocess.CompletedProcess[str]]
