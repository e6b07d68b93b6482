"""The two caps on passkeys, over HTTP on real Postgres and Redis.

At most `passkeys.MAX_PER_USER` passkeys a person (refused at the options and, under a lock, at
verify), and at most one clone warning per passkey per `CLONE_WARNING_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from typing import Iterator

import psycopg2
import pytest

from core import db, passkeys
from core.errors import ServiceUnavailable
from jobs import passkey_notices
from tests.integration.test_web_passkeys import (
    ORIGIN,
    add_passkey,
    bearer,
    error_code,
    login_options,
    post_at_once,
    sign_in,
)
from tests.passkey_authenticator import SoftAuthenticator

CLONE_NOTICE = passkey_notices.SEND_PASSKEY_CLONE_NOTICE


def give_passkeys(user_id: int, count: int) -> None:
    """Store `count` passkeys of a user directly (their keys are never used: only the count matters)."""
    with db.transaction() as conn, conn.cursor() as cur:
        for number in range(count):
            cur.execute(
                "INSERT INTO passkeys (id, user_id, credential_id, public_key, user_handle, name)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (str(uuid.uuid4()), user_id, secrets.token_bytes(16), b"unused", b"handle", f"Old key {number}"),
            )


def passkey_count(user_id: int) -> int:
    with db.transaction() as conn:
        return passkeys.count_for_user(conn, user_id)


def test_options_are_refused_at_the_cap(client, login, linked_user):
    tokens = login()
    give_passkeys(linked_user["id"], passkeys.MAX_PER_USER)
    response = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
    assert response.status_code == 409 and error_code(response) == "too_many_passkeys"
    assert "/passkeys" in response.get_json()["error"]["message"]


def test_options_are_given_one_below_the_cap(client, login, linked_user):
    tokens = login()
    give_passkeys(linked_user["id"], passkeys.MAX_PER_USER - 1)
    added = add_passkey(client, tokens["access_token"], SoftAuthenticator(ORIGIN))
    assert added.status_code == 201, added.get_json()
    assert passkey_count(linked_user["id"]) == passkeys.MAX_PER_USER


def test_verify_is_refused_when_the_cap_was_reached_after_the_options(client, login, linked_user, fake_queue):
    tokens = login()
    give_passkeys(linked_user["id"], passkeys.MAX_PER_USER - 1)
    options = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
    assert options.status_code == 200
    give_passkeys(linked_user["id"], 1)  # added elsewhere meanwhile
    response = client.post(
        "/api/auth/passkeys/registration/verify",
        json=SoftAuthenticator(ORIGIN).create(options.get_json()),
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 409 and error_code(response) == "too_many_passkeys"
    assert passkey_count(linked_user["id"]) == passkeys.MAX_PER_USER
    assert passkey_notices.SEND_PASSKEY_ADDED_NOTICE not in fake_queue.names()


@contextlib.contextmanager
def slow_passkey_inserts() -> Iterator[None]:
    """Make each INSERT into passkeys take 0.3 s: a second registration counts while the first still inserts."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION test_slow_passkey_insert() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$;"
            " CREATE TRIGGER test_slow_passkey_insert BEFORE INSERT ON passkeys"
            " FOR EACH ROW EXECUTE FUNCTION test_slow_passkey_insert()"
        )
    try:
        yield
    finally:
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("DROP TRIGGER test_slow_passkey_insert ON passkeys; DROP FUNCTION test_slow_passkey_insert()")


def test_two_registrations_at_once_one_below_the_cap_add_one(app, login, linked_user, fake_queue):
    tokens = login()
    give_passkeys(linked_user["id"], passkeys.MAX_PER_USER - 1)
    clients = [app.test_client(), app.test_client()]
    answers = []
    for client in clients:  # both options are given: neither registration has happened yet
        options = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
        assert options.status_code == 200
        answers.append(SoftAuthenticator(ORIGIN).create(options.get_json()))
    with slow_passkey_inserts():
        responses = post_at_once(clients, "/api/auth/passkeys/registration/verify", answers,
                                 bearer(tokens["access_token"]))
    assert sorted(response.status_code for response in responses) == [201, 409]
    assert {error_code(response) for response in responses if response.status_code == 409} == {"too_many_passkeys"}
    assert passkey_count(linked_user["id"]) == passkeys.MAX_PER_USER


