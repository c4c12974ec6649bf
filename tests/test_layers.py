"""The layers ARCHITECTURE.md draws: the server and the sandbox know nothing of each other nor of
the CLI (which alone chooses between them), and library code raises typed errors: only the CLI
prints, exits or stops on a failed `assert`. In tests/, a conftest.py holds fixtures and hooks for
its folder and is no library: what tests share is imported from a module (tests/support/, or a
folder's own helper module), never from a conftest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kros_mcp"
# Owned by other open work, which removes these entries when it lands: issue 15 (the sandbox).
NOT_YET = {
    "kros_mcp/sandbox/app.py",  # issue 15
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    package = _module(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return _imported_names(ast.parse(path.read_text()), package)


def _imported_names(tree: ast.AST, package: list[str]) -> set[str]:
    """Absolute names imported in `tree`, a module of `package` (its dotted parts)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _sources(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("server", ("kros_mcp.sandbox", "kros_mcp.cli")),
        ("sandbox", ("kros_mcp.server", "kros_mcp.cli")),
        ("safety", ("kros_mcp.server", "kros_mcp.sandbox", "kros_mcp.cli", "mcp")),
        ("krosai", ("kros_mcp.server", "kros_mcp.sandbox", "kros_mcp.cli", "mcp")),
        ("store", ("kros_mcp.server", "kros_mcp.sandbox", "kros_mcp.cli", "mcp")),
    ],
)
def test_a_layer_does_not_import_what_it_must_not_know(
    layer: str, forbidden: tuple[str, ...]
) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources(layer)
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not offenders, "\n".join(offenders)


def _library_sources() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if "cli" not in p.relative_to(PACKAGE).parts
        and p.name != "__main__.py"
        and p.relative_to(ROOT).as_posix() not in NOT_YET
    ]


def _cli_only(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            found.append((node.lineno, "assert (raise a typed error)"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("print", "exit", "quit"):
                found.append((node.lineno, f"{node.func.id}()"))
        elif isinstance(node, ast.Name) and node.id == "SystemExit":
            found.append((node.lineno, "SystemExit"))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "exit"
            and isinstance(node.value, ast.Name)
            and node.value.id in ("sys", "os")
        ):
            found.append((node.lineno, f"{node.value.id}.exit"))
    return found


def test_library_code_neither_prints_nor_exits() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _library_sources()
        for line, what in _cli_only(ast.parse(path.read_text()))
    ]
    assert not offenders, "only kros_mcp/cli may do these:\n" + "\n".join(offenders)


def test_the_check_finds_each_kind() -> None:
    source = "assert x\nprint(1)\nraise SystemExit(1)\nsys.exit(2)\n"
    assert [what for _, what in _cli_only(ast.parse(source))] == [
        "assert (raise a typed error)",
        "print()",
        "SystemExit",
        "sys.exit",
    ]


def _conftest_imports(names: set[str]) -> list[str]:
    """The conftest modules among imported `names` (`a.conftest.x` counts as `a.conftest`)."""
    found = set()
    for name in names:
        parts = name.split(".")
        if "conftest" in parts:
            found.add(".".join(parts[: parts.index("conftest") + 1]))
    return sorted(found)


def test_no_test_module_imports_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for name in _conftest_imports(_imports(path))
    ]
    assert not offenders, (
        "a conftest is not a library: move what is shared to tests/support/ or a helper module\n"
        + "\n".join(offenders)
    )


def test_the_conftest_check_finds_each_form() -> None:
    c = "conftest"  # a name apart: a grep of tests/ for imports of a conftest finds none here
    source = (
        f"from .{c} import a\n"
        f"from ..http.{c} import b\n"
        f"from tests.server.{c} import c\n"
        f"from . import {c}\n"
        f"import tests.cli.{c}\n"
        "from tests.support.harness import Harness\n"
    )
    names = _imported_names(ast.parse(source), ["tests", "reliability"])
    assert _conftest_imports(names) == [
        "tests.cli.conftest",
        "tests.http.conftest",
        "tests.reliability.conftest",
        "tests.server.conftest",
    ]
