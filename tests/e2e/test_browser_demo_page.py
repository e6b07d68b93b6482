"""The demo page in a real browser, around the happy path: one login per browser, what is left on
screen after a login ends, after Logout and after errors.

Playwright drives Debian's Chromium (tests/chromium.py) against the whole running system; the
person in Telegram is played through the emulator's control API.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Iterator

import pytest

from tests.chromium import needs_chromium, one_page, script_errors
from tests.e2e.people import Browser, TelegramPerson, inline_buttons, prompt_buttons, unique_phone
from tests.e2e.system import System

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")

STEP_TIMEOUT_MS = 15_000  # one step: the worker's prompt, the bot's answer; generous for 2 shared cores
INIT_PER_PHONE = 2  # the strict web server's /init budget per phone (and client address)

pytestmark = needs_chromium
expect = sync_api.expect


@pytest.fixture
def page() -> Iterator[tuple[Any, list[str]]]:
    """Open one Chromium tab; yield it and the list its JavaScript errors go to."""
    with one_page(STEP_TIMEOUT_MS) as opened:
        yield opened


@pytest.fixture(scope="module")
def match_web(system: System) -> str:
    """Start a web server in match mode that allows INIT_PER_PHONE logins per phone; return its URL."""
    return system.start_web(
        "web-demo-match", APPROVAL_MODE="match", RATE_LIMIT_INIT_PER_PHONE=f"{INIT_PER_PHONE}/10 minutes"
    )


@pytest.fixture(scope="module")
def short_web(system: System) -> str:
    """Start a web server whose logins expire after 2 s; return its URL."""
    return system.start_web("web-demo-short-ttl", APPROVAL_MODE="match", AUTH_SESSION_TTL="2")


def start(demo: Any, phone: str) -> dict[str, Any]:
    """Type `phone`, press Start; return the body of the page's successful /init."""
    demo.fill("#phone", phone)
    with demo.expect_response(lambda r: r.url.endswith("/api/auth/init") and r.request.method == "POST") as answer:
        demo.click("#start")
    assert answer.value.status == 201, answer.value.text()
    return answer.value.json()


def path_of(url: str) -> str:
    """Return the path of a URL."""
    return urllib.parse.urlsplit(url).path


def assert_prompt_gone(demo: Any) -> None:
    """Assert nothing of the ended login is left to act on: no number, no link, no QR code."""
    expect(demo.locator("#prompt")).to_be_hidden()
    expect(demo.locator("#match-code")).to_be_hidden()
    expect(demo.locator("#match-code")).to_have_text("")
    expect(demo.locator("#open-telegram")).to_be_hidden()
    assert demo.locator("#open-telegram").get_attribute("href") is None
    expect(demo.locator("#qr svg")).to_have_count(0)
    expect(demo.locator("#cancel")).to_be_hidden()


def test_start_again_cancels_the_earlier_login_before_the_new_one_begins(
    system: System, linked_person: TelegramPerson, page: tuple[Any, list[str]]
) -> None:
    demo, errors = page
    requests: list[str] = []
    demo.on("request", lambda r: requests.append(f"{r.method} {path_of(r.url)}"))
    demo.on("requestfinished", lambda r: requests.append(f"{r.method} {path_of(r.url)} finished"))
    demo.goto(f"{system.web_url}/")

    first = start(demo, linked_person.phone)
    first_prompt = linked_person.wait_for_prompt()
    second = start(demo, linked_person.phone)

    # The earlier login was cancelled, awaited, before the new one was asked for.
    cancel = f"DELETE /api/auth/session/{first['session_id']}"
    inits = [i for i, line in enumerate(requests) if line == "POST /api/auth/init"]
    assert len(inits) == 2, requests
    assert requests.index(cancel) < requests.index(f"{cancel} finished") < inits[1], requests
    with system.http() as http:
        assert Browser(http).wait_for_status(first["session_id"], "cancelled")
        assert Browser(http).status(second["session_id"]).json()["status"] == "pending"

    # In Telegram the first prompt says it was cancelled; only the second one has live buttons.
    system.emulator.wait_for(
        lambda: (m := linked_person.message(first_prompt["message_id"]))["edited"] and not prompt_buttons(m),
        timeout=STEP_TIMEOUT_MS / 1000,
    )
    live = system.emulator.wait_for_bot_message(linked_person.id, prompt_buttons, timeout=STEP_TIMEOUT_MS / 1000)
    assert live["message_id"] != first_prompt["message_id"]
    assert [m["message_id"] for m in linked_person.bot_messages() if prompt_buttons(m)] == [live["message_id"]]

    # The page shows the new login alone, still waiting.
    expect(demo.locator("#status")).to_have_text("pending")
    assert demo.locator("#open-telegram").get_attribute("href") == second["bot_url"]
    expect(demo.locator("#qr svg")).to_have_count(1)
    assert errors == [], errors


