"""Email on the demo page in real Chromium, over every real process: the worker mails the codes to
the mail catcher, where the test reads them as the person would in its inbox.

After a Telegram login the page adds an address and confirms it with the mailed code; where the
server has EMAIL_LOGIN=on the page signs in with a mailed code, ending a Telegram login it was still
waiting for. A wrong code shows the API's error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from core import email_texts, texts
from tests.chromium import needs_chromium, one_page, script_errors
from tests.e2e.people import Browser, TelegramPerson, prompt_buttons
from tests.e2e.system import BOT_LANGUAGE, System
from webapp.error_catalogue import CATALOGUE

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")

STEP_TIMEOUT_MS = 20_000  # one step: the worker's prompt or email; generous for 2 shared cores
SITE = "Dance of Mind"
WRONG_CODE = CATALOGUE["invalid_code"].message

pytestmark = needs_chromium
expect = sync_api.expect


@pytest.fixture
def page() -> Iterator[tuple[Any, list[str]]]:
    """Open one Chromium tab; yield it and the list its JavaScript errors go to."""
    with one_page(STEP_TIMEOUT_MS) as opened:
        yield opened


@pytest.fixture(scope="module")
def email_login_web(system: System) -> str:
    """Start a web server with the sign-in by email code on; return its URL."""
    return system.start_web("web-browser-email-login", EMAIL_LOGIN="on")


def mailed_code(system: System, address: str, subject_key: str, count: int = 1) -> str:
    """Wait for the `count`-th email of this kind to `address`; return the 6-digit code it carries."""
    assert system.mail is not None
    subject = email_texts.text(subject_key, BOT_LANGUAGE, site=SITE, code="")
    mails = system.mail.wait_for(address, count=count, timeout=STEP_TIMEOUT_MS / 1000,
                                 where=lambda m: m["subject"].startswith(subject))
    return re.search(r"\b\d{6}\b", mails[count - 1]["subject"]).group(0)


def another_code(code: str) -> str:
    """Return a 6-digit code that is surely not `code`."""
    return f"{(int(code) + 1) % 10**6:06d}"


def confirm_address(system: System, web_url: str, person: TelegramPerson, address: str) -> None:
    """Confirm `address` on `person`'s account through the API, after a login approved in Telegram."""
    with system.http(web_url) as http:
        browser = Browser(http)
        started = browser.init(person.phone)
        person.tap(person.wait_for_prompt(), 0)
        tokens = browser.wait_for_status(started["session_id"], "approved")["tokens"]
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert http.post("/api/auth/email", json={"email": address}, headers=bearer).status_code == 202
        confirm = mailed_code(system, address, "confirm_code_subject")
        assert http.post("/api/auth/email/confirm", json={"code": confirm}, headers=bearer).status_code == 200


def sign_in_with_mailed_code(system: System, demo: Any, address: str) -> None:
    """Ask the page for a sign-in code to `address` and type in the one mailed."""
    demo.click("#email-sign-in")
    demo.fill("#sign-in-email", address)
    demo.click("#send-sign-in-code")
    expect(demo.locator("#notice")).to_contain_text("a code is on its way")
    demo.fill("#sign-in-code", mailed_code(system, address, "login_code_subject"))
    demo.click("#verify-sign-in-code")


def telegram_login(demo: Any, person: TelegramPerson) -> None:
    """Log `person` in on the page with the phone number and a tap in Telegram (simple mode)."""
    demo.fill("#phone", person.phone)
    demo.click("#start")
    person.tap(person.wait_for_prompt(), 0)
    expect(demo.locator("#profile")).to_contain_text(person.phone, timeout=STEP_TIMEOUT_MS)


def test_an_address_added_on_the_page_is_confirmed_with_the_mailed_code(
    system: System, linked_person: TelegramPerson, page: tuple[Any, list[str]]
) -> None:
    demo, errors = page
    address = f"page{linked_person.id}@example.com"
    demo.goto(f"{system.web_url}/")
    # The main web server has EMAIL_LOGIN at its default, off: the page offers no email sign-in.
    expect(demo.locator("#start")).to_be_visible()
    expect(demo.locator("#email-sign-in")).to_be_hidden()

    telegram_login(demo, linked_person)
    expect(demo.locator("#confirm-email-form")).to_be_hidden()
    demo.fill("#new-email", address)
    demo.click("#add-email")
    expect(demo.locator("#notice")).to_have_text(f"A code is on its way to {address}.")
    code = mailed_code(system, address, "confirm_code_subject")

    # A wrong code: the API's own sentence, and the address stays unconfirmed.
    demo.fill("#confirm-code", another_code(code))
    demo.click("#confirm-email")
    expect(demo.locator("#error")).to_have_text(WRONG_CODE)
    expect(demo.locator("#confirm-email-form")).to_be_visible()

    demo.fill("#confirm-code", code)
    demo.click("#confirm-email")
    expect(demo.locator("#notice")).to_have_text(f"{address} is confirmed.")
    expect(demo.locator("#error")).to_be_hidden()
    # The profile is /me's again: it has the address, confirmed.
    expect(demo.locator("#profile")).to_contain_text(f'"email": "{address}"')
    expect(demo.locator("#profile")).to_contain_text('"email_verified": true')
    expect(demo.locator("#email-state")).to_contain_text("/email")
    expect(demo.locator("#add-email-form")).to_be_hidden()
    expect(demo.locator("#confirm-email-form")).to_be_hidden()
    assert script_errors(errors) == [], errors


