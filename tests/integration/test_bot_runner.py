"""The real bot Application, polling the Telegram emulator, with real Postgres and Redis."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable

import pytest
import redis
from telegram import Update
from telegram.ext import Application, TypeHandler

from botrunner import update_dedup
from botrunner.app import build_application
from core import auth_sessions, db, phones, prompt_targets, send_rate, texts, users
from tasks.delivery import send_approval_prompt
from core.settings import Settings
from telegram_emulator.client import EmulatorClient

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

Queue = Callable[[], list[tuple[str, list[Any]]]]


def en(key: str, **values: Any) -> str:
    """Return an English bot text (the tests' bots are configured for English)."""
    return texts.text(key, "en", **values)


def reply_to(fake_telegram: EmulatorClient, chat_id: int, text: str) -> dict[str, Any]:
    """Wait for the bot to say exactly `text` in a chat."""
    return fake_telegram.wait_for_bot_message(chat_id, lambda m: m["text"] == text, timeout=5)


def answers(fake_telegram: EmulatorClient, chat_id: int, count: int) -> list[str | None]:
    """Wait until the bot answered `count` taps in a chat; return the answers' texts."""
    found = fake_telegram.wait_for(lambda: len(a := fake_telegram.chat(chat_id)["callback_answers"]) >= count and a)
    return [answer["text"] for answer in found]


def contact_button(message: dict[str, Any]) -> dict[str, Any]:
    """Return the one reply-keyboard button of a bot message."""
    [[button]] = message["reply_markup"]["keyboard"]
    return button


def linked_account(fake_telegram: EmulatorClient, telegram_id: int) -> dict[str, Any] | None:
    """Return the user row linked to a Telegram account."""
    with db.transaction() as conn:
        return users.get_by_telegram_id(conn, telegram_id)


def sent_prompt(kit: Kit, fake_telegram: EmulatorClient, **session_fields: Any) -> tuple[dict, Any, dict]:
    """Link a user, start a login for their phone and have the worker's task send its prompt."""
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"], **session_fields)
    send_approval_prompt.apply(args=[str(session.row["id"])])
    prompt_message_id = kit.session_row(session.row["id"])["prompt_message_id"]
    return user, session, message(fake_telegram, user["telegram_id"], prompt_message_id)


def message(fake_telegram: EmulatorClient, chat_id: int, message_id: int) -> dict[str, Any]:
    """Return one message of a chat as it now stands."""
    return next(m for m in fake_telegram.chat(chat_id)["messages"] if m["message_id"] == message_id)


def test_start_greets_and_offers_the_contact_button(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    person = kit.telegram_user(started=False)
    fake_telegram.send_message(person["id"], "/start")

    greeting = reply_to(fake_telegram, person["id"], en("greeting", site="Dance of Mind"))
    button = contact_button(greeting)
    assert button["request_contact"] is True and button["text"] == en("share_contact_button")
    assert greeting["reply_markup"]["resize_keyboard"] and greeting["reply_markup"]["one_time_keyboard"]
    commands = {call["params"].get("language_code", ""): call["params"]["commands"]
                for call in fake_telegram.calls("setMyCommands")}
    assert set(commands) == {"ru", "en", ""}
    assert commands["ru"][0]["description"] == texts.text("command_start", "ru")
    assert fake_telegram.invalid_calls() == []


def test_own_contact_links_the_phone(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    person = kit.telegram_user(started=False, first_name="Boris", username="boris")
    fake_telegram.send_message(person["id"], "/start")

    fake_telegram.share_contact(person["id"], "79161234567")  # Telegram's way: no +

    confirmed = reply_to(fake_telegram, person["id"], en("linked", phone="+79161234567"))
    assert confirmed["reply_markup"] == {"remove_keyboard": True}
    linked = linked_account(fake_telegram, person["id"])
    assert linked["phone_number"] == "+79161234567" and linked["username"] == "boris"

    fake_telegram.share_contact(person["id"], "+7 916 123-45-67")
    reply_to(fake_telegram, person["id"], en("already_linked", phone="+79161234567"))
    assert fake_telegram.invalid_calls() == []


@pytest.mark.parametrize(
    "share",
    [
        pytest.param({"contact_user_id": "other"}, id="someone-elses-card"),
        pytest.param({"contact_user_id": None}, id="card-without-account"),
        pytest.param({"forwarded": True}, id="own-card-forwarded"),
        pytest.param({"contact_user_id": "other", "forwarded": True}, id="other-card-forwarded"),
    ],
)
def test_a_contact_that_is_not_freshly_ones_own_never_links(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, share: dict[str, Any]
) -> None:
    person, other = kit.telegram_user(), kit.telegram_user(first_name="Other")
    if share.get("contact_user_id") == "other":
        share = {**share, "contact_user_id": other["id"]}

    fake_telegram.share_contact(person["id"], "79161234568", **share)

    refusal = reply_to(fake_telegram, person["id"], en("contact_not_own"))
    assert contact_button(refusal)["request_contact"] is True
    assert linked_account(fake_telegram, person["id"]) is None
    assert linked_account(fake_telegram, other["id"]) is None
    assert fake_telegram.invalid_calls() == []


def test_a_phone_linked_to_another_account_is_not_taken_over(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    owner = kit.linked_user()
    person = kit.telegram_user()

    fake_telegram.share_contact(person["id"], owner["phone_number"].lstrip("+"))

    reply_to(fake_telegram, person["id"], en("phone_taken", phone=owner["phone_number"]))
    assert linked_account(fake_telegram, person["id"]) is None
    assert linked_account(fake_telegram, owner["telegram_id"])["phone_number"] == owner["phone_number"]
    assert fake_telegram.invalid_calls() == []


def test_an_unreadable_number_is_refused(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    person = kit.telegram_user()
    fake_telegram.share_contact(person["id"], "12")
    reply_to(fake_telegram, person["id"], en("contact_invalid"))
    assert linked_account(fake_telegram, person["id"]) is None
    assert fake_telegram.invalid_calls() == []


def test_deep_link_for_an_unlinked_phone_asks_for_the_contact_then_enqueues_the_prompt(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    person = kit.telegram_user(started=False)
    session = kit.new_session("+79161234569")

    fake_telegram.send_message(person["id"], f"/start {session.row['start_token']}")
    asked = reply_to(fake_telegram, person["id"], en("start_need_contact"))
    assert contact_button(asked)["request_contact"] is True
    assert celery_queue() == []

    fake_telegram.share_contact(person["id"], "79161234569")
    reply_to(fake_telegram, person["id"], en("linked", phone="+79161234569"))
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.send_approval_prompt", [str(session.row["id"])])]

    # The worker picks it up: the prompt reaches the person who just linked the phone.
    send_approval_prompt.apply(args=[str(session.row["id"])])
    prompt = message(fake_telegram, person["id"], kit.session_row(session.row["id"])["prompt_message_id"])
    assert prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"ap:{session.row['id']}"
    assert fake_telegram.invalid_calls() == []


def test_linking_prompts_only_the_login_whose_deep_link_brought_the_person_in(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    victim = kit.telegram_user(started=False)
    attackers = kit.new_session("+79161234571", client_ip="198.51.100.66")  # posted just before the victim's
    own = kit.new_session("+79161234571", client_ip="203.0.113.7")

    fake_telegram.send_message(victim["id"], f"/start {own.row['start_token']}")
    reply_to(fake_telegram, victim["id"], en("start_need_contact"))
    fake_telegram.share_contact(victim["id"], "79161234571")
    reply_to(fake_telegram, victim["id"], en("linked", phone="+79161234571"))
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.send_approval_prompt", [str(own.row["id"])])]

    # Even asked directly (a recovery sweep, a stray task), the worker never prompts the attacker's login.
    send_approval_prompt.apply(args=[str(attackers.row["id"])])
    send_approval_prompt.apply(args=[str(own.row["id"])])
    assert kit.session_row(attackers.row["id"])["prompt_message_id"] is None
    prompt = message(fake_telegram, victim["id"], kit.session_row(own.row["id"])["prompt_message_id"])
    assert prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"ap:{own.row['id']}"
    assert fake_telegram.invalid_calls() == []


def test_a_prompt_over_the_phones_budget_is_sent_when_its_own_bot_url_is_opened(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    for _ in range(3):  # other clients spent the phone's budget
        kit.new_session(user["phone_number"])
    with db.transaction() as conn:
        over = prompt_targets.start_login(
            conn,
            phone_number=user["phone_number"],
            ttl_seconds=300,
            approval_mode="simple",
            client_ip="203.0.113.7",
            user_agent=None,
            budget="3/10 minutes",
        )
    assert over.row["prompt_withheld"] == prompt_targets.BUDGET
    send_approval_prompt.apply(args=[str(over.row["id"])])
    assert kit.session_row(over.row["id"])["prompt_message_id"] is None  # withheld: the worker sends nothing

    fake_telegram.send_message(user["telegram_id"], f"/start {over.row['start_token']}")
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.send_approval_prompt", [str(over.row["id"])])]
    send_approval_prompt.apply(args=[str(over.row["id"])])
    assert kit.session_row(over.row["id"])["prompt_message_id"] is not None
    assert fake_telegram.invalid_calls() == []


def test_deep_link_for_a_linked_phone_enqueues_the_prompt_once(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])

    fake_telegram.send_message(user["telegram_id"], f"/start {session.row['start_token']}")
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.send_approval_prompt", [str(session.row["id"])])]

    send_approval_prompt.apply(args=[str(session.row["id"])])
    fake_telegram.send_message(user["telegram_id"], f"/start {session.row['start_token']}")
    reply_to(fake_telegram, user["telegram_id"], en("prompt_already_sent"))
    assert len(celery_queue()) == 1
    assert fake_telegram.invalid_calls() == []


def test_deep_link_for_another_phone_is_refused_with_the_number_masked(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session = kit.new_session("+79161234570")

    fake_telegram.send_message(user["telegram_id"], f"/start {session.row['start_token']}")

    refusal = reply_to(fake_telegram, user["telegram_id"], en("start_wrong_phone", phone=phones.mask("+79161234570")))
    assert "+79161234570" not in refusal["text"]
    assert celery_queue() == []
    assert fake_telegram.invalid_calls() == []


@pytest.mark.parametrize("state", ["unknown", "cancelled", "overdue"])
def test_deep_link_that_no_longer_works_is_refused(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue, state: str
) -> None:
    user = kit.linked_user()
    session = kit.new_session(user["phone_number"])
    start_token = session.row["start_token"]
    if state == "unknown":
        start_token = "no-such-token"
    elif state == "cancelled":
        with db.transaction() as conn:
            auth_sessions.cancel(conn, session.session_id)
    else:
        kit.make_overdue(session.row["id"])

    fake_telegram.send_message(user["telegram_id"], f"/start {start_token}")

    reply_to(fake_telegram, user["telegram_id"], en("start_token_invalid"))
    assert celery_queue() == []
    assert fake_telegram.invalid_calls() == []


@pytest.mark.parametrize(
    ("button", "status", "closing", "kept_buttons"),
    [(0, "approved", "logged_in_hint", ["es"]), (1, "rejected", "outcome_rejected", [])],
)
def test_the_owners_tap_decides_and_closes_the_prompt(
    running_bot: Application,
    kit: Kit,
    fake_telegram: EmulatorClient,
    button: int,
    status: str,
    closing: str,
    kept_buttons: list[str],
) -> None:
    user, session, prompt = sent_prompt(kit, fake_telegram)
    callback_data = prompt["reply_markup"]["inline_keyboard"][0][button]["callback_data"]

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=callback_data)

    assert answers(fake_telegram, user["telegram_id"], 1) == [en(f"answer_{status}")]
    closed = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["edited"], timeout=5)
    assert closed["message_id"] == prompt["message_id"]
    # Approved: the closing edit is the login notice, whose one button ends that login.
    rows = (closed["reply_markup"] or {}).get("inline_keyboard", [])
    assert [b["callback_data"].split(":")[0] for row in rows for b in row] == kept_buttons
    assert closed["text"].endswith(en(closing))
    assert kit.session_row(session.row["id"])["status"] == status
    assert fake_telegram.invalid_calls() == []


def test_a_tap_by_another_account_is_refused_and_changes_nothing(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    owner, session, prompt = sent_prompt(kit, fake_telegram)
    intruder = kit.linked_user()
    approve = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    # The intruder can't see this chat in real Telegram; the emulator lets us forge the tap.
    fake_telegram.tap(
        intruder["telegram_id"], prompt["message_id"], callback_data=approve, chat_id=owner["telegram_id"]
    )

    assert answers(fake_telegram, owner["telegram_id"], 1) == [en("answer_not_yours")]
    unchanged = message(fake_telegram, owner["telegram_id"], prompt["message_id"])
    assert not unchanged["edited"] and unchanged["reply_markup"] == prompt["reply_markup"]
    assert kit.session_row(session.row["id"])["status"] == "pending"
    assert fake_telegram.calls("editMessageText") == []
    assert fake_telegram.invalid_calls() == []


def test_a_double_tap_is_answered_twice_and_decided_once(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user, session, prompt = sent_prompt(kit, fake_telegram)
    approve = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve)
    answers(fake_telegram, user["telegram_id"], 1)
    # The second tap left the phone before the edit arrived.
    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve, stale=True)

    assert answers(fake_telegram, user["telegram_id"], 2) == [en("answer_approved"), en("answer_already_decided")]
    assert kit.session_row(session.row["id"])["status"] == "approved"
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_tap_telegram_delivers_twice_is_answered_and_decided_once(
    worker_env: Settings, kit: Kit, fake_telegram: EmulatorClient, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.integration.bot_fixtures import BotThread  # a plugin: imported by pytest first

    application = build_application(worker_env)
    update_dedup.install(application)  # as `python -m botrunner` does
    received: list[tuple[Update, asyncio.AbstractEventLoop]] = []

    async def receive(update: object, context: Any) -> None:
        if isinstance(update, Update) and update.callback_query is not None:
            received.append((update, asyncio.get_running_loop()))

    application.add_handler(TypeHandler(Update, receive), group=-3)
    bot = BotThread(application)
    bot.start()
    try:
        user, session, prompt = sent_prompt(kit, fake_telegram)
        approve = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve)
        assert answers(fake_telegram, user["telegram_id"], 1) == [en("answer_approved")]
        fake_telegram.wait_for(lambda: fake_telegram.calls("editMessageText"), timeout=5)

        # The very same update again, as Telegram redelivers it after a restart or a late webhook answer.
        [(tap, loop)] = received
        redelivery = Update.de_json(tap.to_dict(), application.bot)
        with caplog.at_level(logging.INFO, logger="botrunner.update_dedup"):
            asyncio.run_coroutine_threadsafe(application.process_update(redelivery), loop).result(10)
    finally:
        bot.stop()

    assert f"event=update_duplicate_ignored update={tap.update_id}" in caplog.text
    assert len(fake_telegram.calls("answerCallbackQuery")) == 1
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert kit.session_row(session.row["id"])["status"] == "approved"
    assert fake_telegram.invalid_calls() == []


def test_simultaneous_taps_have_one_winner(
    start_bot: Callable[[], Application], kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user, session, prompt = sent_prompt(kit, fake_telegram)
    approve, reject = (b["callback_data"] for b in prompt["reply_markup"]["inline_keyboard"][0])
    for callback_data in (approve, reject, approve, reject):
        fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=callback_data)

    start_bot()  # all four taps arrive in one batch, handled concurrently

    given = answers(fake_telegram, user["telegram_id"], 4)
    winners = [a for a in given if a in (en("answer_approved"), en("answer_rejected"))]
    assert len(winners) == 1 and given.count(en("answer_already_decided")) == 3
    assert kit.session_row(session.row["id"])["status"] in ("approved", "rejected")
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


def test_a_tap_after_expiry_expires_the_session_and_removes_the_buttons(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user, session, prompt = sent_prompt(kit, fake_telegram)
    kit.make_overdue(session.row["id"])
    approve = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve)

    assert answers(fake_telegram, user["telegram_id"], 1) == [en("answer_expired")]
    closed = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["edited"], timeout=5)
    assert closed["reply_markup"] is None and en("outcome_expired") in closed["text"]
    assert kit.session_row(session.row["id"])["status"] == "expired"

    # A stale tap once the buttons are gone: answered, and nothing edited a second time.
    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve, stale=True)
    assert answers(fake_telegram, user["telegram_id"], 2)[-1] == en("answer_expired")
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


def test_unknown_callback_data_is_answered_without_text(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, emulator: Any
) -> None:
    user, session, prompt = sent_prompt(kit, fake_telegram)

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data="garbage", stale=True)

    assert answers(fake_telegram, user["telegram_id"], 1) == [None]
    assert kit.session_row(session.row["id"])["status"] == "pending"
    assert fake_telegram.invalid_calls() == []


def test_other_messages_get_the_explanation(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    person = kit.telegram_user(started=False)
    fake_telegram.send_message(person["id"], "hello?")
    reply_to(fake_telegram, person["id"], en("fallback", site="Dance of Mind"))
    fake_telegram.send_message(person["id"], "/unknown")
    fake_telegram.wait_for(lambda: len(fake_telegram.bot_messages(person["id"])) == 2)
    assert fake_telegram.invalid_calls() == []


def test_the_bots_own_replies_take_their_turn_from_the_shared_send_budget(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, worker_env: Any
) -> None:
    budget = redis.Redis.from_url(worker_env.redis_url)
    key = send_rate.key_for(worker_env.telegram_bot_token.get_secret_value())
    budget.delete(key)
    person = kit.telegram_user(started=False)

    fake_telegram.send_message(person["id"], "/start")
    reply_to(fake_telegram, person["id"], en("greeting", site="Dance of Mind"))

    assert budget.zcard(key) >= 1  # the worker's prompts count against the same key
    assert fake_telegram.invalid_calls() == []
