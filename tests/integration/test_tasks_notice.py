"""The "you logged in" notice, against Postgres, Redis and the emulator.

A login approved in Telegram costs one message: its prompt's closing edit is the notice, with a
button that ends the login. The worker's separate "New login" message is for approvals made another
way, sent once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import pytest
from telegram.ext import Application

from core import auth_sessions, db, decisions, direct_logins, texts, token_families
from core.errors import ServiceUnavailable
from tasks.delivery import send_login_notice
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import (
    active_family_ids,
    answers,
    buttons,
    en,
    message,
    record_fails_once,
    send_prompt,
    session_status,
)

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

# PTB's RetryAfter warns, in its own constructor, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

Queue = Callable[[], list[tuple[str, list[Any]]]]


def notices(fake_telegram: EmulatorClient, chat_id: int, language: str = "en") -> list[dict[str, Any]]:
    """Return the bot's "New login" messages in a chat."""
    title = texts.text("notice_title_telegram", language, site="Dance of Mind")
    return [m for m in fake_telegram.bot_messages(chat_id) if m["text"].startswith(title)]


def take_tokens(conn, session_id: str) -> dict[str, Any]:
    """Consume an approved session as the website's poll does; return the token family it opened."""
    polled = auth_sessions.poll(conn, session_id, client_ip=None, user_agent=None)
    assert polled is not None and polled.consumed and polled.family is not None
    return polled.family


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
    assert [b["callback_data"] for b in buttons(notice)] == [f"es:{session_pk}"]
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
        take_tokens(conn, session.session_id)

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


def logged_in(fake_telegram: EmulatorClient, chat_id: int, message_id: int) -> dict[str, Any]:
    """Wait until the prompt has been edited to the "you logged in" notice, and return it."""
    title = en("logged_in_title", site="Dance of Mind")
    return fake_telegram.wait_for(
        lambda: (m := message(fake_telegram, chat_id, message_id))["edited"] and m["text"].startswith(title) and m,
        timeout=20,
    )


def test_an_approving_tap_asks_for_no_separate_notice(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user)
    approve = buttons(prompt)[0]["callback_data"]

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve)
    answers(fake_telegram, user["telegram_id"], 1)
    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve, stale=True)
    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_already_decided")

    closed = logged_in(fake_telegram, user["telegram_id"], prompt["message_id"])
    assert [b["callback_data"] for b in buttons(closed)] == [f"es:{session.row['id']}"]
    assert celery_queue() == []
    assert fake_telegram.invalid_calls() == []


def test_a_prompt_the_bot_could_not_close_is_left_to_the_worker(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user)
    fake_telegram.add_fault("editMessageText", "500")

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=buttons(prompt)[0]["callback_data"])

    assert answers(fake_telegram, user["telegram_id"], 1)[-1]["text"] == en("answer_approved")
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.update_prompt", [str(session.row["id"])])]