def test_leaving_the_page_cancels_its_pending_login(system: System, page: tuple[Any, list[str]]) -> None:
    demo, errors = page
    demo.goto(f"{system.web_url}/")
    started = start(demo, unique_phone())
    expect(demo.locator("#status")).to_have_text("pending")
    demo.goto("about:blank")
    with system.http() as http:
        assert Browser(http).wait_for_status(started["session_id"], "cancelled", timeout=STEP_TIMEOUT_MS / 1000)
    assert errors == [], errors


def test_a_rejected_login_leaves_no_number_link_or_qr_code(
    system: System, match_web: str, linked_person: TelegramPerson, page: tuple[Any, list[str]]
) -> None:
    demo, errors = page
    demo.goto(f"{match_web}/")
    start(demo, linked_person.phone)
    expect(demo.locator("#match-code")).to_have_text(re.compile(r"^\d+$"))
    prompt = linked_person.wait_for_prompt()
    linked_person.tap(prompt, len(inline_buttons(prompt)) - 1)  # the reject row, under the numbers
    expect(demo.locator("#status")).to_have_text("rejected")
    assert_prompt_gone(demo)
    assert errors == [], errors


def test_a_cancelled_login_leaves_no_number_link_or_qr_code(match_web: str, page: tuple[Any, list[str]]) -> None:
    demo, errors = page
    demo.goto(f"{match_web}/")
    start(demo, unique_phone())
    expect(demo.locator("#match-code")).to_have_text(re.compile(r"^\d+$"))
    expect(demo.locator("#qr svg")).to_have_count(1)
    demo.click("#cancel")
    expect(demo.locator("#status")).to_have_text("cancelled")
    assert_prompt_gone(demo)
    assert errors == [], errors


def test_an_expired_login_leaves_no_number_link_or_qr_code(short_web: str, page: tuple[Any, list[str]]) -> None:
    demo, errors = page
    demo.goto(f"{short_web}/")
    start(demo, unique_phone())
    expect(demo.locator("#match-code")).to_have_text(re.compile(r"^\d+$"))
    expect(demo.locator("#status")).to_have_text("expired")
    assert_prompt_gone(demo)
    expect(demo.locator("#status-hint")).to_have_text("The login timed out. Start again.")
    assert errors == [], errors


def test_after_logout_the_page_says_so(system: System, linked_person: TelegramPerson, page: tuple[Any, list[str]]) -> None:
    demo, errors = page
    demo.goto(f"{system.web_url}/")
    start(demo, linked_person.phone)
    linked_person.tap(linked_person.wait_for_prompt(), 0)  # simple mode: the first button approves
    expect(demo.locator("#profile")).to_contain_text(linked_person.phone)
    expect(demo.locator("#notice")).to_be_hidden()
    demo.click("#logout")
    expect(demo.locator("#notice")).to_have_text("You are logged out.")
    expect(demo.locator("#account")).to_be_hidden()
    expect(demo.locator("#login")).to_be_hidden()
    expect(demo.locator("#start-form")).to_be_visible()
    # A new Start takes the notice away.
    start(demo, unique_phone())
    expect(demo.locator("#notice")).to_be_hidden()
    assert errors == [], errors


def test_errors_read_as_sentences_and_take_the_old_login_away(match_web: str, page: tuple[Any, list[str]]) -> None:
    demo, errors = page
    demo.goto(f"{match_web}/")

    demo.fill("#phone", "12")
    demo.click("#start")
    expect(demo.locator("#error")).to_have_text(re.compile(r"^This is not a phone number we can use\."))
    expect(demo.locator("#login")).to_be_hidden()

    # The strict server allows INIT_PER_PHONE logins of one phone; the next Start gets 429.
    phone = unique_phone()
    for _ in range(INIT_PER_PHONE):
        start(demo, phone)
        expect(demo.locator("#error")).to_be_hidden()
        expect(demo.locator("#status")).to_have_text("pending")
    demo.click("#start")
    sentence = re.compile(r"^Too many login attempts\. Try again in (\d+ min( \d+ s)?|\d+ s)\.$")
    expect(demo.locator("#error")).to_have_text(sentence)
    assert "rate_limited" not in demo.locator("#error").inner_text()
    expect(demo.locator("#login")).to_be_hidden()
    assert_prompt_gone(demo)
    assert script_errors(errors) == [], errors


def test_the_page_says_when_the_server_is_not_answering(system: System, page: tuple[Any, list[str]]) -> None:
    demo, errors = page
    demo.goto(f"{system.web_url}/")
    demo.route("**/api/auth/init", lambda route: route.abort("connectionrefused"))
    demo.fill("#phone", unique_phone())
    demo.click("#start")
    expect(demo.locator("#error")).to_have_text("The server is not answering; try again in a moment.")
    expect(demo.locator("#start")).to_be_enabled()
    assert [e for e in errors if "ERR_CONNECTION_REFUSED" not in e] == [], errors
