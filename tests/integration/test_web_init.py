"""POST /api/auth/init: a login starts, the same way for linked and unknown phones."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import kombu.exceptions
import pytest

import tasks
from core import auth_sessions, db
from tests.integration.conftest import BOT_USERNAME, BROWSER_UA, session_row

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
START_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
INIT_KEYS = {"session_id", "status", "expires_in", "poll_interval", "bot_url"}


def test_init_starts_a_pending_login(client, fake_queue):
    response = client.post("/api/auth/init", json={"phone_number": "+7 916 123-45-67"})

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == INIT_KEYS
    assert SESSION_ID.match(body["session_id"])
    assert body["status"] == "pending"
    assert body["expires_in"] == 300
    assert body["poll_interval"] == 2
    bot, start_token = body["bot_url"].split("?start=")
    assert bot == f"https://t.me/{BOT_USERNAME}"
    assert START_TOKEN.match(start_token) and start_token != body["session_id"]
    row = session_row(body["session_id"])
    assert row["phone_number"] == "+79161234567"
    assert row["start_token"] == start_token
    assert row["status"] == "pending"
    assert row["user_agent"] == BROWSER_UA
    assert row["client_ip"] == "127.0.0.1"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_ids_are_unique(start_login):
    ids = {start_login("+79161234567")["session_id"] for _ in range(20)}
    assert len(ids) == 20


def test_linked_and_unknown_phones_get_the_same_answer(client, linked_user, fake_queue):
    linked = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})
    unknown = client.post("/api/auth/init", json={"phone_number": "+79169999999"})

    assert linked.status_code == unknown.status_code == 201
    assert set(linked.get_json()) == set(unknown.get_json()) == INIT_KEYS
    assert {k: v for k, v in linked.get_json().items() if k not in ("session_id", "bot_url")} == {
        k: v for k, v in unknown.get_json().items() if k not in ("session_id", "bot_url")
    }


def test_only_a_linked_phone_gets_a_prompt(client, linked_user, fake_queue):
    unknown = client.post("/api/auth/init", json={"phone_number": "+79169999999"}).get_json()
    unknown_pk = str(session_row(unknown["session_id"])["id"])
    # The same task for every phone (the worker finds nothing to send); no countdown held per login.
    assert [(t.name, t.args, t.countdown) for t in fake_queue.sent] == [(tasks.SEND_APPROVAL_PROMPT, [unknown_pk], None)]

    fake_queue.sent.clear()
    linked = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]}).get_json()
    row = session_row(linked["session_id"])
    assert row["user_id"] == linked_user["id"]
    assert [(t.name, t.args, t.countdown) for t in fake_queue.sent] == [(tasks.SEND_APPROVAL_PROMPT, [str(row["id"])], None)]


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_common_phone_formats_are_stored_as_e164(start_login, typed, stored):
    assert session_row(start_login(typed)["session_id"])["phone_number"] == stored


@pytest.mark.parametrize("phone", ["123", "abc", "", "   ", "12345678901234567"])
def test_invalid_phone_numbers_are_refused(client, fake_queue, phone):
    response = client.post("/api/auth/init", json={"phone_number": phone})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_phone_number"
    assert fake_queue.sent == []


@pytest.mark.parametrize("phone", [79161234567, None, ["+79161234567"], {"n": 1}, True])
def test_a_phone_that_is_not_a_string_is_an_invalid_field(client, phone):
    response = client.post("/api/auth/init", json={"phone_number": phone})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_field"
    assert "phone_number" in error["message"]


def test_missing_phone_is_a_missing_field(client):
    response = client.post("/api/auth/init", json={"phone": "+79161234567"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "missing_field"
    assert "phone_number" in response.get_json()["error"]["message"]


def test_unknown_fields_are_ignored(client):
    response = client.post("/api/auth/init", json={"phone_number": "+79161234567", "remember_me": True})
    assert response.status_code == 201


def test_match_mode_adds_a_match_code(make_app):
    client = make_app(approval_mode="match").test_client()
    body = client.post("/api/auth/init", json={"phone_number": "+79161234567"}).get_json()
    assert re.fullmatch(r"[1-9][0-9]", body["match_code"])
    assert session_row(body["session_id"])["match_code"] == body["match_code"]


def test_broker_down_cancels_the_session_and_answers_503(client, linked_user, fake_queue):
    fake_queue.failure = kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    response = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "2"
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM auth_sessions")
        assert [r["status"] for r in cur.fetchall()] == [auth_sessions.CANCELLED]


def test_a_prompt_that_can_not_be_queued_cancels_the_session(client, linked_user, fake_queue, monkeypatch):
    def refuse_prompt(session_pk: str, *args: object, **kwargs: object) -> None:
        raise ConnectionError("broker went away")

    monkeypatch.setattr(tasks, "enqueue_approval_prompt", refuse_prompt)
    response = client.post("/api/auth/init", json={"phone_number": linked_user["phone_number"]})
    assert response.status_code == 503
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM auth_sessions")
        assert [r["status"] for r in cur.fetchall()] == [auth_sessions.CANCELLED]


def test_proxy_fix_takes_the_client_ip_from_the_trusted_proxy(make_app):
    direct = make_app().test_client()
    body = direct.post("/api/auth/init", json={"phone_number": "+79161234567"}, headers={"X-Forwarded-For": "198.51.100.9"})
    assert session_row(body.get_json()["session_id"])["client_ip"] == "127.0.0.1"  # no trusted proxy: ignored

    proxied = make_app(trusted_proxy_count=1).test_client()
    body = proxied.post("/api/auth/init", json={"phone_number": "+79161234567"}, headers={"X-Forwarded-For": "198.51.100.9"})
    assert session_row(body.get_json()["session_id"])["client_ip"] == "198.51.100.9"


class GetMeHandler(BaseHTTPRequestHandler):
    """A one-method Bot API: getMe answers with a username and counts the calls."""

    calls = 0

    def do_GET(self) -> None:
        """Answer getMe."""
        type(self).calls += 1
        ok = self.path.endswith("/getMe")
        payload = {"ok": True, "result": {"id": 1, "is_bot": True, "username": "from_get_me_bot"}} if ok else {"ok": False}
        data = json.dumps(payload).encode()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        """Stay quiet."""


@pytest.fixture
def bot_api() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), GetMeHandler)
    GetMeHandler.calls = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_bot_username_comes_from_get_me_once_when_not_configured(make_app, bot_api):
    token = "123456:test-token-for-get-me"
    client = make_app(telegram_bot_username="", telegram_bot_token=token, telegram_api_url=bot_api).test_client()
    for _ in range(3):
        body = client.post("/api/auth/init", json={"phone_number": "+79161234567"}).get_json()
        assert body["bot_url"].startswith("https://t.me/from_get_me_bot?start=")
    assert GetMeHandler.calls == 1


def test_get_me_failing_answers_503_and_creates_nothing(make_app):
    client = make_app(
        telegram_bot_username="", telegram_bot_token="123456:unreachable", telegram_api_url="http://127.0.0.1:1"
    ).test_client()
    response = client.post("/api/auth/init", json={"phone_number": "+79161234567"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM auth_sessions")
        assert cur.fetchone()["n"] == 0


def test_logs_mask_the_phone_and_never_show_the_session_id(client, caplog):
    caplog.set_level("INFO")
    body = client.post("/api/auth/init", json={"phone_number": "+79161234567"}).get_json()
    text = caplog.text
    assert "event=session_created" in text
    assert "+79161234567" not in text
    assert body["session_id"] not in text
    assert body["bot_url"].split("=")[1] not in text
