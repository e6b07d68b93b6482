"""Telegram keyboards: the prompt's inline buttons and the share-your-phone reply keyboard."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from core import prompts, texts


def inline_markup(message: prompts.Message) -> InlineKeyboardMarkup | None:
    """Turn a message's button rows into an inline keyboard (None when it has no buttons)."""
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.label, callback_data=button.callback_data) for button in row]
         for row in message.buttons]
    )


def contact_request(language: str) -> ReplyKeyboardMarkup:
    """Return a one-button reply keyboard that shares the user's own phone number."""
    button = KeyboardButton(texts.text("share_contact_button", language), request_contact=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
