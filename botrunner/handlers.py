"""The bot's update handlers: /start, shared contacts, Approve/Reject taps, everything else.

Every database call runs in a thread (`asyncio.to_thread`) inside one `db.transaction()`, so the
event loop never blocks; the database decides every race (two taps, a tap against the expiry).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from dataclasses import dataclass
from typing import Any

from telegram import Bot, ReplyKeyboardRemove, Update, User
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

import tasks
from botrunner import keyboards
from core import auth_sessions, db, events, phones, prompts, texts, users
from core.errors import InvalidPhoneNumber
from core.settings import Settings

log = logging.getLogger(__name__)

Row = dict[str, Any]

# Telegram deep-link payloads: 1-64 characters of A-Za-z0-9_-.
START_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
LINK_EVENTS = {
    users.LinkOutcome.LINKED: "phone_linked",
    users.LinkOutcome.ALREADY_LINKED: "phone_already_linked",
    users.LinkOutcome.PHONE_CHANGED: "phone_changed",
    users.LinkOutcome.PHONE_TAKEN: "phone_taken",
}


class DeepLink(enum.Enum):
    """What `/start <start_token>` should do for this sender."""

    INVALID = "start_token_invalid"
    NEED_CONTACT = "start_need_contact"
    WRONG_PHONE = "start_wrong_phone"
    ALREADY_SENT = "prompt_already_sent"
    SEND_PROMPT = "send_prompt"


@dataclass(frozen=True)
class Decision:
    """What a tap did: the session row after a transition it made, or why it changed nothing."""

    session: Row | None
    refusal: auth_sessions.Refusal | None


def settings_of(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    """Return the settings the Application was built with."""
    return context.bot_data["settings"]


def language_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Choose the language to answer this update in."""
    user = update.effective_user
    return texts.pick_language(settings_of(context).bot_default_language, user.language_code if user else None)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and offer the share-contact button, or continue a login from a deep link."""
    if context.args:
        await start_login(update, context)
        return
    language = language_of(update, context)
    await update.effective_message.reply_text(
        texts.text("greeting", language, site=settings_of(context).site_name),
        reply_markup=keyboards.contact_request(language),
    )


async def start_login(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handle `/start <start_token>`: ask for the contact, refuse, or have the prompt sent."""
    language = language_of(update, context)
    payload = context.args[0] if len(context.args) == 1 else ""
    outcome, session = await asyncio.to_thread(_deep_link, payload, update.effective_user.id)
    message = update.effective_message
    if outcome is DeepLink.SEND_PROMPT:
        assert session is not None
        await asyncio.to_thread(tasks.enqueue_approval_prompt, str(session["id"]))
        events.emit("prompt_requested", session=session["id"], telegram_id=update.effective_user.id, via="deep_link")
    elif outcome is DeepLink.NEED_CONTACT:
        await message.reply_text(texts.text(outcome.value, language), reply_markup=keyboards.contact_request(language))
    elif outcome is DeepLink.WRONG_PHONE:
        assert session is not None
        await message.reply_text(texts.text(outcome.value, language, phone=phones.mask(session["phone_number"])))
    else:
        await message.reply_text(texts.text(outcome.value, language))


def _deep_link(start_token: str, telegram_id: int) -> tuple[DeepLink, Row | None]:
    if not START_TOKEN.fullmatch(start_token):
        return DeepLink.INVALID, None
    with db.transaction() as conn:
        session = auth_sessions.find_by_start_token(conn, start_token)
        if session is None or session["status"] != auth_sessions.PENDING or session["overdue"]:
            return DeepLink.INVALID, None
        user = users.get_by_telegram_id(conn, telegram_id)
    if user is None:
        return DeepLink.NEED_CONTACT, session
    if user["phone_number"] != session["phone_number"]:
        return DeepLink.WRONG_PHONE, session
    if session["prompt_message_id"] is not None:
        return DeepLink.ALREADY_SENT, session
    return DeepLink.SEND_PROMPT, session


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Link the sender's own shared phone number, then have waiting prompts sent."""
    message = update.effective_message
    sender = update.effective_user
    language = language_of(update, context)
    card = message.contact
    contact_keyboard = keyboards.contact_request(language)
    # A forwarded card carries its original owner's user_id: only a fresh share proves ownership.
    if message.forward_origin is not None or card.user_id != sender.id:
        reason = "forwarded" if message.forward_origin is not None else "not_own"
        events.emit("contact_refused", telegram_id=sender.id, reason=reason)
        await message.reply_text(texts.text("contact_not_own", language), reply_markup=contact_keyboard)
        return
    try:
        phone_number = phones.normalize_from_telegram(card.phone_number)
    except InvalidPhoneNumber:
        events.emit("contact_refused", telegram_id=sender.id, reason="invalid_phone")
        await message.reply_text(texts.text("contact_invalid", language), reply_markup=contact_keyboard)
        return
    result, waiting = await asyncio.to_thread(_link_contact, phone_number, sender)
    events.emit(LINK_EVENTS[result.outcome], telegram_id=sender.id, phone=phone_number)
    await message.reply_text(
        texts.text(result.outcome.value, language, phone=phone_number), reply_markup=ReplyKeyboardRemove()
    )
    for session_pk in waiting:
        # The worker is the only sender of prompts: one code path, with its retries.
        await asyncio.to_thread(tasks.enqueue_approval_prompt, session_pk)
        events.emit("prompt_requested", session=session_pk, telegram_id=sender.id, via="contact")


