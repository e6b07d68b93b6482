"""Email end to end over real processes: web -> Postgres outbox -> worker -> SMTP (the mail catcher).

A person adds and confirms an address, a login sends its notice email, whose "Not you?" page ends
that login, and the sign-in by email code works where EMAIL_LOGIN=on and is refused where it is off.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from tests.e2e.people import Browser, TelegramPerson
from tests.e2e.system import System


def log_in(browser: Browser, person: TelegramPerson) -> dict[str, Any]:
    started = browser.init(person.phone)
    person.tap(person.wait_for_prompt(), 0)  # simple mode: Approve is first
    return browser.wait_for_status(started["session_id"], "approved")["tokens"]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def code_of(mail: dict[str, Any]) -> str:
    return re.search(r"\b\d{6}\b", mail["subject"]).group(0)


def add_confirmed_email(system: System, browser: Browser, tokens: dict[str, Any], address: str) -> None:
    assert system.mail is not None
    added = browser.http.post("/api/auth/email", json={"email": address}, headers=bearer(tokens))
    assert added.status_code == 202, added.text
    (mail,) = system.mail.wait_for(address)
    confirmed = browser.http.post("/api/auth/email/confirm", json={"code": code_of(mail)}, headers=bearer(tokens))
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["email"], confirmed.json()["email_verified"]) == (address, True)


def test_a_confirmed_address_gets_the_login_notice_whose_link_ends_that_login(
    system: System, browser: Browser, linked_person: TelegramPerson
) -> None:
    address = f"p{linked_person.id}@example.com"
    add_confirmed_email(system, browser, log_in(browser, linked_person), address)
    me = browser.me(log_in(browser, linked_person)["access_token"])
    assert me.json()["email"] == address

    tokens = log_in(browser, linked_person)
    notices = system.mail.wait_for(address, count=2, where=lambda m: "/email/not-you/" in m["text"])
    link = re.search(r"http://127\.0\.0\.1:\d+(/email/not-you/\S+)", notices[-1]["text"]).group(1)
    page = browser.http.get(link, headers=browser.headers)  # a mail scanner's prefetch ends nothing
    assert page.status_code == 200 and 'method="post"' in page.text
    assert browser.me(tokens["access_token"]).status_code == 200
    assert browser.http.post(link).status_code == 200
    assert browser.me(tokens["access_token"]).status_code == 401


def test_email_code_sign_in_works_where_it_is_on_and_is_refused_where_off(
    system: System, browser: Browser, linked_person: TelegramPerson
) -> None:
    address = f"q{linked_person.id}@example.com"
    add_confirmed_email(system, browser, log_in(browser, linked_person), address)
    refused = browser.http.post("/api/auth/email/login", json={"email": address})  # EMAIL_LOGIN's default: off
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "email_login_disabled"

    web = system.start_web("web-email-login", EMAIL_LOGIN="on")
    with httpx.Client(base_url=web, timeout=15, headers=browser.headers) as http:
        assert http.post("/api/auth/email/login", json={"email": address}).status_code == 202
        (mail,) = system.mail.wait_for(address, where=lambda m: any(
            words in m["subject"] for words in ("sign-in code", "код для входа")))
        answer = http.post("/api/auth/email/login/verify", json={"email": address, "code": code_of(mail)})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "approved" and body["user"]["email"] == address
        assert http.get("/api/auth/me", headers=bearer(body["tokens"])).status_code == 200
    # Telegram stays the root of trust: the login is announced there with its "End this login" button.
    linked_person.wait_for_text("📧")


def test_smtp_stopped_mid_send_delays_mail_never_a_login_and_each_email_arrives_once(
    system: System, browser: Browser, linked_person: TelegramPerson
) -> None:
    assert system.mail is not None
    tokens = log_in(browser, linked_person)
    addresses = [f"r{linked_person.id}-{n}@example.com" for n in range(8)]
    try:
        for address in addresses:  # each a confirmation code of its own: eight emails in flight
            assert browser.http.post("/api/auth/email", json={"email": address}, headers=bearer(tokens)).status_code == 202
        system.mail.wait_for(addresses[0])
        system.mail.stop_smtp()  # mid-send: the first arrived, the rest are being sent
        # While the SMTP server is away, a login is not held up.
        outage_login = log_in(browser, linked_person)
        assert browser.me(outage_login["access_token"]).status_code == 200
    finally:
        system.mail.start_smtp()
    for address in addresses:
        system.mail.wait_for(address, timeout=40)
    time.sleep(2)  # retries still scheduled would land now
    received = [m for m in system.mail.messages() if m["to"][0] in addresses]
    assert sorted(m["to"][0] for m in received) == sorted(addresses)  # every email exactly once
    assert len({m["message_id"] for m in received}) == len(addresses)
