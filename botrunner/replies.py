"""How the bot's commands and buttons answer: a reply to a command, or the tapped message redrawn."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Protocol, TypeVar

from telegram import CallbackQuery, Update
from telegram import Message as TelegramMessage
from telegram.error import BadRequest

from core import texts
from core.prompts import Message
from telegram_sender import keyboards

log = logging.getLogger(__name__)


class ButtonOutcome(Protocol):
    """What a button's action did: the message to show in place of the tapped one, and the toast."""

    message: Message
    answer: str | None


Outcome = TypeVar("Outcome", bound=ButtonOutcome)


async def reply(update: Update, message: Message) -> None:
    """Answer a command with a message (and its buttons)."""
    await update.effective_message.reply_text(message.text, reply_markup=keyboards.inline_markup(message))


async def show_in_place(query: CallbackQuery, message: Message) -> None:
    """Replace the tapped message with the result (its buttons go, or are redrawn), if it differs."""
    markup = keyboards.inline_markup(message)
    current = query.message
    # A repeated tap redraws the same state; Telegram refuses an edit that changes nothing.
    if isinstance(current, TelegramMessage) and current.text == message.text and current.reply_markup == markup:
        return
    try:
        await query.edit_message_text(message.text, reply_markup=markup)
    except BadRequest as exc:
        # A message older than 48 h can't be edited: the tap's toast still says what happened.
        log.info("tapped message not edited: %s", exc)


async def carry_out(query: CallbackQuery, language: str, act: Callable[..., Outcome], *args: Any) -> Outcome:
    """Run a button's action in a thread, show its message in place of the tapped one, answer the tap once.

    An action that fails answers the tap with a generic error (Telegram would otherwise spin) and
    raises on, for the error handler.
    """
    try:
        result = await asyncio.to_thread(act, *args)
    except Exception:
        await query.answer(texts.text("answer_error", language))
        raise
    try:
        await show_in_place(query, result.message)
    finally:
        await query.answer(result.answer)
    return result
