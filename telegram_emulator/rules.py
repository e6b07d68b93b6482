"""Telegram's content rules beyond the signature: lengths, keyboards, button URLs, commands."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from telegram_emulator.errors import bad_request
from telegram_emulator.formatting import visible_text

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COMMANDS = 100

# Button fields that only decorate it: every other field of an inline button is its one action,
# every other field of a reply button is a request (contact, location, ...), at most one.
BUTTON_DECORATIONS = {"text", "icon_custom_emoji_id", "style"}
_COMMAND_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")
_LOCAL_HOSTNAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def check_call_content(method: str, params: Mapping[str, Any]) -> None:
    """Raise the 400 Telegram gives for content it refuses in an otherwise well-typed call."""
    if "text" in params and method in ("sendMessage", "editMessageText"):
        message_text(params["text"], params.get("parse_mode"))
    elif "parse_mode" in params:
        visible_text("", params["parse_mode"])  # Refuses an unknown parse mode.
    markup = params.get("reply_markup")
    if isinstance(markup, dict):
        check_reply_markup(markup)
    if method == "setMyCommands":
        check_commands(params.get("commands", []))
    if method == "answerCallbackQuery" and len(params.get("text", "")) > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")


def message_text(text: str, parse_mode: str | None) -> str:
    """Return the visible text of a message, refusing empty, overlong or unparsable text."""
    shown = visible_text(text, parse_mode)
    if not shown.strip():
        raise bad_request("message text is empty")
    if len(shown) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return shown


def check_reply_markup(markup: Mapping[str, Any]) -> None:
    """Refuse inline or reply keyboards that Telegram would not accept."""
    for button in _buttons(markup.get("inline_keyboard")):
        check_inline_button(button)
    for button in _buttons(markup.get("keyboard")):
        if isinstance(button, dict):
            requests = set(button) - BUTTON_DECORATIONS
            if len(requests) > 1:
                raise bad_request(f"keyboard button can request only one of {sorted(requests)}")
            if not str(button.get("text", "")).strip():
                raise bad_request("keyboard button text is empty")


def check_inline_button(button: Mapping[str, Any]) -> None:
    """Refuse an inline button without exactly one action, or with bad data or URL."""
    actions = sorted(set(button) - BUTTON_DECORATIONS)
    if not actions:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(
            f"can't parse inline keyboard button: exactly one of the optional fields must be used, got {actions}"
        )
    if not str(button.get("text", "")).strip():
        raise bad_request("inline keyboard button text is empty")
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not is_acceptable_button_url(str(button["url"])):
        raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid")


def is_acceptable_button_url(url: str) -> bool:
    """Tell whether Telegram would accept `url` on a button (no local or scheme-less URLs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme == "tg":
        return True
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return not _is_local_host(parts.hostname)


def _is_local_host(hostname: str) -> bool:
    host = hostname.lower().rstrip(".")
    if host in _LOCAL_HOSTNAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def check_commands(commands: list[Any]) -> None:
    """Refuse command lists setMyCommands would reject."""
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not _COMMAND_PATTERN.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def _buttons(rows: Any) -> Iterator[Any]:
    if not isinstance(rows, list):
        return
    for row in rows:
        if isinstance(row, list):
            yield from row
