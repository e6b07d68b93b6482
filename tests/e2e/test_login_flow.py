"""The login, end to end over real processes: browser -> web -> worker -> Telegram -> bot -> browser."""

from __future__ import annotations

from core import texts
from tests.e2e.people import Browser, TelegramPerson, inline_buttons, prompt_buttons
from tests.e2e.system import BOT_LANGUAGE, BOT_USERNAME


def test_linked_user_logs_in(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    assert started["status"] == "pending"
    assert started["bot_url"].startswith(f"https://t.me/{BOT_USERNAME}?start=")

    prompt = linked_person.wait_for_prompt()
    assert "127.0.0.1" in prompt["text"] and "Chrome 120" in prompt["text"]
    buttons = inline_buttons(prompt)
    decision_row, [not_me] = prompt["reply_markup"]["inline_keyboard"]  # simple mode: Approve, Reject; then "It wasn't me"
    assert len(decision_row) == 2 and buttons[2] == not_me and not_me["callback_data"].startswith("nm:")
    linked_person.tap(prompt, 0)  # Approve is first

    approved = browser.wait_for_status(started["session_id"], "approved")
    tokens = approved["tokens"]
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 1800
    assert approved["user"]["phone_number"] == linked_person.phone
    assert approved["user"]["telegram"]["id"] == linked_person.id

    # Tokens are handed out exactly once.
    again = browser.status(started["session_id"])
    assert again.status_code == 410 and again.json()["error"]["code"] == "session_consumed"

    me = browser.me(tokens["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["phone_number"] == linked_person.phone
    assert me.json()["telegram"]["username"] == linked_person.user["username"]

    # The prompt now shows the outcome and has no buttons left to tap. The closing edit follows
    # the decision's commit, which the long poll may have seen first: wait for it.
    def closed_prompt():
        message = linked_person.message(prompt["message_id"])
        return message if message["edited"] and not prompt_buttons(message) else None

    assert linked_person.emulator.wait_for(closed_prompt, timeout=15)
    assert linked_person.wait_for_answers(1)[0]["text"]


def test_unlinked_user_logs_in_through_the_deep_link(system, browser: Browser, person: TelegramPerson):
    started = browser.init(person.phone)
    start_token = started["bot_url"].split("?start=", 1)[1]
    assert start_token != started["session_id"]

    person.say(f"/start {start_token}")
    person.emulator.wait_for_bot_message(
        person.id, lambda m: any(b.get("request_contact") for row in (m.get("reply_markup") or {}).get("keyboard", []) for b in row)
    )
    person.share_own_contact()
    person.wait_for_text(person.phone)  # the bot confirms the link
    prompt = person.wait_for_prompt()
    person.tap(prompt, 0)

    approved = browser.wait_for_status(started["session_id"], "approved")
    assert approved["user"]["phone_number"] == person.phone
    assert browser.me(approved["tokens"]["access_token"]).status_code == 200


def test_reject(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    prompt = linked_person.wait_for_prompt()
    linked_person.tap(prompt, 1)  # Reject is second
    assert browser.wait_for_status(started["session_id"], "rejected") == {"status": "rejected"}
    assert browser.status(started["session_id"]).json() == {"status": "rejected"}  # the same every time
    assert not prompt_buttons(linked_person.message(prompt["message_id"]))


def test_cancel_edits_the_prompt(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    prompt = linked_person.wait_for_prompt()
    response = browser.http.delete(f"/api/auth/session/{started['session_id']}")
    assert response.status_code == 200 and response.json() == {"status": "cancelled"}
    assert browser.http.delete(f"/api/auth/session/{started['session_id']}").status_code == 409
    assert browser.status(started["session_id"]).json() == {"status": "cancelled"}
    edited = linked_person.emulator.wait_for(
        lambda: (m := linked_person.message(prompt["message_id"]))["edited"] and not prompt_buttons(m) and m
    )
    assert edited["text"].endswith(texts.text("outcome_cancelled", BOT_LANGUAGE))


def test_refresh_rotation_reuse_detection_and_logout(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    linked_person.tap(linked_person.wait_for_prompt(), 0)
    tokens = browser.wait_for_status(started["session_id"], "approved")["tokens"]

    rotated = browser.http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert set(fresh) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert browser.me(fresh["access_token"]).status_code == 200

    # The spent refresh token again: theft is assumed and the whole login is revoked.
    reused = browser.http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "token_reused"
    assert browser.me(fresh["access_token"]).status_code == 401
    assert browser.http.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 401

    # A second login, then logout ends that login (access and refresh).
    second = browser.init(linked_person.phone)
    linked_person.tap(linked_person.wait_for_prompt(), 0)
    tokens2 = browser.wait_for_status(second["session_id"], "approved")["tokens"]
    auth = {"Authorization": f"Bearer {tokens2['access_token']}"}
    assert browser.http.post("/api/auth/logout", headers=auth).status_code == 204
    assert browser.me(tokens2["access_token"]).status_code == 401
    assert browser.http.post("/api/auth/refresh", json={"refresh_token": tokens2["refresh_token"]}).status_code == 401
