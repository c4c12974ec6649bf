"""Entry point of the MCPB bundle (packed as server/main.py): serve kros-mcp over stdio.

The bundle holds the `kros_mcp` package beside this file and its dependencies in `lib/`
(empty in a --no-deps build, where the host's Python must already have them).
"""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "lib")]

# Some hosts pass an optional setting the user left empty as the literal "${user_config.x}";
# unset, the server falls back to its default (for the API key: the sandbox) instead of using it.
_UNFILLED = re.compile(r"\$\{user_config\.[^}]*\}")
for _name, _value in list(os.environ.items()):
    if _UNFILLED.fullmatch(_value.strip()):
        del os.environ[_name]

from kros_mcp.cli import main  # noqa: E402  (needs the sys.path above)

raise SystemExit(main())
