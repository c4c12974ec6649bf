"""The MCP server: tools, resources and prompts over the KrosAI client."""

from .app import INSTRUCTIONS, build_server
from .tools import TOOL_NAMES, WRITE_TOOLS

__all__ = ["INSTRUCTIONS", "TOOL_NAMES", "WRITE_TOOLS", "build_server"]
