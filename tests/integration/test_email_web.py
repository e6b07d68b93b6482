"""Email over the web API, against Postgres, Redis and the mail catcher as a real SMTP server.

The app records outbox rows and queues their tasks (captured by `fake_queue`); `deliver` runs
the worker's task body on each, which sends through SMTP to the catcher.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

import jobs
from core import db
from core.settings import get_settings
from tasks.email_delivery import SmtpUnavailable, send_email
from tests.integration.conftest import BROWSER_UA, FakeQueue
from tests.mail_fixtures import RunningCatcher
from tests.passkey_authenticator import SoftAuthenticator

ADDRESS = "ann@example.com"


@pytest.fixture
def email_env(mailbox: RunningCatcher, monkeypatch: pytest.MonkeyPatch, database_url: str,
              redis_url: str) -> Iterator[RunningCatcher]:
    """Point the worker's settings (read from the environment) at the catcher; empty the email tables."""
    for name, value in {"APP_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                        "SMTP_URL": mailbox.smtp_url, "EMAIL_FROM": "Site <no-reply@site.example>",
                        "PUBLIC_BASE_URL": "https://login.site.example", "BOT_DEFAULT_LANGUAGE": "en"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield mailbox
    get_settings.cache_clear()


@pytest.fixture
def app(make_app: Callable[..., Flask], email_env: RunningCatcher) -> Flask:
    """The web app with email on (the sign-in by code too), and the default email limits."""
    app = make_app(smtp_url=email_env.smtp_url, email_login="on", public_base_url="https://login.site.example",
                   rate_limit_email_per_ip="100000/minute")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE email_outbox, email_codes")
    forget_email_limits(get_settings().redis_url)
    return app


def forget_email_limits(redis_url: str) -> None:
    """Start every test with fresh per-address budgets (the tests reuse addresses)."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("*email-*"):
        client.delete(key)
    client.close()


def deliver(queue: FakeQueue) -> int:
    """Run every queued email task once, as the worker would; return how many were queued."""
    queued = [task for task in queue.sent if task.name == jobs.SEND_EMAIL]
    queue.sent = [task for task in queue.sent if task.name != jobs.SEND_EMAIL]
    for task in queued:
        send_email(*task.args)
    return len(queued)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def code_in(message: dict[str, Any]) -> str:
    return re.search(r"\b(\d{6})\b", message["subject"]).group(1)


def add_and_confirm(client: FlaskClient, tokens: dict[str, Any], fake_queue: FakeQueue,
                    catcher: RunningCatcher, address: str = ADDRESS) -> dict[str, Any]:
    response = client.post("/api/auth/email", json={"email": address}, headers=bearer(tokens))
    assert response.status_code == 202, response.get_json()
    assert deliver(fake_queue) == 1
    (mail,) = catcher.client.wait_for(address.lower(), where=lambda m: "code" in m["subject"].lower())
    confirmed = client.post("/api/auth/email/confirm", json={"code": code_in(mail)}, headers=bearer(tokens))
    assert confirmed.status_code == 200, confirmed.get_json()
    return confirmed.get_json()


def test_an_address_is_added_and_confirmed_with_the_mailed_code(
    client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher
) -> None:
    tokens = login()
    response = client.post("/api/auth/email", json={"email": " Ann@Example.com "}, headers=bearer(tokens))
    assert response.status_code == 202
    assert response.get_json() == {"status": "code_sent", "expires_in": 600}
    assert client.get("/api/auth/me", headers=bearer(tokens)).get_json()["email_verified"] is False
    assert deliver(fake_queue) == 1
    (mail,) = email_env.client.messages(ADDRESS)
    assert mail["html"] and code_in(mail) in mail["text"] and mail["from"] == "Site <no-reply@site.example>"
    wrong = "000000" if code_in(mail) != "000000" else "111111"
    refused = client.post("/api/auth/email/confirm", json={"code": wrong}, headers=bearer(tokens))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_code"
    confirmed = client.post("/api/auth/email/confirm", json={"code": code_in(mail)}, headers=bearer(tokens))
    assert confirmed.status_code == 200
    me = client.get("/api/auth/me", headers=bearer(tokens)).get_json()
    assert (me["email"], me["email_verified"]) == (ADDRESS, True)
    again = client.post("/api/auth/email/confirm", json={"code": code_in(mail)}, headers=bearer(tokens))
    assert again.status_code == 422  # single use


def test_a_confirmed_address_is_changed_only_in_telegram(
    client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher
) -> None:
    tokens = login()
    add_and_confirm(client, tokens, fake_queue, email_env)
    response = client.post("/api/auth/email", json={"email": "thief@example.com"}, headers=bearer(tokens))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "email_change_in_telegram"
    assert client.get("/api/auth/me", headers=bearer(tokens)).get_json()["email"] == ADDRESS


def test_five_wrong_codes_end_the_code(client: FlaskClient, login, fake_queue: FakeQueue,
                                       email_env: RunningCatcher) -> None:
    tokens = login()
    client.post("/api/auth/email", json={"email": ADDRESS}, headers=bearer(tokens))
    deliver(fake_queue)
    code = code_in(email_env.client.messages(ADDRESS)[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert client.post("/api/auth/email/confirm", json={"code": wrong}, headers=bearer(tokens)).status_code == 422
    assert client.post("/api/auth/email/confirm", json={"code": code}, headers=bearer(tokens)).status_code == 422


def test_a_login_mails_its_notice_and_the_not_you_link_ends_it_with_a_post_only(
    client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher
) -> None:
    add_and_confirm(client, login(), fake_queue, email_env)
    tokens = login()  # a new login, approved in Telegram
    assert deliver(fake_queue) == 1
    (notice,) = email_env.client.wait_for(ADDRESS, where=lambda m: "new login" in m["subject"])
    link = re.search(r"https://login\.site\.example(/email/not-you/\S+)", notice["text"]).group(1)
    assert "Chrome 120" in notice["text"] and link in notice["html"]
    page = client.get(link)  # what a mail scanner does: nothing ends
    assert page.status_code == 200 and b'method="post"' in page.data
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 200
    ended = client.post(link)
    assert ended.status_code == 200 and b"ended" in ended.data
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    assert b"already ended" in client.post(link).data
    assert client.get("/email/not-you/not-a-token").status_code == 404


def test_notices_are_not_mailed_to_an_unconfirmed_address(
    client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher
) -> None:
    tokens = login()
    client.post("/api/auth/email", json={"email": ADDRESS}, headers=bearer(tokens))
    deliver(fake_queue)
    login()
    assert deliver(fake_queue) == 0


def test_email_sign_in_by_code(client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher) -> None:
    add_and_confirm(client, login(), fake_queue, email_env)
    unknown = client.post("/api/auth/email/login", json={"email": "nobody@example.com"})
    known = client.post("/api/auth/email/login", json={"email": "ANN@example.com"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.get_json() == known.get_json()
    assert deliver(fake_queue) == 1  # the unknown address got nothing
    (mail,) = email_env.client.wait_for(ADDRESS, where=lambda m: "sign-in code" in m["subject"])
    wrong = client.post("/api/auth/email/login/verify", json={"email": ADDRESS, "code": "12345x"})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "invalid_code"
    answer = client.post("/api/auth/email/login/verify", json={"email": ADDRESS, "code": code_in(mail)})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "approved" and body["user"]["email"] == ADDRESS
    assert client.get("/api/auth/me", headers=bearer(body["tokens"])).status_code == 200
    # The login is announced in Telegram, and by email (a login made without Telegram).
    assert jobs.SEND_LOGIN_NOTICE in fake_queue.names()
    deliver(fake_queue)
    email_env.client.wait_for(ADDRESS, where=lambda m: "email code" in m["text"])
    reused = client.post("/api/auth/email/login/verify", json={"email": ADDRESS, "code": code_in(mail)})
    assert reused.status_code == 422


def test_email_sign_in_is_refused_when_off(make_app: Callable[..., Flask], email_env: RunningCatcher) -> None:
    client = make_app(smtp_url=email_env.smtp_url).test_client()  # EMAIL_LOGIN's default: off
    for path, body in (("/api/auth/email/login", {"email": ADDRESS}),
                       ("/api/auth/email/login/verify", {"email": ADDRESS, "code": "123456"})):
        response = client.post(path, json=body)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "email_login_disabled"


def test_without_smtp_email_answers_503(make_app: Callable[..., Flask], login) -> None:
    client = make_app(email_login="on", smtp_url="").test_client()
    client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    response = client.post("/api/auth/email/login", json={"email": ADDRESS})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "email_unavailable"


def test_codes_per_address_are_limited_known_or_not(client: FlaskClient, email_env: RunningCatcher) -> None:
    statuses = [client.post("/api/auth/email/login", json={"email": "nobody@example.com"}).status_code
                for _ in range(4)]
    assert statuses == [202, 202, 202, 429]


def test_an_smtp_outage_delays_the_email_and_it_arrives_once(
    client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher
) -> None:
    tokens = login()
    client.post("/api/auth/email", json={"email": ADDRESS}, headers=bearer(tokens))
    (task,) = [t for t in fake_queue.sent if t.name == jobs.SEND_EMAIL]
    email_env.smtp.stop()
    with pytest.raises(SmtpUnavailable):
        send_email(*task.args)
    email_env.inbox.fault = "tempfail"
    email_env.smtp.start()
    with pytest.raises(SmtpUnavailable):
        send_email(*task.args)  # 451: tried again later, too
    email_env.inbox.fault = None
    send_email(*task.args)
    send_email(*task.args)  # a duplicate task sends nothing
    (mail,) = email_env.client.messages(ADDRESS)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT attempts, secret, sent_at, last_error FROM email_outbox")
        row = cur.fetchone()
    assert row["attempts"] == 3 and row["sent_at"] is not None and row["secret"] is None
    assert mail["message_id"].endswith("@site.example>")


def test_old_emails_and_dead_codes_are_purged(client: FlaskClient, login, fake_queue: FakeQueue,
                                              email_env: RunningCatcher) -> None:
    from tasks.email_delivery import purge_old_emails

    client.post("/api/auth/email", json={"email": ADDRESS}, headers=bearer(login()))
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO email_outbox (event_key, kind, recipient, language, created_at)"
                    " VALUES ('old', 'not_me', 'old@example.com', 'en', now() - interval '31 days')")
        cur.execute("UPDATE email_codes SET expires_at = now() - interval '2 days'")
    purge_old_emails()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT recipient FROM email_outbox")
        assert [row["recipient"] for row in cur.fetchall()] == [ADDRESS]
        cur.execute("SELECT count(*) AS n FROM email_codes")
        assert cur.fetchone()["n"] == 0


def test_credentials_never_travel_without_tls(mailbox: RunningCatcher) -> None:
    from mail_sender import smtp

    # The catcher offers no STARTTLS: a URL with a password must refuse to log in, not send it in clear.
    port = mailbox.smtp.port
    with pytest.raises(Exception, match="STARTTLS"):
        smtp.check(f"smtp://mailer:s3cret@127.0.0.1:{port}")
    assert smtp.check(f"smtp://127.0.0.1:{port}").startswith("250")  # a local relay: no credentials, plain


def test_racing_guesses_have_one_winner_and_never_pass_five_tries(app: Flask) -> None:
    import threading

    from core import email_codes
    from tests import factories

    with db.transaction() as conn:
        user = factories.make_user(conn)
        _, code = email_codes.issue(conn, purpose=email_codes.LOGIN, user_id=user["id"], address=ADDRESS)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    barrier, results = threading.Barrier(12), []

    def guess(text: str) -> None:
        barrier.wait()
        with db.transaction() as conn:
            results.append((text, email_codes.verify(conn, purpose=email_codes.LOGIN, user_id=user["id"], code=text)))

    threads = [threading.Thread(target=guess, args=(code if n % 2 else wrong,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [row for text, row in results if row is not None]
    assert len(winners) <= 1  # six right guesses at once: at most one spends the code
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT attempts, used_at FROM email_codes WHERE user_id = %s", (user["id"],))
        row = cur.fetchone()
    assert row["attempts"] <= email_codes.MAX_TRIES
    # Either a right guess came within the first five tries and won, or five tries ended the code.
    assert (row["used_at"] is not None) == (len(winners) == 1)


def test_a_passkey_added_and_removed_is_mailed_once_each(
    client: FlaskClient, login, fake_queue: FakeQueue, email_env: RunningCatcher
) -> None:
    tokens = login()
    add_and_confirm(client, tokens, fake_queue, email_env)
    authenticator = SoftAuthenticator("http://localhost")
    options = client.post("/api/auth/passkeys/registration/options", headers=bearer(tokens))
    added = client.post("/api/auth/passkeys/registration/verify", json=authenticator.create(options.get_json()),
                        headers=bearer(tokens))
    assert added.status_code == 201, added.get_json()
    assert deliver(fake_queue) == 1
    (mail,) = email_env.client.wait_for(ADDRESS, where=lambda m: "passkey added" in m["subject"])
    assert added.get_json()["name"] in mail["text"]

    removed = client.delete(f"/api/auth/passkeys/{added.get_json()['id']}", headers=bearer(tokens))
    assert removed.status_code == 204
    again = client.delete(f"/api/auth/passkeys/{added.get_json()['id']}", headers=bearer(tokens))
    assert again.status_code == 404
    assert deliver(fake_queue) == 1  # the second DELETE removed nothing and mails nothing
    email_env.client.wait_for(ADDRESS, where=lambda m: "passkey removed" in m["subject"])
    subjects = [m["subject"] for m in email_env.client.messages(ADDRESS)]
    assert sum("passkey added" in s for s in subjects) == 1 and sum("passkey removed" in s for s in subjects) == 1
