"""Helpers for the bot's integration tests: sent prompts, taps by label, answers, token families."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from core import auth_sessions, db, texts, token_families, users
from core.errors import ServiceUnavailable
from tasks.delivery import send_approval_prompt
from telegram_emulator.client import EmulatorClient

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def en(key: str, **values: Any) -> str:
    """Return an English bot text (the tests' bots are configured for English)."""
    return texts.text(key, "en", **values)


def message(fake_telegram: EmulatorClient, chat_id: int, message_id: int) -> dict[str, Any]:
    """Return one message of a chat as it now stands."""
    return next(m for m in fake_telegram.chat(chat_id)["messages"] if m["message_id"] == message_id)


def answers(fake_telegram: EmulatorClient, chat_id: int, count: int) -> list[dict[str, Any]]:
    """Wait until the bot answered `count` taps in a chat; return the answers."""
    return fake_telegram.wait_for(lambda: len(a := fake_telegram.chat(chat_id)["callback_answers"]) >= count and a)


def buttons(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a message's inline buttons in reading order."""
    return [b for row in (msg.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def prompts_sent(fake_telegram: EmulatorClient, chat_id: int | None = None) -> int:
    """Count the approval prompts sent (messages carrying an "It wasn't me" button), to one chat or all."""
    count = 0
    for call in fake_telegram.calls("sendMessage"):
        params = call["params"]
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        data = [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]
        if call["ok"] and any(d.startswith("nm:") for d in data) and chat_id in (None, int(params["chat_id"])):
            count += 1
    return count


def send_prompt(kit: Kit, fake_telegram: EmulatorClient, user: dict[str, Any], **session_fields: Any) -> tuple[Any, dict]:
    """Start a login for a linked user's phone and have the worker's task send its prompt."""
    session = kit.new_session(user["phone_number"], **session_fields)
    send_approval_prompt.apply(args=[str(session.row["id"])])
    prompt_message_id = kit.session_row(session.row["id"])["prompt_message_id"]
    assert prompt_message_id is not None, "the prompt was not sent"
    return session, message(fake_telegram, user["telegram_id"], prompt_message_id)


def open_login(user: dict[str, Any], *, ip: str = "198.51.100.9", user_agent: str = CHROME_ON_WINDOWS) -> dict[str, Any]:
    """Open a token family for a user, as a finished login would."""
    with db.transaction() as conn:
        return token_families.start(conn, user_id=user["id"], auth_session_pk=None, client_ip=ip, user_agent=user_agent)


def active_family_ids(user_id: int) -> set[str]:
    """Return the ids of a user's live token families."""
    with db.transaction() as conn:
        return {str(f["id"]) for f in token_families.active_for_user(conn, user_id)}


def user_row(user_id: int) -> dict[str, Any] | None:
    """Return a user as it now stands."""
    with db.transaction() as conn:
        return users.get(conn, user_id)


def session_status(session_pk: Any) -> str:
    """Return a session's stored status."""
    with db.transaction() as conn:
        return auth_sessions.get(conn, str(session_pk))["status"]


def record_fails_once(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """Make `module.name` fail the first time as a Postgres outage would, then work again."""
    real = getattr(module, name)
    failures = [ServiceUnavailable("postgres", "the server closed the connection")]

    def fail_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, fail_once)
