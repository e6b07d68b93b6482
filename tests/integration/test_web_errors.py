"""Every failure answers JSON in the one error shape; CORS only for the configured origins."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

from tests.integration.conftest import ALLOWED_ORIGIN


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"error": {"code": code, "message": body["error"]["message"]}}
    assert body["error"]["message"][0].isupper() and body["error"]["message"].endswith(".")
    return body


def test_unknown_path_is_a_json_404(client):
    assert_error(client.get("/no/such/page"), 404, "not_found")
    assert_error(client.get("/api/auth/status/"), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.get("/api/auth/init")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error(client.put("/api/auth/session/AAAAAAAAAAAAAAAAAAAAAA"), 405, "method_not_allowed")


def test_a_body_over_16_kb_is_a_json_413(client):
    padded = json.dumps({"phone_number": "+79161234567", "pad": "x" * 17_000})
    assert_error(client.post("/api/auth/init", data=padded, content_type="application/json"), 413, "payload_too_large")
    # Routes that never read a body refuse it too, before routing.
    assert_error(client.delete("/api/auth/session/AAAAAAAAAAAAAAAAAAAAAA", data="x" * 17_000), 413, "payload_too_large")


def test_a_body_just_under_the_limit_is_read(client):
    body = json.dumps({"phone_number": "+79161234567", "pad": ""})
    padded = json.dumps({"phone_number": "+79161234567", "pad": "x" * (16 * 1024 - len(body))})
    assert len(padded) == 16 * 1024
    assert client.post("/api/auth/init", data=padded, content_type="application/json").status_code == 201


def post_chunked(base_url: str, path: str, payload: bytes) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked (no Content-Length) through a real HTTP server."""
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    chunks = (payload[i : i + 1000] for i in range(0, len(payload), 1000))
    try:
        conn.request("POST", path, body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_chunked_body_over_16_kb_is_a_json_413(live_server):
    # Trailing spaces keep the first 16 KB valid JSON: a silently truncated read would accept it.
    payload = json.dumps({"phone_number": "+79161234567"}).encode() + b" " * 20_000
    status, body = post_chunked(live_server, "/api/auth/init", payload)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_a_small_chunked_body_is_accepted(live_server):
    status, body = post_chunked(live_server, "/api/auth/init", json.dumps({"phone_number": "+79161234567"}).encode())
    assert status == 201 and body["status"] == "pending"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_a_body_that_is_not_json_is_a_415(client, content_type):
    response = client.post("/api/auth/init", data='{"phone_number": "+79161234567"}', content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


def test_a_json_charset_is_accepted(client):
    response = client.post(
        "/api/auth/init", data='{"phone_number": "+79161234567"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("body", ["", "{", "{'phone_number': 1}", b"\xff\xfe{}", "[" * 5000 + "]" * 5000])
def test_malformed_json_is_a_400(client, body):
    assert_error(client.post("/api/auth/init", data=body, content_type="application/json"), 400, "malformed_json")


@pytest.mark.parametrize("body", ["[]", '"+79161234567"', "79161234567", "null", "true"])
def test_json_that_is_not_an_object_is_a_400(client, body):
    assert_error(client.post("/api/auth/init", data=body, content_type="application/json"), 400, "invalid_body")


def test_an_unexpected_exception_is_a_bare_500(make_app, caplog):
    app = make_app()

    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/test-only/boom")
    body = assert_error(response, 500, "internal_error")
    assert "secret" not in json.dumps(body)
    assert "RuntimeError" in caplog.text and "secret internal detail" in caplog.text  # logged, with traceback
    assert "Traceback" in caplog.text


def test_a_raised_werkzeug_400_is_json(make_app):
    app = make_app()

    @app.get("/test-only/bad")
    def bad():
        from werkzeug.exceptions import BadRequest

        raise BadRequest()

    assert_error(app.test_client().get("/test-only/bad"), 400, "bad_request")


def test_postgres_down_is_a_503_on_public_endpoints_too(make_app):
    client = make_app(database_url="postgresql://postgres@127.0.0.1:1/x", db_connect_timeout=1).test_client()
    response = client.post("/api/auth/init", json={"phone_number": "+79161234567"})
    assert_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "2"
    assert_error(client.get("/api/auth/status/AAAAAAAAAAAAAAAAAAAAAA"), 503, "service_unavailable")


def test_cors_allows_only_the_configured_origin(client, start_login):
    allowed = client.get("/healthz", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in allowed.headers  # only /api/*

    started = start_login("+79161234567")
    path = f"/api/auth/status/{started['session_id']}"
    allowed = client.get(path, headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Retry-After" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get(path, headers={"Origin": "https://evil.example"})
    assert other.status_code == 200
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_preflight(client):
    preflight = client.options(
        "/api/auth/init",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert set(preflight.headers["Access-Control-Allow-Headers"].split(", ")) == {"authorization", "content-type"}
    assert "Content-Type" not in preflight.headers

    refused = client.options(
        "/api/auth/init", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_errors_carry_cors_headers_for_the_allowed_origin(client):
    response = client.get("/api/auth/status/AAAAAAAAAAAAAAAAAAAAAA", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_no_origins_configured_means_no_cors(make_app):
    client = make_app(allowed_origins=()).test_client()
    response = client.get("/api/auth/status/AAAAAAAAAAAAAAAAAAAAAA", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers
