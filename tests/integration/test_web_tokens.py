"""Access and refresh tokens: /me, refresh rotation with reuse detection, logout, forged tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from typing import Any

import jwt
import jwt.warnings
import pytest

from core import db
from core.settings import INSECURE_DEV_JWT_KEY


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: str = INSECURE_DEV_JWT_KEY) -> str:
    """Sign with HMAC-SHA256 whatever the header claims (for algorithm-confusion attempts)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def assert_401(response, code: str | None = None) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code


def refresh(client, token: str):
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_me_returns_the_public_profile(client, login, linked_user):
    tokens = login()
    body = client.get("/api/auth/me", headers=bearer(tokens["access_token"])).get_json()
    assert body == {
        "id": linked_user["id"],
        "phone_number": linked_user["phone_number"],
        "telegram": {
            "id": linked_user["telegram_id"],
            "username": linked_user["username"],
            "first_name": linked_user["first_name"],
            "last_name": linked_user["last_name"],
        },
        "created_at": linked_user["created_at"].isoformat(),
        "email": None,
        "email_verified": False,
    }


def test_tokens_carry_our_claims(client, login, linked_user):
    tokens = login()
    access, refresh_claims = claims_of(tokens["access_token"]), claims_of(tokens["refresh_token"])
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"
    assert access["sub"] == refresh_claims["sub"] == str(linked_user["id"])
    assert access["type"] == "access" and refresh_claims["type"] == "refresh"
    assert access["iss"] == "dance-of-mind" and access["aud"] == "dance-of-mind-web"
    assert access["fam"] == refresh_claims["fam"]
    assert access["exp"] - access["iat"] == 1800 and refresh_claims["exp"] - refresh_claims["iat"] == 604800
    assert access["nbf"] <= time.time()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT current_refresh_jti FROM token_families WHERE id = %s", (access["fam"],))
        assert cur.fetchone()["current_refresh_jti"] == refresh_claims["jti"]


def test_refresh_rotates_and_a_reused_token_ends_the_login(client, login):
    tokens = login()

    rotated = refresh(client, tokens["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.get_json()
    assert set(new) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    assert claims_of(new["refresh_token"])["fam"] == claims_of(tokens["refresh_token"])["fam"]
    assert client.get("/api/auth/me", headers=bearer(new["access_token"])).status_code == 200

    assert_401(refresh(client, tokens["refresh_token"]), "token_reused")
    assert_401(refresh(client, new["refresh_token"]), "token_revoked")
    assert_401(client.get("/api/auth/me", headers=bearer(new["access_token"])), "token_revoked")
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["access_token"])), "token_revoked")


def test_a_reuse_revokes_only_that_login(client, login):
    first, second = login(), login()
    refresh(client, first["refresh_token"])
    assert_401(refresh(client, first["refresh_token"]), "token_reused")
    assert client.get("/api/auth/me", headers=bearer(second["access_token"])).status_code == 200


def test_logout_revokes_the_access_and_refresh_tokens(client, login):
    tokens = login()
    response = client.post("/api/auth/logout", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["access_token"])), "token_revoked")
    assert_401(refresh(client, tokens["refresh_token"]), "token_revoked")
    assert_401(client.post("/api/auth/logout", headers=bearer(tokens["access_token"])), "token_revoked")


def test_a_deleted_user_is_logged_out(client, login, linked_user):
    tokens = login()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", (linked_user["id"],))
    assert_401(client.get("/api/auth/me", headers=bearer(tokens["access_token"])))
    assert_401(refresh(client, tokens["refresh_token"]))


