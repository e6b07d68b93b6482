"""Number matching, "It wasn't me", the login notice and the bot's account commands, over real processes.

The main web server runs simple mode; match mode gets a gunicorn of its own. The worker and the
bot are shared: they read each session's mode from its row, so one worker serves both.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from core import auth_sessions, db, texts
from tests.e2e.people import Browser, TelegramPerson, inline_buttons, prompt_buttons
from tests.e2e.system import BOT_LANGUAGE, System


def ru(key: str, **values: Any) -> str:
    """Return a bot text in the system's language."""
    return texts.text(key, BOT_LANGUAGE, **values)


@pytest.fixture(scope="module")
def match_web(system: System) -> str:
    """Start a web server in match mode (the contract's default) for this module; return its URL."""
    return system.start_web("web-match", APPROVAL_MODE="match")


@pytest.fixture
def match_browser(system: System, match_web: str) -> Iterator[Browser]:
    """Return a browser talking to the match-mode web server."""
    with system.http(match_web) as http:
        yield Browser(http)


def is_prompt(message: dict[str, Any]) -> bool:
    """Tell whether a bot message is an approval prompt (it has an "It wasn't me" button)."""
    return any(b["callback_data"].startswith("nm:") for b in inline_buttons(message) if "callback_data" in b)


def next_prompt(person: TelegramPerson, after: int = 0, timeout: float = 20) -> dict[str, Any]:
    """Wait for a prompt newer than message `after`."""
    return person.emulator.wait_for_bot_message(person.id, lambda m: is_prompt(m) and m["message_id"] > after, timeout)


def tap_label(person: TelegramPerson, message: dict[str, Any], label: str) -> None:
    """Tap the button of a message that reads `label`."""
    [button] = [b for b in inline_buttons(message) if b["text"] == label]
    person.emulator.tap(person.id, message["message_id"], callback_data=button["callback_data"])


def withheld_reason(database_url: str, session_id: str) -> str | None:
    """Return why the worker held back a session's prompt (read from Postgres; None if it didn't)."""
    conn = db.connect(database_url)
    try:
        row = auth_sessions.find_by_session_id(conn, session_id)
    finally:
        conn.close()
    assert row is not None
    return row["prompt_withheld"]


def notices(person: TelegramPerson) -> list[dict[str, Any]]:
    """Return the "New login" messages in this person's chat."""
    title = texts.text("notice_title_telegram", BOT_LANGUAGE, site="Dance of Mind")
    return [m for m in person.bot_messages() if (m["text"] or "").startswith(title)]


def test_a_match_mode_login_costs_one_message_whose_button_ends_it(system, match_browser: Browser, linked_person: TelegramPerson):
    started = match_browser.init(linked_person.phone)
    code = started["match_code"]
    assert re.fullmatch(r"[1-9][0-9]", code)

    prompt = next_prompt(linked_person)
    numbers, [reject], [not_me] = prompt["reply_markup"]["inline_keyboard"]
    labels = [b["text"] for b in numbers]
    assert len(set(labels)) == 3 and code in labels and all(re.fullmatch(r"[1-9][0-9]", n) for n in labels)
    assert (reject["text"], not_me["text"]) == (ru("button_reject"), ru("button_not_me"))
    assert ru("prompt_match_question") in prompt["text"]
    tap_label(linked_person, prompt, code)

    approved = match_browser.wait_for_status(started["session_id"], "approved")
    assert match_browser.me(approved["tokens"]["access_token"]).status_code == 200

    # One message per login: the prompt's closing edit is the "you logged in" notice.
    title = ru("logged_in_title", site="Dance of Mind")
    notice = linked_person.emulator.wait_for(
        lambda: (m := linked_person.message(prompt["message_id"]))["edited"] and m["text"].startswith(title) and m,
        timeout=20,
    )
    assert "Chrome 120, Windows 10" in notice["text"] and "127.0.0.1" in notice["text"]
    [end] = inline_buttons(notice)
    assert end["text"] == ru("button_end_this_login") and end["callback_data"].startswith("es:")
    assert [m["message_id"] for m in linked_person.bot_messages() if m["message_id"] >= prompt["message_id"]] == [
        prompt["message_id"]
    ]
    assert notices(linked_person) == []

    answered = len(linked_person.callback_answers())
    linked_person.tap(notice, 0)  # "End this login"
    assert linked_person.wait_for_answers(answered + 1)[-1]["text"] == ru("answer_login_ended")
    assert match_browser.me(approved["tokens"]["access_token"]).status_code == 401
    ended = linked_person.emulator.wait_for(lambda: not inline_buttons(m := linked_person.message(prompt["message_id"])) and m)
    assert ended["text"].endswith(ru("logged_in_ended"))


