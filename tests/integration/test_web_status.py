"""GET /api/auth/status and DELETE /api/auth/session: the login state as the browser sees it."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

import tasks
from core import db, users
from tests.integration.conftest import session_row


def get_status(client, session_id: str, query: str = ""):
    return client.get(f"/api/auth/status/{session_id}{query}")


def test_an_approved_login_of_an_account_deleted_since_is_not_found_and_not_consumed(client, linked_user, start_login, decide):
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], True)
    with db.transaction() as conn:
        users.delete(conn, linked_user["id"])

    for _ in range(2):
        response = get_status(client, started["session_id"])
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "session_not_found"
    assert session_row(started["session_id"])["status"] == "approved"  # the consumption was rolled back
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM token_families")
        assert cur.fetchone()["n"] == 0


def test_a_new_session_is_pending(client, start_login):
    started = start_login("+79161234567")
    response = get_status(client, started["session_id"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "pending"
    assert 298 <= body["expires_in"] <= 300
    assert body["poll_interval"] == 2
    assert set(body) == {"status", "expires_in", "poll_interval"}


def test_approval_hands_out_tokens_exactly_once(client, linked_user, start_login, decide):
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], True)

    first = get_status(client, started["session_id"])
    assert first.status_code == 200
    body = first.get_json()
    assert body["status"] == "approved"
    tokens = body["tokens"]
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 1800
    assert body["user"]["id"] == linked_user["id"]
    assert body["user"]["phone_number"] == linked_user["phone_number"]
    assert body["user"]["telegram"]["id"] == linked_user["telegram_id"]
    assert first.headers["Cache-Control"] == "no-store"

    for _ in range(2):
        again = get_status(client, started["session_id"])
        assert again.status_code == 410
        assert again.get_json() == {
            "error": {"code": "session_consumed", "message": again.get_json()["error"]["message"]}
        }
        assert "tokens" not in again.get_json()
    assert session_row(started["session_id"])["status"] == "consumed"
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT user_id, auth_session_id FROM token_families")
        assert cur.fetchall() == [{"user_id": linked_user["id"], "auth_session_id": session_row(started["session_id"])["id"]}]


def test_the_access_token_works_on_me(client, login, linked_user):
    tokens = login()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == linked_user["id"]


def test_rejection_is_reported_on_every_poll(client, linked_user, start_login, decide):
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], False)
    for _ in range(3):
        response = get_status(client, started["session_id"])
        assert (response.status_code, response.get_json()) == (200, {"status": "rejected"})


def test_expiry_follows_expires_at_without_any_worker(make_app, fake_queue):
    client = make_app(auth_session_ttl=1).test_client()
    started = client.post("/api/auth/init", json={"phone_number": "+79161234567"}).get_json()
    assert started["expires_in"] == 1
    pk = str(session_row(started["session_id"])["id"])
    time.sleep(1.2)
    fake_queue.sent.clear()

    for _ in range(2):
        response = get_status(client, started["session_id"])
        assert (response.status_code, response.get_json()) == (200, {"status": "expired"})
    assert session_row(started["session_id"])["status"] == "expired"
    # Only the poll that made the transition asks for the prompt to be edited.
    assert [(t.name, t.args) for t in fake_queue.sent] == [(tasks.UPDATE_PROMPT, [pk])]


def test_a_cancelled_session_stays_cancelled(client, start_login, fake_queue):
    started = start_login("+79161234567")
    pk = str(session_row(started["session_id"])["id"])
    fake_queue.sent.clear()

    cancelled = client.delete(f"/api/auth/session/{started['session_id']}")
    assert (cancelled.status_code, cancelled.get_json()) == (200, {"status": "cancelled"})
    assert [(t.name, t.args) for t in fake_queue.sent] == [(tasks.UPDATE_PROMPT, [pk])]

    again = client.delete(f"/api/auth/session/{started['session_id']}")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "session_not_pending"
    for _ in range(2):
        assert get_status(client, started["session_id"]).get_json() == {"status": "cancelled"}


def test_cancel_refuses_a_decided_or_overdue_session(make_app, linked_user, decide):
    client = make_app().test_client()
    approved = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]}).get_json()
    decide(approved["session_id"], linked_user["telegram_id"], True)
    assert client.delete(f"/api/auth/session/{approved['session_id']}").status_code == 409
    assert get_status(client, approved["session_id"]).get_json()["status"] == "approved"

    short = make_app(auth_session_ttl=1).test_client()
    overdue = short.post("/api/auth/init", json={"phone_number": "+79161234567"}).get_json()
    time.sleep(1.2)
    assert short.delete(f"/api/auth/session/{overdue['session_id']}").status_code == 409
    assert session_row(overdue["session_id"])["status"] == "expired"


def test_a_prompt_update_that_cannot_be_queued_does_not_fail_the_cancel(client, start_login, fake_queue):
    started = start_login("+79161234567")
    fake_queue.failure = ConnectionError("broker down")
    assert client.delete(f"/api/auth/session/{started['session_id']}").get_json() == {"status": "cancelled"}


@pytest.mark.parametrize(
    "session_id",
    ["AAAAAAAAAAAAAAAAAAAAAA", "short", "x" * 65, "not%20a%20session%20id%20at%20all", "%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00"],
)
def test_unknown_and_malformed_ids_get_the_same_404(client, session_id):
    status = get_status(client, session_id)
    cancel = client.delete(f"/api/auth/session/{session_id}")
    assert status.status_code == cancel.status_code == 404
    expected = {"error": {"code": "session_not_found", "message": "There is no such login session."}}
    assert status.get_json() == cancel.get_json() == expected


@pytest.mark.parametrize("wait", ["0", "5", "30"])
def test_wait_within_bounds_is_accepted(client, start_login, wait):
    started = start_login("+79161234567")
    assert get_status(client, started["session_id"], f"?wait={wait}").get_json()["status"] == "pending"


@pytest.mark.parametrize("wait", ["31", "-1", "", "1.5", "abc", "٣", "100000"])
def test_wait_out_of_bounds_is_a_400(client, start_login, wait):
    started = start_login("+79161234567")
    response = get_status(client, started["session_id"], f"?wait={wait}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_wait"


def test_ten_pollers_racing_for_the_tokens_have_one_winner(live_server, linked_user, start_login, decide):
    started = start_login(linked_user["phone_number"])
    decide(started["session_id"], linked_user["telegram_id"], True)
    url = f"{live_server}/api/auth/status/{started['session_id']}"
    barrier = threading.Barrier(10)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def poll() -> None:
        barrier.wait()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                outcome = (response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            outcome = (error.code, json.loads(error.read()))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=poll) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [410] * 9
    winners = [body for status, body in results if status == 200]
    assert "access_token" in winners[0]["tokens"]
    assert all(body["error"]["code"] == "session_consumed" for status, body in results if status == 410)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM token_families")
        assert cur.fetchone()["n"] == 1
