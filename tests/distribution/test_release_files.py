"""The project files a user or a packager expects (LICENSE, CHANGELOG.md, SECURITY.md,
RELEASING.md) exist, say what the code does, and every file that names the version names this one.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import kros_mcp

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]


def test_license_is_the_declared_mit() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_changelog_has_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert re.search(
        rf"^## \[{re.escape(VERSION)}\] - (\d{{4}}-\d{{2}}-\d{{2}}|unreleased)$", text, re.M
    )
    assert f"[{VERSION}]: https://" in text


def test_security_policy_says_how_to_report_and_what_holds() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    assert "security/advisories/new" in text and "do not open a public issue" in text
    assert "## What the safety model guarantees" in text
    assert "## What it does not guarantee" in text
    # The settings it names are real ones.
    from kros_mcp.config import Settings

    aliases = {f.alias for f in Settings.model_fields.values()}
    for name in set(re.findall(r"`(KROS(?:AI|_MCP)_[A-Z_]+)", text)):
        assert name in aliases, f"SECURITY.md names {name}, which is no setting"


VERSIONED = [
    "pyproject.toml",
    "kros_mcp/__init__.py",
    "manifests/mcp/server.json",
    "manifests/mcp/manifest.json",
    "manifests/k8s/deployment.yaml",
    "README.md",
]


def test_releasing_lists_every_file_that_names_the_version() -> None:
    text = (ROOT / "RELEASING.md").read_text()
    for name in VERSIONED:
        assert f"`{name}`" in text or (name == "README.md" and "README.md" in text), name
    for step in ("twine upload", "mcp-publisher publish", "docker buildx build", ".mcpb"):
        assert step in text, step


@pytest.mark.parametrize("name", VERSIONED)
def test_versioned_files_name_this_version(name: str) -> None:
    text = (ROOT / name).read_text()
    assert kros_mcp.__version__ == VERSION
    found = set(
        re.findall(
            r"(?:kros_mcp-|kros-mcp-|kros-mcp:|\"version\": \"|version = \"|__version__ = \"|"
            r"app\.kubernetes\.io/version: \")(\d+\.\d+\.\d+)",
            text,
        )
    )
    assert found == {VERSION}, f"{name} names versions {found}"
