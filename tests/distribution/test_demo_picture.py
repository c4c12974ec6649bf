"""The README's picture of `kros-mcp demo` is what the script draws from a real run today."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PICTURE = ROOT / "docs" / "demo.svg"
# What the sandbox makes up on each run: number ids and confirmation tokens.
VOLATILE = re.compile(r"pn_[0-9a-f]{16}|kc1\.[A-Za-z0-9_-]+")


def shown_text(svg: str) -> str:
    """The words the picture shows, volatile ids masked (Rich's styling may change between its
    versions; what the demo says may not go stale)."""
    text = " ".join(re.findall(r">([^<>]+)</text>", svg)).replace("&#160;", " ")
    return VOLATILE.sub("<id>", text)


@pytest.mark.timeout(300)
def test_the_picture_is_current(tmp_path: Path) -> None:
    pytest.importorskip("rich", reason="the picture is drawn with Rich")
    fresh = tmp_path / "demo.svg"
    done = subprocess.run(
        [sys.executable, "-m", "scripts.render_demo_svg", "--write", str(fresh)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert shown_text(fresh.read_text()) == shown_text(PICTURE.read_text()), (
        "docs/demo.svg is out of date: run python -m scripts.render_demo_svg --write docs/demo.svg"
    )


def test_the_picture_shows_confirm_then_buy() -> None:
    svg = PICTURE.read_text()
    text = shown_text(svg)
    order = [
        "search_available(",
        "dry_run=True",
        "confirmation_required",
        "confirmation_token: <id>",
        "purchased",
        "no real number was bought",
    ]
    positions = [text.find(word) for word in order]
    assert -1 not in positions and positions == sorted(positions), dict(
        zip(order, positions, strict=True)
    )
    assert "cdnjs" not in svg and "@font-face" not in svg, "the picture loads nothing from the web"


def test_the_readme_shows_the_picture() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](docs/demo.svg)" in readme
    assert "python -m scripts.render_demo_svg --write docs/demo.svg" in readme
