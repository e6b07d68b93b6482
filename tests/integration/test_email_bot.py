"""/email in the bot, and the emails the bot's events record, against Postgres, the emulator and the catcher.

The bot records outbox emails and queues them (`celery_queue`); `deliver` runs the worker's task
body on each, sending through SMTP to the catcher.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

import pytest
from telegram.ext import Application

from core import db, email_menu, prompts
from core.settings import Settings
from tasks.email_delivery import send_email
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import buttons, en, send_prompt, user_row
from tests.integration.test_bot_commands import command, shown, tap
from tests.mail_fixtures import RunningCatcher

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

Queue = Callable[[], list[tuple[str, list[Any]]]]


@pytest.fixture
def bot_settings(bot_settings: Settings, mailbox: RunningCatcher, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The bot's and worker's settings with the catcher as SMTP server."""
    monkeypatch.setenv("SMTP_URL", mailbox.smtp_url)
    monkeypatch.setenv("EMAIL_FROM", "Site <no-reply@site.example>")
    return bot_settings.with_overrides(smtp_url=mailbox.smtp_url)


@pytest.fixture(autouse=True)
def empty_outbox(worker_env: Settings) -> None:
    """Start without earlier tests' emails."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE email_outbox, email_codes")


def deliver(celery_queue: Queue, fake_telegram: EmulatorClient, count: int) -> None:
    """Wait for `count` queued email tasks and run them as the worker would."""
    queued = fake_telegram.wait_for(lambda: len(e := [a for n, a in celery_queue() if n == "tasks.send_email"]) >= count
                                    and e, timeout=5)
    for args in queued:
        send_email(*args)


def menu(key: str, **values: Any) -> str:
    return email_menu.text(key, "en", **values)


def set_and_confirm(fake_telegram: EmulatorClient, user: dict[str, Any], celery_queue: Queue,
                    mailbox: RunningCatcher, address: str, queued_before: int = 0, as_reply: bool = False) -> None:
    typed = address if as_reply else f"/email {address}"  # "send me your address", or the command
    command(fake_telegram, user, typed, menu("code_sent", address=address)[:20])
    deliver(celery_queue, fake_telegram, queued_before + 1)
    mail = mailbox.client.wait_for(address, where=lambda m: "code" in m["subject"])[-1]
    code = re.search(r"\d{6}", mail["subject"]).group(0)
    command(fake_telegram, user, code, menu("confirmed", address=address))


def test_email_is_set_confirmed_changed_with_a_tap_and_removed_in_the_bot(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue, mailbox: RunningCatcher
) -> None:
    user = kit.linked_user()
    command(fake_telegram, user, "/email", menu("status_none")[:20])
    reply = command(fake_telegram, user, "/email not-an-address", menu("invalid", reason="")[:20])
    assert "not-an-address" not in reply["text"] or reply["text"].startswith(menu("invalid", reason="")[:20])
    set_and_confirm(fake_telegram, user, celery_queue, mailbox, "ann@example.com")
    assert user_row(user["id"])["email"] == "ann@example.com"

    # Changing a confirmed address asks first; only the tap sends a code to the new one.
    asked = command(fake_telegram, user, "/email new@example.com",
                    menu("confirm_change", old="ann@example.com", new="new@example.com"))
    assert mailbox.client.messages("new@example.com") == []
    tap(fake_telegram, user, asked, buttons(asked)[0])
    shown(fake_telegram, user, asked, lambda m: m["text"].startswith(menu("code_sent", address="new@example.com")[:20]))
    deliver(celery_queue, fake_telegram, 2)
    code = re.search(r"\d{6}", mailbox.client.wait_for("new@example.com")[0]["subject"]).group(0)
    command(fake_telegram, user, code, menu("confirmed", address="new@example.com"))
    deliver(celery_queue, fake_telegram, 3)
    (told,) = mailbox.client.wait_for("ann@example.com", where=lambda m: "changed" in m["subject"])
    assert "new@example.com" in told["text"]

    # Notices off, then remove: the address being removed is told.
    status = command(fake_telegram, user, "/email", menu("status_confirmed", address="new@example.com", notices="on"))
    tap(fake_telegram, user, status, buttons(status)[0])
    shown(fake_telegram, user, status, lambda m: "Notices of logins approved in Telegram: off" in m["text"])
    assert user_row(user["id"])["email_notices"] is False
    status = command(fake_telegram, user, "/email", menu("status_confirmed", address="new@example.com", notices="off"))
    tap(fake_telegram, user, status, buttons(status)[1])
    confirm = shown(fake_telegram, user, status, lambda m: m["text"] == menu("confirm_remove", address="new@example.com"))
    tap(fake_telegram, user, confirm, buttons(confirm)[0])
    shown(fake_telegram, user, status, lambda m: m["text"] == menu("removed"))
    assert user_row(user["id"])["email"] is None
    deliver(celery_queue, fake_telegram, 4)
    mailbox.client.wait_for("new@example.com", where=lambda m: "removed" in m["subject"])
    assert fake_telegram.invalid_calls() == []


def test_it_wasnt_me_and_unlinking_mail_the_confirmed_address(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue, mailbox: RunningCatcher
) -> None:
    user = kit.linked_user()
    set_and_confirm(fake_telegram, user, celery_queue, mailbox, "bob@example.com", as_reply=True)
    _, prompt = send_prompt(kit, fake_telegram, user)
    not_me = next(b for b in buttons(prompt) if b["callback_data"].startswith(f"{prompts.NOT_ME}:"))
    tap(fake_telegram, user, prompt, not_me)
    deliver(celery_queue, fake_telegram, 2)
    mailbox.client.wait_for("bob@example.com", where=lambda m: "It wasn't me" in m["subject"])

    asked = command(fake_telegram, user, "/unlink", en("unlink_confirm", phone=user["phone_number"]))
    tap(fake_telegram, user, asked, buttons(asked)[0])
    shown(fake_telegram, user, asked, lambda m: m["text"] == en("unlinked", phone=user["phone_number"]))
    deliver(celery_queue, fake_telegram, 3)
    (unlinked,) = mailbox.client.wait_for("bob@example.com", where=lambda m: "unlinked" in m["subject"])
    assert user["phone_number"] in unlinked["text"]


def test_the_bot_caps_codes_to_one_address_like_the_web(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, mailbox: RunningCatcher
) -> None:
    user = kit.linked_user()
    chat = user["telegram_id"]
    before = len(fake_telegram.bot_messages(chat))
    for _ in range(5):  # at once: the bot handles them concurrently, and the cap still holds
        fake_telegram.send_message(chat, "/email victim@example.com")
    # The bot may still be answering the chat's first "hello" (linked_user starts the chat with it).
    greeting = en("fallback", site="Dance of Mind")

    def email_replies() -> list[dict[str, Any]]:
        return [m for m in fake_telegram.bot_messages(chat)[before:] if m["text"] != greeting]

    replies = fake_telegram.wait_for(lambda: len(m := email_replies()) >= 5 and m, timeout=20)
    texts_sent = sorted(m["text"] for m in replies)
    assert texts_sent == sorted([menu("code_sent", address="victim@example.com")] * 3 + [menu("too_many")] * 2)
