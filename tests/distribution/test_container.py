"""The container image, checked without a container engine (none runs on these machines): the base
is pinned by digest, every Python package comes from a lock file with hashes that matches
pyproject.toml and installs for the image's platform with pip's hash checking, hadolint finds
nothing, and the stdio recipe shown to desktop-client users is one the image and the CLI accept.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kros_mcp.cli.main import _build_parser

from ..test_manifests import exec_form, parse_dockerfile
from .tools import python_tools

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "manifests" / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
STAGES = parse_dockerfile(DOCKERFILE.read_text())
IMAGE_PYTHON = re.search(r"python:(3\.\d+)\.\d+-", STAGES[-1].image)
# What RELEASING.md publishes; the stdio recipes name it.
PUBLISHED_IMAGE = f"ghcr.io/krosai/kros-mcp:{PYPROJECT['project']['version']}"


def read_lock(path: Path) -> dict[str, tuple[Version, list[str], str]]:
    """name -> (pinned version, sha256 hashes, environment marker) of a pip requirements lock."""
    text = re.sub(r"\\\n", " ", path.read_text())
    entries: dict[str, tuple[Version, list[str], str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        spec = re.sub(r"--hash=\S+", "", line).strip()
        requirement = Requirement(spec)
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"{path.name}: not pinned exactly: {spec}"
        name = canonicalize_name(requirement.name)
        assert name not in entries, f"{path.name}: {name} twice"
        entries[name] = (Version(pin.version), hashes, str(requirement.marker or ""))
    return entries


RUNTIME_LOCK = read_lock(DOCKER / "requirements.lock")
BUILD_LOCK = read_lock(DOCKER / "build-requirements.lock")


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, BUILD_LOCK], ids=["runtime", "build"])
def test_every_locked_package_has_hashes(lock: dict[str, tuple[Version, list[str], str]]) -> None:
    assert lock
    for name, (_, hashes, _) in lock.items():
        assert hashes, f"{name} has no hash"


def test_runtime_lock_satisfies_pyproject() -> None:
    """Every dependency, with the postgres extra, is locked at a version pyproject.toml accepts."""
    project = PYPROJECT["project"]
    for spec in [*project["dependencies"], *project["optional-dependencies"]["postgres"]]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in RUNTIME_LOCK, f"{name} is not in requirements.lock: regenerate it"
        version = RUNTIME_LOCK[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, pyproject.toml wants {requirement}"
        )
    # psycopg[binary] brings psycopg-binary, the compiled driver the image needs.
    assert "psycopg-binary" in RUNTIME_LOCK


def test_build_lock_satisfies_the_build_system() -> None:
    for spec in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in BUILD_LOCK and requirement.specifier.contains(BUILD_LOCK[name][0]), spec


def test_locks_are_for_the_images_python() -> None:
    assert IMAGE_PYTHON is not None, STAGES[-1].image
    for name in ("requirements.lock", "build-requirements.lock"):
        header = (DOCKER / name).read_text().split("\n\n")[0]
        assert f"--python-version {IMAGE_PYTHON[1]}" in header, f"{name}: {header}"


def _stdio_recipes(text: str) -> list[list[str]]:
    return [
        shlex.split(m.group(0).replace("\\\n", " "))
        for m in re.finditer(r"docker run -i --rm[^\n`]*", text)
    ]


@pytest.mark.parametrize("where", ["Dockerfile", "README.md"])
def test_stdio_recipe_runs_the_stdio_server(where: str) -> None:
    text = (DOCKERFILE if where == "Dockerfile" else ROOT / "README.md").read_text()
    recipes = _stdio_recipes(text)
    assert recipes, f"{where} shows no `docker run -i --rm` recipe"
    data_dir = STAGES[-1].env()["KROS_MCP_DATA_DIR"]
    for argv in recipes:
        image = next(a for a in argv if re.search(r"kros-mcp:\d", a))
        assert image in (PUBLISHED_IMAGE, f"kros-mcp:{PYPROJECT['project']['version']}"), image
        options, command = argv[2 : argv.index(image)], argv[argv.index(image) + 1 :]
        assert "-t" not in options and "--tty" not in options, "a TTY would garble the protocol"
        volumes = [options[i + 1] for i, o in enumerate(options) if o in ("-v", "--volume")]
        assert any(v.endswith(f":{data_dir}") for v in volumes), (
            f"{where}: keep {data_dir} in a volume, or the sandbox and signing key are lost"
        )
        assert "-p" not in options, "stdio needs no port"
        # The image's ENTRYPOINT is the console script; the recipe's words are its arguments.
        args = _build_parser().parse_args(command)
        assert args.command == "serve" and args.transport == "stdio", command
        assert exec_form(STAGES[-1].one("ENTRYPOINT")) == ["kros-mcp"]
        # The key is passed through by name, never written on the command line.
        for i, option in enumerate(options):
            if option in ("-e", "--env"):
                assert "=" not in options[i + 1] or not options[i + 1].startswith("KROSAI_API_KEY")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    hadolint = python_tools() / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # It does look: an unpinned base and an unhashed install are reported.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install kros-mcp\n")
    done = subprocess.run([str(hadolint), str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "DL3007" in done.stdout and "DL3013" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_runtime_lock_installs_for_the_image_with_hash_checking(tmp_path: Path) -> None:
    """pip fetches every locked wheel for the image's Python and platform and checks its hash, as
    the image build does (--require-hashes --only-binary=:all:), without a container engine."""
    assert IMAGE_PYTHON is not None
    major, minor = IMAGE_PYTHON[1].split(".")
    platforms = ["manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64"]
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes",
        "--only-binary=:all:", "--no-deps", "--python-version", f"{major}.{minor}",
        "--implementation", "cp", "--abi", f"cp{major}{minor}",
        *(f"--platform={p}" for p in platforms),
        "--dest", str(tmp_path), "-r", str(DOCKER / "requirements.lock"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    fetched = {canonicalize_name(p.name.split("-")[0]) for p in tmp_path.glob("*.whl")}
    image = {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": f"{major}.{minor}",
        "python_full_version": f"{major}.{minor}.0",
    }
    needed = {n for n, (_, _, m) in RUNTIME_LOCK.items() if not m or Marker(m).evaluate(image)}
    assert fetched == needed, fetched ^ needed
