"""The MCP Bundle through the official MCPB CLI (`@anthropic-ai/mcpb` from npm) and started as a host
starts a `uv` bundle: `mcpb validate` accepts the manifest, `mcpb pack` packs the staged files into
the same bundle our build writes, `mcpb unpack` opens ours, and `uv run` (the manifest's command)
installs the dependencies from the index on this machine and serves `tools/list` over stdio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from kros_mcp.server import TOOL_NAMES

from .tools import MCPB_CLI, npm_package, python_tools, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
MCP_DIR = ROOT / "manifests" / "mcp"


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def mcpb() -> str:
    name, version = MCPB_CLI
    return str(npm_package(name, version) / "node_modules" / ".bin" / "mcpb")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(our .mcpb, the directory of its staged files)."""
    out = tmp_path_factory.mktemp("bundle")
    command = [sys.executable, str(MCP_DIR / "build_bundle.py"), "--out", str(out)]
    done = _run([*command, "--stage", str(out / "stage")])
    return Path(done.stdout.strip()), out / "stage"


def test_official_cli_validates_the_manifest(mcpb: str) -> None:
    done = _run([mcpb, "validate", str(MCP_DIR / "manifest.json")], env=tool_env())
    assert "validation passes" in done.stdout


def test_official_cli_packs_what_we_pack(
    mcpb: str, built: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, staged = built
    official = tmp_path / "official.mcpb"
    done = _run([mcpb, "pack", str(staged), str(official)], env=tool_env())
    assert "validation passes" in done.stdout and "ignored (.mcpbignore) files: 0" in done.stdout
    with zipfile.ZipFile(official) as theirs, zipfile.ZipFile(bundle) as ours:
        assert sorted(theirs.namelist()) == ours.namelist()
        for name in ours.namelist():
            assert theirs.read(name) == ours.read(name), name


@pytest.fixture(scope="module")
def unpacked(mcpb: str, built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our bundle opened by the official CLI, as a host installs it."""
    target = tmp_path_factory.mktemp("installed") / "kros-mcp"
    _run([mcpb, "unpack", str(built[0]), str(target)], env=tool_env())
    return target


async def _tools_over_stdio(params: StdioServerParameters, stderr: Path) -> list[str]:
    with stderr.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listed = await client.list_tools()
    return sorted(t.name for t in listed.tools)


def test_bundle_starts_as_the_host_starts_it(unpacked: Path, tmp_path: Path) -> None:
    """The manifest's mcp_config with ${__dirname} filled in and the user's answers left empty
    (some hosts then pass the unfilled placeholder): uv installs the dependencies, and the server
    comes up on the sandbox over stdio."""
    manifest = json.loads((unpacked / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    uv = python_tools() / config["command"]
    args = [a.replace("${__dirname}", str(unpacked)) for a in config["args"]]
    # A host's environment: its own HOME, PATH to find a Python, the certificates uv needs here.
    env = {k: v for k, v in tool_env().items() if k.startswith(("UV_", "SSL_"))}
    env |= config["env"] | {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env |= {"KROS_MCP_DATA_DIR": str(tmp_path / "data")}
    params = StdioServerParameters(command=str(uv), args=args, env=env, cwd=str(tmp_path))
    names = anyio.run(_tools_over_stdio, params, tmp_path / "stderr.txt")
    stderr = (tmp_path / "stderr.txt").read_text()
    assert names == sorted(TOOL_NAMES), stderr
    assert "SANDBOX" in stderr and "Traceback" not in stderr, stderr
    # The environment uv made inside the bundle holds the dependencies, and not kros-mcp itself.
    python = unpacked / ".venv" / "bin" / "python"
    probe = (
        "import importlib.util as u; print(bool(u.find_spec('mcp')), bool(u.find_spec('kros_mcp')))"
    )
    assert _run([str(python), "-c", probe], cwd=str(tmp_path)).stdout.split() == ["True", "False"]
