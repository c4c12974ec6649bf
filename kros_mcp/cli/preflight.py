"""Checks a command makes before it starts, so a first run fails with one line that says what to fix."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..config import Settings

__all__ = ["data_dir_problem", "require_data_dir", "uses_data_dir"]


def uses_data_dir(settings: Settings) -> bool:
    """Whether anything lives in the data directory: the sandbox, SQLite state or the key file."""
    return (
        settings.uses_sandbox
        or not settings.state_url
        or (settings.secret is None and settings.secret_file is None)
    )


def data_dir_problem(path: Path) -> str | None:
    """Why `path` cannot hold kros-mcp's files (created if missing), or None when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Permission bits say little (root ignores them, read-only mounts do not show): write.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".kros-mcp-probe-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def require_data_dir(settings: Settings, command: str) -> None:
    """Exit with one line naming the directory and the setting when the data directory is unusable."""
    if not uses_data_dir(settings):
        return
    problem = data_dir_problem(settings.data_dir)
    if problem is not None:
        raise SystemExit(
            f"kros-mcp {command}: the data directory {settings.data_dir} cannot be used "
            f"({problem}): set KROS_MCP_DATA_DIR to a writable directory"
        )
