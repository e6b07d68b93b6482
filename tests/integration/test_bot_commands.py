"""/sessions, /logout_all, /unlink and /help with the real bot, Postgres and the emulator.

Every test has a bystander with logins and pending sessions of their own: nothing of theirs may be
shown or changed by someone else's command or button, even with forged callback data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from telegram.ext import Application

from core import texts
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import (
    FIREFOX_ON_LINUX,
    active_family_ids,
    answers,
    buttons,
    en,
    message,
    open_login,
    send_prompt,
    session_status,
    user_row,
)

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

Queue = Callable[[], list[tuple[str, list[Any]]]]


def command(fake_telegram: EmulatorClient, user: dict[str, Any], text: str, expected: str) -> dict[str, Any]:
    """Send a command and wait for the bot's reply that starts with `expected`."""
    chat_id = user["telegram_id"] if "telegram_id" in user else user["id"]
    fake_telegram.send_message(chat_id, text)
    return fake_telegram.wait_for_bot_message(chat_id, lambda m: m["text"].startswith(expected), timeout=5)


def tap(fake_telegram: EmulatorClient, user: dict[str, Any], msg: dict[str, Any], button: dict[str, Any]) -> None:
    """Tap one button of a message as the user."""
    fake_telegram.tap(user["telegram_id"], msg["message_id"], callback_data=button["callback_data"])


def shown(fake_telegram: EmulatorClient, user: dict[str, Any], msg: dict[str, Any], check: Callable[[dict], Any]) -> dict:
    """Wait until a message, as edited by the bot, passes `check`; return it."""
    return fake_telegram.wait_for(lambda: check(m := message(fake_telegram, user["telegram_id"], msg["message_id"])) and m,
                                  timeout=5)