def test_a_telegram_approval_costs_one_message_whose_button_ends_the_login(
    running_bot: Application, celery_worker: Any, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()
    chat = user["telegram_id"]
    session, prompt = send_prompt(kit, fake_telegram, user)
    session_pk = str(session.row["id"])

    fake_telegram.tap(chat, prompt["message_id"], callback_data=buttons(prompt)[0]["callback_data"])
    closed = logged_in(fake_telegram, chat, prompt["message_id"])
    assert "Chrome 120, Linux" in closed["text"] and "203.0.113.7" in closed["text"]
    decided = kit.session_row(session_pk)["decided_at"]
    assert decided.strftime("%Y-%m-%d %H:%M UTC") in closed["text"]
    assert closed["text"].endswith(en("logged_in_hint"))
    [end] = buttons(closed)
    assert (end["text"], end["callback_data"]) == (en("button_end_this_login"), f"es:{session_pk}")
    # The website takes its tokens: the login is live.
    with db.transaction() as conn:
        family = take_tokens(conn, session.session_id)
    time.sleep(1)  # a worker copy that would send a separate notice has had its chance
    assert [m["message_id"] for m in fake_telegram.bot_messages(chat) if m["message_id"] >= prompt["message_id"]] == [
        prompt["message_id"]
    ]
    assert notices(fake_telegram, chat) == []

    fake_telegram.tap(chat, prompt["message_id"], callback_data=end["callback_data"])

    assert answers(fake_telegram, chat, 2)[-1]["text"] == en("answer_login_ended")
    assert str(family["id"]) not in active_family_ids(user["id"])
    ended = fake_telegram.wait_for(
        lambda: (m := message(fake_telegram, chat, prompt["message_id"]))["text"].endswith(en("logged_in_ended")) and m
    )
    assert buttons(ended) == []
    assert [m["message_id"] for m in fake_telegram.bot_messages(chat) if m["message_id"] >= prompt["message_id"]] == [
        prompt["message_id"]
    ]
    assert fake_telegram.invalid_calls() == []


def test_ending_the_login_before_the_website_took_its_tokens_withdraws_the_approval(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()
    chat = user["telegram_id"]
    session, prompt = send_prompt(kit, fake_telegram, user)
    fake_telegram.tap(chat, prompt["message_id"], callback_data=buttons(prompt)[0]["callback_data"])
    [end] = buttons(logged_in(fake_telegram, chat, prompt["message_id"]))

    fake_telegram.tap(chat, prompt["message_id"], callback_data=end["callback_data"])

    assert answers(fake_telegram, chat, 2)[-1]["text"] == en("answer_login_ended")
    assert session_status(session.row["id"]) == "rejected"
    with db.transaction() as conn:
        # No tokens for it any more.
        assert not auth_sessions.poll(conn, session.session_id, client_ip=None, user_agent=None).consumed
    assert fake_telegram.invalid_calls() == []


def test_only_the_owner_can_end_the_login_a_session_became(kit: Kit) -> None:
    user, stranger = kit.linked_user(), kit.linked_user()
    session = approved_session(kit, user)
    session_pk = str(session.row["id"])

    with db.transaction() as conn:
        assert decisions.end_login_of(conn, session_pk, stranger["id"]) is None
        assert decisions.end_login_of(conn, "00000000-0000-4000-8000-000000000000", user["id"]) is None
    assert session_status(session_pk) == "approved"
    with db.transaction() as conn:
        assert decisions.end_login_of(conn, session_pk, user["id"]) is not None
        assert decisions.end_login_of(conn, session_pk, user["id"]) is None  # nothing left to end
    assert session_status(session_pk) == "rejected"


@pytest.mark.parametrize("method", direct_logins.DIRECT_METHODS)
def test_a_direct_login_is_announced_once_and_its_button_ends_it(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, method: str
) -> None:
    user = kit.linked_user()
    with db.transaction() as conn:
        opened = direct_logins.open_login(
            conn, user=user, method=method, client_ip="198.51.100.4", user_agent="Mozilla/5.0 (X11; Linux x86_64) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
        )
    session_pk = str(opened.session["id"])
    assert opened.session["status"] == auth_sessions.CONSUMED and opened.session["method"] == method
    assert active_family_ids(user["id"]) == {str(opened.family["id"])}

    send_login_notice.apply(args=[session_pk])
    send_login_notice.apply(args=[session_pk])

    title = en(f"notice_title_{method}", site="Dance of Mind")
    [notice] = [m for m in fake_telegram.bot_messages(user["telegram_id"]) if m["text"].startswith(title)]
    assert "198.51.100.4" in notice["text"] and "Chrome 120, Linux" in notice["text"]
    [end] = buttons(notice)
    fake_telegram.tap(user["telegram_id"], notice["message_id"], callback_data=end["callback_data"])
    assert answers(fake_telegram, user["telegram_id"], 1)[-1]["text"] == en("answer_login_ended")
    assert active_family_ids(user["id"]) == set()
    ended = fake_telegram.wait_for(
        lambda: (m := message(fake_telegram, user["telegram_id"], notice["message_id"]))["edited"] and m, timeout=20
    )
    assert ended["text"].startswith(title) and en("logged_in_ended") in ended["text"] and not buttons(ended)
    assert fake_telegram.invalid_calls() == []


def test_only_a_recent_telegram_login_counts_as_approved_in_telegram(kit: Kit) -> None:
    user = kit.linked_user()
    session = approved_session(kit, user)
    with db.transaction() as conn:
        telegram_family = take_tokens(conn, session.session_id)
        passkey_family = direct_logins.open_login(
            conn, user=user, method=direct_logins.PASSKEY, client_ip=None, user_agent=None
        ).family
    with db.transaction() as conn:
        assert direct_logins.approved_in_telegram(conn, str(telegram_family["id"]), 300)
        assert not direct_logins.approved_in_telegram(conn, str(passkey_family["id"]), 300)
        assert not direct_logins.approved_in_telegram(conn, "not-a-uuid", 300)
        conn.cursor().execute(
            "UPDATE auth_sessions SET decided_at = now() - interval '301 seconds' WHERE id = %s", (str(session.row["id"]),)
        )
        assert not direct_logins.approved_in_telegram(conn, str(telegram_family["id"]), 300)
        token_families.revoke(conn, str(telegram_family["id"]), "test")
        conn.cursor().execute("UPDATE auth_sessions SET decided_at = now() WHERE id = %s", (str(session.row["id"]),))
        assert not direct_logins.approved_in_telegram(conn, str(telegram_family["id"]), 300)
