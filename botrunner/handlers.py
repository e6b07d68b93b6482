"""The bot's update handlers: /start, shared contacts, taps on the prompt, everything else.

The prompt's buttons: Approve/Reject (`simple` mode), a number (`match` mode: the right one
approves, a wrong one rejects and starts a cooldown) and "It wasn't me" (rejects, pauses prompts
to the phone, and offers to end every login). Account commands live in `botrunner.commands`.

Every database call runs in a thread (`asyncio.to_thread`) inside one `db.transaction()`, so the
event loop never blocks; the database decides every race (two taps, a tap against the expiry).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from typing import Any, Callable

from telegram import Bot, ReplyKeyboardRemove, Update, User
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

import jobs
from botrunner import update_dedup
from core import account_menu, auth_sessions, db, decisions, email_events, events, passkeys, phones, prompt_targets, prompts, texts, users
from core.decisions import Decision
from core.prompt_targets import DeepLink
from core.errors import InvalidPhoneNumber
from core.settings import Settings
from telegram_sender import keyboards, unparsed

log = logging.getLogger(__name__)

Row = dict[str, Any]

LINK_EVENTS = {
    users.LinkOutcome.LINKED: "phone_linked",
    users.LinkOutcome.ALREADY_LINKED: "phone_already_linked",
    users.LinkOutcome.PHONE_CHANGED: "phone_changed",
    users.LinkOutcome.PHONE_TAKEN: "phone_taken",
}


def settings_of(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    """Return the settings the Application was built with."""
    return context.bot_data["settings"]


def language_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Choose the language to answer this update in: the sender's own, else BOT_DEFAULT_LANGUAGE."""
    user = update.effective_user
    return texts.pick_language(settings_of(context).bot_default_language, user.language_code if user else None)


def note_language(sender: User) -> None:
    """Store the sender's current Telegram language, so the worker's messages follow it too."""
    with db.transaction() as conn:
        users.note_language(conn, sender.id, sender.language_code)


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
    try:
        await asyncio.to_thread(note_language, update.effective_user)
    except Exception:  # the database is down: the greeting needs none, the next tap or command notes it
        log.warning("could not store the sender's language", exc_info=True)