def test_help_lists_every_command_and_the_menu_is_published_in_both_languages(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    person = kit.telegram_user()
    reply = command(fake_telegram, person, "/help", en("help", site="Dance of Mind")[:20])
    for name in ("/start", "/sessions", "/logout_all", "/passkeys", "/email", "/unlink", "/help"):
        assert name in reply["text"]
    published = {c["params"].get("language_code", ""): c["params"]["commands"] for c in fake_telegram.calls("setMyCommands")}
    for language in ("ru", "en"):
        assert [c["command"] for c in published[language]] == ["start", "sessions", "logout_all", "passkeys", "email", "unlink", "help"]
        assert published[language][1]["description"] == texts.text("command_sessions", language)
    assert fake_telegram.invalid_calls() == []


def test_commands_of_someone_not_linked_say_so(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    person = kit.telegram_user()

    def refusals() -> int:
        return len([m for m in fake_telegram.bot_messages(person["id"]) if m["text"] == en("not_linked")])

    for count, text in enumerate(("/sessions", "/logout_all", "/unlink"), start=1):
        fake_telegram.send_message(person["id"], text)
        fake_telegram.wait_for(lambda: refusals() == count, timeout=5)
    assert fake_telegram.invalid_calls() == []


def test_sessions_lists_my_logins_newest_first_and_ends_one(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user, bystander = kit.linked_user(), kit.linked_user()
    older = open_login(user, ip="198.51.100.1")
    newer = open_login(user, ip="198.51.100.2", user_agent=FIREFOX_ON_LINUX)
    theirs = open_login(bystander, ip="203.0.113.99")

    listing = command(fake_telegram, user, "/sessions", en("sessions_title"))

    text = listing["text"]
    assert text.index("198.51.100.2") < text.index("198.51.100.1")
    assert "Firefox 121, Ubuntu" in text and "Chrome 120, Windows 10" in text
    assert "203.0.113.99" not in text
    assert [b["callback_data"] for b in buttons(listing)] == [f"el:{newer['id']}", f"el:{older['id']}"]

    tap(fake_telegram, user, listing, buttons(listing)[0])

    assert answers(fake_telegram, user["telegram_id"], 1)[-1]["text"] == en("answer_login_ended")
    assert active_family_ids(user["id"]) == {str(older["id"])}
    redrawn = shown(fake_telegram, user, listing, lambda m: len(buttons(m)) == 1)
    assert "198.51.100.2" not in redrawn["text"] and "198.51.100.1" in redrawn["text"]

    # A forged tap naming the bystander's login ends nothing of theirs.
    fake_telegram.tap(user["telegram_id"], listing["message_id"], callback_data=f"el:{theirs['id']}", stale=True)
    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_login_gone")
    assert active_family_ids(bystander["id"]) == {str(theirs["id"])}

    tap(fake_telegram, user, redrawn, buttons(redrawn)[0])
    shown(fake_telegram, user, listing, lambda m: m["text"] == en("no_active_logins") and not buttons(m))
    assert active_family_ids(user["id"]) == set()
    assert fake_telegram.invalid_calls() == []


def test_sessions_with_no_logins_says_so(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    reply = command(fake_telegram, user, "/sessions", en("no_active_logins"))
    assert not buttons(reply)
    assert fake_telegram.invalid_calls() == []


def test_logout_all_asks_first_then_ends_only_my_logins(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user, bystander = kit.linked_user(), kit.linked_user()
    open_login(user), open_login(user)
    theirs = open_login(bystander)

    asked = command(fake_telegram, user, "/logout_all", en("logout_all_confirm", count=2))
    assert len(active_family_ids(user["id"])) == 2  # nothing ends before the confirmation
    confirm, cancel = buttons(asked)
    assert (confirm["text"], cancel["text"]) == (en("button_confirm_logout_all"), en("button_cancel"))

    tap(fake_telegram, user, asked, confirm)

    assert answers(fake_telegram, user["telegram_id"], 1)[-1]["text"] == en("answer_logins_ended", count=2)
    shown(fake_telegram, user, asked, lambda m: m["text"] == en("logged_out_all", count=2) and not buttons(m))
    assert active_family_ids(user["id"]) == set()
    assert active_family_ids(bystander["id"]) == {str(theirs["id"])}
    assert fake_telegram.invalid_calls() == []


def test_logout_all_cancelled_changes_nothing(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    login = open_login(user)
    asked = command(fake_telegram, user, "/logout_all", en("logout_all_confirm", count=1))

    tap(fake_telegram, user, asked, buttons(asked)[1])

    shown(fake_telegram, user, asked, lambda m: m["text"] == en("action_cancelled") and not buttons(m))
    assert active_family_ids(user["id"]) == {str(login["id"])}
    assert fake_telegram.invalid_calls() == []


def test_a_confirmation_tapped_by_someone_else_acts_on_their_own_account_only(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user, other = kit.linked_user(), kit.linked_user()
    mine = open_login(user)
    open_login(other)
    asked = command(fake_telegram, user, "/logout_all", en("logout_all_confirm", count=1))

    # The button carries no account: tapped by `other` (forged into this chat), it is `other`'s logout.
    fake_telegram.tap(other["telegram_id"], asked["message_id"], callback_data=buttons(asked)[0]["callback_data"],
                      chat_id=user["telegram_id"])

    answers(fake_telegram, user["telegram_id"], 1)
    assert active_family_ids(user["id"]) == {str(mine["id"])}
    assert active_family_ids(other["id"]) == set()
    assert fake_telegram.invalid_calls() == []


def test_unlink_forgets_my_phone_ends_my_logins_and_rejects_my_pending_logins(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user, bystander = kit.linked_user(), kit.linked_user()
    open_login(user)
    theirs = open_login(bystander)
    pending, prompt = send_prompt(kit, fake_telegram, user)
    bystanders_pending, _ = send_prompt(kit, fake_telegram, bystander)

    asked = command(fake_telegram, user, "/unlink", en("unlink_confirm", phone=user["phone_number"]))
    assert user_row(user["id"]) is not None
    tap(fake_telegram, user, asked, buttons(asked)[0])

    shown(fake_telegram, user, asked, lambda m: m["text"] == en("unlinked", phone=user["phone_number"]))
    assert user_row(user["id"]) is None
    assert active_family_ids(user["id"]) == set()
    assert session_status(pending.row["id"]) == "rejected"
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.update_prompt", [str(pending.row["id"])])]
    # The bystander keeps everything.
    assert user_row(bystander["id"]) is not None
    assert active_family_ids(bystander["id"]) == {str(theirs["id"])}
    assert session_status(bystanders_pending.row["id"]) == "pending"

    # The old prompt's buttons no longer decide anything; /sessions now says "not linked".
    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=buttons(prompt)[0]["callback_data"])
    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_not_yours")
    command(fake_telegram, user, "/sessions", en("not_linked"))
    assert fake_telegram.invalid_calls() == []
