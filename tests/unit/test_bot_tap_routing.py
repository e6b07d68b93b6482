"""Which handler a tap reaches: the duplicate guard leaves prompt taps to `handlers.decision`, which must be theirs."""

from __future__ import annotations

import uuid

import pytest
from telegram import Update
from telegram.ext import Application

from botrunner import handlers, update_dedup
from botrunner.app import build_application
from core import prompts
from core.settings import Settings

SESSION_PK = str(uuid.uuid4())


def a_tap(data: str) -> Update:
    user = {"id": 42, "is_bot": False, "first_name": "Anna"}
    prompt = {"message_id": 17, "date": 1_700_000_000, "chat": {"id": 42, "type": "private"},
              "from": {"id": 7000002, "is_bot": True, "first_name": "Login"}, "text": "Log in?"}
    return Update.de_json(
        {"update_id": 1, "callback_query": {"id": "1", "from": user, "message": prompt, "chat_instance": "-42", "data": data}},
        None,
    )


def handler_of(application: Application, update: Update):
    """Return the callback of the group-0 handler python-telegram-bot gives the update to (the first that accepts it)."""
    return next(handler.callback for handler in application.handlers[0] if handler.check_update(update))


@pytest.fixture
def application() -> Application:
    app = build_application(Settings(telegram_bot_token="7000002:AAE_bot-runner-test-token-0123456789",
                                     database_url="postgresql://nowhere/db", redis_url="redis://nowhere:6379/0"))
    update_dedup.install(app)
    return app


@pytest.mark.parametrize(
    "data",
    [f"{prompts.APPROVE}:{SESSION_PK}", f"{prompts.REJECT}:{SESSION_PK}", f"{prompts.NOT_ME}:{SESSION_PK}",
     f"{prompts.MATCH}:{SESSION_PK}:47"],
)
def test_every_tap_the_guard_leaves_to_its_handler_reaches_the_decision(application, data):
    tap = a_tap(data)
    assert update_dedup.checked_by_handler(tap)
    assert handler_of(application, tap) is handlers.decision


@pytest.mark.parametrize("data", [f"{prompts.END_THIS_LOGIN}:{SESSION_PK}", "garbage", f"ap:{SESSION_PK.upper()}"])
def test_other_taps_are_checked_by_the_guard(data):
    assert not update_dedup.checked_by_handler(a_tap(data))


def test_the_decision_checks_a_tap_only_where_the_guard_is_installed(application):
    bare = build_application(Settings(telegram_bot_token="7000002:AAE_bot-runner-test-token-0123456789",
                                      database_url="postgresql://nowhere/db", redis_url="redis://nowhere:6379/0"))
    assert update_dedup.installed(application)
    assert not update_dedup.installed(bare)
