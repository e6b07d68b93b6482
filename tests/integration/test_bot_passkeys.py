"""Passkeys in the bot and the worker, with the real bot, Postgres and the emulator.

/passkeys lists and removes only the sender's own; /logout_all and "It wasn't me" offer to remove
them all; the worker says "🔑 New passkey" once, and warns of a clone.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from telegram.ext import Application

from core import db, passkeys
from tasks.passkey_notices import send_passkey_added_notice, send_passkey_clone_notice
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import answers, buttons, en, message, open_login, send_prompt

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def make_passkey(user: dict[str, Any], name: str = "Chrome on Windows") -> dict[str, Any]:
    """Store a passkey of the user as a registration would."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO passkeys (id, user_id, credential_id, public_key, user_handle, name)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            (str(uuid.uuid4()), user["id"], os.urandom(32), b"key", os.urandom(32), name),
        )
        return cur.fetchone()


def passkey_ids(user: dict[str, Any]) -> set[str]:
    with db.transaction() as conn:
        return {str(row["id"]) for row in passkeys.list_for_user(conn, user["id"])}


def command(fake_telegram: EmulatorClient, user: dict[str, Any], text: str, expected: str) -> dict[str, Any]:
    fake_telegram.send_message(user["telegram_id"], text)
    return fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["text"].startswith(expected), timeout=5)


def shown(fake_telegram: EmulatorClient, user: dict[str, Any], msg: dict[str, Any], check) -> dict[str, Any]:
    return fake_telegram.wait_for(
        lambda: check(m := message(fake_telegram, user["telegram_id"], msg["message_id"])) and m, timeout=5
    )


def test_passkeys_lists_mine_and_removes_one(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    user, bystander = kit.linked_user(), kit.linked_user()
    older, newer = make_passkey(user, "Firefox on Linux"), make_passkey(user, "Safari on Mac OS X")
    theirs = make_passkey(bystander, "Edge on Windows")

    listing = command(fake_telegram, user, "/passkeys", en("passkeys_title", site="Dance of Mind"))

    assert "Firefox on Linux" in listing["text"] and "Safari on Mac OS X" in listing["text"]
    assert "Edge on Windows" not in listing["text"]
    remove_first, remove_second, remove_all = buttons(listing)
    assert {remove_first["callback_data"], remove_second["callback_data"]} == {f"pr:{older['id']}", f"pr:{newer['id']}"}
    assert remove_all["callback_data"] == "pa"

    fake_telegram.tap(user["telegram_id"], listing["message_id"], callback_data=f"pr:{older['id']}")
    assert answers(fake_telegram, user["telegram_id"], 1)[-1]["text"] == en("answer_passkey_removed")
    assert passkey_ids(user) == {str(newer["id"])}
    shown(fake_telegram, user, listing, lambda m: "Firefox on Linux" not in m["text"] and len(buttons(m)) == 1)

    # A forged tap naming the bystander's passkey removes nothing of theirs.
    fake_telegram.tap(user["telegram_id"], listing["message_id"], callback_data=f"pr:{theirs['id']}", stale=True)
    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_passkey_gone")
    assert passkey_ids(bystander) == {str(theirs["id"])}
    assert fake_telegram.invalid_calls() == []


def test_passkeys_with_none_says_so(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    reply = command(fake_telegram, user, "/passkeys", en("no_passkeys"))
    assert not buttons(reply)


def test_logout_all_offers_to_remove_every_passkey(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    user, bystander = kit.linked_user(), kit.linked_user()
    open_login(user)
    make_passkey(user), make_passkey(user)
    theirs = make_passkey(bystander)

    asked = command(fake_telegram, user, "/logout_all", en("logout_all_confirm", count=1))
    offer = buttons(asked)[-1]
    assert (offer["text"], offer["callback_data"]) == (en("button_remove_all_passkeys", count=2), "pa")
    fake_telegram.tap(user["telegram_id"], asked["message_id"], callback_data="pa")

    shown(fake_telegram, user, asked, lambda m: m["text"] == en("passkeys_removed_all", count=2))
    assert passkey_ids(user) == set() and passkey_ids(bystander) == {str(theirs["id"])}
    assert fake_telegram.invalid_calls() == []


def test_it_wasnt_me_offers_to_remove_every_passkey(running_bot: Application, kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    make_passkey(user)
    _, prompt = send_prompt(kit, fake_telegram, user)
    not_me = buttons(prompt)[-1]
    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=not_me["callback_data"])

    offer = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["text"].startswith(en("not_me_intro")),
                                               timeout=5)
    assert "pa" in [b["callback_data"] for b in buttons(offer)]
    fake_telegram.tap(user["telegram_id"], offer["message_id"], callback_data="pa")
    fake_telegram.wait_for(lambda: passkey_ids(user) == set(), timeout=5)


def test_the_new_passkey_notice_is_sent_once_with_a_remove_button(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user()
    passkey = make_passkey(user)

    send_passkey_added_notice.apply(args=[str(passkey["id"])])
    send_passkey_added_notice.apply(args=[str(passkey["id"])])  # a redelivered copy

    [notice] = [m for m in fake_telegram.bot_messages(user["telegram_id"]) if m["text"].startswith("🔑 New passkey")]
    assert notice["text"].startswith("🔑 New passkey: Chrome on Windows")
    assert [b["callback_data"] for b in buttons(notice)] == [f"pr:{passkey['id']}"]
    assert len(fake_telegram.calls("sendMessage")) == 1
    assert fake_telegram.invalid_calls() == []


def test_the_clone_warning_speaks_the_owners_language(kit: Kit, fake_telegram: EmulatorClient) -> None:
    user = kit.linked_user(language_code="ru")
    passkey = make_passkey(user)

    send_passkey_clone_notice.apply(args=[str(passkey["id"])])

    [warning] = fake_telegram.bot_messages(user["telegram_id"])
    assert warning["text"].startswith("⚠️ Вход по копии вашего ключа доступа «Chrome on Windows»")
    assert [b["callback_data"] for b in buttons(warning)] == [f"pr:{passkey['id']}"]
