"""A request id on every response (`X-Request-ID`) and on every log line of that request."""

from __future__ import annotations

from flask import Flask, Response, g, request

from core import request_ids


def register(app: Flask) -> None:
    """Take the caller's X-Request-ID (if well formed) or make one; echo it on the response."""

    @app.before_request
    def start() -> None:
        request_id = request_ids.accept(request.headers.get(request_ids.HEADER))
        g.request_id = request_id
        g.request_id_token = request_ids.current.set(request_id)

    @app.after_request
    def echo(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[request_ids.HEADER] = request_id
        return response

    @app.teardown_request
    def finish(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_ids.current.reset(token)
