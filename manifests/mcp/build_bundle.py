"""Build kros-mcp's MCP Bundle: `python manifests/mcp/build_bundle.py [--out DIR] [--stage DIR]`.

Prints the path of the `.mcpb` written (default directory: dist/). The bundle is a zip:

    manifest.json          manifests/mcp/manifest.json (server type "uv", manifest 0.4)
    pyproject.toml         the runtime dependencies and requires-python, from ../../pyproject.toml
    README.md, LICENSE
    server/main.py         manifests/mcp/bundle_main.py: checks the Python, serves over stdio
    server/kros_mcp/...    the package source

Server type `uv`: the host installs the dependencies with uv on the user's machine, for the user's
platform and a Python that satisfies requires-python (uv fetches one if needed). Nothing compiled
travels in the bundle, so one bundle serves every platform and Python, and the build is offline.
The bundle's pyproject.toml has no build system: uv installs its dependencies without building or
installing kros-mcp itself, which runs from server/.

`--stage DIR` also lays the bundle's files out in DIR, as `mcpb pack DIR` expects them.

Deterministic: entries sorted, timestamps and permissions fixed. Caches and local state are never
packed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = "kros_mcp"
ENTRY_POINT = "server/main.py"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
CACHE_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
CACHE_SUFFIXES = {".pyc", ".pyo"}
# Local state a developer may have left in the source tree: never shipped.
STATE_SUFFIXES = {".sqlite3", ".db", ".key", ".pem", ".log"}


def project() -> dict[str, Any]:
    """The [project] table of pyproject.toml."""
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def load_manifest() -> dict[str, Any]:
    """manifests/mcp/manifest.json, checked against the project being packed."""
    manifest: dict[str, Any] = json.loads((HERE / "manifest.json").read_text())
    meta = project()
    if manifest["version"] != meta["version"]:
        raise SystemExit(
            f"build_bundle: manifest.json says version {manifest['version']}, "
            f"pyproject.toml says {meta['version']}"
        )
    if manifest["server"]["entry_point"] != ENTRY_POINT:
        raise SystemExit(f"build_bundle: manifest.json entry_point must be {ENTRY_POINT}")
    python = manifest.get("compatibility", {}).get("runtimes", {}).get("python")
    if python != meta["requires-python"]:
        raise SystemExit(
            f"build_bundle: manifest.json compatibility.runtimes.python is {python!r}, "
            f"pyproject.toml requires-python is {meta['requires-python']!r}"
        )
    return manifest


def bundle_pyproject() -> bytes:
    """The bundle's pyproject.toml: what uv needs to give server/main.py its dependencies."""
    meta = project()
    deps = "".join(f"    {json.dumps(d)},\n" for d in meta["dependencies"])
    return (
        "# The MCP Bundle's environment. The host runs `uv run`, which installs these dependencies on\n"
        "# the user's machine; there is no build system, so kros-mcp itself runs from server/.\n"
        "[project]\n"
        f'name = "{meta["name"]}-bundle"\n'
        f'version = "{meta["version"]}"\n'
        f"description = {json.dumps(meta['description'])}\n"
        f'requires-python = "{meta["requires-python"]}"\n'
        f"dependencies = [\n{deps}]\n"
        "\n[tool.uv]\npackage = false\n"
    ).encode()


def _cache(rel: Path) -> bool:
    return any(part in CACHE_DIRS for part in rel.parts) or rel.suffix in CACHE_SUFFIXES


def _state(rel: Path) -> bool:
    # Dotfiles (.env among them), databases and their -wal/-shm companions, keys, logs.
    return rel.name.startswith(".") or rel.suffix in STATE_SUFFIXES or ".sqlite3-" in rel.name


def tree(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for each file under `root`, caches and local state left out."""
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not _cache(rel) and not _state(rel):
            yield f"{prefix}/{rel.as_posix()}", path


def entries() -> dict[str, bytes]:
    """Every file of the bundle, by its name in the zip."""
    manifest = load_manifest()
    files: dict[str, bytes | Path] = {
        "manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        "pyproject.toml": bundle_pyproject(),
        "README.md": ROOT / "README.md",
        "LICENSE": ROOT / "LICENSE",
        ENTRY_POINT: HERE / "bundle_main.py",
        **dict(tree(ROOT / PACKAGE, f"server/{PACKAGE}")),
    }
    return {n: c.read_bytes() if isinstance(c, Path) else c for n, c in files.items()}


def write_zip(target: Path, files: dict[str, bytes]) -> None:
    """A zip of `files`, byte for byte the same for the same input."""
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode bits below mean the same everywhere
            info.external_attr = 0o100644 << 16
            archive.writestr(info, files[name], compresslevel=9)
    os.replace(partial, target)


def stage(directory: Path, files: dict[str, bytes]) -> None:
    """Lay the bundle's files out in `directory` (emptied first)."""
    shutil.rmtree(directory, ignore_errors=True)
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def build(out: Path, staging: Path | None = None) -> Path:
    """Write the bundle into `out` (and its files into `staging`) and return its path."""
    files = entries()
    if staging is not None:
        stage(staging, files)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"kros-mcp-{project()['version']}.mcpb"
    write_zip(target, files)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build kros-mcp's MCP Bundle (.mcpb).")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist", help="directory to write into (default: dist/)"
    )
    parser.add_argument(
        "--stage", type=Path, default=None, help="also lay the bundle's files out in this directory"
    )
    args = parser.parse_args(argv)
    print(build(args.out, args.stage))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
