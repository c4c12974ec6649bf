"""The MCP server: tools, resources and prompts over the KrosAI client.

`kros_mcp.cli.wiring.build_server` builds one for settings, on the sandbox or the real API."""

from .app import INSTRUCTIONS, KrosMCPServer
from .tools import TOOL_NAMES, WRITE_TOOLS
from .upstream import Upstream

__all__ = ["INSTRUCTIONS", "TOOL_NAMES", "WRITE_TOOLS", "KrosMCPServer", "Upstream"]