def test_the_page_signs_in_with_a_mailed_code_where_email_login_is_on(
    system: System, email_login_web: str, linked_person: TelegramPerson, page: tuple[Any, list[str]],
    tests_artifacts_dir: Path,
) -> None:
    demo, errors = page
    address = f"signin{linked_person.id}@example.com"
    confirm_address(system, email_login_web, linked_person, address)  # earlier, through the API

    demo.goto(f"{email_login_web}/")
    expect(demo.locator("#email-sign-in-card")).to_be_hidden()
    demo.click("#email-sign-in")
    demo.fill("#sign-in-email", address)
    demo.click("#send-sign-in-code")
    expect(demo.locator("#notice")).to_contain_text("a code is on its way")
    code = mailed_code(system, address, "login_code_subject")

    # A wrong code: the API's sentence; still signed out.
    demo.fill("#sign-in-code", another_code(code))
    demo.click("#verify-sign-in-code")
    expect(demo.locator("#error")).to_have_text(WRONG_CODE)
    expect(demo.locator("#account")).to_be_hidden()

    # The right one: signed in, rendered as every other way in, and Telegram is told.
    demo.fill("#sign-in-code", code)
    demo.click("#verify-sign-in-code")
    expect(demo.locator("#profile")).to_contain_text(linked_person.phone, timeout=STEP_TIMEOUT_MS)
    expect(demo.locator("#profile")).to_contain_text(f'"email": "{address}"')
    expect(demo.locator("#notice")).to_have_text("Signed in with an email code.")
    expect(demo.locator("#error")).to_be_hidden()
    expect(demo.locator("#email-sign-in-card")).to_be_hidden()
    expect(demo.locator("#start-form")).to_be_hidden()
    linked_person.wait_for_text("📧")  # the bot's notice of a login by email code
    demo.screenshot(path=str(tests_artifacts_dir / "browser-email-signed-in.png"), full_page=True)

    # Logging out brings back an empty sign-in: no address or code left on the page.
    demo.click("#logout")
    expect(demo.locator("#start-form")).to_be_visible()
    expect(demo.locator("#email-sign-in-card")).to_be_hidden()
    demo.click("#email-sign-in")
    expect(demo.locator("#sign-in-email")).to_have_value("")
    expect(demo.locator("#email-code-form")).to_be_hidden()
    assert script_errors(errors) == [], errors


def test_a_sign_in_with_a_mailed_code_ends_the_telegram_login_the_page_was_waiting_for(
    system: System, email_login_web: str, linked_person: TelegramPerson, page: tuple[Any, list[str]]
) -> None:
    demo, errors = page
    address = f"pending{linked_person.id}@example.com"
    confirm_address(system, email_login_web, linked_person, address)

    # A Telegram login, its prompt in the person's chat; then the person signs in by email instead.
    demo.goto(f"{email_login_web}/")
    demo.fill("#phone", linked_person.phone)
    with demo.expect_response(lambda r: r.url.endswith("/api/auth/init") and r.request.method == "POST") as init:
        demo.click("#start")
    session_id = init.value.json()["session_id"]
    prompt = linked_person.wait_for_prompt()
    expect(demo.locator("#status")).to_have_text("pending")
    sign_in_with_mailed_code(system, demo, address)

    # The page shows the new login alone: the Telegram login is cancelled, its card gone.
    expect(demo.locator("#profile")).to_contain_text(f'"email": "{address}"', timeout=STEP_TIMEOUT_MS)
    expect(demo.locator("#notice")).to_have_text("Signed in with an email code.")
    expect(demo.locator("#login")).to_be_hidden()
    expect(demo.locator("#start-form")).to_be_hidden()  # no second login can start while signed in
    with system.http(email_login_web) as http:
        Browser(http).wait_for_status(session_id, "cancelled", timeout=STEP_TIMEOUT_MS / 1000)

    # In Telegram the prompt says so, with no buttons left to tap.
    cancelled = texts.text("outcome_cancelled", BOT_LANGUAGE)
    closed = system.emulator.wait_for(
        lambda: (m := linked_person.message(prompt["message_id"]))["text"].endswith(cancelled) and m,
        timeout=STEP_TIMEOUT_MS / 1000,
    )
    assert not prompt_buttons(closed), closed
    assert script_errors(errors) == [], errors
