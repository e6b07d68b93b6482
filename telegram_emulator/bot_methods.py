"""The Bot API methods the emulator really implements, on top of EmulatorState.

Each handler receives decoded, already validated parameters and returns the `result`
of a successful call, or raises BotApiError exactly as Telegram would answer.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from telegram_emulator import objects
from telegram_emulator.errors import bad_request
from telegram_emulator.formatting import visible_text
from telegram_emulator.records import StoredMessage, WebhookConfig
from telegram_emulator.registry import handles
from telegram_emulator.state import NOT_FOUND_TO_EDIT, EmulatorState

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@handles("getMe")
def get_me(state: EmulatorState, params: dict[str, Any]) -> dict[str, Any]:
    """Return the bot's User."""
    return state.bot_user()


@handles("close", "logOut")
def always_true(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Accept calls that have no effect an emulated bot could observe."""
    return True


@handles("getUpdates")
def get_updates(state: EmulatorState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-poll for updates, confirming those below `offset`."""
    limit = min(max(params.get("limit", 100), 1), 100)
    timeout = max(params.get("timeout", 0), 0)
    return state.take_updates(params.get("offset"), limit, timeout, params.get("allowed_updates"))


@handles("setWebhook")
def set_webhook(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Switch to webhook delivery (plain http is allowed so local bots can use it)."""
    url = params["url"]
    secret = params.get("secret_token")
    if url and not re.match(r"^https?://[^/\s]+", url):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if secret is not None and not _SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    if params.get("drop_pending_updates"):
        state.drop_pending_updates()
    config = WebhookConfig(url=url, secret_token=secret, max_connections=params.get("max_connections", 40))
    state.set_webhook(config, params.get("allowed_updates"))
    return True


@handles("deleteWebhook")
def delete_webhook(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Return to getUpdates mode, optionally dropping pending updates."""
    if params.get("drop_pending_updates"):
        state.drop_pending_updates()
    state.set_webhook(WebhookConfig(), None)
    return True


@handles("getWebhookInfo")
def get_webhook_info(state: EmulatorState, params: dict[str, Any]) -> dict[str, Any]:
    """Describe the current webhook (an empty url in polling mode)."""
    with state.lock:
        webhook = state.webhook
        info: dict[str, Any] = {
            "url": webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(state.pending_updates),
        }
        if webhook.url:
            info["max_connections"] = webhook.max_connections
            if state.allowed_updates:
                info["allowed_updates"] = list(state.allowed_updates)
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        return info


@handles("sendMessage")
def send_message(state: EmulatorState, params: dict[str, Any]) -> dict[str, Any]:
    """Deliver a text message from the bot to a private chat."""
    with state.lock:
        record = state.chat_for_bot(params["chat_id"])
        message: dict[str, Any] = {"text": visible_text(params["text"], params.get("parse_mode"))}
        if "entities" in params:
            message["entities"] = params["entities"]
        replied = _replied_message(record.messages, params)
        if replied is not None:
            message["reply_to_message"] = replied
        markup = params.get("reply_markup")
        if _is_inline(markup):
            message["reply_markup"] = markup
        stored = StoredMessage(
            message={}, from_bot=True, raw_text=params["text"], parse_mode=params.get("parse_mode"), markup=markup
        )
        return state.add_bot_message(params["chat_id"], message, stored)


def _replied_message(messages: dict[int, StoredMessage], params: dict[str, Any]) -> dict[str, Any] | None:
    reply = params.get("reply_parameters") or {}
    message_id = reply.get("message_id", params.get("reply_to_message_id"))
    if message_id is None:
        return None
    stored = messages.get(message_id)
    if stored is None or stored.deleted:
        if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    replied = copy.deepcopy(stored.message)
    replied.pop("reply_to_message", None)  # Telegram nests replies only one level deep.
    return replied


@handles("editMessageText")
def edit_message_text(state: EmulatorState, params: dict[str, Any]) -> dict[str, Any]:
    """Change a bot message's text; omitting reply_markup removes its inline keyboard."""
    with state.lock:
        stored = _editable_message(state, params)
        if "text" not in stored.message:
            raise bad_request("there is no text in the message to edit")
        new_text = visible_text(params["text"], params.get("parse_mode"))
        new_markup = params.get("reply_markup")
        old_signature = (_text_signature(stored.message["text"], stored.raw_text, stored.parse_mode),
                         stored.message.get("reply_markup"))
        new_signature = (_text_signature(new_text, params["text"], params.get("parse_mode")), new_markup)
        if _canonical(old_signature) == _canonical(new_signature):
            raise bad_request(NOT_MODIFIED)
        stored.message["text"] = new_text
        stored.raw_text, stored.parse_mode = params["text"], params.get("parse_mode")
        return _apply_inline_markup(stored, new_markup)


@handles("editMessageReplyMarkup")
def edit_message_reply_markup(state: EmulatorState, params: dict[str, Any]) -> dict[str, Any]:
    """Replace (or, without reply_markup, remove) a bot message's inline keyboard."""
    with state.lock:
        stored = _editable_message(state, params)
        new_markup = params.get("reply_markup")
        if _canonical(stored.message.get("reply_markup")) == _canonical(new_markup):
            raise bad_request(NOT_MODIFIED)
        return _apply_inline_markup(stored, new_markup)


def _editable_message(state: EmulatorState, params: dict[str, Any]) -> StoredMessage:
    if "inline_message_id" in params:
        raise bad_request("inline messages are not supported by the emulator")
    if "chat_id" not in params:
        raise bad_request("chat_id is empty")
    if "message_id" not in params:
        raise bad_request("message identifier is not specified")
    stored = state.existing_message(params["chat_id"], params["message_id"], NOT_FOUND_TO_EDIT)
    if not stored.from_bot:
        raise bad_request("message can't be edited")
    return stored


def _apply_inline_markup(stored: StoredMessage, new_markup: dict[str, Any] | None) -> dict[str, Any]:
    if new_markup:
        stored.message["reply_markup"] = new_markup
        stored.markup = new_markup
    else:
        stored.message.pop("reply_markup", None)
        if _is_inline(stored.markup):
            stored.markup = None  # A reply keyboard belongs to the chat and survives edits.
    stored.message["edit_date"] = objects.now()
    stored.edited = True
    return copy.deepcopy(stored.message)


def _text_signature(shown: str, raw: str | None, parse_mode: str | None) -> tuple[str, str]:
    # Same visible text with different markup is a different message (entities change).
    return shown, (raw or shown) if parse_mode else shown


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _is_inline(markup: Any) -> bool:
    return isinstance(markup, dict) and "inline_keyboard" in markup


@handles("deleteMessage")
def delete_message(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Delete a message in a private chat (the bot may delete either side's messages)."""
    with state.lock:
        stored = state.existing_message(params["chat_id"], params["message_id"], "message to delete not found")
        stored.deleted = True
        return True


@handles("answerCallbackQuery")
def answer_callback_query(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Record the bot's answer (toast/alert) to a callback query."""
    answer: dict[str, Any] = {"text": params.get("text"), "show_alert": params.get("show_alert", False)}
    if "url" in params:
        answer["url"] = params["url"]
    state.answer_callback_query(params["callback_query_id"], answer)
    return True
