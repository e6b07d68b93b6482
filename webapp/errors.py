"""The one JSON error shape of the API, and the handlers that route every failure through it."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from core.errors import ServiceUnavailable
from webapp import error_catalogue

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2

class ApiError(Exception):
    """An expected failure that becomes an error response (raise it from any view)."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, code: str, message: str | None = None, headers: Mapping[str, str] | None = None) -> "ApiError":
        """Return the error of a catalogued code, with its status and (unless given) its sentence."""
        return cls(error_catalogue.status_of(code), code, message or error_catalogue.message_of(code), headers)


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """Build `{"error": {"code", "message"}}` with a status; `extra` adds top-level fields."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if extra:
        body.update(extra)
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def service_unavailable_response(service: str) -> Response:
    """Answer 503 with Retry-After, naming the backing service that is down."""
    return error_response(
        error_catalogue.status_of("service_unavailable"),
        "service_unavailable",
        f"The service is temporarily unavailable ({service}); try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def handle_api_error(error: ApiError) -> Response:
    """Answer an ApiError raised by a view."""
    return error_response(error.status, error.code, error.message, error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    """Answer a Werkzeug HTTP error (404, 405, 413...) in the JSON shape, keeping its headers."""
    status = error.code or 500
    code = error_catalogue.HTTP_STATUS_CODES.get(status)
    message = error_catalogue.message_of(code) if code else error.name + "."
    code = code or _snake_case(error.name)
    # Keep what the exception says about the protocol (Allow on 405, Retry-After...).
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    return error_response(status, code, message, headers)


def handle_service_unavailable(error: ServiceUnavailable) -> Response:
    """Answer 503 when Postgres or Redis can't be reached (fail closed)."""
    log.warning("%s on %s %s: %s", type(error).__name__, request.method, _route(), error)
    return service_unavailable_response(error.service)


def handle_unexpected(error: Exception) -> Response:
    """Log any other exception with its traceback and answer a detail-free 500."""
    log.exception("unhandled %s on %s %s", type(error).__name__, request.method, _route())
    return error_response(500, "internal_error", error_catalogue.message_of("internal_error"))


def register(app: Flask) -> None:
    """Route every error of the app through `error_response`."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ServiceUnavailable, handle_service_unavailable)
    app.register_error_handler(Exception, handle_unexpected)


def _route() -> str:
    # The URL template, never the path: paths carry session ids, which must not reach logs.
    return request.url_rule.rule if request.url_rule is not None else "-"


def _snake_case(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").split())
