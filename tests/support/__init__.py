"""Rigs the test folders share: import them from here, never from another folder's conftest.

- processes: free ports, stopping a server process
- results: the text of an MCP tool result
- postgres: the test database's URL and a fresh schema per test
- clocks: clocks a test moves by hand
- krosai: KrosAI clients on an in-process sandbox, fast retry rules
"""
