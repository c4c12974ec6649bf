"""Build kros-mcp's MCP Bundle: `python manifests/mcp/build_bundle.py [--out DIR] [--no-deps]`.

Prints the path of the `.mcpb` written (default directory: dist/). The bundle is a zip:

    manifest.json          manifests/mcp/manifest.json
    pyproject.toml         README.md
    server/main.py         manifests/mcp/bundle_main.py: serves over stdio
    server/kros_mcp/...    the package source
    server/lib/...         the dependencies

Server type `python` (manifest 0.3 has no `uv` type): the host runs `python server/main.py` with its
own Python, so the dependencies travel inside the bundle, in server/lib. They are installed from
PyPI with `pip install --target`, wheels only, for the Python running this script. Some are compiled
(pydantic-core among them), so such a bundle runs only on this platform and Python minor version:
its manifest's `compatibility` is narrowed to say so, and its file name carries both. Build once per
platform, each with the matching Python.

`--no-deps` leaves server/lib out: a small, portable bundle for a host whose Python already has the
dependencies (`pip install kros-mcp` there), and one that builds offline.

Deterministic: entries sorted, timestamps and permissions fixed. Caches and local state are never
packed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = "kros_mcp"
ENTRY_POINT = "server/main.py"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
CACHE_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
CACHE_SUFFIXES = {".pyc", ".pyo"}
# Local state a developer may have left in the source tree: never shipped.
STATE_SUFFIXES = {".sqlite3", ".db", ".key", ".pem", ".log"}
MCPB_PLATFORMS = {"darwin", "linux", "win32"}


def project() -> dict:
    """The [project] table of pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def load_manifest() -> dict:
    """manifests/mcp/manifest.json, checked against the version being packed."""
    manifest = json.loads((HERE / "manifest.json").read_text())
    version = project()["version"]
    if manifest["version"] != version:
        raise SystemExit(
            f"build_bundle: manifest.json says version {manifest['version']}, "
            f"pyproject.toml says {version}"
        )
    if manifest["server"]["entry_point"] != ENTRY_POINT:
        raise SystemExit(f"build_bundle: manifest.json entry_point must be {ENTRY_POINT}")
    return manifest


def _cache(rel: Path) -> bool:
    return any(part in CACHE_DIRS for part in rel.parts) or rel.suffix in CACHE_SUFFIXES


def _state(rel: Path) -> bool:
    # Dotfiles (.env among them), databases and their -wal/-shm companions, keys, logs.
    return rel.name.startswith(".") or rel.suffix in STATE_SUFFIXES or ".sqlite3-" in rel.name


def tree(root: Path, prefix: str, *, source: bool) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for each file under `root`, caches left out (and local state, in
    `source`: the package's own tree, unlike vendored dependencies whose data files are needed)."""
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not _cache(rel) and not (source and _state(rel)):
            yield f"{prefix}/{rel.as_posix()}", path


def vendor(lib: Path) -> None:
    """Install the runtime dependencies into `lib` for this Python (wheels only, no bytecode)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--target",
        str(lib),
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        *project()["dependencies"],
    ]
    # stdout carries only the bundle's path.
    subprocess.run(command, check=True, stdout=sys.stderr)
    # Console scripts: they name this machine's Python, and the bundle does not use them.
    shutil.rmtree(lib / "bin", ignore_errors=True)


def narrow_compatibility(manifest: dict) -> str:
    """Limit the manifest to this platform and Python; returns the tag for the file name."""
    if sys.platform not in MCPB_PLATFORMS:
        raise SystemExit(f"build_bundle: MCPB knows no platform {sys.platform!r}; use --no-deps")
    major, minor = sys.version_info[:2]
    compatibility = manifest.setdefault("compatibility", {})
    compatibility["platforms"] = [sys.platform]
    compatibility.setdefault("runtimes", {})["python"] = f">={major}.{minor},<{major}.{minor + 1}"
    return f"{sys.platform}-{platform.machine().lower()}-py{major}{minor}"


def write_zip(target: Path, entries: dict[str, bytes | Path]) -> None:
    """A zip of `entries`, byte for byte the same for the same input."""
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            content = entries[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode bits below mean the same everywhere
            info.external_attr = 0o100644 << 16
            data = content.read_bytes() if isinstance(content, Path) else content
            archive.writestr(info, data, compresslevel=9)
    os.replace(partial, target)


def build(out: Path, *, deps: bool = True) -> Path:
    """Write the bundle into `out` and return its path."""
    manifest = load_manifest()
    entries: dict[str, bytes | Path] = {
        "pyproject.toml": ROOT / "pyproject.toml",
        ENTRY_POINT: HERE / "bundle_main.py",
        **dict(tree(ROOT / PACKAGE, f"server/{PACKAGE}", source=True)),
    }
    if (ROOT / "README.md").is_file():
        entries["README.md"] = ROOT / "README.md"
    name = f"kros-mcp-{manifest['version']}"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        if deps:
            lib = Path(scratch) / "lib"
            vendor(lib)
            entries.update(tree(lib, "server/lib", source=False))
            name += "-" + narrow_compatibility(manifest)
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        entries["manifest.json"] = text.encode()
        target = out / f"{name}.mcpb"
        write_zip(target, entries)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build kros-mcp's MCP Bundle (.mcpb).")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist", help="directory to write into (default: dist/)"
    )
    parser.add_argument(
        "--no-deps",
        action="store_true",
        help="leave the dependencies out (the host's Python must have them); builds offline",
    )
    args = parser.parse_args(argv)
    print(build(args.out, deps=not args.no_deps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
