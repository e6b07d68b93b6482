"""A real browser logs in by clicking alone: the demo page on one tab, the emulator's chat on another.

Playwright drives Debian's Chromium (tests/chromium.py; installed by .ci/run where missing).
Screenshots go to test-artifacts/screenshots/; with DOCS_SCREENSHOTS=1 two of them (the chat with
the prompt, the demo page logged in) also replace docs/screenshots/browser-login-*.png, shown in
the README.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest

from core import texts
from devstack import PROJECT_ROOT
from devstack.phone import user_id_for
from tests.chromium import browser_context, needs_chromium
from tests.e2e.people import unique_phone
from tests.e2e.system import System

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")

STEP_TIMEOUT_MS = 20_000  # one step: the worker's prompt, the bot's answer; generous for 2 shared cores
DOCS_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"

pytestmark = needs_chromium


@pytest.fixture
def pages() -> Iterator[tuple[sync_api.Page, sync_api.Page, list[str]]]:
    """Open Chromium with two tabs, the demo page's and the chat's; collect their JavaScript errors."""
    with browser_context(STEP_TIMEOUT_MS) as (context, errors):
        yield context.new_page(), context.new_page(), errors


def test_a_person_logs_in_by_clicking_across_the_demo_page_and_the_chat(
    system: System, pages: tuple[sync_api.Page, sync_api.Page, list[str]], tests_artifacts_dir: Path
) -> None:
    demo, chat, errors = pages
    expect = sync_api.expect
    shots = tests_artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    def shoot(page: sync_api.Page, name: str, full_page: bool = False) -> Path:
        path = shots / f"browser-login-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    web = system.start_web("web-browser", APPROVAL_MODE="match")
    phone = unique_phone()

    # The website: type the phone, start; the page shows the number to pick in Telegram.
    demo.goto(f"{web}/")
    demo.fill("#phone", phone)
    demo.click("#start")
    expect(demo.locator("#status")).to_have_text("pending", timeout=STEP_TIMEOUT_MS)
    expect(demo.locator("#match-code")).to_have_text(re.compile(r"^\d+$"), timeout=STEP_TIMEOUT_MS)
    match_code = demo.locator("#match-code").inner_text()
    bot_url = demo.locator("#open-telegram").get_attribute("href")
    assert bot_url.startswith("https://t.me/")
    expect(demo.locator("#qr svg")).to_be_visible()
    shoot(demo, "1-demo-waiting", full_page=True)

    # The phone: the chat page plays the Telegram user derived from the number, as `make phone` does.
    query = urllib.parse.urlencode({"phone": phone, "name": "Anna", "lang": "en"})
    chat.goto(f"{system.emulator.base_url}/?{query}")
    expect(chat.locator("#current-user")).to_contain_text(str(user_id_for(phone)), timeout=STEP_TIMEOUT_MS)
    # The login's own link (pasted, as a person without Telegram on this device would): only the
    # login whose link brought the person in is prompted once the phone is linked.
    chat.fill("#text", bot_url)
    chat.click("#send")
    expect(chat.locator("#messages .message.user")).to_have_count(1, timeout=STEP_TIMEOUT_MS)
    expect(chat.locator("#reply-keyboard .request-contact")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    shoot(chat, "2-chat-asks-for-contact")
    # Telegram sends one's own number without "+": the shared phone is edited to look like that.
    chat.fill("#user-phone", phone.lstrip("+"))
    chat.click("#share-contact")

    # Linking sends that login's prompt; the person taps the number the website shows.
    button = chat.locator("#messages .message.bot button.inline-button").filter(
        has_text=re.compile(rf"^\s*{match_code}\s*$")
    )
    expect(button).to_have_count(1, timeout=STEP_TIMEOUT_MS)
    chat_prompt = shoot(chat, "3-chat-prompt")
    button.click()

    # Back on the website: the long poll brings the tokens, the profile shows the phone.
    expect(demo.locator("#profile")).to_contain_text(phone, timeout=STEP_TIMEOUT_MS)
    expect(demo.locator("#status")).not_to_have_text("pending")
    # The prompt's closing edit is the "you logged in" notice: its one button ends this login.
    remaining = chat.locator("#messages .message.bot button.inline-button")
    expect(remaining).to_have_count(1, timeout=STEP_TIMEOUT_MS)
    expect(remaining).to_have_text(texts.text("button_end_this_login", "en"))
    demo_final = shoot(demo, "4-demo-logged-in")
    shoot(chat, "4-chat-approved")

    demo.click("#refresh")
    expect(demo.locator("#tokens")).to_contain_text("Tokens rotated", timeout=STEP_TIMEOUT_MS)
    expect(demo.locator("#profile")).to_contain_text(phone)
    demo.click("#logout")
    expect(demo.locator("#account")).to_be_hidden(timeout=STEP_TIMEOUT_MS)
    expect(demo.locator("#start-form")).to_be_visible()
    shoot(demo, "5-demo-logged-out")

    assert errors == [], errors
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chat_prompt, DOCS_SCREENSHOTS / "browser-login-chat.png")
        shutil.copyfile(demo_final, DOCS_SCREENSHOTS / "browser-login-demo.png")
