"""The closing edit of a decided prompt: the Bot API call it makes and the errors it lets through."""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from datetime import datetime, timezone
from typing import Any

import pytest
import telegram
from telegram.error import BadRequest
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBUserWarning

from botrunner import handlers
from core import prompts
from telegram_sender import keyboards, unparsed

TOKEN = "7000002:AAE_bot-runner-test-token-0123456789"
SESSION_PK = str(uuid.uuid4())


class RecordingRequest(BaseRequest):
    """A transport that records each call and answers every one with the same body."""

    def __init__(self, status: int = 200, answer: Any = None) -> None:
        self.status = status
        self.body = json.dumps(answer if answer is not None else {"ok": True, "result": edited_message()}).encode()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **_: Any) -> tuple[int, bytes]:
        self.calls.append((url.rsplit("/", 1)[-1], dict(request_data.json_parameters) if request_data else {}))
        return self.status, self.body


def edited_message() -> dict[str, Any]:
    """Return the edited message as Telegram sends it back."""
    return {
        "message_id": 17, "date": 1_764_900_000, "edit_date": 1_764_900_005,
        "chat": {"id": 4242, "type": "private", "first_name": "Anna"},
        "from": {"id": 7000002, "is_bot": True, "first_name": "Login", "username": "login_bot"},
        "text": "You logged in",
    }


def bot_over(request: RecordingRequest) -> ExtBot:
    return ExtBot(TOKEN, request=request, get_updates_request=RecordingRequest())


def decided_session(status: str) -> dict[str, Any]:
    return {
        "id": SESSION_PK, "status": status, "approval_mode": "simple", "client_ip": "198.51.100.9",
        "user_agent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "created_at": datetime(2026, 12, 5, 10, 30, tzinfo=timezone.utc),
        "decided_at": datetime(2026, 12, 5, 10, 31, tzinfo=timezone.utc),
        "prompt_chat_id": 4242, "prompt_message_id": 17, "prompt_language": "en",
    }


@pytest.mark.parametrize("status", ["approved", "rejected", "expired"])
def test_the_closing_edit_sends_what_bot_edit_message_text_sends(status):
    session = decided_session(status)
    ours, ptbs = RecordingRequest(), RecordingRequest()
    closed = prompts.closed_prompt(session, status, "en", "Example")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # As importing the module did, before pytest reset the filters.
        warnings.filterwarnings("ignore", message=unparsed.UNPARSED_CALL_WARNING, category=PTBUserWarning)
        asyncio.run(handlers.close_prompt(bot_over(ours), session, "en", "Example"))
    asyncio.run(bot_over(ptbs).edit_message_text(
        closed.text, chat_id=4242, message_id=17, reply_markup=keyboards.inline_markup(closed)
    ))

    assert ours.calls == ptbs.calls
    [(method, params)] = ours.calls
    assert method == "editMessageText"
    assert params["text"] == closed.text
    # Approved: the notice keeps one button, "End this login"; the other outcomes keep none.
    if status == "approved":
        assert json.loads(params["reply_markup"])["inline_keyboard"] == [
            [{"text": closed.buttons[0][0].label, "callback_data": f"{prompts.END_THIS_LOGIN}:{SESSION_PK}"}]
        ]
    else:
        assert "reply_markup" not in params


def test_an_edit_that_changes_nothing_is_not_an_error():
    refused = RecordingRequest(400, {"ok": False, "error_code": 400,
                                     "description": "Bad Request: message is not modified: specified new message "
                                                    "content and reply markup are exactly the same"})
    asyncio.run(handlers.close_prompt(bot_over(refused), decided_session("approved"), "en", "Example"))
    assert len(refused.calls) == 1


def test_a_prompt_gone_from_the_chat_is_an_error_for_the_caller():
    # The tap's handler then has the worker close it (follow_ups_of: not closed).
    refused = RecordingRequest(400, {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"})
    with pytest.raises(BadRequest, match="not found"):
        asyncio.run(handlers.close_prompt(bot_over(refused), decided_session("approved"), "en", "Example"))


def test_a_prompt_never_sent_is_not_edited():
    request = RecordingRequest()
    asyncio.run(handlers.close_prompt(bot_over(request), {**decided_session("approved"), "prompt_message_id": None},
                                      "en", "Example"))
    assert request.calls == []


def test_edit_text_does_not_parse_the_answer(monkeypatch):
    # A telegram.Message built from Telegram's answer would be thrown away: none is built.
    def no_parsing(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the edited message was parsed")

    monkeypatch.setattr(telegram.Message, "de_json", no_parsing)
    request = RecordingRequest()
    asyncio.run(unparsed.edit_text(bot_over(request), 4242, 17, prompts.Message("Done")))
    assert request.calls == [("editMessageText", {"text": "Done", "chat_id": "4242", "message_id": "17"})]


def test_send_text_returns_the_message_id_without_parsing_the_answer(monkeypatch):
    monkeypatch.setattr(telegram.Message, "de_json", lambda *args, **kwargs: pytest.fail("the sent message was parsed"))
    request = RecordingRequest()
    message = prompts.Message("Hello", ((prompts.Button("Yes", "ap:1"),),))

    assert asyncio.run(unparsed.send_text(bot_over(request), 4242, message)) == edited_message()["message_id"]
    [(method, params)] = request.calls
    assert (method, params["chat_id"], params["text"]) == ("sendMessage", "4242", "Hello")
    assert json.loads(params["reply_markup"]) == {"inline_keyboard": [[{"text": "Yes", "callback_data": "ap:1"}]]}
