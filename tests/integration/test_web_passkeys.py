"""Passkeys over HTTP on real Postgres and Redis, with a software authenticator (tests/passkey_authenticator.py).

Add one after a Telegram login, sign in with it, and every refusal: a bad signature, a replayed
challenge, the wrong origin or RP id, a cloned authenticator, a removed passkey, a stale
Telegram login, someone else's passkey.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import pytest
import redis

from core import db, direct_logins, passkeys
from jobs import passkey_notices
from tests import factories
from tests.passkey_authenticator import SoftAuthenticator

ORIGIN = "http://localhost"  # the test client's own origin: the development default


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response) -> str:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def add_passkey(client, access_token: str, authenticator: SoftAuthenticator, **answer: Any):
    options = client.post("/api/auth/passkeys/registration/options", headers=bearer(access_token))
    assert options.status_code == 200, options.get_json()
    return client.post(
        "/api/auth/passkeys/registration/verify",
        json=authenticator.create(options.get_json(), **answer),
        headers=bearer(access_token),
    )


def post_at_once(clients: list[Any], path: str, bodies: list[Any], headers: dict[str, str] | None = None) -> list[Any]:
    """POST each body with its own client, all released together; return the responses in finishing order."""
    barrier = threading.Barrier(len(clients))
    responses: list[Any] = []

    def post(client, body) -> None:
        barrier.wait()
        responses.append(client.post(path, json=body, headers=headers))

    threads = [threading.Thread(target=post, args=pair) for pair in zip(clients, bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return responses


def login_options(client) -> dict[str, Any]:
    response = client.post("/api/auth/passkeys/login/options")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def sign_in(client, authenticator: SoftAuthenticator, **answer: Any):
    return client.post("/api/auth/passkeys/login/verify", json=authenticator.get(login_options(client), **answer))


@pytest.fixture
def with_passkey(client, login) -> tuple[dict[str, Any], SoftAuthenticator]:
    """Log in with Telegram and add a passkey; return the tokens and the authenticator."""
    tokens = login()
    authenticator = SoftAuthenticator(ORIGIN)
    added = add_passkey(client, tokens["access_token"], authenticator)
    assert added.status_code == 201, added.get_json()
    return tokens, authenticator


def test_options_are_the_level_3_json_forms(client, login):
    tokens = login()
    creation = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
    body = creation.get_json()
    assert creation.headers["Cache-Control"] == "no-store"
    assert body["rp"] == {"id": "localhost", "name": "Dance of Mind"}
    assert {"type": "public-key", "alg": -7} == body["pubKeyCredParams"][0]
    assert body["authenticatorSelection"]["residentKey"] == "required"
    assert body["authenticatorSelection"]["userVerification"] == "required"
    assert isinstance(body["challenge"], str) and "=" not in body["challenge"]
    request_options = login_options(client)
    assert request_options["rpId"] == "localhost"
    assert request_options["allowCredentials"] == [] and request_options["userVerification"] == "required"


def test_a_passkey_added_after_a_telegram_login_signs_in_to_a_new_login(client, with_passkey, linked_user, fake_queue):
    tokens, authenticator = with_passkey
    [added] = client.get("/api/auth/passkeys", headers=bearer(tokens["access_token"])).get_json()["passkeys"]
    assert added["name"] == "Chrome on Linux" and added["last_used_at"] is None
    assert fake_queue.sent[-1].name == passkey_notices.SEND_PASSKEY_ADDED_NOTICE
    assert fake_queue.sent[-1].args == [added["id"]]

    response = sign_in(client, authenticator)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "approved" and body["user"]["id"] == linked_user["id"]
    assert set(body["tokens"]) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert fake_queue.sent[-1].name == "tasks.send_login_notice"
    me = client.get("/api/auth/me", headers=bearer(body["tokens"]["access_token"]))
    assert me.status_code == 200 and me.get_json()["phone_number"] == linked_user["phone_number"]
    # A new login (token family) of its own: refresh and logout work on it as on any other.
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": body["tokens"]["refresh_token"]})
    assert refreshed.status_code == 200
    [listed] = client.get("/api/auth/passkeys", headers=bearer(tokens["access_token"])).get_json()["passkeys"]
    assert listed["last_used_at"] is not None


def test_a_passkey_login_can_not_add_another_passkey(client, with_passkey):
    _, authenticator = with_passkey
    via_passkey = sign_in(client, authenticator).get_json()["tokens"]
    response = client.post("/api/auth/passkeys/registration/options", headers=bearer(via_passkey["access_token"]))
    assert response.status_code == 403 and error_code(response) == "fresh_login_required"


def test_a_telegram_login_older_than_five_minutes_can_not_add_a_passkey(client, login, linked_user):
    tokens = login()
    options = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE auth_sessions SET decided_at = now() - interval '301 seconds' WHERE user_id = %s",
                    (linked_user["id"],))
    for response in (
        client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"])),
        client.post("/api/auth/passkeys/registration/verify", headers=bearer(tokens["access_token"]),
                    json=SoftAuthenticator(ORIGIN).create(options.get_json())),
    ):
        assert response.status_code == 403 and error_code(response) == "fresh_login_required"


def test_registration_from_the_wrong_origin_or_rp_id_is_refused(client, login):
    tokens = login()
    for answer in ({"origin": "https://evil.example"}, {"rp_id": "evil.example"}):
        response = add_passkey(client, tokens["access_token"], SoftAuthenticator(ORIGIN), **answer)
        assert response.status_code == 400 and error_code(response) == "passkey_registration_failed", answer
    assert client.get("/api/auth/passkeys", headers=bearer(tokens["access_token"])).get_json() == {"passkeys": []}


def test_a_bad_signature_is_refused(client, with_passkey):
    _, authenticator = with_passkey
    response = sign_in(client, authenticator, break_signature=True)
    assert response.status_code == 401 and error_code(response) == "passkey_sign_in_failed"


@pytest.mark.parametrize("answer", [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}])
def test_a_sign_in_from_the_wrong_origin_or_rp_id_is_refused(client, with_passkey, answer):
    _, authenticator = with_passkey
    response = sign_in(client, authenticator, **answer)
    assert response.status_code == 401 and error_code(response) == "passkey_sign_in_failed"


def test_a_challenge_works_once(client, with_passkey):
    _, authenticator = with_passkey
    answer = authenticator.get(login_options(client))
    assert client.post("/api/auth/passkeys/login/verify", json=answer).status_code == 200
    replayed = client.post("/api/auth/passkeys/login/verify", json=answer)
    assert replayed.status_code == 400 and error_code(replayed) == "passkey_challenge_expired"


def test_a_challenge_of_one_ceremony_is_no_good_for_the_other(client, login, with_passkey):
    tokens, authenticator = with_passkey
    registration = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
    response = client.post("/api/auth/passkeys/login/verify", json=authenticator.get(registration.get_json() | {}))
    assert response.status_code == 400 and error_code(response) == "passkey_challenge_expired"


def test_an_expired_challenge_is_refused(client, with_passkey, redis_url):
    _, authenticator = with_passkey
    options = login_options(client)
    redis.Redis.from_url(redis_url).delete(passkeys.CHALLENGE_KEY.format(challenge=options["challenge"]))
    response = client.post("/api/auth/passkeys/login/verify", json=authenticator.get(options))
    assert response.status_code == 400 and error_code(response) == "passkey_challenge_expired"


def test_challenges_expire_after_five_minutes(client, redis_url):
    options = login_options(client)
    ttl = redis.Redis.from_url(redis_url).ttl(passkeys.CHALLENGE_KEY.format(challenge=options["challenge"]))
    assert 295 <= ttl <= 300


def test_a_cloned_authenticator_is_refused_and_the_owner_told(client, with_passkey, fake_queue):
    _, authenticator = with_passkey
    clone = authenticator.clone()
    assert sign_in(client, authenticator).status_code == 200  # the original moves on: counter 1
    response = sign_in(client, clone)  # the clone also says 1
    assert response.status_code == 403 and error_code(response) == "passkey_clone_detected"
    assert fake_queue.sent[-1].name == passkey_notices.SEND_PASSKEY_CLONE_NOTICE
    assert sign_in(client, authenticator).status_code == 200  # the original still works


def test_authenticators_without_a_counter_sign_in_every_time(client, with_passkey):
    _, authenticator = with_passkey
    authenticator.sign_count = 0
    for _ in range(2):
        assert sign_in(client, authenticator, count_up=False).status_code == 200


def test_a_removed_passkey_no_longer_signs_in(client, with_passkey):
    tokens, authenticator = with_passkey
    [added] = client.get("/api/auth/passkeys", headers=bearer(tokens["access_token"])).get_json()["passkeys"]
    removed = client.delete(f"/api/auth/passkeys/{added['id']}", headers=bearer(tokens["access_token"]))
    assert removed.status_code == 204 and removed.get_data() == b""
    response = sign_in(client, authenticator)
    assert response.status_code == 401 and error_code(response) == "passkey_sign_in_failed"
    again = client.delete(f"/api/auth/passkeys/{added['id']}", headers=bearer(tokens["access_token"]))
    assert again.status_code == 404 and error_code(again) == "passkey_not_found"


def test_someone_elses_passkey_can_not_be_removed(client, with_passkey, app):
    tokens, authenticator = with_passkey
    [added] = client.get("/api/auth/passkeys", headers=bearer(tokens["access_token"])).get_json()["passkeys"]
    with db.transaction() as conn:
        other = factories.make_user(conn)
        family = direct_logins.open_login(conn, user=other, method=direct_logins.PASSKEY, client_ip=None,
                                          user_agent=None).family
    with app.app_context():
        from webapp import jwt_tokens

        other_tokens = jwt_tokens.issue(family)
    for passkey_id in (added["id"], "not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        response = client.delete(f"/api/auth/passkeys/{passkey_id}", headers=bearer(other_tokens["access_token"]))
        assert response.status_code == 404 and error_code(response) == "passkey_not_found"
    assert client.get("/api/auth/passkeys", headers=bearer(other_tokens["access_token"])).get_json() == {"passkeys": []}
    assert sign_in(client, authenticator).status_code == 200


def test_the_same_authenticator_can_not_be_added_twice(client, login):
    tokens = login()
    authenticator = SoftAuthenticator(ORIGIN)
    assert add_passkey(client, tokens["access_token"], authenticator).status_code == 201
    second = add_passkey(client, tokens["access_token"], authenticator)
    assert second.status_code == 409 and error_code(second) == "passkey_exists"


def test_a_user_handle_of_someone_else_is_refused(client, with_passkey):
    _, authenticator = with_passkey
    authenticator.user_handle = b"someone else"
    response = sign_in(client, authenticator)
    assert response.status_code == 401 and error_code(response) == "passkey_sign_in_failed"


@pytest.mark.parametrize(
    "body, code",
    [
        ({"id": "x", "rawId": "x", "type": "public-key", "response": {}}, "invalid_credential"),
        ({"id": "x", "rawId": "x", "type": "public-key", "response": {"clientDataJSON": "e30",
          "authenticatorData": "AA", "signature": "AA"}}, "invalid_credential"),
        ({"id": "x", "rawId": "x", "type": "public-key"}, "missing_field"),
    ],
)
def test_a_body_that_is_not_a_credential_is_refused(client, body, code):
    response = client.post("/api/auth/passkeys/login/verify", json=body)
    assert response.status_code in (400, 422) and error_code(response) == code


def test_passkey_endpoints_need_a_token(client):
    for method, path in (("post", "/api/auth/passkeys/registration/options"), ("get", "/api/auth/passkeys"),
                         ("delete", "/api/auth/passkeys/00000000-0000-4000-8000-000000000000")):
        response = getattr(client, method)(path)
        assert response.status_code == 401 and error_code(response) == "authorization_required"


def test_options_and_verify_are_rate_limited(make_app):
    client = make_app(rate_limit_passkey_per_ip="2/minute").test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.7"  # a fresh budget
    assert [client.post("/api/auth/passkeys/login/options").status_code for _ in range(3)] == [200, 200, 429]
    refused = client.post("/api/auth/passkeys/login/verify", json={"id": "x", "rawId": "x", "type": "public-key", "response": {}})
    assert refused.status_code == 429 and refused.headers["Retry-After"]


def test_two_sign_ins_racing_with_one_counter_value_have_one_winner(app, with_passkey):
    _, authenticator = with_passkey
    clone = authenticator.clone()
    clients = [app.test_client(), app.test_client()]
    answers = [authenticator.get(login_options(clients[0])), clone.get(login_options(clients[1]))]  # both say 1
    responses = post_at_once(clients, "/api/auth/passkeys/login/verify", answers)
    assert sorted(response.status_code for response in responses) == [200, 403]
