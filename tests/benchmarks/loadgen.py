"""A small HTTP/1.1 load generator for the throughput benchmark, run as its own process:

    python -m tests.benchmarks.loadgen < spec.json > result.json

The spec: host, port, connections, start_at and measure_from and stop_at (time.time() values
shared by every load process), the request to repeat (path, headers, body) and requests sent once
per connection first (`setup`, e.g. an initialize handshake). Each connection sends one request
at a time on a keep-alive socket, with hand-built requests and a minimal response reader, so that a
request costs this process far less than it costs the server. Prints a JSON result: calls answered
successfully within the window, errors, latencies (ms), every call answered (warm-up included)
and this process's CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any


def _request_bytes(host: str, port: int, path: str, headers: dict[str, str], body: str) -> bytes:
    data = body.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Length: {len(data)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        return status, await reader.readexactly(length)
    if not chunked:
        return status, await reader.read()  # until the server closes
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, bytes(body)
        body += (await reader.readexactly(size + 2))[:-2]


def _good(status: int, body: bytes) -> bool:
    return status == 200 and b'"result"' in body and b'"isError":true' not in body


async def _connection(
    spec: dict[str, Any], request: bytes, setup: list[bytes], out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    try:
        for message in setup:
            writer.write(message)
            status, body = await _response(reader)
            if status not in (200, 202):
                raise RuntimeError(f"setup request answered {status}: {body[:200]!r}")
        await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
        while time.time() < spec["stop_at"]:
            started = time.perf_counter()
            writer.write(request)
            status, body = await _response(reader)
            done = time.time()
            out["all_calls"] += 1  # warm-up included: divides the server's CPU seconds
            if spec["measure_from"] <= done <= spec["stop_at"]:
                if _good(status, body):
                    out["latencies_ms"].append(round((time.perf_counter() - started) * 1000, 3))
                else:
                    out["errors"] += 1
                    out["last_error"] = f"{status}: {body[:300].decode(errors='replace')}"
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    request = _request_bytes(
        spec["host"], spec["port"], spec["path"], spec["headers"], spec["body"]
    )
    setup = [
        _request_bytes(spec["host"], spec["port"], spec["path"], s["headers"], s["body"])
        for s in spec.get("setup", [])
    ]
    out: dict[str, Any] = {"latencies_ms": [], "errors": 0, "all_calls": 0}
    await asyncio.gather(
        *(_connection(spec, request, setup, out) for _ in range(spec["connections"]))
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    json.dump(asyncio.run(run(spec)), sys.stdout)


if __name__ == "__main__":
    main()