def forged_tokens(genuine: str, other_type: str) -> dict[str, str]:
    """Return attack tokens built from a genuine token's claims (so only the attack is wrong)."""
    good = claims_of(genuine)
    now = int(time.time())
    head, body, signature = genuine.split(".")
    tampered_body = b64(json.dumps({**good, "sub": str(int(good["sub"]) + 1)}).encode())

    def sign(claims: dict[str, Any], key: str = INSECURE_DEV_JWT_KEY, algorithm: str = "HS256") -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            return jwt.encode(claims, key, algorithm=algorithm)

    return {
        "alg none": f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{body}.",
        "HS512 with our key": sign(good, algorithm="HS512"),
        "RS256 header, HMAC signature": hand_signed({"alg": "RS256", "typ": "JWT"}, good),
        "tampered payload": f"{head}.{tampered_body}.{signature}",
        "another key": sign(good, key="another-key-of-at-least-thirty-two-bytes!!"),
        "expired": sign({**good, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
        "not yet valid": sign({**good, "nbf": now + 3600, "exp": now + 7200}),
        "wrong audience": sign({**good, "aud": "someone-else"}),
        "wrong issuer": sign({**good, "iss": "someone-else"}),
        "no family": sign({k: v for k, v in good.items() if k != "fam"}),
        "unknown family": sign({**good, "fam": "00000000-0000-4000-8000-000000000000"}),
        "numeric subject": sign({**good, "sub": int(good["sub"])}),
        "the other token type": other_type,
        "garbage": "not-a-jwt",
        "three dots of garbage": "a.b.c",
        "empty": "",
    }


# What /me answers besides invalid_token (refresh answers 401 to all of them too).
ATTACK_CODES = {"expired": "token_expired", "no family": "token_revoked", "unknown family": "token_revoked"}
ATTACK_NAMES = [
    "alg none",
    "HS512 with our key",
    "RS256 header, HMAC signature",
    "tampered payload",
    "another key",
    "expired",
    "not yet valid",
    "wrong audience",
    "wrong issuer",
    "no family",
    "unknown family",
    "numeric subject",
    "the other token type",
    "garbage",
    "three dots of garbage",
    "empty",
]


@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_forged_or_misused_tokens_get_401_on_me(client, login, attack):
    tokens = login()
    token = forged_tokens(tokens["access_token"], tokens["refresh_token"])[attack]
    response = client.get("/api/auth/me", headers=bearer(token))
    assert_401(response, ATTACK_CODES.get(attack, "invalid_token") if attack != "empty" else None)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_forged_tokens_are_refused_by_refresh_too(client, login, attack):
    tokens = login()
    forged = forged_tokens(tokens["refresh_token"], tokens["access_token"])[attack]
    assert_401(refresh(client, forged))
    # None of them spent the genuine refresh token.
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_an_access_token_is_not_a_refresh_token(client, login):
    tokens = login()
    assert_401(refresh(client, tokens["access_token"]), "invalid_token")
    # ...and the failed attempt did not spend or revoke anything.
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_an_expired_refresh_token_says_so(client, login):
    good = claims_of(login()["refresh_token"])
    now = int(time.time())
    expired = jwt.encode({**good, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}, INSECURE_DEV_JWT_KEY, algorithm="HS256")
    assert_401(refresh(client, expired), "token_expired")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}, {"Authorization": "Token abc"}],
)
def test_a_missing_bearer_token_is_401(client, headers):
    response = client.get("/api/auth/me", headers=headers)
    assert_401(response)
    assert response.get_json()["error"]["code"] in ("authorization_required", "invalid_token")


def test_missing_authorization_header_says_authorization_required(client):
    assert_401(client.get("/api/auth/me"), "authorization_required")
    assert_401(client.post("/api/auth/logout"), "authorization_required")


def test_a_protected_call_fails_closed_when_postgres_is_down(make_app, login):
    tokens = login()
    dead = make_app(database_url="postgresql://postgres@127.0.0.1:1/x", db_connect_timeout=1).test_client()
    for response in (
        dead.get("/api/auth/me", headers=bearer(tokens["access_token"])),
        dead.post("/api/auth/logout", headers=bearer(tokens["access_token"])),
    ):
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "service_unavailable"
        assert response.headers["Retry-After"] == "2"


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        ("{}", "application/json", 422, "missing_field"),
        ('{"refresh_token": 5}', "application/json", 422, "invalid_field"),
        ('{"refresh_token": ', "application/json", 400, "malformed_json"),
        ('["x"]', "application/json", 400, "invalid_body"),
        ('{"refresh_token": "x"}', "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_refresh_body_rules(client, body, content_type, status, code):
    response = client.post("/api/auth/refresh", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