def test_a_registration_meeting_an_unlink_midway_answers_token_revoked(app, login, linked_user, database_url, fake_queue):
    tokens = login()
    client = app.test_client()
    options = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens["access_token"]))
    answer = SoftAuthenticator(ORIGIN).create(options.get_json())
    unlinking = psycopg2.connect(database_url)  # /unlink's transaction, not committed yet: it holds the row
    try:
        with unlinking.cursor() as cur:
            cur.execute("DELETE FROM users WHERE id = %s", (linked_user["id"],))
        responses: list = []
        verify = threading.Thread(target=lambda: responses.append(client.post(
            "/api/auth/passkeys/registration/verify", json=answer, headers=bearer(tokens["access_token"]))))
        verify.start()
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                   " AND datname = current_database() AND pid <> pg_backend_pid()")
        with psycopg2.connect(database_url) as watcher, watcher.cursor() as cur:
            deadline = time.monotonic() + 10
            while (cur.execute(waiting) or cur.fetchone()[0]) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)  # the registration's token checks passed; it waits for the row
        unlinking.commit()
        verify.join(10)
    finally:
        unlinking.close()
    [response] = responses
    assert response.status_code == 401 and error_code(response) == "token_revoked"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert passkey_notices.SEND_PASSKEY_ADDED_NOTICE not in fake_queue.names()


@pytest.fixture
def cloned(client, login) -> tuple[SoftAuthenticator, str]:
    """Add a passkey, sign in with it once, and return a clone of its authenticator (counter behind) and its id."""
    tokens = login()
    authenticator = SoftAuthenticator(ORIGIN)
    assert add_passkey(client, tokens["access_token"], authenticator).status_code == 201
    [listed] = client.get("/api/auth/passkeys", headers=bearer(tokens["access_token"])).get_json()["passkeys"]
    clone = authenticator.clone()
    assert sign_in(client, authenticator).status_code == 200  # the original moves on: the clone is behind
    return clone, listed["id"]


def refused_clone_sign_in(client, clone: SoftAuthenticator) -> None:
    response = sign_in(client, clone, count_up=False)
    assert response.status_code == 403 and error_code(response) == "passkey_clone_detected"


def backdate_clone_warning(passkey_id: str, seconds: int) -> None:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE passkeys SET clone_warned_at = clone_warned_at - make_interval(secs => %s) WHERE id = %s",
            (seconds, passkey_id),
        )


def test_a_clone_tried_again_within_the_interval_warns_once(client, cloned, fake_queue):
    clone, passkey_id = cloned
    for _ in range(3):
        refused_clone_sign_in(client, clone)  # refused every time
    assert fake_queue.names().count(CLONE_NOTICE) == 1
    assert [task.args for task in fake_queue.sent if task.name == CLONE_NOTICE] == [[passkey_id]]


def test_a_clone_tried_after_the_interval_warns_again(client, cloned, fake_queue):
    clone, passkey_id = cloned
    refused_clone_sign_in(client, clone)
    backdate_clone_warning(passkey_id, passkeys.CLONE_WARNING_INTERVAL_SECONDS - 60)
    refused_clone_sign_in(client, clone)
    assert fake_queue.names().count(CLONE_NOTICE) == 1  # a minute before the interval is over: held back
    backdate_clone_warning(passkey_id, 60)
    refused_clone_sign_in(client, clone)
    assert fake_queue.names().count(CLONE_NOTICE) == 2


def test_a_warning_the_broker_could_not_take_is_given_back(client, cloned, fake_queue):
    clone, _ = cloned
    fake_queue.failure = ConnectionError("broker down")
    refused_clone_sign_in(client, clone)
    fake_queue.failure = None
    refused_clone_sign_in(client, clone)
    assert fake_queue.names().count(CLONE_NOTICE) == 1


def test_a_postgres_failing_the_warnings_claim_still_refuses_the_clone_and_warns(client, cloned, fake_queue, monkeypatch):
    clone, passkey_id = cloned

    def postgres_gone(conn, passkey_id):
        raise ServiceUnavailable("postgres", "connection lost")

    monkeypatch.setattr(passkeys, "claim_clone_warning", postgres_gone)
    refused_clone_sign_in(client, clone)  # 403, not 503: the refusal does not depend on the warning
    assert [task.args for task in fake_queue.sent if task.name == CLONE_NOTICE] == [[passkey_id]]


def test_two_clone_attempts_at_once_claim_one_warning(app, cloned, fake_queue):
    clone, _ = cloned
    clients = [app.test_client(), app.test_client()]
    answers = [clone.get(login_options(client), count_up=False) for client in clients]
    responses = post_at_once(clients, "/api/auth/passkeys/login/verify", answers)
    assert [response.status_code for response in responses] == [403, 403]
    assert fake_queue.names().count(CLONE_NOTICE) == 1
