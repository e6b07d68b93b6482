"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for the open-loop load generator.

The generator shares the machine's two cores with everything it measures, so its cost per login
must be small next to the system's. httpx spent ~20 ms of CPU per login there: its connection
pool looks at every pooled connection (`has_expired`, `is_idle`) on every request, which with
hundreds of open long polls is most of the work. This client keeps idle connections in a stack
and takes the top one: a request costs one write and the parsing of one answer.

It speaks only what the bench needs: GET/POST/DELETE with an optional JSON body, answers with
Content-Length (Flask's and gevent's), `Connection: close` honoured.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class HttpError(Exception):
    """The connection failed, timed out, or the answer could not be read."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: its status and its body."""

    status: int
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """Return the body as text (for error messages)."""
        return self.body.decode("utf-8", "replace")


def encode_request(method: str, target: str, host: str, headers: bytes, body: bytes | None) -> bytes:
    """Return the bytes of one HTTP/1.1 request; `headers` are extra header lines, each ending in CRLF."""
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n".encode() + headers
    if body is None:
        return head + b"\r\n"
    return head + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """Return (status, content length, keep-alive) of a response head ending in CRLF CRLF."""
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise HttpError(f"not an HTTP status line: {lines[0][:60]!r}") from None
    length, keep = 0, not lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
        elif name == b"transfer-encoding" and value.strip().lower() != b"identity":
            raise HttpError("chunked answers are not supported")
    return status, length, keep


class KeepAliveClient:
    """Requests to one server over reused connections; as many connections as requests in flight."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 35.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._host_header = f"{self.host}:{self.port}"
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()).encode()
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0  # connections opened in all: a test checks they are reused

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        """GET `path` (with `params` as its query string)."""
        return await self.request("GET", path + ("?" + urlencode(params) if params else ""))

    async def post(self, path: str, json_body: Any) -> Answer:
        """POST `json_body` as JSON to `path`."""
        return await self.request("POST", path, json.dumps(json_body).encode())

    async def request(self, method: str, target: str, body: bytes | None = None) -> Answer:
        """Send one request on an idle connection (or a new one) and read its answer."""
        data = encode_request(method, target, self._host_header, self._headers, body)
        try:
            async with asyncio.timeout(self.timeout):  # no task of its own, unlike wait_for
                return await self._exchange(data)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as exc:
            raise HttpError(f"{method} {target.split('?')[0]}: {type(exc).__name__} {exc}".strip()) from exc

    async def _exchange(self, data: bytes) -> Answer:
        while self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._exchange_on(reader, writer, data)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                # The server closed this idle connection before our request reached it (its
                # keep-alive timeout): nothing was processed, so the next connection may try.
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        return await self._exchange_on(*await self._connect(), data)

    async def _exchange_on(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> Answer:
        try:
            writer.write(data)
            status, length, keep = parse_head(await reader.readuntil(b"\r\n\r\n"))
            body = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()  # half-read or cancelled: the connection's state is unknown
            raise
        if keep:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return Answer(status, body)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop()[1].close()
        await asyncio.sleep(0)
