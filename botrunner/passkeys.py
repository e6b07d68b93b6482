"""The bot's passkey command and buttons: /passkeys lists them, a button removes one or all.

Like the account commands, everything acts on the account linked to the Telegram user who sent
the command or tapped the button; a passkey named in callback data is removed only if it is theirs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from telegram import Update, User
from telegram.ext import ContextTypes

import jobs
from botrunner import replies
from botrunner.handlers import language_of, settings_of
from core import account_menu, db, events, passkey_menu, passkeys, texts, users
from core.passkey_menu import PasskeyCallback
from core.prompts import Message


@dataclass(frozen=True)
class ButtonResult:
    """What a passkey button did: the message to show in its place and the toast."""

    message: Message
    answer: str | None = None
    emails: tuple[str, ...] = ()  # outbox emails to queue after the commit


async def passkeys_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the sender's passkeys, newest first, each with a button that removes it."""
    language = language_of(update, context)
    message = await asyncio.to_thread(_list, update.effective_user, language, settings_of(context).site_name)
    await replies.reply(update, message)


def _list(sender: User, language: str, site_name: str) -> Message:
    with db.transaction() as conn:
        users.note_language(conn, sender.id, sender.language_code)
        user = users.get_by_telegram_id(conn, sender.id)
        if user is None:
            return account_menu.not_linked(language)
        return passkey_menu.passkeys_list(passkeys.list_for_user(conn, user["id"]), language, site_name)


async def passkey_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove the tapper's passkey (or all of them) and redraw the message; answer the tap once."""
    query = update.callback_query
    callback = passkey_menu.parse_callback(query.data)
    language = language_of(update, context)
    if callback is None:
        await query.answer()
        return
    settings = settings_of(context)
    result = await replies.carry_out(query, language, _act, callback, query.from_user, language, settings.site_name,
                                     settings.bot_default_language)
    if result.emails:
        await asyncio.to_thread(jobs.enqueue_emails, result.emails)


def _act(callback: PasskeyCallback, sender: User, language: str, site_name: str, default_language: str) -> ButtonResult:
    """Do what the button says, to the tapper's own passkeys, in one transaction."""
    with db.transaction() as conn:
        users.note_language(conn, sender.id, sender.language_code)
        user = users.get_by_telegram_id(conn, sender.id)
        if user is None:
            return ButtonResult(account_menu.not_linked(language))
        if callback.action == passkey_menu.REMOVE_ALL:
            change = passkeys.remove_all_for_user(conn, user, default_language)
            events.emit("passkeys_removed", user=user["id"], count=len(change.passkeys), via="bot")
            return ButtonResult(passkey_menu.removed_all(len(change.passkeys), language),
                                texts.text("answer_passkey_removed", language), change.emails)
        assert callback.passkey_id is not None
        change = passkeys.remove_for_user(conn, callback.passkey_id, user, default_language)
        if change.passkeys:
            events.emit("passkey_removed", user=user["id"], passkey=callback.passkey_id, via="bot")
        answer = texts.text("answer_passkey_removed" if change.passkeys else "answer_passkey_gone", language)
        return ButtonResult(passkey_menu.passkeys_list(passkeys.list_for_user(conn, user["id"]), language, site_name),
                            answer, change.emails)