def test_a_wrong_number_rejects_then_the_next_prompt_is_held(
    system, database_url: str, match_browser: Browser, linked_person: TelegramPerson
):
    started = match_browser.init(linked_person.phone)
    prompt = next_prompt(linked_person)
    wrong = next(b["text"] for b in prompt["reply_markup"]["inline_keyboard"][0] if b["text"] != started["match_code"])
    tap_label(linked_person, prompt, wrong)

    assert match_browser.wait_for_status(started["session_id"], "rejected") == {"status": "rejected"}
    answer = linked_person.wait_for_answers(1)[-1]
    assert answer["text"] == ru("answer_wrong_number", minutes=5) and answer["show_alert"]

    again = match_browser.init(linked_person.phone)
    assert set(again) == set(started)  # the website can't tell that a hold is on
    system.emulator.wait_for(lambda: withheld_reason(database_url, again["session_id"]) == "cooldown", timeout=20)
    assert not [m for m in linked_person.bot_messages() if prompt_buttons(m)]  # the first prompt is closed, no other came
    assert match_browser.status(again["session_id"]).json()["status"] == "pending"
    assert notices(linked_person) == []


def test_it_wasnt_me_pauses_prompts_and_ends_every_login(
    system, database_url: str, browser: Browser, linked_person: TelegramPerson
):
    first = browser.init(linked_person.phone)
    prompt = next_prompt(linked_person)
    tap_label(linked_person, prompt, ru("button_approve"))
    tokens = browser.wait_for_status(first["session_id"], "approved")["tokens"]

    # Someone else starts a login with this phone: the person taps "It wasn't me".
    intruders = browser.init(linked_person.phone)
    prompt = next_prompt(linked_person, after=prompt["message_id"])
    tap_label(linked_person, prompt, ru("button_not_me"))
    assert browser.wait_for_status(intruders["session_id"], "rejected") == {"status": "rejected"}
    offer = linked_person.wait_for_text(ru("not_me_intro"))
    assert ru("active_logins_count", count=1) in offer["text"]

    # Prompts are paused: the next login's prompt is held back.
    held = browser.init(linked_person.phone)
    system.emulator.wait_for(lambda: withheld_reason(database_url, held["session_id"]) == "paused", timeout=20)

    tap_label(linked_person, offer, ru("button_end_all_logins"))
    system.emulator.wait_for(lambda: browser.me(tokens["access_token"]).status_code == 401, timeout=10)
    refresh = browser.http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401

    offer = system.emulator.wait_for(lambda: len(inline_buttons(m := linked_person.message(offer["message_id"]))) == 1 and m)
    tap_label(linked_person, offer, ru("button_resume_prompts"))
    system.emulator.wait_for(lambda: not inline_buttons(linked_person.message(offer["message_id"])))
    resumed = browser.init(linked_person.phone)
    tap_label(linked_person, next_prompt(linked_person, after=prompt["message_id"]), ru("button_approve"))
    assert browser.wait_for_status(resumed["session_id"], "approved")["tokens"]


def test_sessions_and_logout_all_from_the_bot(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    tap_label(linked_person, next_prompt(linked_person), ru("button_approve"))
    tokens = browser.wait_for_status(started["session_id"], "approved")["tokens"]

    linked_person.say("/sessions")
    listing = linked_person.wait_for_text(ru("sessions_title"))
    assert "Chrome 120, Windows 10" in listing["text"] and "127.0.0.1" in listing["text"]
    assert len(inline_buttons(listing)) == 1

    linked_person.say("/logout_all")
    asked = linked_person.wait_for_text(ru("logout_all_confirm", count=1))
    assert browser.me(tokens["access_token"]).status_code == 200  # nothing ends before the confirmation
    tap_label(linked_person, asked, ru("button_confirm_logout_all"))
    system.emulator.wait_for(lambda: browser.me(tokens["access_token"]).status_code == 401, timeout=10)
    linked_person.wait_for_text(ru("logged_out_all", count=1))


def test_unlink_forgets_the_phone(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    prompt = next_prompt(linked_person)
    tap_label(linked_person, prompt, ru("button_approve"))
    tokens = browser.wait_for_status(started["session_id"], "approved")["tokens"]

    linked_person.say("/unlink")
    asked = linked_person.wait_for_text(ru("unlink_confirm", phone=linked_person.phone))
    tap_label(linked_person, asked, ru("button_confirm_unlink"))
    linked_person.wait_for_text(ru("unlinked", phone=linked_person.phone))
    assert browser.me(tokens["access_token"]).status_code == 401

    # The phone is no longer linked: the bot has nothing of this person's any more.
    linked_person.say("/sessions")
    linked_person.wait_for_text(ru("not_linked"))
