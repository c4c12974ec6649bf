"""How the server is reached: stdio, or HTTP (streamable HTTP and SSE) with authentication."""
