"""Bot API sends and edits whose answer is not parsed: the worker's and the bot's, one home for both.

python-telegram-bot turns the Message that `sendMessage` and `editMessageText` answer with into a
`telegram.Message` (nested users, chats, the keyboard, entities): ~0.1-0.15 ms of CPU per call,
more than the HTTP call itself over aiohttp, for an answer of which we read at most the message
id. `Bot.do_api_request` makes the same call with the same parameters and hands back the raw
result; errors are raised as by the typed methods.
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram import Bot
from telegram.warnings import PTBUserWarning

from core.prompts import Message
from telegram_sender import keyboards

# PTB warns on every such call that the method has a typed one; here that is the point. pytest
# resets the filters set while modules are imported, so pytest.ini repeats this one.
UNPARSED_CALL_WARNING = r"Please use 'Bot\.(sendMessage|editMessageText)'"
warnings.filterwarnings("ignore", message=UNPARSED_CALL_WARNING, category=PTBUserWarning)


async def send_text(bot: Bot, chat_id: int, message: Message) -> int:
    """Send a message with its buttons to a chat (`sendMessage`); return its message id."""
    sent = await bot.do_api_request("sendMessage", api_kwargs=_fields(message, chat_id=chat_id))
    return int(sent["message_id"])


async def edit_text(bot: Bot, chat_id: int, message_id: int, message: Message) -> None:
    """Replace a message's text and buttons (`editMessageText`; no buttons removes them)."""
    await bot.do_api_request("editMessageText", api_kwargs=_fields(message, chat_id=chat_id, message_id=message_id))


def _fields(message: Message, **where: Any) -> dict[str, Any]:
    return {**where, "text": message.text, "reply_markup": keyboards.inline_markup(message)}