async def start_login(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handle `/start <start_token>`: ask for the contact, refuse, or have the prompt sent."""
    language = language_of(update, context)
    payload = context.args[0] if len(context.args) == 1 else ""
    sender = update.effective_user
    found = await asyncio.to_thread(_deep_link, payload, sender.id, sender.language_code)
    outcome, session = found.kind, found.session
    message = update.effective_message
    if outcome is DeepLink.HELD:
        assert found.hold is not None
        held = account_menu.held(found.hold.reason, found.hold.until, language)
        await message.reply_text(held.text, reply_markup=keyboards.inline_markup(held))
    elif outcome is DeepLink.SEND_PROMPT:
        assert session is not None
        await asyncio.to_thread(jobs.enqueue_approval_prompt, str(session["id"]))
        events.emit("prompt_requested", session=session["id"], telegram_id=update.effective_user.id, via="deep_link")
    elif outcome is DeepLink.NEED_CONTACT:
        await message.reply_text(texts.text(outcome.value, language), reply_markup=keyboards.contact_request(language))
    elif outcome is DeepLink.WRONG_PHONE:
        assert session is not None
        await message.reply_text(texts.text(outcome.value, language, phone=phones.mask(session["phone_number"])))
    else:
        await message.reply_text(texts.text(outcome.value, language))


def _deep_link(start_token: str, telegram_id: int, language_code: str | None) -> prompt_targets.DeepLinkOutcome:
    with db.transaction() as conn:
        users.note_language(conn, telegram_id, language_code)
        return prompt_targets.open_deep_link(conn, start_token, telegram_id)


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Link the sender's own shared phone number, then have the prompt of the login that brought them here sent."""
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
        await asyncio.to_thread(jobs.enqueue_approval_prompt, session_pk)
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
        waiting = prompt_targets.prompt_after_link(conn, sender.id, phone_number)
    return result, waiting


async def decision(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Record a tap on a prompt from the session's owner; answer every tap exactly once."""
    query = update.callback_query
    callback = prompts.parse_callback(query.data)
    if callback is None:
        await query.answer()
        return
    language = language_of(update, context)
    settings = settings_of(context)
    first_delivery = update_dedup.check_in_handler(update, context)
    try:
        outcome = await asyncio.to_thread(_decide, first_delivery, callback, query.from_user, settings)
    except Exception:
        await query.answer(texts.text("answer_error", language))
        raise
    if outcome is None:  # Telegram delivered this tap again: it was answered the first time
        return
    session = outcome.session
    answer, alert = _answer_for(callback, outcome, language, settings), outcome.cooldown
    _log_decision(callback, outcome, query.from_user.id)
    closed = session is None
    try:
        # Closing first: by the time the toast shows, the buttons are gone.
        if session is not None:
            await close_prompt(context.bot, session, language, settings.site_name)
            closed = True
    finally:
        try:
            await query.answer(answer, show_alert=alert)
        finally:
            # The decision is committed: its follow-ups and the offer go out even if Telegram
            # refused the edit or the answer. Most taps have none (an approval's closing edit is
            # its notice): no trip to a thread for nothing.
            follow_ups = follow_ups_of(outcome, closed)
            if follow_ups:
                await asyncio.to_thread(_enqueue, follow_ups)
            if outcome.offer is not None:
                paused_until, active_logins = outcome.offer
                passkey_count = await asyncio.to_thread(_passkey_count_of, query.from_user.id)
                offer = account_menu.not_me_offer(paused_until, active_logins, language, passkey_count)
                await context.bot.send_message(
                    query.from_user.id, offer.text, reply_markup=keyboards.inline_markup(offer)
                )


def _passkey_count_of(telegram_id: int) -> int:
    """Count the passkeys of a Telegram user's account, for the "It wasn't me" offer to remove them."""
    with db.transaction() as conn:
        user = users.get_by_telegram_id(conn, telegram_id)
        return passkeys.count_for_user(conn, user["id"]) if user else 0


def _answer_for(callback: prompts.Callback, outcome: Decision, language: str, settings: Settings) -> str:
    """Return the toast that answers a tap on a prompt."""
    if outcome.offer is not None:
        return texts.text("answer_not_me", language)
    if outcome.cooldown:
        return texts.text("answer_wrong_number", language, minutes=math.ceil(settings.match_cooldown_seconds / 60))
    if outcome.refusal is None:
        assert outcome.session is not None
        return texts.text(f"answer_{outcome.session['status']}", language)
    return texts.text(f"answer_{outcome.refusal.value}", language)


def _log_decision(callback: prompts.Callback, outcome: Decision, telegram_id: int) -> None:
    if outcome.refusal is None and outcome.session is not None:
        reason = {prompts.NOT_ME: "not_me", prompts.MATCH: "wrong_number" if outcome.cooldown else None}
        events.emit(
            f"session_{outcome.session['status']}",
            session=callback.session_pk,
            telegram_id=telegram_id,
            reason=reason.get(callback.action),
        )
    elif outcome.session is not None:
        events.emit("session_expired", session=callback.session_pk, via="tap")
    if outcome.offer is not None:
        events.emit("prompts_paused", telegram_id=telegram_id, session=callback.session_pk,
                    also_rejected=len(outcome.also_rejected))


def follow_ups_of(outcome: Decision, closed: bool) -> list[tuple[Callable[[str], None], str]]:
    """Return the tasks a committed decision still needs, as (enqueue function, session id) pairs.

    A login notice if one is due, a prompt update for each prompt still open, and the outbox
    emails the tap recorded (a broker outage only delays those: the sweep sends them). `closed`: this
    tap's own prompt was edited; if not, the worker edits it (for an approval that edit is the
    "you logged in" notice, so it must not be lost).
    """
    follow_ups: list[tuple[Callable[[str], None], str]] = []
    session = outcome.session
    if session is not None and not closed:
        follow_ups.append((jobs.enqueue_prompt_update, str(session["id"])))
    if (
        outcome.refusal is None
        and session is not None
        and session["status"] == auth_sessions.APPROVED
        and prompts.needs_separate_notice(approved_in_telegram=True)
    ):
        follow_ups.append((jobs.enqueue_login_notice, str(session["id"])))
    follow_ups += [(jobs.enqueue_prompt_update, session_pk) for session_pk in outcome.also_rejected]
    follow_ups += [(jobs.enqueue_email, outbox_id) for outbox_id in outcome.emails]
    return follow_ups


def _enqueue(follow_ups: list[tuple[Callable[[str], None], str]]) -> None:
    """After the commit: queue a decision's follow-ups (best effort: the decision stands without them)."""
    try:
        for enqueue, session_pk in follow_ups:
            enqueue(session_pk)
    except Exception:  # the broker is down
        log.warning("could not enqueue the follow-ups of a decision", exc_info=True)


def _decide(
    first_delivery: Callable[[], bool], callback: prompts.Callback, sender: User, settings: Settings
) -> Decision | None:
    """Decide a tap in one trip to a thread: its duplicate check, then one transaction; None for a redelivery."""
    if not first_delivery():
        return None
    telegram_id = sender.id
    with db.transaction() as conn:
        users.note_language(conn, telegram_id, sender.language_code)
        outcome = decisions.decide(
            conn,
            callback,
            telegram_id,
            match_cooldown_seconds=settings.match_cooldown_seconds,
            prompt_pause_seconds=settings.prompt_pause_seconds,
        )
        if outcome.offer is not None:  # "It wasn't me": the confirmed address hears of it too
            owner = users.get_by_telegram_id(conn, telegram_id)
            sent = email_events.not_me(conn, owner, callback.session_pk, settings.bot_default_language)
            outcome = dataclasses.replace(outcome, emails=(sent,) if sent else ())
        return outcome


async def close_prompt(bot: Bot, session: Row, language: str, site_name: str) -> None:
    """Edit the prompt of a session this tap just decided to its outcome (approved: the login notice)."""
    # The row comes from the transition's RETURNING: a prompt recorded after it is closed by the
    # worker that recorded it, so exactly one of us edits.
    if session["prompt_message_id"] is None:
        return
    message = prompts.closed_prompt(session, session["status"], session["prompt_language"] or language, site_name)
    try:
        await unparsed.edit_text(bot, session["prompt_chat_id"], session["prompt_message_id"], message)
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
