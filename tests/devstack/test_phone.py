"""The terminal phone renders chats and drives the emulator like a person would."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from devstack import PROJECT_ROOT
from devstack.phone import render
from devstack.services import EmulatorProcess
from devstack.stack import EMULATOR_BOT_TOKEN

pytestmark = pytest.mark.skipif(
    not (PROJECT_ROOT / "telegram_emulator" / "client.py").exists(), reason="telegram_emulator is not written yet"
)


def test_render_numbers_inline_buttons_across_rows() -> None:
    message = {
        "from_bot": True,
        "edited": True,
        "text": "Log in?\nfrom Firefox",
        "reply_markup": {"inline_keyboard": [[{"text": "12"}, {"text": "47"}], [{"text": "Reject"}]]},
    }
    assert render(message) == "bot (edited): Log in?\n     from Firefox\n     [1 12] [2 47]\n     [3 Reject]"
    keyboard = {"from_bot": True, "text": "Hi", "reply_markup": {"keyboard": [[{"text": "Share", "request_contact": True}]]}}
    assert render(keyboard) == "bot: Hi\n     keyboard: <Share>"


SESSION = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"


def _toy_prompt(token: str) -> dict:
    """Return the inline keyboard the real bot sends: numbers for a `match…` token, else Approve/Reject."""
    reject = {"text": "Reject", "callback_data": f"rj:{SESSION}"}
    if token.startswith("match"):
        numbers = [{"text": n, "callback_data": f"mt:{SESSION}:{n}"} for n in ("83", "47", "12")]
        return {"inline_keyboard": [numbers, [reject]]}
    return {"inline_keyboard": [[{"text": "Approve", "callback_data": f"ap:{SESSION}"}, reject]]}


def _toy_bot(url: str, stop: threading.Event) -> None:
    """Play the real bot's part: /start <token> asks an unlinked user for the contact, then prompts."""
    api = httpx.Client(base_url=f"{url}/bot{EMULATOR_BOT_TOKEN}", timeout=10)
    offset, linked, waiting = 0, set(), {}

    def send(chat_id: int, text: str, markup: dict | None = None) -> None:
        data = {"chat_id": str(chat_id), "text": text}
        if markup is not None:
            data["reply_markup"] = json.dumps(markup)
        api.post("/sendMessage", data=data)

    while not stop.is_set():
        updates = api.post("/getUpdates", data={"offset": str(offset), "timeout": "1"}).json()["result"]
        for update in updates:
            offset = update["update_id"] + 1
            message, query = update.get("message"), update.get("callback_query")
            chat_id = (message or {}).get("chat", {}).get("id")
            if message and (message.get("text") or "").startswith("/start"):
                token = message["text"].partition(" ")[2]
                if chat_id in linked or not token:
                    send(chat_id, "Log in?", _toy_prompt(token))
                else:
                    waiting[chat_id] = token
                    send(chat_id, "Share your number first",
                         {"keyboard": [[{"text": "Share", "request_contact": True}]], "one_time_keyboard": True})
            elif message and message.get("contact"):
                linked.add(chat_id)
                send(chat_id, "Linked", {"remove_keyboard": True})
                if chat_id in waiting:
                    send(chat_id, "Log in?", _toy_prompt(waiting.pop(chat_id)))
            elif query:
                api.post("/answerCallbackQuery", data={"callback_query_id": query["id"], "text": f"got {query['data']}"})
                api.post("/editMessageText", data={"chat_id": str(query["message"]["chat"]["id"]),
                                                   "message_id": str(query["message"]["message_id"]), "text": "Decided"})
    api.close()


@pytest.fixture()
def emulator_with_bot(tmp_path: Path) -> Iterator[str]:
    with EmulatorProcess(log_path=tmp_path / "emulator.log") as emulator:
        stop = threading.Event()
        thread = threading.Thread(target=_toy_bot, args=(emulator.url, stop), daemon=True)
        thread.start()
        yield emulator.url
        stop.set()
        thread.join(5)


def _phone(url: str, script: str, phone: str = "+79161234567", wait: float = 5) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "phone", "--url", url, "--phone", phone, "--script", script,
         "--wait", str(wait)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )


def _assert_in_order(out: str, *expected: str) -> None:
    at = 0
    for text in expected:
        found = out.find(text, at)
        assert found >= 0, f"{text!r} not found after position {at}:\n{out}"
        at = found + len(text)


def test_start_shares_the_contact_when_the_bot_asks_then_approve_taps_approve(emulator_with_bot: str) -> None:
    result = _phone(emulator_with_bot, "start https://t.me/dance_of_mind_bot?start=tok123; approve")
    assert result.returncode == 0, result.stderr
    _assert_in_order(result.stdout, "you: /start tok123", "bot: Share your number first\n     keyboard: <Share>",
                     "you: (shares own contact +79161234567)", "bot: Linked",
                     "bot: Log in?\n     [1 Approve] [2 Reject]", "you: (taps [Approve])",
                     f"bot (popup): got ap:{SESSION}")


def test_a_linked_phone_starts_without_sharing_again(emulator_with_bot: str) -> None:
    assert _phone(emulator_with_bot, "start first; approve").returncode == 0
    result = _phone(emulator_with_bot, "start https://t.me/dance_of_mind_bot?start=second; approve")
    assert result.returncode == 0, result.stderr
    new = result.stdout.split("you: /start second", 1)[1]
    assert "shares own contact" not in new
    _assert_in_order(new, "bot: Log in?", "you: (taps [Approve])", f"bot (popup): got ap:{SESSION}")


def test_approve_taps_the_number_equal_to_the_match_code(emulator_with_bot: str) -> None:
    result = _phone(emulator_with_bot, "start https://t.me/dance_of_mind_bot?start=match1; approve 47")
    assert result.returncode == 0, result.stderr
    _assert_in_order(result.stdout, "you: (shares own contact", "[1 83] [2 47] [3 12]", "you: (taps [47])")
    tapped = result.stdout.split("you: (taps [47])")[1]
    assert f"bot (popup): got mt:{SESSION}:47" in tapped and "bot (edited): Decided" in tapped


@pytest.mark.parametrize(("approve", "error"), [
    ("approve", "this prompt asks for the number the website shows: approve <match_code>"),
    ("approve 99", "the newest prompt has no button '99'"),
])
def test_approve_in_match_mode_taps_nothing_without_the_right_code(emulator_with_bot: str, approve: str,
                                                                     error: str) -> None:
    result = _phone(emulator_with_bot, f"start match2; {approve}", wait=2)
    assert result.returncode == 1
    assert error in result.stderr
    assert "taps" not in result.stdout and "popup" not in result.stdout
    assert "[1 83] [2 47] [3 12]" in result.stdout  # the prompt was there: it was left alone


def test_tap_n_still_taps_the_nth_button(emulator_with_bot: str) -> None:
    result = _phone(emulator_with_bot, "start tok; tap 2")
    assert result.returncode == 0, result.stderr
    _assert_in_order(result.stdout, "you: (taps [Reject])", f"bot (popup): got rj:{SESSION}")


def test_tapping_without_a_prompt_fails_clearly(emulator_with_bot: str) -> None:
    result = _phone(emulator_with_bot, "tap 1", wait=0.5)
    assert result.returncode == 1
    assert "no button '1' to tap" in result.stderr
