"""Processes a test starts: free ports to give them, and stopping them."""

from __future__ import annotations

import socket
import subprocess

__all__ = ["RUNNING", "free_port", "stop_all", "stop_process"]

# Every server process a rig starts, so the session reaper (tests/conftest.py) can stop whatever a
# failed test left behind.
RUNNING: list[subprocess.Popen[bytes]] = []


def free_port(host: str = "127.0.0.1") -> int:
    """A port free at this moment (another process may still take it before it is bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds (a handler may be asleep in a latency fault)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def stop_all() -> None:
    """Stop every process in RUNNING that still runs."""
    for process in RUNNING:
        stop_process(process)
