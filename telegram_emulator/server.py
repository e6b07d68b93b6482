"""The HTTP face of the emulator: the Bot API at /bot<token>/<method>, control at /control, chat page at /."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from telegram_emulator.bot_api import BotApi
from telegram_emulator.chat_page import chat_page
from telegram_emulator.control import control
from telegram_emulator.flood_limits import FloodLimiter
from telegram_emulator.spec import BotApiSpec, UploadedFile, load_default_spec
from telegram_emulator.state import EmulatorState
from telegram_emulator.webhook import WebhookSender

logger = logging.getLogger("telegram_emulator")

DEFAULT_BOT_USERNAME = "dance_of_mind_bot"
DEFAULT_BOT_NAME = "Dance of Mind"


@dataclass
class Emulator:
    """The parts of one emulator instance, reachable as app.extensions["telegram_emulator"]."""

    state: EmulatorState
    spec: BotApiSpec
    bot_api: BotApi
    webhook_sender: WebhookSender


def create_app(
    bot_username: str = DEFAULT_BOT_USERNAME,
    bot_name: str = DEFAULT_BOT_NAME,
    spec: BotApiSpec | None = None,
    telegram_limits: bool = False,
) -> Flask:
    """Build the emulator's Flask app with fresh state; `telegram_limits` answers floods with 429 like Telegram."""
    state = EmulatorState(bot_username=bot_username, bot_name=bot_name)
    spec = spec or load_default_spec()
    sender = WebhookSender(state)
    sender.start()
    # The chat page's blueprint serves the only static files, under /chat.
    app = Flask("telegram_emulator", static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # Keep Telegram's field order.
    app.extensions["telegram_emulator"] = Emulator(state, spec, BotApi(state, spec, FloodLimiter() if telegram_limits else None), sender)
    app.register_blueprint(control)
    app.register_blueprint(chat_page)
    app.add_url_rule("/bot<token>/<method>", "bot_api", _bot_api_call, methods=["GET", "POST"])
    app.register_error_handler(HTTPException, _http_error)
    return app


def _bot_api_call(token: str, method: str) -> Response:
    bot_api: BotApi = _emulator().bot_api
    try:
        params = _request_params()
    except ValueError as exc:
        status, body = bot_api.refuse_unparsable(method, str(exc))
    else:
        status, body = bot_api.call(token, method, params)
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _request_params() -> dict[str, Any]:
    """Merge query string and body (form, multipart or JSON), the body winning."""
    params: dict[str, Any] = dict(request.args.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValueError("can't parse JSON object")
        params.update(body)
        return params
    params.update(request.form.items())
    for name, upload in request.files.items():
        params[name] = UploadedFile(upload.filename or name, len(upload.read()))
    return params


def _http_error(error: HTTPException) -> Response:
    # Routing misses look like Telegram's own 404 under /bot, like the control API elsewhere.
    if request.path.startswith("/control"):
        body: dict[str, Any] = {"error": f"{error.code} {error.name}: {request.method} {request.path}"}
    else:
        body = {"ok": False, "error_code": error.code, "description": error.name}
    return Response(json.dumps(body), status=error.code or 500, mimetype="application/json")


def _emulator() -> Emulator:
    return current_app.extensions["telegram_emulator"]


class QuietRequestHandler(WSGIRequestHandler):
    """Log each request at DEBUG instead of werkzeug's INFO access line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one finished request at DEBUG."""
        logger.debug("%s %s -> %s", self.command, self.path, code)


@dataclass
class RunningEmulator:
    """An emulator served from a background thread."""

    url: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def state(self) -> EmulatorState:
        """Return the live state (for in-process inspection)."""
        return self.app.extensions["telegram_emulator"].state

    def shutdown(self) -> None:
        """Stop serving, release waiting long polls and the webhook thread."""
        self.state.close()
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()


def build_server(host: str, port: int, app: Flask) -> BaseWSGIServer:
    """Return a threaded werkzeug server so long polls do not block other calls."""
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


def start_in_thread(host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> RunningEmulator:
    """Serve a new emulator from a daemon thread; port 0 picks a free port."""
    app = create_app(**app_options)
    server = build_server(host, port, app)
    # A short poll interval keeps shutdown quick for per-test servers.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="telegram-emulator", daemon=True
    )
    thread.start()
    return RunningEmulator(f"http://{host}:{server.server_port}", app, server, thread)


def serve_in_thread(port: int = 0, host: str = "127.0.0.1", **app_options: Any) -> tuple[str, Callable[[], None]]:
    """Serve a new emulator in the background; return (base_url, shutdown)."""
    running = start_in_thread(host=host, port=port, **app_options)
    return running.url, running.shutdown
