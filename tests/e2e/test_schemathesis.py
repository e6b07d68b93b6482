"""Schemathesis against /api/openapi.json of a real gunicorn: no 5xx, every answer as documented.

It runs in `make test` (so in CI) with a bounded budget (about 1,500 requests, some 10 s):
100 generated requests per operation with valid input, and 100 with invalid input where the
document constrains it. (A stateful run following the document's links was dropped: its steps
depend on the server's random answers, which Hypothesis reports as flaky generation.) The target is a web
server of its own on the e2e system (Postgres, Redis, worker and bot are real), with roomy rate
limits so that requests reach the views; 429 answers are documented anyway and would conform.
(Schemathesis's own pytest loaders need pytest < 9 here, so the operations are driven with
Hypothesis directly: the same strategies and checks.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.system import System

MAX_EXAMPLES = 100
REQUEST_TIMEOUT_SECONDS = 10
ROOMY_LIMITS = {
    "RATE_LIMIT_INIT_PER_IP": "100000/minute",
    "RATE_LIMIT_INIT_PER_PHONE": "100000/minute",
    "PROMPT_BUDGET_PER_PHONE": "100000/minute",
    "RATE_LIMIT_REFRESH_PER_FAMILY": "100000/minute",
    "RATE_LIMIT_REFRESH_PER_IP": "100000/minute",
    "RATE_LIMIT_POLL_BURST": "100000",
    "RATE_LIMIT_PASSKEY_PER_IP": "100000/minute",
    "RATE_LIMIT_EMAIL_PER_IP": "100000/minute",
    "RATE_LIMIT_EMAIL_PER_ADDRESS": "100000/minute",
    "EMAIL_LOGIN": "on",  # the sign-in by email code answers more than 403
}
VALID_PHONES = ["+7 916 123-45-67", "8 (916) 765-43-21", "79031112233", "+44 20 7946 0958", "+1 202-555-0123"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Every documented operation (test_every_operation_of_the_document_is_fuzzed keeps the list whole).
OPERATIONS = [
    ("POST", "/api/auth/init"),
    ("GET", "/api/auth/status/{session_id}"),
    ("DELETE", "/api/auth/session/{session_id}"),
    ("POST", "/api/auth/refresh"),
    ("GET", "/api/auth/me"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/email"),
    ("POST", "/api/auth/email/confirm"),
    ("POST", "/api/auth/email/login"),
    ("POST", "/api/auth/email/login/verify"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("POST", "/api/auth/passkeys/registration/options"),
    ("POST", "/api/auth/passkeys/registration/verify"),
    ("POST", "/api/auth/passkeys/login/options"),
    ("POST", "/api/auth/passkeys/login/verify"),
    ("GET", "/api/auth/passkeys"),
    ("DELETE", "/api/auth/passkeys/{passkey_id}"),
]
# Operations whose input can break the document's rules (a body, a bounded query, a bearer
# token), so that schemathesis can generate invalid requests for them too.
WITH_CONSTRAINED_INPUT = {
    ("POST", "/api/auth/init"),
    ("GET", "/api/auth/status/{session_id}"),
    ("POST", "/api/auth/refresh"),
    ("GET", "/api/auth/me"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/passkeys/registration/verify"),
    ("POST", "/api/auth/passkeys/login/verify"),
    ("GET", "/api/auth/passkeys"),
    ("POST", "/api/auth/email"),
    ("POST", "/api/auth/email/confirm"),
    ("POST", "/api/auth/email/login"),
    ("POST", "/api/auth/email/login/verify"),
}
CASES = [(method, path, GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (method, path, GenerationMode.NEGATIVE) for method, path in OPERATIONS if (method, path) in WITH_CONSTRAINED_INPUT
]


@pytest.fixture(scope="module")
def fuzzed_web(system: System) -> str:
    """Start a web server of its own (roomy limits) on the e2e system; return its URL."""
    return system.start_web("web-schemathesis", **ROOMY_LIMITS)


@pytest.fixture(scope="module")
def api_schema(fuzzed_web: str) -> schemathesis.BaseSchema:
    """Load the document the server publishes; some /init bodies carry a valid phone."""
    schema = schemathesis.openapi.from_url(f"{fuzzed_web}/api/openapi.json", timeout=REQUEST_TIMEOUT_SECONDS)

    @schema.hook("before_generate_body")
    def add_valid_phones(context: schemathesis.HookContext, strategy: st.SearchStrategy) -> st.SearchStrategy:
        # Random strings are never phone numbers: without these, no login would ever start,
        # and the 201 answer and the links to status and cancel would go untested.
        if context.operation is None or context.operation.path != "/api/auth/init":
            return strategy
        return st.one_of(strategy, st.fixed_dictionaries({"phone_number": st.sampled_from(VALID_PHONES)}))

    @schema.hook("before_generate_query")
    def short_long_polls(context: schemathesis.HookContext, strategy: st.SearchStrategy) -> st.SearchStrategy:
        # ?wait=N holds a pending login's poll for N s (up to 30): keep valid waits at 0-2 s so
        # the fuzzing stays within its request timeout; invalid ones are still generated.
        if context.operation is None or context.operation.path != "/api/auth/status/{session_id}":
            return strategy
        return strategy.map(lambda query: _short_wait(query))

    return schema


def _short_wait(query: Any) -> Any:
    if isinstance(query, dict) and isinstance(query.get("wait"), int) and 2 < query["wait"] <= 30:
        return {**query, "wait": query["wait"] % 3}
    return query


@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {mode}" for m, p, mode in CASES])
def test_every_operation_answers_as_documented(api_schema, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases on every run: a failure in CI reproduces here
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT_SECONDS)

    call()


def test_every_operation_of_the_document_is_fuzzed(api_schema) -> None:
    paths = api_schema.raw_schema["paths"]
    published = {(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"}
    assert published == set(OPERATIONS)
