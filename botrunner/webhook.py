"""Webhook mode: Telegram posts each update to our URL, proving itself with a secret header.

Our own small tornado server, not python-telegram-bot's `run_webhook`: PTB's server reads the
whole body (up to tornado's default of 100 MB) before it looks at the secret, and compares the
secret with `!=`. Ours decides from the headers alone, before reading a byte of the body: a
wrong or missing `X-Telegram-Bot-Api-Secret-Token` (compared in constant time) is `403`, a
`Content-Length` over MAX_BODY_BYTES is `413`, and the connection is closed unread. A body
without a length (chunked) is cut off once it passes MAX_BODY_BYTES (tornado's `max_body_size`:
`400`, connection closed). Accepted updates go to the Application's update queue, as PTB's
custom-webserver example does. Plain http on WEBHOOK_LISTEN:WEBHOOK_PORT: TLS is the reverse
proxy's job.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import urllib.parse

import tornado.web
from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer

from core.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few KB (a message is at most 4096 characters plus its entities).
MAX_BODY_BYTES = 1024 * 1024
# Telegram sends a body at once; a sender that trickles it (it had the secret) is cut off.
BODY_TIMEOUT_SECONDS = 30
# Telegram reuses its connections; one idle longer than this, or sending headers slower, is closed.
IDLE_CONNECTION_SECONDS = 120
# Telegram's default; the bot's handlers are race-safe, so concurrent deliveries are fine.
MAX_WEBHOOK_CONNECTIONS = 40


def url_path(webhook_url: str) -> str:
    """Return the path the local server answers on: the public URL's (the proxy passes it on)."""
    return urllib.parse.urlsplit(webhook_url).path.strip("/")


def secret_matches(given: str | None, secret: str) -> bool:
    """Tell whether the request's secret header is the webhook's secret, in constant time."""
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """Take one update from Telegram: refuse it on its headers, else queue it for the handlers."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, bot_application: Application, secret: str) -> None:
        """Receive the bot's Application and the webhook secret (tornado's per-request hook)."""
        self.bot_application = bot_application
        self.secret = secret
        self.body = bytearray()

    def prepare(self) -> None:
        """Refuse from the headers alone, before the body is read: the secret first, then the length."""
        if not secret_matches(self.request.headers.get(SECRET_HEADER), self.secret):
            raise tornado.web.HTTPError(403)
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise tornado.web.HTTPError(413)

    def data_received(self, chunk: bytes) -> None:
        """Collect the body (the server stops reading past MAX_BODY_BYTES)."""
        self.body += chunk

    async def post(self) -> None:
        """Queue the update for the Application's handlers; 400 if it is not one."""
        try:
            update = Update.de_json(json.loads(self.body), self.bot_application.bot)
        except Exception:  # malformed JSON or not an update: Telegram never sends such
            log.warning("event=webhook_bad_update bytes=%s", len(self.body))
            raise tornado.web.HTTPError(400) from None
        await self.bot_application.update_queue.put(update)
        self.set_header("Content-Type", "application/json")
        self.finish(b"{}")

    def write_error(self, status_code: int, **kwargs: object) -> None:
        """Answer errors with an empty JSON object, never tornado's HTML page or a traceback."""
        self.set_header("Content-Type", "application/json")
        self.finish(b"{}")


def updates_app(application: Application, settings: Settings) -> tornado.web.Application:
    """Return the tornado app that takes updates on the webhook URL's path, and nothing else."""
    path = "/" + url_path(settings.webhook_url)
    return tornado.web.Application(
        [(rf"{path.rstrip('/')}/?", UpdateHandler, {"bot_application": application, "secret": settings.webhook_secret.get_secret_value()})],
        # Every update is logged by the handlers; tornado's line per request would repeat them.
        log_function=lambda handler: None,
    )


def updates_server(application: Application, settings: Settings) -> HTTPServer:
    """Return the HTTP server of the webhook, its limits set (not yet listening)."""
    return HTTPServer(
        updates_app(application, settings),
        max_body_size=MAX_BODY_BYTES,
        body_timeout=BODY_TIMEOUT_SECONDS,
        idle_connection_timeout=IDLE_CONNECTION_SECONDS,
        xheaders=False,
    )


def run(application: Application, settings: Settings, allowed_updates: list[str]) -> None:
    """Register the webhook with Telegram and serve it until the process is stopped."""
    asyncio.run(serve(application, settings, allowed_updates))


async def serve(application: Application, settings: Settings, allowed_updates: list[str]) -> None:
    """Run the Application behind our webhook server until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        server = updates_server(application, settings)
        server.listen(settings.webhook_port, address=settings.webhook_listen)
        try:
            # Listening first: Telegram may post as soon as the webhook is set.
            await application.bot.set_webhook(
                url=settings.webhook_url,
                secret_token=settings.webhook_secret.get_secret_value(),
                allowed_updates=allowed_updates,
                max_connections=MAX_WEBHOOK_CONNECTIONS,
            )
            await stop.wait()
        finally:
            server.stop()
            await server.close_all_connections()
            await application.stop()
    finally:
        await application.shutdown()
