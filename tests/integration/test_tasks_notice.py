"""The "New login" notice: sent by the worker once per approval, against Postgres, Redis and the emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pytest
from telegram.ext import Application

from core import auth_sessions, db, texts
from core.errors import ServiceUnavailable
from tasks.delivery import send_login_notice
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import answers, buttons, en, record_fails_once, send_prompt

if TYPE_CHECKING:
    from tests.integration.conftest_bot import Kit

pytest_plugins = ["tests.integration.conftest_bot"]

# PTB's RetryAfter warns, in its own constructor, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

Queue = Callable[[], list[tuple[str, list[Any]]]]


def notices(fake_telegram: EmulatorClient, chat_id: int, language: str = "en") -> list[dict[str, Any]]:
    """Return the bot's "New login" messages in a chat."""
    title = texts.text("notice_title", language, site="Dance of Mind")
    return [m for m in fake_telegram.bot_messages(chat_id) if m["text"].startswith(title)]


def approved_session(kit: Kit, user: dict[str, Any], **fields: Any) -> Any:
    """Start a login for the user's phone and approve it as their tap would."""
    session = kit.new_session(user["phone_number"], **fields)
    with db.transaction() as conn:
        assert auth_sessions.approve(conn, str(session.row["id"]), user["telegram_id"]) is not None
    return session


def test_the_notice_names_browser_ip_and_time_and_is_sent_once(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session = approved_session(kit, user)
    session_pk = str(session.row["id"])

    send_login_notice.apply(args=[session_pk])
    send_login_notice.apply(args=[session_pk])  # a redelivered copy

    [notice] = notices(fake_telegram, user["telegram_id"])
    assert len(fake_telegram.calls("sendMessage")) == 1  # not sent and deleted again: never sent twice
    assert "Chrome 120, Linux" in notice["text"] and "203.0.113.7" in notice["text"]
    decided = kit.session_row(session_pk)["decided_at"]
    assert decided.strftime("%Y-%m-%d %H:%M UTC") in notice["text"]
    assert notice["reply_markup"] is None
    assert kit.session_row(session_pk)["login_notice_message_id"] == notice["message_id"]
    assert fake_telegram.invalid_calls() == []


def test_a_notice_delivered_but_not_recorded_is_not_sent_again(
    kit: Kit, fake_telegram: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = kit.linked_user()
    session_pk = str(approved_session(kit, user).row["id"])
    record_fails_once(monkeypatch, auth_sessions, "record_login_notice")

    with pytest.raises(ServiceUnavailable):  # eager: the worker would retry it later
        send_login_notice.apply(args=[session_pk], throw=True)
    send_login_notice.apply(args=[session_pk])

    [notice] = notices(fake_telegram, user["telegram_id"])
    assert len(fake_telegram.calls("sendMessage")) == 1 and fake_telegram.calls("deleteMessage") == []
    assert kit.session_row(session_pk)["login_notice_message_id"] == notice["message_id"]
    assert fake_telegram.invalid_calls() == []


def test_the_notice_speaks_the_prompts_language(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user(language_code="ru")  # the tests' BOT_DEFAULT_LANGUAGE is en
    session = approved_session(kit, user)

    send_login_notice.apply(args=[str(session.row["id"])])

    assert len(notices(fake_telegram, user["telegram_id"], "ru")) == 1


def test_the_notice_still_goes_out_after_the_tokens_were_picked_up(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session = approved_session(kit, user)
    with db.transaction() as conn:
        assert auth_sessions.consume(conn, session.session_id) is not None

    send_login_notice.apply(args=[str(session.row["id"])])

    assert len(notices(fake_telegram, user["telegram_id"])) == 1


@pytest.mark.parametrize("state", ["pending", "rejected", "unknown"])
def test_no_notice_for_a_login_that_was_not_approved(kit: Kit, fake_telegram: EmulatorClient, state: str) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    if state == "rejected":
        with db.transaction() as conn:
            auth_sessions.reject(conn, session_pk, user["telegram_id"])
    elif state == "unknown":
        session_pk = "00000000-0000-4000-8000-000000000000"

    send_login_notice.apply(args=[session_pk])

    assert notices(fake_telegram, user["telegram_id"]) == []


def test_a_telegram_failure_is_retried_and_nothing_is_recorded(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]]
) -> None:
    user = kit.linked_user()
    session = approved_session(kit, user)
    fake_telegram.add_fault("sendMessage", "500")

    send_login_notice.apply(args=[str(session.row["id"])])

    assert [r["task"] for r in retries] == ["tasks.send_login_notice"]
    assert kit.session_row(session.row["id"])["login_notice_message_id"] is None
    send_login_notice.apply(args=[str(session.row["id"])])  # the retry
    assert len(notices(fake_telegram, user["telegram_id"])) == 1


def test_an_approving_tap_asks_for_exactly_one_notice(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user)
    approve = buttons(prompt)[0]["callback_data"]

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve)
    answers(fake_telegram, user["telegram_id"], 1)
    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve, stale=True)
    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_already_decided")

    assert celery_queue() == [("tasks.send_login_notice", [str(session.row["id"])])]
    assert fake_telegram.invalid_calls() == []


def test_the_notice_is_asked_for_even_when_closing_the_prompt_fails(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user)
    fake_telegram.add_fault("editMessageText", "500")

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=buttons(prompt)[0]["callback_data"])

    assert answers(fake_telegram, user["telegram_id"], 1)[-1]["text"] == en("answer_approved")
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.send_login_notice", [str(session.row["id"])])]


def test_the_notice_over_a_real_worker_arrives_after_the_tap(
    running_bot: Application, celery_worker: Any, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user)

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=buttons(prompt)[0]["callback_data"])

    notice = fake_telegram.wait_for(lambda: notices(fake_telegram, user["telegram_id"]), timeout=20)[0]
    assert notice["message_id"] > prompt["message_id"]  # a message of its own, not the edited prompt
    assert en("outcome_approved") in fake_telegram.wait_for(
        lambda: (m := next(x for x in fake_telegram.bot_messages(user["telegram_id"]) if x["message_id"] == prompt["message_id"]))["edited"] and m
    )["text"]
    assert fake_telegram.invalid_calls() == []
