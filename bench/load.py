"""Throughput load clients: wrk when installed, else a keep-alive asyncio client of our own.

Both spread their requests over a list of paths (many distinct sessions), each connection
sending its next request as soon as the previous answer is read, for a fixed duration.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

# wrk reads the paths once per thread and formats every request up front (in init, once wrk has
# set the Host header), then cycles through them from a random start: per request the client
# only hands out a ready string. Every run, /healthz included, goes through this same script,
# so the client's own cost is the same whatever the path.
WRK_SCRIPT = """
local requests = {}
local i = 1
function init(args)
  for line in io.lines("%(paths_file)s") do requests[#requests + 1] = wrk.format("GET", line) end
  i = math.random(#requests)
end
request = function()
  i = i %% #requests + 1
  return requests[i]
end
"""


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured: requests answered per second and how many went wrong."""

    client: str
    requests: int
    seconds: float
    errors: int  # non-2xx answers, socket errors and timeouts

    @property
    def per_second(self) -> float:
        """Return the answered requests per second (answers with errors excluded)."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    """Return the wrk executable, or None when it is not installed."""
    return shutil.which("wrk")


def client_name() -> str:
    """Return which load client runs: "wrk" or the Python fallback."""
    return "wrk" if wrk_path() else "python-asyncio"


def run_load(base_url: str, paths: Sequence[str], seconds: float, connections: int) -> LoadResult:
    """Send GETs of `paths` to `base_url` for `seconds` over `connections` keep-alive connections."""
    if wrk_path():
        return run_wrk(base_url, paths, seconds, connections)
    return asyncio.run(run_python_load(base_url, paths, seconds, connections))


def run_wrk(base_url: str, paths: Sequence[str], seconds: float, connections: int, threads: int = 2) -> LoadResult:
    """Run wrk with a Lua script that picks each request's path from `paths`."""
    with tempfile.TemporaryDirectory(prefix="dom-bench-wrk-") as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(WRK_SCRIPT % {"paths_file": str(paths_file)})
        argv = [wrk_path() or "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                "--timeout", "10s", "-s", str(script), base_url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk_output(done.stdout)


def parse_wrk_output(text: str) -> LoadResult:
    """Read requests, duration and errors from wrk's summary."""
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    if not found:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    requests = int(found.group(1))
    seconds = float(found.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[found.group(3)]
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        errors += int(non_2xx.group(1))
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return LoadResult("wrk", requests, seconds, errors)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response; return (status, body, whether the server keeps the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


def request_bytes(host: str, path: str) -> bytes:
    """Return a minimal keep-alive GET request for `path`."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dom-bench\r\n\r\n".encode()


async def run_python_load(base_url: str, paths: Sequence[str], seconds: float, connections: int) -> LoadResult:
    """Keep `connections` raw keep-alive connections busy for `seconds`; count answers and errors."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counts = {"requests": 0, "errors": 0}
    started = time.monotonic()
    deadline = started + seconds

    async def one_connection() -> None:
        index = random.randrange(len(paths))
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            except (OSError, asyncio.TimeoutError):
                counts["errors"] += 1
                await asyncio.sleep(0.05)
                continue
            try:
                keep = True
                while keep and time.monotonic() < deadline:
                    index = (index + 1) % len(paths)
                    writer.write(request_bytes(f"{host}:{port}", paths[index]))
                    status, _, keep = await asyncio.wait_for(read_response(reader), 10)
                    counts["requests"] += 1
                    if not 200 <= status < 400:
                        counts["errors"] += 1
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                counts["requests"] += 1
                counts["errors"] += 1
            finally:
                writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return LoadResult("python-asyncio", counts["requests"], time.monotonic() - started, counts["errors"])
