"""The MCP App: a view in the host to find, buy, route and release numbers (MCP Apps, SEP-1865).

Clients that negotiate the `io.modelcontextprotocol/ui` extension see `_meta.ui.resourceUri` on
`search_available` and `list_numbers`, a `ui://` view, and app-only tools the view calls; a click
on Buy or Release is the confirmation, proven by a token the host hands to the view and not to the
model (see proof.py). Clients that do not negotiate it see exactly the plain tools.
"""

from .install import APP_TOOLS, NO_APP, UI_BOUND_TOOLS, VIEW_URI, AppFeature, AppTool, app_for
from .proof import PROOF_KEY

__all__ = [
    "APP_TOOLS",
    "NO_APP",
    "PROOF_KEY",
    "UI_BOUND_TOOLS",
    "VIEW_URI",
    "AppFeature",
    "AppTool",
    "app_for",
]
