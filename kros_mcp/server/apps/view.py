"""The view's HTML: one self-contained document, its script and style inline, under a strict CSP.

The script and the style ship as package files (`view/`) and are inlined here; the document's own
Content-Security-Policy allows exactly those two inline blocks (by SHA-256), no other script,
style, connection, frame, image or font, whatever a host allows on top. Nothing in it is secret:
the view learns everything through the host, at run time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import resources

__all__ = ["VIEW_CSP_DIRECTIVES", "view_html"]

_FILES = resources.files(__package__) / "view"

# Everything the document may load or reach: its two inline blocks, nothing else.
VIEW_CSP_DIRECTIVES = (
    "default-src 'none'",
    "script-src {script}",
    "style-src {style}",
    "img-src 'none'",
    "font-src 'none'",
    "connect-src 'none'",
    "media-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _read(name: str) -> str:
    return (_FILES / name).read_text(encoding="utf-8")


@functools.cache
def view_html() -> str:
    """The document served as the `ui://` resource."""
    script = "\n" + _read("bridge.js") + "\n" + _read("numbers.js") + "\n"
    style = "\n" + _read("numbers.css") + "\n"
    for text, tag in ((script, "</script"), (style, "</style")):
        if tag in text.lower():
            raise ValueError(f"an inline block of the view contains {tag}>")
    csp = "; ".join(VIEW_CSP_DIRECTIVES).format(script=_sha256(script), style=_sha256(style))
    return (
        _read("numbers.html")
        .replace("{{CSP}}", csp)
        .replace("{{STYLE}}", style)
        .replace("{{SCRIPT}}", script)
    )
