"""Passkeys in real Chromium with a virtual authenticator (Chrome DevTools Protocol), over every real process.

One browser session: log in with Telegram on the demo page, add a passkey, log out, sign in with
the passkey (no phone, no Telegram), remove it in the bot (/passkeys), and signing in with it fails.
The page is opened at http://localhost:<port>: WebAuthn needs a secure context and a domain RP id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from core import texts
from tests.chromium import browser_context, needs_chromium
from tests.e2e.people import TelegramPerson, inline_buttons
from tests.e2e.system import System

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")

STEP_TIMEOUT_MS = 20_000

pytestmark = needs_chromium


@pytest.fixture
def demo() -> Iterator[tuple[sync_api.Page, list[str]]]:
    """Open Chromium with one tab that has a virtual platform authenticator (user verified)."""
    with browser_context(STEP_TIMEOUT_MS) as (context, errors):
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        yield page, errors


def test_a_passkey_added_after_a_telegram_login_signs_in_until_removed_in_the_bot(
    system: System, linked_person: TelegramPerson, demo: tuple[sync_api.Page, list[str]], tests_artifacts_dir: Path
) -> None:
    page, errors = demo
    expect = sync_api.expect
    site = system.web_url.replace("127.0.0.1", "localhost")

    # A Telegram login first (the main web server approves with one tap).
    page.goto(f"{site}/")
    expect(page.locator("#passkey-sign-in")).to_be_visible()
    page.fill("#phone", linked_person.phone)
    page.click("#start")
    linked_person.tap(linked_person.wait_for_prompt(), 0)
    expect(page.locator("#profile")).to_contain_text(linked_person.phone, timeout=STEP_TIMEOUT_MS)

    # Add a passkey: the virtual authenticator creates it; Telegram is told.
    page.click("#add-passkey")
    expect(page.locator("#passkeys li")).to_have_count(1, timeout=STEP_TIMEOUT_MS)
    added = linked_person.wait_for_text(texts.text("passkey_added", "ru", name="", site="", time="")[:20])
    assert "on Linux" in added["text"], added["text"]

    # Log out: the page offers the passkey in the phone field's autofill (conditional mediation),
    # and the virtual authenticator picks it at once, as the person would: signed in, no phone.
    page.click("#logout")
    expect(page.locator("#profile")).to_contain_text(linked_person.phone, timeout=STEP_TIMEOUT_MS)
    expect(page.locator("#notice")).to_have_text("Signed in with a passkey.")
    linked_person.wait_for_text(texts.text("notice_title_passkey", "ru", site="Dance of Mind"))
    page.screenshot(path=str(tests_artifacts_dir / "browser-passkeys-signed-in.png"), full_page=True)

    # Remove it in the bot: /passkeys, then its remove button.
    linked_person.say("/passkeys")
    listing = linked_person.wait_for_text(texts.text("passkeys_title", "ru", site="Dance of Mind"))
    [remove] = inline_buttons(listing)
    assert remove["callback_data"].startswith("pr:")
    linked_person.tap(listing, 0)
    linked_person.emulator.wait_for(
        lambda: linked_person.message(listing["message_id"])["text"] == texts.text("no_passkeys", "ru"), timeout=15
    )

    # The removed passkey no longer signs in: neither from the autofill nor from the button.
    page.click("#logout")
    expect(page.locator("#start-form")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.locator("#error")).to_contain_text("This passkey was not accepted", timeout=STEP_TIMEOUT_MS)
    page.evaluate("document.getElementById('error').textContent = ''")
    page.click("#passkey-sign-in")
    expect(page.locator("#error")).to_contain_text("This passkey was not accepted", timeout=STEP_TIMEOUT_MS)
    expect(page.locator("#account")).to_be_hidden()
    # The refused sign-in's 401 is the only console error the page may show.
    assert [e for e in errors if "401" not in e] == [], errors
