"""The records EmulatorState keeps: messages, chats, callback queries, webhook settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoredMessage:
    """A message in a chat, with what the control API shows beyond the Message object."""

    message: dict[str, Any]
    from_bot: bool
    raw_text: str | None = None
    parse_mode: str | None = None
    markup: dict[str, Any] | None = None  # Any keyboard the bot sent, reply keyboards included.
    edited: bool = False
    deleted: bool = False


@dataclass
class ChatRecord:
    """A private chat between the bot and one user."""

    chat: dict[str, Any]
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    callback_answers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CallbackRecord:
    """A callback query handed to the bot, answerable once."""

    chat_id: int
    message_id: int
    answered: bool = False


@dataclass
class WebhookConfig:
    """The webhook the bot asked for; an empty url means polling mode."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None
