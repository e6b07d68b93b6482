"""The auth-session state machine on real Postgres: every transition has exactly one winner."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import auth_sessions, db
from tests.factories import make_session, make_user

pytest_plugins = ["tests.integration.core_fixtures"]


def linked_session(ttl: int = 300):
    with db.transaction() as conn:
        user = make_user(conn)
        new = make_session(conn, phone_number=user["phone_number"], user_id=user["id"], ttl_seconds=ttl)
    return user, new


def test_session_id_is_a_128_bit_secret_never_stored(core_db):
    _, new = linked_session()
    assert len(new.session_id) == 22
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM auth_sessions WHERE secret_hash = %s", (new.session_id.encode(),))
        assert cur.fetchone()["n"] == 0
        assert auth_sessions.find_by_session_id(conn, new.session_id)["id"] == new.row["id"]
        other_last = "B" if new.session_id.endswith("A") else "A"
        assert auth_sessions.find_by_session_id(conn, new.session_id[:-1] + other_last) is None
        assert auth_sessions.find_by_session_id(conn, "../../etc/passwd") is None


def test_start_token_is_separate_and_deep_link_safe(core_db):
    _, new = linked_session()
    token = new.row["start_token"]
    assert token != new.session_id
    assert 1 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def test_only_the_linked_account_can_decide(core_db):
    user, new = linked_session()
    with db.transaction() as conn:
        stranger = make_user(conn)
        assert auth_sessions.approve(conn, new.row["id"], stranger["telegram_id"]) is None
        assert auth_sessions.explain_refusal(conn, new.row["id"], stranger["telegram_id"]) is auth_sessions.Refusal.NOT_YOURS
        approved = auth_sessions.approve(conn, new.row["id"], user["telegram_id"])
    assert approved["status"] == "approved" and approved["user_id"] == user["id"]


def test_ten_simultaneous_taps_have_one_winner(core_db):
    user, new = linked_session()
    barrier = threading.Barrier(10)

    def tap(i: int):
        barrier.wait()
        with db.transaction() as conn:
            decide = auth_sessions.approve if i % 2 else auth_sessions.reject
            return decide(conn, new.row["id"], user["telegram_id"])

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(tap, range(10)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    with db.transaction() as conn:
        assert auth_sessions.get(conn, new.row["id"])["status"] == winners[0]["status"]


def test_ten_simultaneous_consumers_have_one_winner(core_db):
    user, new = linked_session()
    with db.transaction() as conn:
        auth_sessions.approve(conn, new.row["id"], user["telegram_id"])
    barrier = threading.Barrier(10)

    def consume(_):
        barrier.wait()
        with db.transaction() as conn:
            return auth_sessions.poll(conn, new.session_id, client_ip=None, user_agent=None)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(consume, range(10)))
    winners = [poll for poll in results if poll.consumed]
    assert len(winners) == 1
    assert winners[0].session["status"] == "consumed" and winners[0].user["id"] == user["id"]
    assert winners[0].family["user_id"] == user["id"] and winners[0].family["auth_session_id"] == new.row["id"]
    # The losers read the session as approved (before the winner's commit) or consumed, never with its user.
    losers = [poll for poll in results if not poll.consumed]
    assert all(poll.session["status"] in ("approved", "consumed") for poll in losers)
    assert all(poll.user is None and poll.family is None for poll in losers)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM token_families WHERE auth_session_id = %s", (new.row["id"],))
        assert cur.fetchone()["n"] == 1


def test_a_poll_reads_a_session_and_consumes_only_an_approved_one(core_db):
    user, new = linked_session()
    with db.transaction() as conn:
        pending = auth_sessions.poll(conn, new.session_id, client_ip=None, user_agent=None)
        assert auth_sessions.poll(conn, "no-such-session-id-at-all", client_ip=None, user_agent=None) is None
    assert (pending.session["status"], pending.consumed, pending.user, pending.family) == ("pending", False, None, None)
    assert pending.session["expires_in"] > 0 and not pending.session["overdue"]
    with db.transaction() as conn:
        auth_sessions.approve(conn, new.row["id"], user["telegram_id"])
    with db.transaction() as conn:
        first = auth_sessions.poll(conn, new.session_id, client_ip=None, user_agent=None)
    with db.transaction() as conn:
        second = auth_sessions.poll(conn, new.session_id, client_ip=None, user_agent=None)
    assert (first.consumed, first.session["status"], first.user["phone_number"]) == (True, "consumed", user["phone_number"])
    assert first.session["consumed_at"] is not None and first.session["id"] == new.row["id"]
    assert (first.family["user_id"], first.family["auth_session_id"]) == (user["id"], new.row["id"])
    assert first.family["current_refresh_jti"] and first.family["revoked_at"] is None
    assert (second.consumed, second.session["status"], second.user, second.family) == (False, "consumed", None, None)


def test_a_rolled_back_poll_leaves_the_session_approved(core_db):
    user, new = linked_session()
    with db.transaction() as conn:
        auth_sessions.approve(conn, new.row["id"], user["telegram_id"])
    with pytest.raises(RuntimeError), db.transaction() as conn:
        assert auth_sessions.poll(conn, new.session_id, client_ip=None, user_agent=None).consumed
        raise RuntimeError("the tokens could not be issued")
    with db.transaction() as conn:
        assert auth_sessions.poll(conn, new.session_id, client_ip=None, user_agent=None).consumed


def test_a_tap_after_expiry_loses_and_the_expiry_wins(core_db):
    user, new = linked_session(ttl=1)
    time.sleep(1.1)
    with db.transaction() as conn:
        row = auth_sessions.get(conn, new.row["id"])
        assert row["overdue"] and auth_sessions.effective_status(row) == "expired"
        assert auth_sessions.approve(conn, new.row["id"], user["telegram_id"]) is None
        assert auth_sessions.explain_refusal(conn, new.row["id"], user["telegram_id"]) is auth_sessions.Refusal.EXPIRED
        assert auth_sessions.cancel(conn, new.session_id) is None
        assert auth_sessions.expire_if_overdue(conn, new.row["id"])["status"] == "expired"
        assert auth_sessions.expire_if_overdue(conn, new.row["id"]) is None


def test_expire_does_nothing_before_expires_at(core_db):
    _, new = linked_session()
    with db.transaction() as conn:
        assert auth_sessions.expire_if_overdue(conn, new.row["id"]) is None
        assert auth_sessions.get(conn, new.row["id"])["expires_in"] in (299, 300)


def test_cancel_only_while_pending(core_db):
    user, new = linked_session()
    with db.transaction() as conn:
        assert auth_sessions.cancel(conn, new.session_id)["status"] == "cancelled"
        assert auth_sessions.cancel(conn, new.session_id) is None
        assert auth_sessions.approve(conn, new.row["id"], user["telegram_id"]) is None
        assert auth_sessions.explain_refusal(conn, new.row["id"], user["telegram_id"]) is auth_sessions.Refusal.ALREADY_DECIDED


def test_prompt_is_recorded_once(core_db):
    user, new = linked_session()
    with db.transaction() as conn:
        assert auth_sessions.record_prompt(conn, new.row["id"], user["telegram_id"], 10, "en") == "pending"
        assert auth_sessions.record_prompt(conn, new.row["id"], user["telegram_id"], 11, "en") is None
        assert auth_sessions.get(conn, new.row["id"])["prompt_message_id"] == 10


def test_recording_a_prompt_tells_the_decision_made_before_it(core_db):
    # The worker closes a prompt that arrived after its login was decided, without another read.
    user, new = linked_session()
    with db.transaction() as conn:
        assert auth_sessions.approve(conn, new.row["id"], user["telegram_id"]) is not None
    with db.transaction() as conn:
        assert auth_sessions.record_prompt(conn, new.row["id"], user["telegram_id"], 10, "en") == "approved"
