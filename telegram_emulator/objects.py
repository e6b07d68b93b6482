"""Builders for the Telegram objects the emulator hands out (User, Chat, Message, ...)."""

from __future__ import annotations

import time
from typing import Any

USER_FIELDS = {"id": int, "first_name": str, "last_name": str, "username": str, "language_code": str}


def now() -> int:
    """Return the current unix time, as Telegram stamps messages."""
    return int(time.time())


def utf16_length(text: str) -> int:
    """Return the length Telegram uses for entity offsets (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def bot_user(bot_id: int, bot_name: str, bot_username: str) -> dict[str, Any]:
    """Return the bot's own User object, as getMe answers it."""
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": bot_name,
        "username": bot_username,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def bot_user_brief(bot: dict[str, Any]) -> dict[str, Any]:
    """Return the bot User as it appears in `message.from` (no capability flags)."""
    return {key: bot[key] for key in ("id", "is_bot", "first_name", "username")}


def human_user(fields: dict[str, Any]) -> dict[str, Any]:
    """Return a human User object from control-API fields (already validated)."""
    user: dict[str, Any] = {"id": fields["id"], "is_bot": False, "first_name": fields["first_name"]}
    for optional in ("last_name", "username", "language_code"):
        if fields.get(optional) is not None:
            user[optional] = fields[optional]
    return user


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    """Return the private Chat between the bot and `user` (its id is the user's id)."""
    chat: dict[str, Any] = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for optional in ("last_name", "username"):
        if optional in user:
            chat[optional] = user[optional]
    return chat


def command_entities(text: str) -> list[dict[str, Any]]:
    """Return the bot_command entity Telegram adds when a text starts with "/"."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]


def contact_card(
    phone_number: str, first_name: str, last_name: str | None, user_id: int | None
) -> dict[str, Any]:
    """Return a Contact object; the phone number is kept exactly as given."""
    contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
    if last_name:
        contact["last_name"] = last_name
    if user_id is not None:
        contact["user_id"] = user_id
    return contact


def forward_origin(original_sender: dict[str, Any] | None, sender_name: str) -> dict[str, Any]:
    """Return a MessageOrigin for a forwarded message (hidden when the sender is unknown)."""
    date = now() - 60
    if original_sender is None:
        return {"type": "hidden_user", "date": date, "sender_user_name": sender_name}
    return {"type": "user", "date": date, "sender_user": original_sender}


def chat_instance(chat_id: int) -> str:
    """Return a stable opaque chat_instance for callback queries from `chat_id`."""
    return str((chat_id * 2654435761) % 10**19)


def update_kind(update: dict[str, Any]) -> str:
    """Return an update's type, e.g. "message" or "callback_query"."""
    return next(key for key in update if key != "update_id")
