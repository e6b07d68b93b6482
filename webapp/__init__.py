"""The Flask web app: `create_app(config=None)` builds it from the shared settings."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping

from flask import Flask, Response, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from core import db
from core.settings import ConfigError, Settings, get_settings
from webapp import (
    auth_api,
    cli,
    demo,
    docs,
    errors,
    health,
    jwt_tokens,
    limits,
    openapi,
    requests_json,
    security_headers,
)

SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(Settings))
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """Format each record on one line (tracebacks included), so log collectors keep it whole."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record with its newlines escaped."""
        return super().format(record).replace("\n", "\\n")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` keys that name settings override them, the rest go to `app.config`."""
    config = dict(config or {})
    settings = get_settings().with_overrides(**{k: v for k, v in config.items() if k in SETTING_NAMES})
    settings.ensure_usable("web")
    configure_logging(settings.log_level)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config.update({k: v for k, v in config.items() if k not in SETTING_NAMES})
    app.extensions["settings"] = settings
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # Only a Pool object: connections open on first use, and get_pool() makes a new pool after fork.
    db.configure(settings)

    if settings.trusted_proxy_count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count)  # type: ignore[method-assign]
    CORS(
        app,
        resources={r"/api/*": {"origins": list(settings.allowed_origins)}},
        allow_headers=["Authorization", "Content-Type"],
        methods=["GET", "POST", "DELETE"],
        expose_headers=["Retry-After"],
    )
    errors.register(app)
    security_headers.register(app, settings)
    jwt_tokens.configure(app, settings)
    limits.configure(app, settings)
    app.before_request(requests_json.refuse_oversized_body)
    app.after_request(empty_options_response)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(demo.bp)
    app.cli.add_command(cli.db_cli)
    return app


def configure_logging(level_name: str) -> None:
    """Set the root level, and log one line per record to stderr unless a handler exists already."""
    level = logging.getLevelNamesMapping().get(level_name.upper())
    if level is None:
        raise ConfigError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got {level_name!r}")
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(OneLineFormatter(LOG_FORMAT))
        root.addHandler(handler)
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def empty_options_response(response: Response) -> Response:
    """Answer Flask's automatic OPTIONS (CORS preflight) with 204 instead of an empty text/html 200."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204
        del response.headers["Content-Type"]
    return response
