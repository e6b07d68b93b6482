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


def _toy_bot(url: str, stop: threading.Event) -> None:
    """Answer /start with a prompt, a contact with a text, a tap with a popup and an edit."""
    api = httpx.Client(base_url=f"{url}/bot{EMULATOR_BOT_TOKEN}", timeout=10)
    offset = 0
    while not stop.is_set():
        updates = api.post("/getUpdates", data={"offset": str(offset), "timeout": "1"}).json()["result"]
        for update in updates:
            offset = update["update_id"] + 1
            message, query = update.get("message"), update.get("callback_query")
            if message and (message.get("text") or "").startswith("/start"):
                keyboard = {"inline_keyboard": [[{"text": "Approve", "callback_data": "ok"},
                                                 {"text": "Reject", "callback_data": "no"}]]}
                api.post("/sendMessage", data={"chat_id": str(message["chat"]["id"]), "text": "Log in?",
                                               "reply_markup": json.dumps(keyboard)})
            elif message and message.get("contact"):
                api.post("/sendMessage", data={"chat_id": str(message["chat"]["id"]), "text": "Linked"})
            elif query:
                api.post("/answerCallbackQuery", data={"callback_query_id": query["id"], "text": f"got {query['data']}"})
                api.post("/editMessageText", data={"chat_id": str(query["message"]["chat"]["id"]),
                                                   "message_id": str(query["message"]["message_id"]), "text": "Approved"})
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


def test_script_starts_shares_contact_and_taps(emulator_with_bot: str) -> None:
    script = "start https://t.me/dance_of_mind_bot?start=tok123; contact; tap 1"
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "phone", "--url", emulator_with_bot, "--phone", "+79161234567",
         "--script", script, "--wait", "5"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("you: /start tok123", "bot: Log in?\n     [1 Approve] [2 Reject]",
                     "you: (shares own contact +79161234567)", "bot: Linked",
                     "you: (taps [Approve])", "bot (popup): got ok", "bot (edited): Approved"):
        assert expected in out, out


def test_tapping_without_a_prompt_fails_clearly(emulator_with_bot: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "phone", "--url", emulator_with_bot, "--script", "tap 1", "--wait", "0.5"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "no button '1' to tap" in result.stderr
