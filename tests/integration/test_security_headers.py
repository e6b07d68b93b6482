"""Security headers on every answer of the web app: a 200, a 404, a 500, a 401, a CORS preflight."""

from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient

from webapp import security_headers

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = "max-age=31536000; includeSubDomains"
PAGE_POLICY = "default-src 'self'; frame-ancestors 'none'"


def app_with_test_routes(make_app: Callable[..., Flask], **overrides: object) -> Flask:
    """Build the app with a route that fails and one that serves a page with its own policy."""
    app = make_app(**overrides)

    @app.get("/test-only/boom")
    def boom() -> Response:
        raise RuntimeError("boom")

    @app.get("/test-only/page")
    def page() -> Response:
        return security_headers.page_policy(Response("<p>hi</p>", mimetype="text/html"), PAGE_POLICY)

    return app


def answers(client: FlaskClient) -> dict[str, Response]:
    """Return one answer of each kind."""
    return {
        "200": client.get("/healthz"),
        "404": client.get("/no/such/page"),
        "500": client.get("/test-only/boom"),
        "401": client.get("/api/auth/me"),
        "preflight": client.options(
            "/api/auth/init",
            headers={"Origin": "https://site.example", "Access-Control-Request-Method": "POST"},
        ),
    }


def test_every_answer_carries_the_security_headers(make_app):
    responses = answers(app_with_test_routes(make_app).test_client())
    assert {kind: r.status_code for kind, r in responses.items()} == {
        "200": 200, "404": 404, "500": 500, "401": 401, "preflight": 204
    }
    for kind, response in responses.items():
        for name, value in EXPECTED.items():
            assert response.headers.get(name) == value, (kind, name)
        # Development and test run over plain http: HSTS there would pin localhost to https.
        assert "Strict-Transport-Security" not in response.headers, kind


def test_production_adds_strict_transport_security(make_app):
    app = app_with_test_routes(
        make_app, app_env="production", jwt_secret_key="k" * 48, webauthn_rp_id="site.example",
        webauthn_rp_name="Site", webauthn_origins=("https://site.example",),
    )
    for kind, response in answers(app.test_client()).items():
        assert response.headers.get("Strict-Transport-Security") == HSTS, kind
        assert response.headers.get("X-Frame-Options") == "DENY", kind


def test_a_page_keeps_its_own_content_security_policy(make_app):
    response = app_with_test_routes(make_app).test_client().get("/test-only/page")
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/api/auth/status/unknown-session-id-0000", "/api/auth/me"])
def test_auth_answers_are_not_cached(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"
