"""The wheel and the sdist, built and installed as a user installs them.

`python -m build` makes both from the repository, `twine check --strict` accepts them as PyPI
would, and the wheel, installed into a fresh virtual environment with its dependencies from the
index, runs `kros-mcp --version` and serves `tools/list` over stdio. The MCP Registry entry
(`server.json`) names exactly this artefact, and `uvx --from <wheel>` (what the entry's `uvx` hint
runs once the package is published) starts it too.
"""

from __future__ import annotations

import email
import json
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kros_mcp.server import TOOL_NAMES

from .tools import python_tools, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
SERVER_JSON = json.loads((ROOT / "manifests" / "mcp" / "server.json").read_text())


@dataclass
class Artefacts:
    wheel: Path
    sdist: Path


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tools() -> Path:
    return python_tools()


@pytest.fixture(scope="module")
def artefacts(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Artefacts:
    out = tmp_path_factory.mktemp("dist")
    # uv installs the build backend into build's isolated environment: same result, faster.
    build = [str(tools / "python"), "-m", "build", "--installer", "uv", "--outdir", str(out)]
    _run([*build, str(ROOT)], env=tool_env())
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Artefacts(wheel, sdist)


def _clean_env(home: Path) -> dict[str, str]:
    """What an MCP client gives the server: a PATH, a HOME, nothing of this checkout."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "KROS_MCP_DATA_DIR": str(home / "data")}


def test_names_and_version(artefacts: Artefacts) -> None:
    assert artefacts.wheel.name == f"kros_mcp-{VERSION}-py3-none-any.whl"
    assert artefacts.sdist.name == f"kros_mcp-{VERSION}.tar.gz"


def test_twine_accepts_both(artefacts: Artefacts, tools: Path) -> None:
    done = _run(
        [str(tools / "twine"), "check", "--strict", str(artefacts.wheel), str(artefacts.sdist)]
    )
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_wheel_metadata_and_contents(artefacts: Artefacts) -> None:
    with zipfile.ZipFile(artefacts.wheel) as wheel:
        names = wheel.namelist()
        info = f"kros_mcp-{VERSION}.dist-info"
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert metadata["Name"] == PROJECT["name"] and metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == PROJECT["requires-python"]
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "kros-mcp = kros_mcp.cli:main" in entry_points
    declared = [*PROJECT["dependencies"], *_extra("postgres"), *_extra("test")]
    assert _requirements(metadata.get_all("Requires-Dist") or []) == _requirements(declared)
    assert "kros_mcp/py.typed" in names
    for name in names:
        assert name.startswith(("kros_mcp/", f"{info}/")), f"stray file in the wheel: {name}"
        assert "__pycache__" not in name and not name.endswith((".pyc", ".sqlite3")), name
    # Every file of the package, data files (the MCP App's view) as well as modules.
    tracked = subprocess.run(
        ["git", "ls-files", "kros_mcp"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    files = set(tracked) or {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "kros_mcp").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert files <= set(names), f"package files missing from the wheel: {files - set(names)}"


def _extra(name: str) -> list[str]:
    return [f'{req} ; extra == "{name}"' for req in PROJECT["optional-dependencies"][name]]


def _requirements(lines: list[str]) -> set[str]:
    return {str(Requirement(line)) for line in lines}


def test_sdist_has_the_project_files_and_nothing_local(artefacts: Artefacts) -> None:
    with tarfile.open(artefacts.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for needed in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "SECURITY.md",
        "PKG-INFO",
    ):
        assert needed in names, f"{needed} is missing from the sdist"
    assert "kros_mcp/cli/main.py" in names and "tests/conftest.py" in names
    for name in names:
        assert not name.startswith((".venv", ".git/", "dist/", "build/", ".ci/")), name
        assert "__pycache__" not in name and not name.endswith((".pyc", ".sqlite3")), name


def test_server_json_names_this_artefact(artefacts: Artefacts) -> None:
    (package,) = SERVER_JSON["packages"]
    with zipfile.ZipFile(artefacts.wheel) as wheel:
        metadata = email.message_from_bytes(wheel.read(f"kros_mcp-{VERSION}.dist-info/METADATA"))
    assert canonicalize_name(package["identifier"]) == canonicalize_name(metadata["Name"])
    assert package["version"] == metadata["Version"] == SERVER_JSON["version"]
    assert package["registryType"] == "pypi" and package["runtimeHint"] == "uvx"


@pytest.fixture(scope="module")
def installed(artefacts: Artefacts, tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin directory."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    # The dependencies come from the index (through uv, with a cache shared between runs, for
    # speed); then pip, which the README tells users to run, installs the wheel itself.
    _run(
        [str(tools / "uv"), "pip", "install", "-q", "--python", str(python), str(artefacts.wheel)],
        env=tool_env(),
    )
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--force-reinstall",
            "--no-deps",
            str(artefacts.wheel),
        ]
    )
    return venv / "bin"


def test_installed_version(installed: Path, tmp_path: Path) -> None:
    done = _run([str(installed / "kros-mcp"), "--version"], env=_clean_env(tmp_path))
    assert done.stdout.strip() == f"kros-mcp {VERSION}"
    where = _run(
        [str(installed / "python"), "-c", "import kros_mcp; print(kros_mcp.__file__)"],
        env=_clean_env(tmp_path),
        cwd=str(tmp_path),
    )
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout, where.stdout


async def _tools_over_stdio(params: StdioServerParameters, stderr: Path) -> list[str]:
    with stderr.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listed = await client.list_tools()
    return sorted(t.name for t in listed.tools)


def test_installed_server_lists_its_tools_over_stdio(installed: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(installed / "kros-mcp"),
        args=["serve"],
        env=_clean_env(tmp_path),
        cwd=str(tmp_path),
    )
    names = anyio.run(_tools_over_stdio, params, tmp_path / "stderr.txt")
    assert names == sorted(TOOL_NAMES)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "SANDBOX" in stderr and "Traceback" not in stderr, stderr


def test_uvx_from_the_wheel(artefacts: Artefacts, tools: Path, tmp_path: Path) -> None:
    """What `uvx kros-mcp` will run once published, here from the built wheel."""
    env = {**tool_env(), **_clean_env(tmp_path)}
    done = _run(
        [str(tools / "uvx"), "--from", str(artefacts.wheel), "kros-mcp", "--version"], env=env
    )
    assert done.stdout.strip() == f"kros-mcp {VERSION}"


@pytest.fixture(autouse=True)
def _no_checkout_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PYTHONPATH", raising=False)
    yield
