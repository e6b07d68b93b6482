"""One error catalogue: every code the web app answers, and the OpenAPI document, agree with it."""

from __future__ import annotations

import re
from pathlib import Path

from webapp import create_app, error_catalogue, openapi

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
# `ApiError(401, "invalid_token", ...)`, `error_response(503, "service_unavailable", ...)`
RAISED_WITH_STATUS = re.compile(r'(?:ApiError|error_response)\(\s*(\d{3}),\s*"(\w+)"')
# `ApiError.of("rate_limited", ...)`, `unauthorized("token_expired", ...)` (always 401)
RAISED_BY_CODE = re.compile(r'(?:ApiError\.of|unauthorized)\(\s*"(\w+)"')
BASE = {"app_env": "test", "database_url": "postgresql://unused.invalid/x", "redis_url": "redis://unused.invalid/0"}


def raised_codes() -> set[tuple[int, str]]:
    found = set()
    for path in WEBAPP.glob("*.py"):
        source = path.read_text()
        found |= {(int(status), code) for status, code in RAISED_WITH_STATUS.findall(source)}
        found |= {(error_catalogue.status_of(code), code) for code in RAISED_BY_CODE.findall(source)}
    return found


def test_every_code_the_web_app_answers_is_catalogued_with_its_status():
    raised = raised_codes()
    assert len(raised) > 15  # the patterns still find the views' errors
    for status, code in raised:
        assert code in error_catalogue.CATALOGUE, code
        assert error_catalogue.status_of(code) == status, code


def test_werkzeug_statuses_answer_catalogued_codes_of_that_status():
    for status, code in error_catalogue.HTTP_STATUS_CODES.items():
        assert error_catalogue.status_of(code) == status


def test_the_limits_and_the_error_handler_say_the_same_429_sentence():
    assert "Too many" not in (WEBAPP / "rate_limits.py").read_text()  # the catalogue's sentence, not a copy
    assert error_catalogue.message_of(error_catalogue.HTTP_STATUS_CODES[429]) == "Too many requests; try again later."


def test_the_openapi_document_takes_status_and_message_from_the_catalogue():
    document = openapi.build_document(create_app(BASE))
    examples = 0
    for path_item in document["paths"].values():
        for operation in (item for item in path_item.values() if isinstance(item, dict)):
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                for code, example in content.get("examples", {}).items():
                    examples += 1
                    assert error_catalogue.status_of(code) == int(status), code
                    expected = error_catalogue.message_of(code)
                    pattern = re.escape(expected).replace(re.escape("{field}"), r"\w+")
                    assert re.fullmatch(pattern, example["value"]["error"]["message"]), code
    assert examples > 20
