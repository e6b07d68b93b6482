"""The Flask web app: `create_app(config=None)` builds it from the shared settings."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, Response, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from core import db, logs
from core.settings import ConfigError, Settings, get_settings
from webapp import (
    auth_api,
    cli,
    demo,
    docs,
    email_api,
    email_links,
    errors,
    health,
    jwt_tokens,
    metrics,
    openapi,
    passkeys_api,
    rate_limits,
    request_id,
    requests_json,
    security_headers,
)

SETTING_NAMES = frozenset(Settings.model_fields)

def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` keys that name settings override them, the rest go to `app.config`."""
    config = dict(config or {})
    settings = get_settings().with_overrides(**{k: v for k, v in config.items() if k in SETTING_NAMES})
    settings.ensure_usable("web")
    configure_logging(settings.log_level, settings.log_format)

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
    # First: the request id and the timer cover everything after them, errors included.
    request_id.register(app)
    metrics.register(app)
    errors.register(app)
    security_headers.register(app, settings)
    jwt_tokens.configure(app, settings)
    rate_limits.configure(app, settings)
    app.before_request(requests_json.refuse_oversized_body)
    app.after_request(empty_options_response)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth_api.bp)
    app.register_blueprint(passkeys_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(email_api.bp)
    app.register_blueprint(email_links.bp)
    app.cli.add_command(cli.db_cli)
    app.cli.add_command(cli.doctor_command)
    return app


def configure_logging(level_name: str, log_format: str = "text") -> None:
    """Log one line per record (text or JSON, with the request id) to stderr at this level."""
    try:
        logs.configure(level_name, log_format)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def empty_options_response(response: Response) -> Response:
    """Answer Flask's automatic OPTIONS (CORS preflight) with 204 instead of an empty text/html 200."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204
        del response.headers["Content-Type"]
    return response