def _link_contact(phone_number: str, sender: User) -> tuple[users.LinkResult, list[str]]:
    with db.transaction() as conn:
        result = users.link(
            conn,
            phone_number=phone_number,
            telegram_id=sender.id,
            first_name=sender.first_name,
            last_name=sender.last_name,
            username=sender.username,
            language_code=sender.language_code,
        )
        if result.user is None:
            return result, []
        waiting = auth_sessions.pending_unprompted_for_phone(conn, phone_number)
    return result, [str(row["id"]) for row in waiting]


async def decision(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Record an Approve/Reject tap from the session's owner; answer every tap exactly once."""
    query = update.callback_query
    callback = prompts.parse_callback(query.data)
    if callback is None:
        await query.answer()
        return
    language = language_of(update, context)
    try:
        outcome = await asyncio.to_thread(_decide, callback, query.from_user.id)
    except Exception:
        await query.answer(texts.text("answer_error", language))
        raise
    session = outcome.session
    if outcome.refusal is None:
        assert session is not None
        answer = f"answer_{session['status']}"
        events.emit(f"session_{session['status']}", session=callback.session_pk, telegram_id=query.from_user.id)
    else:
        answer = f"answer_{outcome.refusal.value}"
        if session is not None:
            events.emit("session_expired", session=callback.session_pk, via="tap")
    try:
        # Closing first: by the time the toast shows, the buttons are gone.
        if session is not None:
            await close_prompt(context.bot, session, language, settings_of(context).site_name)
    finally:
        await query.answer(texts.text(answer, language))


def _decide(callback: prompts.Callback, telegram_id: int) -> Decision:
    record = auth_sessions.approve if callback.action == prompts.APPROVE else auth_sessions.reject
    with db.transaction() as conn:
        decided = record(conn, callback.session_pk, telegram_id)
        if decided is not None:
            return Decision(decided, None)
        refusal = auth_sessions.explain_refusal(conn, callback.session_pk, telegram_id)
        if refusal is not auth_sessions.Refusal.EXPIRED:
            return Decision(None, refusal)
        # The owner tapped a prompt whose time is up before the expiry task ran: expire it here so
        # the stale buttons go away. If the task already did, it edits the prompt, not us.
        return Decision(auth_sessions.expire(conn, callback.session_pk), refusal)


async def close_prompt(bot: Bot, session: Row, language: str, site_name: str) -> None:
    """Edit the prompt of a session this tap just decided to its outcome, without buttons."""
    # The row comes from the transition's RETURNING: a prompt recorded after it is closed by the
    # worker that recorded it, so exactly one of us edits.
    if session["prompt_message_id"] is None:
        return
    message = prompts.closed_prompt(session, session["status"], session["prompt_language"] or language, site_name)
    try:
        await bot.edit_message_text(
            message.text, chat_id=session["prompt_chat_id"], message_id=session["prompt_message_id"]
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def fallback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what the bot is for."""
    language = language_of(update, context)
    await update.effective_message.reply_text(texts.text("fallback", language, site=settings_of(context).site_name))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update and tell the person to try again when they wrote a message."""
    log.error("update %s failed", getattr(update, "update_id", "-"), exc_info=context.error)
    if isinstance(update, Update) and update.message is not None:
        try:
            await update.message.reply_text(texts.text("answer_error", language_of(update, context)))
        except TelegramError:
            log.warning("could not tell the user about the failure", exc_info=True)
