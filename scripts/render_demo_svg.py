"""Render a `kros-mcp demo` session as an SVG terminal picture for the README.

    python -m scripts.render_demo_svg --write docs/demo.svg [--full]

It runs the real `kros-mcp demo` (a throwaway sandbox: nothing is bought) and draws its output with
Rich's SVG export. By default the picture shows the confirm-then-buy part of the tour: the search,
the dry run, the confirmation the server asks for, and the purchase; `--full` draws all of it.

Reproducible: the same code gives the same picture, except for the number and confirmation ids
the sandbox makes up on each run (tests/test_readme.py compares the two with those masked). The
picture loads no web fonts: it names Fira Code and falls back to the viewer's monospace font.

Needs Rich (`pip install rich`; the test extras bring it).
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 100
TITLE = "kros-mcp demo"
UNIQUE_ID = "kros-mcp-demo"  # fixed, so the SVG's class names do not change from run to run
EXCERPT = ("2.", "3.", "4.", "5.")  # the steps from search to purchase

# (pattern, style) for whole lines, first match wins.
STYLES = [
    (re.compile(r"^== "), "bold magenta"),
    (re.compile(r"^> "), "bold cyan"),
    (re.compile(r"^\s+\[the (server asks|person answers)"), "yellow"),
    (re.compile(r"^\s+(status: (purchased|released|updated)|executed: True)\b"), "bold green"),
    (re.compile(r"^\s+(status: (dry_run|confirmation_required)|executed: False)\b"), "yellow"),
    (re.compile(r"^Done\."), "bold green"),
]


def demo_output() -> str:
    """What `kros-mcp demo` prints on stdout, run as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KROS_MCP_", "KROSAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "kros_mcp", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"kros-mcp demo failed:\n{done.stderr}")
    return done.stdout


def excerpt(output: str) -> list[str]:
    """The steps in EXCERPT, then the closing line."""
    blocks = re.split(r"\n(?=== )", output.strip("\n"))
    chosen = [b for b in blocks if b.startswith("== ") and b[3:].startswith(EXCERPT)]
    closing = [line for line in output.splitlines() if line.startswith("Done.")]
    lines = "\n".join(chosen).splitlines()
    return [*lines, "", "  …", "", *closing]


def styled(line: str) -> Text:
    for pattern, style in STYLES:
        if pattern.search(line):
            return Text(line, style=style)
    return Text(line)


def render(lines: list[str]) -> str:
    with open(os.devnull, "w") as nowhere:  # recorded, not shown
        console = Console(record=True, width=WIDTH, file=nowhere, color_system="truecolor")
        console.print(Text("$ kros-mcp demo", style="bold"))
        for line in lines:
            console.print(styled(line), overflow="fold")
    # Rich's own SVG template (the method's default), without the fonts it loads from a CDN.
    template: str = inspect.signature(Console.export_svg).parameters["code_format"].default
    no_web_fonts = re.sub(r"@font-face \{\{.*?\}\}\s*", "", template, flags=re.S)
    return console.export_svg(title=TITLE, code_format=no_web_fonts, unique_id=UNIQUE_ID)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render `kros-mcp demo` as an SVG picture.")
    parser.add_argument("--write", type=Path, required=True, help="the SVG file to write")
    parser.add_argument("--full", action="store_true", help="the whole tour, not the purchase")
    args = parser.parse_args(argv)
    output = demo_output()
    lines = output.strip("\n").splitlines() if args.full else excerpt(output)
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(render(lines), encoding="utf-8")
    print(args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
