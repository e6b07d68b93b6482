"""An access token is honoured only for the user its login (token family) belongs to.

Whoever holds the signing key (the development one, a leaked one) can sign any claims, but a
family id is never handed out on its own: the only live family such a person knows is their own.
Pointing `sub` at someone else through it must get the same 401 as a revoked token.
"""

from __future__ import annotations

import time
import warnings

import jwt
import jwt.warnings
import pytest

from core import db
from core.settings import INSECURE_DEV_JWT_KEY
from tests import factories
from tests.integration.test_web_tokens import assert_401, bearer, claims_of


def signed_with_the_key(claims: dict) -> str:
    """Sign claims as a holder of the app's (development) key would."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, INSECURE_DEV_JWT_KEY, algorithm="HS256")


@pytest.fixture
def victim(app) -> dict:
    """Another linked user, who never logs in here."""
    with db.transaction() as conn:
        return factories.make_user(conn)


@pytest.fixture
def forged_for_victim(login, victim) -> tuple[dict, str]:
    """Return the forger's genuine tokens and an access token of their live family naming the victim."""
    tokens = login()
    own = claims_of(tokens["access_token"])
    now = int(time.time())
    forged = signed_with_the_key({**own, "sub": str(victim["id"]), "iat": now, "nbf": now, "exp": now + 600})
    return tokens, forged


def test_me_refuses_a_token_whose_subject_is_not_its_familys_user(client, forged_for_victim):
    tokens, forged = forged_for_victim
    response = client.get("/api/auth/me", headers=bearer(forged))
    assert_401(response, "token_revoked")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The forger's own login is untouched.
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_logout_refuses_it_too_and_ends_nothing(client, forged_for_victim):
    tokens, forged = forged_for_victim
    assert_401(client.post("/api/auth/logout", headers=bearer(forged)), "token_revoked")
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


@pytest.mark.parametrize("subject", ["", "abc", "-1", "１２", "99999999999999999999999", " 1"])
def test_a_subject_that_is_no_user_id_is_refused(client, login, subject):
    own = claims_of(login()["access_token"])
    now = int(time.time())
    forged = signed_with_the_key({**own, "sub": subject, "iat": now, "nbf": now, "exp": now + 600})
    response = client.get("/api/auth/me", headers=bearer(forged))
    assert_401(response)
    assert response.get_json()["error"]["code"] in ("invalid_token", "token_revoked")


def test_the_subject_of_its_own_family_is_still_honoured(client, login, linked_user):
    own = claims_of(login()["access_token"])
    now = int(time.time())
    resigned = signed_with_the_key({**own, "iat": now, "nbf": now, "exp": now + 600})
    response = client.get("/api/auth/me", headers=bearer(resigned))
    assert response.status_code == 200
    assert response.get_json()["id"] == linked_user["id"]
