"""python-telegram-bot's HTTP transport on aiohttp: what every Bot API call of the bot and the worker goes through.

A drop-in for PTB's HTTPXRequest at a fraction of its CPU per call (httpx, httpcore and anyio cost
about twice aiohttp's per request). It keeps HTTPXRequest's outward behaviour:

- a keep-alive pool of at most `connection_pool_size` connections; a call that finds them all busy
  for `pool_timeout` raises TimedOut with PTB's pool message, unsent;
- connect and read timeouts per call (PTB passes its own, e.g. getUpdates's long poll + read
  timeout); aiohttp has no write timeout of its own, but starts the read timeout as the request
  is written, so a stalled write is cut by it too;
- timeouts raise TimedOut, other transport errors NetworkError naming the aiohttp error class;
- no redirects followed, PTB's User-Agent, the proxy from HTTP(S)_PROXY/ALL_PROXY/NO_PROXY and the
  CA certificates httpx would use (certifi, or SSL_CERT_FILE / SSL_CERT_DIR);
- multipart bodies when PTB uploads files.

The aiohttp session binds to the event loop it is made on, so it is made on the running loop at
`initialize` (or the first call); after `shutdown`, `initialize` makes a new one, as PTB expects.
aiohttp logs no URLs (Bot API URLs carry the token), and the errors raised here mask the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import urllib.request
from typing import AsyncIterator

import aiohttp
import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)
# /bot<token>/method and /file/bot<token>/path.
TOKEN_IN_PATH = re.compile(r"/bot[^/\s'\"]+")


class AiohttpRequest(BaseRequest):
    """A python-telegram-bot transport over an aiohttp session, with HTTPXRequest's defaults and errors."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        # Made once: building a TLS context reads the CA bundle. httpx's rules, so trust doesn't change.
        self._ssl_context: ssl.SSLContext = httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None
        # Bounds the calls in flight, so a full pool is told apart from a slow connect (aiohttp's
        # own connect timeout counts both).
        self._slots: asyncio.Semaphore | None = None
        self._shut_down = False

    @property
    def read_timeout(self) -> float | None:
        """Return the default read timeout in seconds (PTB adds getUpdates's long poll to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session on the running loop, unless one is open."""
        self._shut_down = False
        if self._session is None:
            self._open()

    async def shutdown(self) -> None:
        """Close the session and its connections; `initialize` opens a new one."""
        self._shut_down = True
        session, self._session, self._slots = self._session, None, None
        if session is not None:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0, ssl=self._ssl_context)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Bot API answers set no cookies; a jar would only cost time on every response.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Honours proxy variables like httpx did; off when none is set, as it is looked up per call.
            trust_env=bool(urllib.request.getproxies()),
        )
        self._slots = asyncio.Semaphore(self._pool_size)
        return self._session

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one HTTP call and return its status and body, mapping failures to PTB's errors."""
        if self._shut_down:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        session = self._session or self._open()
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        del write_timeout  # aiohttp has none: the read timeout runs from the start of the write (module docstring)
        timeout = aiohttp.ClientTimeout(connect=connect_timeout, sock_read=read_timeout)
        body = _body(request_data)
        try:
            async with self._slot(pool_timeout):
                async with session.request(method, url, data=body, timeout=timeout, allow_redirects=False,
                                           headers={"User-Agent": self.USER_AGENT}) as response:
                    return response.status, await response.read()
        except asyncio.TimeoutError as exc:  # aiohttp's timeout errors are TimeoutErrors too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {_without_token(str(exc))}") from exc

    @contextlib.asynccontextmanager
    async def _slot(self, pool_timeout: float | None) -> AsyncIterator[None]:
        """Hold one of the pool's places for a call; TimedOut if none frees up within `pool_timeout`."""
        slots = self._slots
        assert slots is not None
        if slots.locked():
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except asyncio.TimeoutError:
                raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from None
        else:
            await slots.acquire()  # free: returns without waiting
        try:
            yield
        finally:
            slots.release()


def _body(request_data: RequestData | None) -> dict[str, str] | aiohttp.FormData | None:
    """Return the request's form fields, or a multipart form when it carries files."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    form = aiohttp.FormData(fields, quote_fields=False)
    for name, (filename, content, content_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form


def _without_token(text: str) -> str:
    """Mask the bot token in Bot API paths quoted by an error (aiohttp may quote the URL normalised)."""
    return TOKEN_IN_PATH.sub("/bot<token>", text)
