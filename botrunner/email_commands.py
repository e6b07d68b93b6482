"""/email: show, set, change or remove the account's address, confirm it with the mailed code,
and switch login notices on or off.

Core decides (`core.email_account`); this module translates updates into its calls and renders
`core.email_menu`. A confirmed address is changed or removed only after a button tap, and the
old address is told; the emails recorded are queued once the transaction is committed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update, User
from telegram.ext import ContextTypes

import jobs
from botrunner import replies
from botrunner.handlers import language_of, settings_of
from core import account_menu, db, email_account, email_addresses, email_menu, events, texts, users
from core.prompts import Message
from core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a command, a message or a button did: the message to show, and the emails to queue after the commit."""

    message: Message
    emails: tuple[str, ...] = ()
    answer: str | None = None  # a button's toast


async def email_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the address (`/email`), or set it (`/email you@example.com`)."""
    language, settings = language_of(update, context), settings_of(context)
    if not settings.email_enabled:
        await replies.reply(update, Message(email_menu.text("unavailable", language)))
        return
    typed = " ".join(context.args or ())
    result = await asyncio.to_thread(_email_command, update.effective_user, typed, language, settings)
    await replies.reply(update, result.message)
    await asyncio.to_thread(jobs.enqueue_emails, result.emails)


def _email_command(sender: User, typed: str, language: str, settings: Settings) -> Outcome:
    with db.transaction() as conn:
        users.note_language(conn, sender.id, sender.language_code)
        user = users.get_by_telegram_id(conn, sender.id)
        if user is None:
            return Outcome(account_menu.not_linked(language))
        if not typed.strip():
            return Outcome(email_menu.status(user, language))
        try:
            address = email_addresses.normalize(typed)
        except email_addresses.InvalidEmail as exc:
            return Outcome(Message(email_menu.text("invalid", language, reason=exc)))
        if email_account.has_confirmed(user):
            if address == user["email"]:
                return Outcome(email_menu.status(user, language))
            email_account.propose_change(conn, user, address)
            return Outcome(email_menu.confirm_change(user["email"], address, language))
        result = email_account.request_address(conn, user, address, settings.bot_default_language)
    if result.outcome is email_account.Requested.TOO_MANY:
        return Outcome(Message(email_menu.text("too_many", language)))
    events.emit("email_code_requested", user=user["id"], via="bot")
    return Outcome(Message(email_menu.text("code_sent", language, address=address)), result.emails)


async def address_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take a message that is just an email address as the answer to "send me your address"."""
    context.args = [(update.effective_message.text or "").strip()]
    await email_command(update, context)


async def code_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Confirm the address waiting for a code with the 6 digits the person sent."""
    language, settings = language_of(update, context), settings_of(context)
    code = (update.effective_message.text or "").strip()
    result = await asyncio.to_thread(_confirm, update.effective_user, code, language, settings)
    await replies.reply(update, result.message)
    await asyncio.to_thread(jobs.enqueue_emails, result.emails)


def _confirm(sender: User, code: str, language: str, settings: Settings) -> Outcome:
    with db.transaction() as conn:
        user = users.get_by_telegram_id(conn, sender.id)
        if user is None:
            return Outcome(account_menu.not_linked(language))
        result = email_account.confirm(conn, user, code, settings.bot_default_language)
    if result.outcome is email_account.Confirmed.CONFIRMED:
        events.emit("email_confirmed", user=user["id"], via="bot")
        return Outcome(Message(email_menu.text("confirmed", language, address=result.user["email"])), result.emails)
    key = "taken" if result.outcome is email_account.Confirmed.TAKEN else "wrong_code"
    return Outcome(Message(email_menu.text(key, language)))


async def email_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Carry out an /email button for the Telegram user who tapped it; answer the tap once."""
    query = update.callback_query
    action = email_menu.parse_callback(query.data)
    language, settings = language_of(update, context), settings_of(context)
    result = await replies.carry_out(query, language, _act, action, query.from_user, language, settings)
    await asyncio.to_thread(jobs.enqueue_emails, result.emails)


def _act(action: str | None, sender: User, language: str, settings: Settings) -> Outcome:
    """Do what the button says, to the tapper's own account, in one transaction."""
    with db.transaction() as conn:
        user = users.get_by_telegram_id(conn, sender.id)
        if user is None:
            return Outcome(account_menu.not_linked(language))
        if action == email_menu.CHANGE:
            return _change(conn, user, language, settings)
        if action == email_menu.ASK_REMOVE and email_account.has_confirmed(user):
            return Outcome(email_menu.confirm_remove(user["email"], language))
        if action == email_menu.REMOVE:
            result = email_account.remove(conn, user, settings.bot_default_language)
            events.emit("email_removed", user=user["id"])
            return Outcome(Message(email_menu.text("removed", language)), result.emails)
        if action in (email_menu.NOTICES_ON, email_menu.NOTICES_OFF):
            updated = email_account.set_notices(conn, user["id"], action == email_menu.NOTICES_ON)
            return Outcome(email_menu.status(updated, language))
        if action == email_menu.CANCEL:
            return Outcome(Message(texts.text("action_cancelled", language)))
        return Outcome(email_menu.status(user, language))


def _change(conn, user: dict[str, Any], language: str, settings: Settings) -> Outcome:
    """Send a code to the address typed in /email, now that the change was confirmed with a tap."""
    address = user.get("email_pending")
    if not address:
        return Outcome(Message(email_menu.text("nothing_pending", language)))
    result = email_account.request_address(conn, user, address, settings.bot_default_language,
                                           confirmed_in_telegram=True)
    if result.outcome is email_account.Requested.TOO_MANY:
        return Outcome(Message(email_menu.text("too_many", language)))
    return Outcome(Message(email_menu.text("code_sent", language, address=address)), result.emails)


