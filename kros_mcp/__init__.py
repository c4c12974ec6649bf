"""kros-mcp: an MCP server for KrosAI phone numbers."""

__version__ = "0.1.0"
