"""The `kros-mcp` command: one module per subcommand, wired in `main`."""

from .main import main

__all__ = ["main"]
