"""Body rules of the API, checked on a bare Flask app (no database, no network)."""

from __future__ import annotations

import pytest
from flask import Flask

from webapp import errors, requests_json, schemas
from webapp.errors import ApiError


class NameBody(schemas.RequestBody):
    """A request model like the API's: one required string."""

    name: schemas.Text


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 100
    errors.register(app)

    @app.post("/echo")
    def echo():
        return {"name": requests_json.parse(NameBody).name}

    return app


def post(app: Flask, data, content_type="application/json"):
    return app.test_client().post("/echo", data=data, content_type=content_type)


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        ('{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
        ('{"name": "x"}', None, 415, "unsupported_media_type"),
        ("{nope", "application/json", 400, "malformed_json"),
        (b"\xc3\x28", "application/json", 400, "malformed_json"),
        ("[1]", "application/json", 400, "invalid_body"),
        ("{}", "application/json", 422, "missing_field"),
        ('{"name": null}', "application/json", 422, "invalid_field"),
        ('{"name": 1}', "application/json", 422, "invalid_field"),
        ('{"name": true}', "application/json", 422, "invalid_field"),
        ('{"name": ["x"]}', "application/json", 422, "invalid_field"),
        ('{"name": "\\ud800"}', "application/json", 422, "invalid_field"),
        ('{"name": "' + "x" * 200 + '"}', "application/json", 413, "payload_too_large"),
    ],
)
def test_each_failure_has_its_own_status_and_code(app, data, content_type, status, code):
    response = post(app, data, content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_a_valid_body_passes_and_extra_fields_are_ignored(app):
    response = post(app, '{"name": "Ann", "extra": [1, 2]}', "application/json; charset=utf-8")
    assert (response.status_code, response.get_json()) == (200, {"name": "Ann"})


def test_the_field_is_named_in_the_message(app):
    assert post(app, "{}").get_json()["error"]["message"] == "The field 'name' is required."
    assert post(app, '{"name": 1}').get_json()["error"]["message"] == "The field 'name' must be a string."
    lone_half = post(app, '{"name": "\\udfff"}')
    assert lone_half.get_json()["error"]["message"] == "The field 'name' must be valid Unicode text."


def test_a_string_with_paired_surrogates_is_text(app):
    # "\ud83d\ude42" is one character (🙂) written as a pair: valid, unlike a lone half.
    assert post(app, '{"name": "\\ud83d\\ude42"}').get_json() == {"name": "🙂"}


def test_api_error_keeps_its_headers():
    app = Flask(__name__)
    errors.register(app)

    @app.get("/limited")
    def limited():
        raise ApiError(429, "rate_limited", "Too many attempts.", {"Retry-After": "30"})

    response = app.test_client().get("/limited")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.get_json() == {"error": {"code": "rate_limited", "message": "Too many attempts."}}
