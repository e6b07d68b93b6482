"""METRICS_TOKEN: read from the environment, compared as a bearer token, warned about when unset on a public bind."""

from __future__ import annotations

import pytest

from core import config_checks
from core.settings import from_environ
from webapp.metrics import presents_token

BASE = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r/0"}
TOKEN = "s3cret-metrics-token-0123456789abcdef"


def test_metrics_token_is_read_and_unset_by_default():
    assert from_environ(BASE).metrics_token.get_secret_value() == ""
    assert from_environ({**BASE, "METRICS_TOKEN": f" {TOKEN} "}).metrics_token.get_secret_value() == TOKEN


def test_login_max_age_defaults_to_thirty_days_and_must_be_positive():
    assert from_environ(BASE).login_max_age == 2592000
    assert from_environ({**BASE, "LOGIN_MAX_AGE": "3600"}).login_max_age == 3600
    for bad in ("0", "-5"):
        problems = from_environ({**BASE, "APP_ENV": "test", "LOGIN_MAX_AGE": bad}).problems()
        assert "LOGIN_MAX_AGE must be a positive number of seconds" in problems


@pytest.mark.parametrize(
    "authorization, accepted",
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
    ],
)
def test_only_the_exact_bearer_token_is_accepted(authorization, accepted):
    assert presents_token(authorization, TOKEN) is accepted


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "10.0.0.5", "203.0.113.7", "app.example.com"])
def test_an_unset_token_on_a_reachable_bind_is_warned_about(host):
    warnings = config_checks.metrics_token_warnings("", [host])
    assert len(warnings) == 1 and "METRICS_TOKEN" in warnings[0] and host in warnings[0]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_a_local_bind_needs_no_token(host):
    assert config_checks.metrics_token_warnings("", [host]) == []


def test_a_set_token_silences_the_warning():
    assert config_checks.metrics_token_warnings(TOKEN, ["0.0.0.0"]) == []


def test_the_warning_is_not_a_refusal():
    production = from_environ(
        {**BASE, "APP_ENV": "production", "JWT_SECRET_KEY": "k" * 48, "ALLOWED_ORIGINS": "https://a.example",
         "WEBAUTHN_RP_ID": "a.example", "WEBAUTHN_RP_NAME": "A", "WEBAUTHN_ORIGINS": "https://a.example"}
    )
    assert not any("METRICS_TOKEN" in problem for problem in production.problems("web"))
