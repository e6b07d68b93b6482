"""Bad input of every kind gets its own 4xx in the error shape, never a 500 (issue 3, item 7).

The basic body rules are in test_web_errors.py and the forged-token matrix on /me and /refresh
in test_web_tokens.py; this file adds the rest: phone formats, every body rule on /refresh, ids
of every shape, and forged tokens on /logout.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import jwt
import pytest

from core import db, token_families
from core.settings import INSECURE_DEV_JWT_KEY
from tests.integration.conftest import session_row
from tests.integration.test_web_tokens import ATTACK_NAMES, bearer, claims_of, forged_tokens

# Limits high enough that many requests from one test client are never throttled here:
# what is under test is the input handling (the limits have tests of their own).
ROOMY_LIMITS = {
    "rate_limit_init_per_ip": "10000/minute",
    "rate_limit_init_per_phone": "10000/minute",
    "rate_limit_refresh_per_family": "10000/minute",
    "rate_limit_refresh_per_ip": "10000/minute",
    "rate_limit_poll_burst": 10000,
}
REAL_SESSION_ID_LENGTH = 22


@pytest.fixture
def app(make_app):
    """The web app with the test settings and roomy rate limits."""
    return make_app(**ROOMY_LIMITS)


def assert_error(response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the status and the one error shape (and the code, when given)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code
    return body


def post_json(client, path: str, payload: Any):
    return client.post(path, data=json.dumps(payload), content_type="application/json")


# --- phone numbers (DEFAULT_PHONE_REGION=RU) ------------------------------------------------

VALID_PHONES = [
    # Russia: +7, 7 or 8 in front, any spacing and punctuation.
    ("+7 916 123-45-67", "+79161234567"),
    ("+79161234567", "+79161234567"),
    ("79161234567", "+79161234567"),
    ("7 916 123 45 67", "+79161234567"),
    ("89161234567", "+79161234567"),
    ("8 (916) 123-45-67", "+79161234567"),
    ("8-916-123-45-67", "+79161234567"),
    ("+7(916)123-45-67", "+79161234567"),
    ("+7.916.123.45.67", "+79161234567"),
    ("916 123-45-67", "+79161234567"),
    ("  +7 916 123-45-67\t", "+79161234567"),
    ("+7\u00a0916\u00a0123\u00a045\u00a067", "+79161234567"),  # non-breaking spaces, as pasted
    ("+７ ９１６ １２３ ４５ ６７", "+79161234567"),  # full-width digits
    ("+7 (495) 123-45-67", "+74951234567"),
    # Kazakhstan shares +7: with or without the plus.
    ("+7 701 234 5678", "+77012345678"),
    ("77012345678", "+77012345678"),
    ("8 701 234 56 78", "+77012345678"),
    # Other countries need their + (or RU's international prefix 810).
    ("+44 20 7946 0958", "+442079460958"),
    ("+44 7911 123456", "+447911123456"),
    ("810 44 20 7946 0958", "+442079460958"),
    ("+1 202-555-0123", "+12025550123"),
    ("+1 (201) 555-0123", "+12015550123"),
    ("+49 30 12345678", "+493012345678"),
    ("+49 (0)30 12345678", "+493012345678"),
    ("+49 1512 3456789", "+4915123456789"),
    ("+380 67 123 4567", "+380671234567"),
    ("+380671234567", "+380671234567"),
]

INVALID_PHONES = [
    # Foreign numbers without +: read as Russian national numbers, which they are not.
    "442079460958",
    "020 7946 0958",
    "0044 20 7946 0958",
    "12025550123",
    "(202) 555-0123",
    "4915123456789",
    "030 12345678",
    "380671234567",
    "067 123 4567",
    # Wrong lengths, unknown country codes, not numbers at all.
    "+7 916 123-45-6",
    "+7 916 123-45-678",
    "+7 000 000 00 00",
    "+999 1234567",
    "+",
    "phone",
    "☎️",
    "٠",
    "1" * 65,
    "+7 916 123-45-67" + " " * 60,
]


@pytest.mark.parametrize("typed, stored", VALID_PHONES)
def test_valid_phone_formats_are_accepted_and_stored_as_e164(client, typed, stored):
    response = post_json(client, "/api/auth/init", {"phone_number": typed})
    assert response.status_code == 201, response.get_json()
    assert session_row(response.get_json()["session_id"])["phone_number"] == stored


@pytest.mark.parametrize("typed", INVALID_PHONES)
def test_invalid_phone_numbers_are_a_422(client, fake_queue, typed):
    assert_error(post_json(client, "/api/auth/init", {"phone_number": typed}), 422, "invalid_phone_number")
    assert fake_queue.sent == []


# --- bodies: types, content types, sizes, on both endpoints that take one ----------------------

BODY_ENDPOINTS = {"/api/auth/init": "phone_number", "/api/auth/refresh": "refresh_token"}


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
@pytest.mark.parametrize("value", [None, ["x"], {"nested": "x"}, 79161234567, 1.5, True, False])
def test_a_field_of_the_wrong_type_is_a_422_naming_it(client, path, field, value):
    body = assert_error(post_json(client, path, {field: value}), 422, "invalid_field")
    assert field in body["error"]["message"]


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
@pytest.mark.parametrize("escaped", ["\\ud800", "+7916\\udfff1234567", "\\udc00\\ud800"])
def test_a_string_with_a_lone_surrogate_is_a_422_not_a_500(client, path, field, escaped):
    # Valid JSON, but not valid Unicode: PyJWT and psycopg2 would fail to encode it.
    raw = '{"%s": "%s"}' % (field, escaped)
    body = assert_error(client.post(path, data=raw, content_type="application/json"), 422, "invalid_field")
    assert field in body["error"]["message"]


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
def test_a_missing_field_is_a_422_naming_it(client, path, field):
    body = assert_error(post_json(client, path, {"something_else": "x"}), 422, "missing_field")
    assert field in body["error"]["message"]


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", ["null", "[]", '["x"]', '"text"', "42", "true", "{}" * 2])
def test_a_body_that_is_not_one_json_object_is_a_400(client, path, raw):
    response = client.post(path, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert assert_error(response, 400)["error"]["code"] in ("invalid_body", "malformed_json")


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", ["", "{", '{"a": }', "{'a': 'b'}", '{"a": NaN-}', "\x00", b"\xc3\x28"])
def test_malformed_json_is_a_400(client, path, raw):
    assert_error(client.post(path, data=raw, content_type="application/json"), 400, "malformed_json")


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/xml", "text/json", "application/json-seq"],
)
def test_a_body_that_is_not_declared_json_is_a_415(client, path, field, content_type):
    response = client.post(path, data=json.dumps({field: "x"}), content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
def test_a_multipart_form_is_a_415(client, path, field):
    assert_error(client.post(path, data={field: "+79161234567"}), 415, "unsupported_media_type")


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
def test_unknown_fields_are_ignored(client, login, path, field):
    value = "+79161234567" if field == "phone_number" else login()["refresh_token"]
    response = post_json(client, path, {field: value, "extra": {"deep": [1, 2]}, "admin": True})
    assert response.status_code in (200, 201), response.get_json()


@pytest.mark.parametrize("path, field", BODY_ENDPOINTS.items())
def test_a_body_over_16_kb_is_a_413(client, path, field):
    padded = json.dumps({field: "x", "pad": "x" * 17_000})
    assert_error(client.post(path, data=padded, content_type="application/json"), 413, "payload_too_large")


# --- session ids of every shape, on both endpoints that take one --------------------------------

def random_id(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]


ODD_IDS = [
    "a",
    "." * 3,
    "a.b",
    "x" * 65,
    "x" * 3000,
    random_id(REAL_SESSION_ID_LENGTH - 1),
    random_id(REAL_SESSION_ID_LENGTH),  # valid-looking, unknown
    random_id(REAL_SESSION_ID_LENGTH + 1),
    "сессия" * 4,
    "🙂" * 22,
    "%F0%9F%99%82" * 22,  # the same, percent-encoded
    "%FF%FE%FD" * 8,  # not UTF-8 at all
    "a%2Fb%2Fc%2Fd%2Fe%2Ff%2Fg%2Fh",  # encoded slashes
    "a/b/c/d/e/f/g/h/i/j/k",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%00" * 22,
    "%20" * 22,
    "' OR '1'='1' --",
    "1%3B DROP TABLE auth_sessions%3B --",
    "AAAAAAAAAAAAAAAAAAAAAA%27%29%3B--",
    "{{7*7}}${7*7}",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("session_id", ODD_IDS)
def test_ids_of_every_shape_are_a_404_session_not_found(client, start_login, session_id):
    real = start_login("+79161234567")
    status = client.get(f"/api/auth/status/{session_id}")
    cancel = client.delete(f"/api/auth/session/{session_id}")
    assert_error(status, 404, "session_not_found")
    assert_error(cancel, 404, "session_not_found")
    # Nothing was touched: the real login is still pending (and its table still there).
    assert session_row(real["session_id"])["status"] == "pending"


def test_an_empty_id_is_a_404(client):
    assert_error(client.get("/api/auth/status/"), 404)
    assert_error(client.delete("/api/auth/session/"), 404)


@pytest.mark.parametrize("mangle", [str.upper, str.lower, lambda s: s[:-1], lambda s: s + "A", lambda s: s[::-1]])
def test_near_misses_of_a_real_id_are_a_404(client, start_login, mangle):
    real = start_login("+79161234567")["session_id"]
    near = mangle(real)
    if near == real:
        pytest.skip("the mangled id happens to equal the real one")
    assert_error(client.get(f"/api/auth/status/{near}"), 404, "session_not_found")
    assert_error(client.delete(f"/api/auth/session/{near}"), 404, "session_not_found")
    assert session_row(real)["status"] == "pending"


# --- tokens: forged ones on /logout too; a refresh token is never an access token ---------------

@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_forged_or_misused_tokens_get_401_on_logout_and_end_nothing(client, login, attack):
    tokens = login()
    token = forged_tokens(tokens["access_token"], tokens["refresh_token"])[attack]
    response = client.post("/api/auth/logout", headers=bearer(token))
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The genuine login survived the attempt.
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


def sign(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, INSECURE_DEV_JWT_KEY, algorithm="HS256")


@pytest.mark.parametrize("claim", ["aud", "iss", "sub", "nbf", "exp", "fam"])
@pytest.mark.parametrize("path", ["/api/auth/me", "/api/auth/refresh"])
def test_a_token_missing_a_required_claim_is_a_401(client, login, claim, path):
    tokens = login()
    token = tokens["access_token"] if path.endswith("/me") else tokens["refresh_token"]
    stripped = {k: v for k, v in claims_of(token).items() if k != claim}
    if claim == "nbf":  # absent nbf is fine by the standard; one in the future is not
        stripped["nbf"] = int(time.time()) + 3600
    response = (
        client.get(path, headers=bearer(sign(stripped)))
        if path.endswith("/me")
        else post_json(client, path, {"refresh_token": sign(stripped)})
    )
    assert_error(response, 401)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_every_spelling_of_alg_none_is_a_401(client, login, alg):
    good = claims_of(login()["access_token"])
    unsigned = jwt.api_jws.base64url_encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).decode()
    payload = jwt.api_jws.base64url_encode(json.dumps(good).encode()).decode()
    for token in (f"{unsigned}.{payload}.", f"{unsigned}.{payload}"):
        assert_error(client.get("/api/auth/me", headers=bearer(token)), 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "bearer {access}",
        "Bearer {access} {access}",
        "Bearer {access}x",
        "Bearer x{access}",
        "Bearer " + "A" * 4000,
        "Bearer \u00e9\u00e8\u00ea",
        "Bearer {refresh}",
    ],
)
def test_odd_authorization_headers_are_a_401(client, login, authorization):
    tokens = login()
    value = authorization.format(access=tokens["access_token"], refresh=tokens["refresh_token"])
    assert_error(client.get("/api/auth/me", headers={"Authorization": value}), 401)


def test_tokens_of_a_deleted_user_are_refused_everywhere(client, login, linked_user):
    tokens = login()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", (linked_user["id"],))
    assert_error(client.get("/api/auth/me", headers=bearer(tokens["access_token"])), 401)
    assert_error(post_json(client, "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]}), 401)
    assert_error(client.post("/api/auth/logout", headers=bearer(tokens["access_token"])), 401)


def test_tokens_of_a_revoked_family_are_refused_everywhere(client, login):
    tokens = login()
    with db.transaction() as conn:  # as the bot's /logout_all does
        token_families.revoke(conn, claims_of(tokens["access_token"])["fam"], "test")
    assert_error(client.get("/api/auth/me", headers=bearer(tokens["access_token"])), 401, "token_revoked")
    refreshed = post_json(client, "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert_error(refreshed, 401, "token_revoked")
    assert_error(client.post("/api/auth/logout", headers=bearer(tokens["access_token"])), 401, "token_revoked")
