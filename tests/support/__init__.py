"""Rigs the test folders share: import them from here, never from a conftest (a conftest.py holds
only its folder's fixtures and hooks; tests/test_layers.py checks that no module imports one).

- harness: the MCP server in-process on a throwaway sandbox (Harness, Session, elicitation, ...)
- compact_text: reads a tool result's compact text back into data
- http_servers: `kros-mcp serve` processes on real sockets, clients and raw JSON-RPC for them
- sandbox_process: the standalone sandbox and `python -m kros_mcp` over stdio as processes
- processes: free ports, stopping a server process, the processes the session reaper stops
- results: the text of an MCP tool result
- postgres: the test database's URL and a fresh schema per test
- clocks: clocks a test moves by hand
- krosai: KrosAI clients on an in-process sandbox, fast retry rules
- tokens: tokens as a model's context counts them
"""
