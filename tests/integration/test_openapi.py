"""GET /api/openapi.json: a valid OpenAPI 3.1 document that tells the truth about every endpoint."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from webapp import auth_api, openapi, schemas

ROOMY_LIMITS = {
    "rate_limit_init_per_ip": "10000/minute",
    "rate_limit_init_per_phone": "10000/minute",
    "rate_limit_refresh_per_family": "10000/minute",
    "rate_limit_refresh_per_ip": "10000/minute",
    "rate_limit_poll_burst": 10000,
}

INIT = ("post", "/api/auth/init")
STATUS = ("get", "/api/auth/status/{session_id}")
CANCEL = ("delete", "/api/auth/session/{session_id}")
REFRESH = ("post", "/api/auth/refresh")
ME = ("get", "/api/auth/me")
LOGOUT = ("post", "/api/auth/logout")
HEALTHZ = ("get", "/healthz")
READYZ = ("get", "/readyz")

# DESIGN.md's HTTP API: every endpoint with every status it can answer.
CONTRACT = {
    INIT: {201, 400, 413, 415, 422, 429, 503},
    STATUS: {200, 400, 404, 410, 429, 503},
    CANCEL: {200, 404, 409, 503},
    REFRESH: {200, 400, 401, 413, 415, 422, 429, 503},
    ME: {200, 401, 503},
    LOGOUT: {204, 401, 503},
    HEALTHZ: {200},
    READYZ: {200, 503},
    ("get", "/api/openapi.json"): {200},
}


@pytest.fixture
def app(make_app):
    """The web app with the test settings and roomy rate limits."""
    return make_app(**ROOMY_LIMITS)


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def documented(document: dict[str, Any], operation: tuple[str, str]) -> dict[str, Any]:
    method, path = operation
    return document["paths"][path][method]


def assert_conforms(document: dict[str, Any], operation: tuple[str, str], response) -> None:
    """Assert a real answer is documented: its status, its body's schema, its headers, its error code."""
    responses = documented(document, operation)["responses"]
    status = str(response.status_code)
    assert status in responses, f"{operation} answered an undocumented {status}: {response.get_data(as_text=True)}"
    spec = responses[status]
    for header in spec.get("headers", {}):
        assert header in response.headers, f"{operation} {status} lacks {header}"
    if "content" not in spec:
        assert response.get_data() == b""
        return
    media = spec["content"]["application/json"]
    body = response.get_json()
    root = {**media["schema"], "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(body)
    if "error" in body and "examples" in media:
        assert body["error"]["code"] in media["examples"], f"{operation} {status}: undocumented {body['error']['code']}"


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_endpoint_is_documented_with_every_status_it_can_answer(document):
    for operation, statuses in CONTRACT.items():
        answered = {int(code) for code in documented(document, operation)["responses"]}
        assert statuses <= answered, f"{operation} lacks {statuses - answered}"


def test_every_api_route_of_the_app_is_documented(app, document):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/readyz"):
            path = openapi.openapi_path(rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in document["paths"].get(path, {}), f"{method} {rule.rule} is not documented"


def test_every_error_answer_has_the_error_shape_and_an_example_per_code(document):
    error_schema = {"$ref": "#/components/schemas/ErrorResponse", "components": document["components"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                media = response["content"]["application/json"]
                assert media["schema"]["$ref"] in (
                    "#/components/schemas/ErrorResponse",
                    "#/components/schemas/NotReadyResponse",
                )
                for code, example in media.get("examples", {}).items():
                    assert example["value"]["error"]["code"] == code
                    jsonschema.Draft202012Validator(error_schema).validate(example["value"])


def test_waiting_answers_carry_their_headers(document):
    for operation in CONTRACT:
        for status, response in documented(document, operation)["responses"].items():
            headers = response.get("headers", {})
            if status in ("429", "503"):
                assert headers == {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}, (operation, status)
            if status == "401":
                assert "WWW-Authenticate" in headers, operation
    assert document["components"]["headers"]["Retry-After"]["schema"]["type"] == "integer"


def test_bearer_security_on_me_and_logout_only(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    for operation in CONTRACT:
        security = documented(document, operation).get("security")
        assert security == ([{"bearerAuth": []}] if operation in (ME, LOGOUT) else None), operation


def test_request_bodies_are_the_models_that_validate_them(app, document):
    for operation, endpoint, model in (
        (INIT, "auth_api.init_session", schemas.InitRequest),
        (REFRESH, "auth_api.refresh_tokens", schemas.RefreshRequest),
    ):
        body = documented(document, operation)["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert document["components"]["schemas"][model.__name__] == model.model_json_schema()
        assert openapi.declared_operation(app.view_functions[endpoint]).body is model


def test_the_wait_parameter(document):
    (wait,) = documented(document, STATUS)["parameters"]
    assert wait["name"] == "wait" and wait["in"] == "query" and wait["required"] is False
    assert wait["schema"] == {"type": "integer", "minimum": 0, "maximum": auth_api.MAX_WAIT_SECONDS, "default": 0}
    (session_id,) = document["paths"][STATUS[1]]["parameters"]
    assert session_id["in"] == "path" and session_id["required"] is True


def test_examples_are_valid_requests(document):
    schema = document["components"]["schemas"]["InitRequest"]
    for example in schema["properties"]["phone_number"]["examples"]:
        schemas.InitRequest.model_validate({"phone_number": example})


def test_real_answers_of_a_whole_login_conform(client, document, linked_user, decide):
    started = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})
    assert_conforms(document, INIT, started)
    session_id = started.get_json()["session_id"]
    assert_conforms(document, STATUS, client.get(f"/api/auth/status/{session_id}?wait=0"))
    decide(session_id, linked_user["telegram_id"], True)
    approved = client.get(f"/api/auth/status/{session_id}")
    assert approved.get_json()["status"] == "approved"
    assert_conforms(document, STATUS, approved)
    assert_conforms(document, STATUS, client.get(f"/api/auth/status/{session_id}"))  # 410
    assert_conforms(document, CANCEL, client.delete(f"/api/auth/session/{session_id}"))  # 409
    tokens = approved.get_json()["tokens"]
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert_conforms(document, ME, client.get("/api/auth/me", headers=auth))
    rotated = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    assert_conforms(document, REFRESH, rotated)
    new_auth = {"Authorization": f"Bearer {rotated.get_json()['access_token']}"}
    assert_conforms(document, LOGOUT, client.post("/api/auth/logout", headers=new_auth))  # 204
    assert_conforms(document, LOGOUT, client.post("/api/auth/logout", headers=new_auth))  # 401 revoked
    reused = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_conforms(document, REFRESH, reused)
    assert_conforms(document, ME, client.get("/api/auth/me"))  # 401 missing
    assert_conforms(document, HEALTHZ, client.get("/healthz"))
    assert_conforms(document, READYZ, client.get("/readyz"))
    assert_conforms(document, ("get", "/api/openapi.json"), client.get("/api/openapi.json"))


def test_real_answers_to_a_cancelled_and_a_rejected_login_conform(client, document, linked_user, decide):
    cancelled = client.post("/api/auth/init", json={"phone_number": "+79169999999"}).get_json()["session_id"]
    assert_conforms(document, CANCEL, client.delete(f"/api/auth/session/{cancelled}"))
    assert_conforms(document, STATUS, client.get(f"/api/auth/status/{cancelled}"))
    started = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})
    rejected = started.get_json()["session_id"]
    decide(rejected, linked_user["telegram_id"], False)
    assert_conforms(document, STATUS, client.get(f"/api/auth/status/{rejected}"))


def test_match_mode_answers_conform(make_app, document):
    client = make_app(approval_mode="match", **ROOMY_LIMITS).test_client()
    started = client.post("/api/auth/init", json={"phone_number": "+79161234567"})
    assert "match_code" in started.get_json()
    assert_conforms(document, INIT, started)


BAD_REQUESTS = [
    (INIT, "post", "/api/auth/init", {"data": "{", "content_type": "application/json"}),
    (INIT, "post", "/api/auth/init", {"data": "[]", "content_type": "application/json"}),
    (INIT, "post", "/api/auth/init", {"data": "{}", "content_type": "text/plain"}),
    (INIT, "post", "/api/auth/init", {"json": {}}),
    (INIT, "post", "/api/auth/init", {"json": {"phone_number": 5}}),
    (INIT, "post", "/api/auth/init", {"json": {"phone_number": "123"}}),
    (INIT, "post", "/api/auth/init", {"data": json.dumps({"pad": "x" * 17_000}), "content_type": "application/json"}),
    (REFRESH, "post", "/api/auth/refresh", {"json": {"refresh_token": "not-a-jwt"}}),
    (REFRESH, "post", "/api/auth/refresh", {"json": {"refresh_token": None}}),
    (STATUS, "get", "/api/auth/status/AAAAAAAAAAAAAAAAAAAAAA", {}),
    (STATUS, "get", "/api/auth/status/AAAAAAAAAAAAAAAAAAAAAA?wait=31", {}),
    (STATUS, "get", "/api/auth/status/a%2Fb", {}),
    (CANCEL, "delete", "/api/auth/session/AAAAAAAAAAAAAAAAAAAAAA", {}),
    (ME, "get", "/api/auth/me", {"headers": {"Authorization": "Bearer a.b.c"}}),
    (LOGOUT, "post", "/api/auth/logout", {"headers": {"Authorization": "Basic eDp5"}}),
]


@pytest.mark.parametrize("operation, method, url, options", BAD_REQUESTS)
def test_real_error_answers_conform(client, document, operation, method, url, options):
    response = client.open(url, method=method.upper(), **options)
    assert response.status_code >= 400
    assert_conforms(document, operation, response)


def test_real_503_answers_conform(make_app, document):
    dead_postgres = make_app(database_url="postgresql://postgres@127.0.0.1:1/x", db_connect_timeout=1).test_client()
    response = dead_postgres.get("/readyz")
    assert response.status_code == 503
    assert_conforms(document, READYZ, response)
    response = dead_postgres.get("/api/auth/status/AAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 503
    assert_conforms(document, STATUS, response)


def test_a_real_429_conforms(make_app, document):
    limited = make_app(rate_limit_init_per_ip="1/minute").test_client()
    answers = [limited.post("/api/auth/init", json={"phone_number": "+79161234567"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 429]
    assert_conforms(document, INIT, answers[1])


def test_the_document_is_generated_once_per_app(app, client):
    first = client.get("/api/openapi.json").get_json()
    assert app.extensions[openapi.DOCUMENT_KEY] == first
    assert client.get("/api/openapi.json").get_json() == first


def test_init_links_to_the_calls_that_take_its_session_id(document):
    links = documented(document, INIT)["responses"]["201"]["links"]
    assert set(links) == {"session_status", "cancel_session"}
    operation_ids = {
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    }
    for link in links.values():
        assert link["operationId"] in operation_ids
        assert link["parameters"] == {"session_id": "$response.body#/session_id"}
