"""Entry point of kros-mcp's MCP Bundle (packed as server/main.py): serve kros-mcp over stdio.

The host runs it with uv (server type "uv"): `uv run --project <bundle> <bundle>/server/main.py`
installs the dependencies listed in the bundle's pyproject.toml into the bundle's own environment,
on a Python that satisfies its requires-python, fetched by uv if the machine has none. The
`kros_mcp` package lies beside this file.

Kept runnable by any Python 3 (no f-strings, nothing imported from kros_mcp before the version
check), so that an unsupported one says what it needs instead of failing with a SyntaxError or an
ImportError.
"""

import os
import re
import sys

REQUIRED = (3, 11)


def _refuse_old_python() -> None:
    if tuple(sys.version_info[:2]) >= REQUIRED:
        return
    # %-formatting, not f-strings: this must parse on the oldest Python that may run it.
    message = (
        "kros-mcp needs Python %d.%d or newer; this is Python %s (%s). Install the bundle in a "  # noqa: UP031
        "client that runs uv bundles (it picks a suitable Python itself), or run it with a newer "
        "Python.\n" % (REQUIRED[0], REQUIRED[1], sys.version.split()[0], sys.executable)
    )
    sys.stderr.write(message)
    sys.exit(1)


def _drop_unfilled_settings() -> None:
    # Some hosts pass an optional setting the user left empty as the literal "${user_config.x}";
    # unset, the server falls back to its default (for the API key: the sandbox).
    unfilled = re.compile(r"\$\{user_config\.[^}]*\}")
    for name, value in list(os.environ.items()):
        if unfilled.fullmatch(value.strip()):
            del os.environ[name]


if __name__ == "__main__":
    _refuse_old_python()
    _drop_unfilled_settings()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from kros_mcp.cli import main

    sys.exit(main())
