"""The worker's tasks against real Postgres, Redis and the Telegram emulator over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import redis

import jobs
from core import auth_sessions, db, prompts, texts
from core.errors import ServiceUnavailable
from telegram_sender import sender as telegram_client
from tasks.delivery import expire_session, send_approval_prompt, update_prompt
from tasks.expiry import expire_overdue_sessions
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import record_fails_once
from tests.redis_monitor import commands_sent, words

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

# PTB's RetryAfter warns, in its own constructor, that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def test_prompt_is_sent_once_with_approve_then_reject_in_one_row(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])

    send_approval_prompt.apply(args=[session_pk])
    send_approval_prompt.apply(args=[session_pk])

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    row, [not_me] = message["reply_markup"]["inline_keyboard"]
    assert [button["callback_data"] for button in row] == [f"ap:{session_pk}", f"rj:{session_pk}"]
    assert not_me["callback_data"] == f"nm:{session_pk}"
    assert row[0]["text"] == texts.text("button_approve", "en")
    assert "203.0.113.7" in message["text"]
    stored = kit.session_row(session_pk)
    assert (stored["prompt_chat_id"], stored["prompt_message_id"]) == (user["telegram_id"], message["message_id"])
    assert stored["prompt_language"] == "en"
    assert len(fake_telegram.calls("sendMessage")) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_first_send_does_not_look_for_a_delivery_note_and_leaves_none_behind(
    kit: Kit, fake_telegram: EmulatorClient, worker_env: Any
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    note = f"sent-message:prompt:{session.row['id']}"
    client = redis.Redis.from_url(worker_env.redis_url)

    with commands_sent(worker_env.redis_url, lambda command: words(command)[1:2] == [note]) as commands:
        send_approval_prompt.apply(args=[str(session.row["id"])])

    assert len(fake_telegram.bot_messages(user["telegram_id"])) == 1
    # No earlier sender: no note to look for; the note is written around the record, then dropped.
    assert [words(command)[0] for command in commands] == ["SET", "DEL"]
    assert client.exists(note) == 0


def test_prompt_speaks_the_users_language_not_the_default(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user(language_code="ru")  # the tests' BOT_DEFAULT_LANGUAGE is en
    session = kit.new_session(user["phone_number"])

    send_approval_prompt.apply(args=[str(session.row["id"])])

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert texts.text("prompt_question", "ru") in message["text"]
    assert kit.session_row(session.row["id"])["prompt_language"] == "ru"
    assert fake_telegram.invalid_calls() == []


def test_no_prompt_for_a_phone_nobody_linked_yet(kit: Kit, fake_telegram: EmulatorClient) -> None:
    session = kit.new_session("+79160000001")

    send_approval_prompt.apply(args=[str(session.row["id"])])

    assert fake_telegram.calls("sendMessage") == []
    assert kit.session_row(session.row["id"])["prompt_error"] is None
    assert fake_telegram.invalid_calls() == []


def test_no_prompt_for_a_session_no_longer_pending(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    cancelled = kit.new_session(user["phone_number"])
    overdue = kit.new_session(user["phone_number"])
    with db.transaction() as conn:
        auth_sessions.cancel(conn, cancelled.session_id)
    kit.make_overdue(overdue.row["id"])

    send_approval_prompt.apply(args=[str(cancelled.row["id"])])
    send_approval_prompt.apply(args=[str(overdue.row["id"])])

    assert fake_telegram.calls("sendMessage") == []
    assert fake_telegram.invalid_calls() == []


def test_a_500_is_retried_and_one_message_arrives(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    fake_telegram.add_fault("sendMessage", "500")

    # Eager apply runs the retry at once, without its countdown.
    send_approval_prompt.apply(args=[str(session.row["id"])])

    assert [call.get("fault") for call in fake_telegram.calls("sendMessage")] == ["500", None]
    assert len(fake_telegram.bot_messages(user["telegram_id"])) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_429_is_retried_after_exactly_retry_after(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]]
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    fake_telegram.add_fault("sendMessage", "429", retry_after=7)

    result = send_approval_prompt.apply(args=[str(session.row["id"])])

    assert result.state == "RETRY"
    assert [r["countdown"] for r in retries] == [7.0]
    assert fake_telegram.bot_messages(user["telegram_id"]) == []
    assert fake_telegram.invalid_calls() == []


def test_5xx_backoff_grows_and_gives_up_after_six_retries(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    fake_telegram.add_fault("sendMessage", "502", count=7)

    send_approval_prompt.apply(args=[str(session.row["id"])])

    assert len(fake_telegram.calls("sendMessage")) == 7
    assert fake_telegram.bot_messages(user["telegram_id"]) == []
    assert kit.session_row(session.row["id"])["prompt_error"].startswith("gave up after 6 retries")
    assert fake_telegram.invalid_calls() == []


def test_no_retry_past_the_sessions_expiry(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]]
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"], ttl_seconds=5)
    fake_telegram.add_fault("sendMessage", "429", retry_after=30)

    send_approval_prompt.apply(args=[str(session.row["id"])])

    assert retries == []
    assert kit.session_row(session.row["id"])["prompt_error"].startswith("session expires before the next try")
    assert fake_telegram.invalid_calls() == []


def test_a_user_who_blocked_the_bot_is_not_retried(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]]
) -> None:
    user = kit.linked_user()
    fake_telegram.block(user["telegram_id"])
    session = kit.new_session(user["phone_number"])

    send_approval_prompt.apply(args=[str(session.row["id"])])

    assert retries == []
    assert kit.session_row(session.row["id"])["prompt_error"] == "Forbidden: Forbidden: bot was blocked by the user"
    # Telegram's own refusal, expected here: the only call it refused.
    assert [(c["method"], c["error_code"]) for c in fake_telegram.invalid_calls()] == [("sendMessage", 403)]


def test_a_copy_that_finds_the_prompt_leased_looks_again_later(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]]
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    with db.transaction() as conn:
        assert auth_sessions.take_prompt_lease(conn, str(session.row["id"]), "other-task", "other-worker", 60)

    send_approval_prompt.apply(args=[str(session.row["id"])])

    assert [r["countdown"] for r in retries] == [5]
    assert fake_telegram.calls("sendMessage") == []
    assert fake_telegram.invalid_calls() == []


def test_a_prompt_recorded_meanwhile_makes_the_duplicate_go(
    kit: Kit, fake_telegram: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    real_run = telegram_client.run

    def run_then_record_elsewhere(coro: Any) -> Any:
        result = real_run(coro)
        if fake_telegram.calls("deleteMessage") == [] and kit.session_row(session_pk)["prompt_message_id"] is None:
            with db.transaction() as conn:
                auth_sessions.record_prompt(conn, session_pk, user["telegram_id"], 424242, "en")
        return result

    monkeypatch.setattr(telegram_client, "run", run_then_record_elsewhere)

    send_approval_prompt.apply(args=[session_pk])

    assert fake_telegram.bot_messages(user["telegram_id"]) == []
    assert len(fake_telegram.calls("deleteMessage")) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_prompt_delivered_but_not_recorded_is_recorded_by_the_retry_not_sent_again(
    kit: Kit, fake_telegram: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    record_fails_once(monkeypatch, auth_sessions, "record_prompt")

    with pytest.raises(ServiceUnavailable):  # eager: the worker would retry it later
        send_approval_prompt.apply(args=[session_pk], throw=True)
    assert kit.session_row(session_pk)["prompt_message_id"] is None
    send_approval_prompt.apply(args=[session_pk])  # the retry (or a recovery sweep's copy)

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert len(fake_telegram.calls("sendMessage")) == 1 and fake_telegram.calls("deleteMessage") == []
    stored = kit.session_row(session_pk)
    assert (stored["prompt_chat_id"], stored["prompt_message_id"]) == (user["telegram_id"], message["message_id"])
    assert fake_telegram.invalid_calls() == []


def test_a_delivery_remembered_for_another_chat_is_not_recorded_as_this_ones(
    kit: Kit, fake_telegram: EmulatorClient, worker_env: Any
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    # A prompt delivered to the account the phone was linked to before.
    redis.Redis.from_url(worker_env.redis_url).set(f"sent-message:prompt:{session_pk}", "5550001:77", ex=60)

    send_approval_prompt.apply(args=[session_pk])

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert kit.session_row(session_pk)["prompt_message_id"] == message["message_id"] != 77
    assert fake_telegram.invalid_calls() == []


def test_a_session_cancelled_while_sending_gets_its_prompt_closed(
    kit: Kit, fake_telegram: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    real_run = telegram_client.run

    def run_then_cancel(coro: Any) -> Any:
        result = real_run(coro)
        with db.transaction() as conn:
            auth_sessions.cancel(conn, session.session_id)
        return result

    monkeypatch.setattr(telegram_client, "run", run_then_cancel)
    send_approval_prompt.apply(args=[str(session.row["id"])])
    monkeypatch.setattr(telegram_client, "run", real_run)
    update_prompt.apply(args=[str(session.row["id"])])  # the web's update task, arriving late

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert message["edited"] and message["reply_markup"] is None
    assert texts.text("outcome_cancelled", "en") in message["text"]
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


def test_update_after_cancel_shows_the_outcome_and_removes_the_buttons(
    kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    send_approval_prompt.apply(args=[session_pk])
    update_prompt.apply(args=[session_pk])  # still pending: nothing to do
    with db.transaction() as conn:
        auth_sessions.cancel(conn, session.session_id)

    update_prompt.apply(args=[session_pk])
    update_prompt.apply(args=[session_pk])  # a redelivered copy

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert message["edited"] and message["reply_markup"] is None
    expected = prompts.closed_prompt(kit.session_row(session_pk), "cancelled", "en", "Dance of Mind")
    assert message["text"] == expected.text
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_429_on_the_edit_holds_back_every_call_to_that_chat(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]], worker_env: Any
) -> None:
    user = kit.linked_user()
    session, other = kit.new_session(user["phone_number"]), kit.new_session(user["phone_number"])
    send_approval_prompt.apply(args=[str(session.row["id"])])
    with db.transaction() as conn:
        auth_sessions.cancel(conn, session.session_id)
    fake_telegram.add_fault("editMessageText", "429", retry_after=3)

    update_prompt.apply(args=[str(session.row["id"])], task_id="update-1")
    update_prompt.apply(args=[str(session.row["id"])], task_id="update-1", retries=1)  # its retry, come early
    send_approval_prompt.apply(args=[str(other.row["id"])])  # another task for the same chat

    assert retries[0]["countdown"] == 3.0
    assert all(2 < r["countdown"] <= 3 for r in retries[1:]) and len(retries) == 3
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert len(fake_telegram.bot_messages(user["telegram_id"])) == 1

    redis.Redis.from_url(worker_env.redis_url).delete(f"telegram-flood-wait:{user['telegram_id']}")  # time passes
    update_prompt.apply(args=[str(session.row["id"])], task_id="update-1", retries=2)

    [closed] = [m for m in fake_telegram.bot_messages(user["telegram_id"]) if m["edited"]]
    assert closed["reply_markup"] is None
    assert fake_telegram.invalid_calls() == []


def test_expiry_that_fires_early_is_rescheduled(
    kit: Kit, fake_telegram: EmulatorClient, retries: list[dict[str, Any]]
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"], ttl_seconds=120)

    expire_session.apply(args=[str(session.row["id"])])

    [retry] = retries
    assert 119 <= retry["countdown"] <= 121
    assert kit.session_row(session.row["id"])["status"] == "pending"
    assert fake_telegram.invalid_calls() == []


def test_expiry_marks_the_session_and_closes_its_prompt_once(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])
    send_approval_prompt.apply(args=[session_pk])
    kit.make_overdue(session_pk)

    expire_session.apply(args=[session_pk])
    expire_session.apply(args=[session_pk])  # already final: nothing

    assert kit.session_row(session_pk)["status"] == "expired"
    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert message["reply_markup"] is None
    assert texts.text("outcome_expired", "en") in message["text"]
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


def test_expiry_of_a_session_without_prompt_edits_nothing(kit: Kit, fake_telegram: EmulatorClient) -> None:
    session = kit.new_session("+79160000002")
    kit.make_overdue(session.row["id"])

    expire_session.apply(args=[str(session.row["id"])])

    assert kit.session_row(session.row["id"])["status"] == "expired"
    assert fake_telegram.calls("editMessageText") == []
    assert fake_telegram.invalid_calls() == []


def test_tasks_share_one_event_loop_and_bot(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    first, second = kit.new_session(user["phone_number"]), kit.new_session(user["phone_number"])

    send_approval_prompt.apply(args=[str(first.row["id"])])
    bot, loop = telegram_client.bot(), telegram_client._loop
    send_approval_prompt.apply(args=[str(second.row["id"])])

    assert telegram_client.bot() is bot and telegram_client._loop is loop and not loop.is_closed()
    assert len(fake_telegram.bot_messages(user["telegram_id"])) == 2
    assert len(fake_telegram.calls("getMe")) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_recorded_prompt_leaves_no_delivery_note_in_redis(
    kit: Kit, fake_telegram: EmulatorClient, worker_env: Any
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    session_pk = str(session.row["id"])

    send_approval_prompt.apply(args=[session_pk])

    # Once Postgres has the message id, the note that covered the gap before the record is dropped,
    # instead of living its hour: one key less per login.
    assert kit.session_row(session_pk)["prompt_message_id"] is not None
    assert not redis.Redis.from_url(worker_env.redis_url).exists(f"sent-message:prompt:{session_pk}")
    assert fake_telegram.invalid_calls() == []


def test_the_expiry_sweep_expires_overdue_logins_once_and_closes_only_real_prompts(
    kit: Kit, fake_telegram: EmulatorClient, celery_queue: Any
) -> None:
    user = kit.linked_user()
    prompted = str(kit.new_session(user["phone_number"]).row["id"])
    send_approval_prompt.apply(args=[prompted])
    unprompted = str(kit.new_session("+79160000003").row["id"])
    fresh = str(kit.new_session(user["phone_number"]).row["id"])
    kit.make_overdue(prompted)
    kit.make_overdue(unprompted)

    assert expire_overdue_sessions.apply().get() == 2
    assert expire_overdue_sessions.apply().get() == 0  # a second sweep (another worker's) finds nothing

    assert [kit.session_row(pk)["status"] for pk in (prompted, unprompted, fresh)] == ["expired", "expired", "pending"]
    assert celery_queue() == [(jobs.UPDATE_PROMPT, [prompted])]
    update_prompt.apply(args=[prompted])
    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert message["reply_markup"] is None and texts.text("outcome_expired", "en") in message["text"]
    assert fake_telegram.invalid_calls() == []


def test_a_prompt_delivered_but_not_recorded_before_its_login_ended_is_closed_not_left_live(
    kit: Kit, fake_telegram: EmulatorClient, monkeypatch: pytest.MonkeyPatch, worker_env: Any
) -> None:
    user = kit.linked_user()
    session_pk = str(kit.new_session(user["phone_number"]).row["id"])
    record_fails_once(monkeypatch, auth_sessions, "record_prompt")
    with pytest.raises(ServiceUnavailable):  # delivered; Postgres failed the record
        send_approval_prompt.apply(args=[session_pk], throw=True)
    kit.make_overdue(session_pk)  # the login ends before the retry comes

    send_approval_prompt.apply(args=[session_pk])  # the retry

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert message["edited"] and message["reply_markup"] is None
    assert texts.text("outcome_expired", "en") in message["text"]
    stored = kit.session_row(session_pk)
    assert (stored["status"], stored["prompt_message_id"]) == ("expired", message["message_id"])
    assert len(fake_telegram.calls("sendMessage")) == 1 and fake_telegram.calls("deleteMessage") == []
    assert redis.Redis.from_url(worker_env.redis_url).exists(f"sent-message:prompt:{session_pk}") == 0
    assert fake_telegram.invalid_calls() == []


def test_the_expiry_sweep_hands_a_dead_senders_unrecorded_prompt_to_a_copy_that_closes_it(
    kit: Kit, fake_telegram: EmulatorClient, celery_queue: Any, worker_env: Any
) -> None:
    user = kit.linked_user()
    session_pk = str(kit.new_session(user["phone_number"]).row["id"])
    # A sender leased the prompt, Telegram delivered it, and the sender died before recording it.
    with db.transaction() as conn:
        assert auth_sessions.take_prompt_lease(conn, session_pk, "killed-task", "celery@dead", 40)
    message_id = telegram_client.send(user["telegram_id"], prompts.approval_prompt(
        kit.session_row(session_pk), "en", "Dance of Mind"))
    redis.Redis.from_url(worker_env.redis_url).set(f"sent-message:prompt:{session_pk}", f"{user['telegram_id']}:{message_id}")
    kit.make_overdue(session_pk)

    assert expire_overdue_sessions.apply().get() == 1
    assert celery_queue() == [(jobs.SEND_APPROVAL_PROMPT, [session_pk])]
    send_approval_prompt.apply(args=[session_pk])

    [message] = fake_telegram.bot_messages(user["telegram_id"])
    assert message["edited"] and message["reply_markup"] is None
    assert kit.session_row(session_pk)["prompt_message_id"] == message_id


def test_an_ended_login_with_no_delivery_note_gives_its_lease_back(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    session_pk = str(kit.new_session(user["phone_number"]).row["id"])
    with db.transaction() as conn:
        assert auth_sessions.take_prompt_lease(conn, session_pk, "killed-task", "celery@dead", 40)
    kit.make_overdue(session_pk)

    send_approval_prompt.apply(args=[session_pk])

    stored = kit.session_row(session_pk)
    assert (stored["status"], stored["prompt_lease_until"], stored["prompt_message_id"]) == ("expired", None, None)
    assert fake_telegram.bot_messages(user["telegram_id"]) == []
