"""LOGIN_MAX_AGE: a login may be refreshed for so long in all, and no token outlives it."""

from __future__ import annotations

import time

import pytest

from core import db
from tests.integration.test_web_tokens import assert_401, bearer, claims_of, refresh

ONE_HOUR = 3600


@pytest.fixture
def app(make_app, request):
    """The test app, with the settings a test passes through `indirect` parametrization."""
    return make_app(**getattr(request, "param", {}))


def age_login(family_id: str, seconds: int) -> None:
    """Move a login's start (its family's created_at) `seconds` into the past."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
            (seconds, family_id),
        )


def family_row(family_id: str) -> dict:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM token_families WHERE id = %s", (family_id,))
        return cur.fetchone()


def test_refresh_after_the_max_age_answers_login_expired_and_ends_the_login(client, login):
    tokens = login()
    family_id = claims_of(tokens["refresh_token"])["fam"]
    age_login(family_id, 2592000 + 1)  # the default LOGIN_MAX_AGE, 30 days

    response = refresh(client, tokens["refresh_token"])
    assert_401(response, "login_expired")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    ended = family_row(family_id)
    assert ended["revoked_at"] is not None and ended["revoked_reason"] == "login_expired"
    # The login is over: its access token stops too, and asking again says the same.
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["access_token"])), "token_revoked")
    assert_401(refresh(client, tokens["refresh_token"]), "login_expired")


def test_refresh_within_the_max_age_still_rotates(client, login):
    tokens = login()
    age_login(claims_of(tokens["refresh_token"])["fam"], 2592000 - 60)
    assert refresh(client, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("app", [{"login_max_age": ONE_HOUR}], indirect=True)
def test_the_new_refresh_token_expires_with_the_login(client, login):
    tokens = login()
    family_id = claims_of(tokens["refresh_token"])["fam"]
    first = claims_of(tokens["refresh_token"])
    assert first["exp"] - first["iat"] <= ONE_HOUR  # not the 7 days of REFRESH_TOKEN_TTL

    age_login(family_id, ONE_HOUR - 600)  # ten minutes of the login left
    rotated = refresh(client, tokens["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.get_json()
    ends_at = family_row(family_id)["created_at"].timestamp() + ONE_HOUR
    for token in (new["refresh_token"], new["access_token"]):
        assert claims_of(token)["exp"] <= ends_at + 1
    assert claims_of(new["refresh_token"])["exp"] >= time.time() + 600 - 30
    # The access token's expires_in says the truth: 10 minutes, not ACCESS_TOKEN_TTL's 30.
    assert 600 - 30 <= new["expires_in"] <= 600
    assert abs(claims_of(new["access_token"])["exp"] - time.time() - new["expires_in"]) <= 2


def test_tokens_keep_their_full_lifetimes_far_from_the_login_end(client, login):
    tokens = login()
    access, refresh_claims = claims_of(tokens["access_token"]), claims_of(tokens["refresh_token"])
    assert access["exp"] - access["iat"] == 1800 and refresh_claims["exp"] - refresh_claims["iat"] == 604800
    assert tokens["expires_in"] == 1800
