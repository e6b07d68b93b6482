"""The bot's passkey messages as data: the list, the "New passkey" and clone notices, their buttons.

Pure functions, like `core.account_menu`. A remove button names a passkey (`pr:<uuid>`, 39
bytes) that is removed only if it belongs to whoever taps it; "remove all" (`pa`) acts on the
tapper's own account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import prompts, texts
from core.prompts import Button, Message

Row = dict[str, Any]

REMOVE = "pr"  # `pr:<passkey uuid>`: remove one passkey of the tapper's
REMOVE_ALL = "pa"  # remove every passkey of the tapper's
# Telegram caps text at 4096 characters: a message lists this many passkeys with a button each.
MAX_LISTED = 10


@dataclass(frozen=True)
class PasskeyCallback:
    """A parsed tap on a passkey button: the action and, for REMOVE, the passkey's id."""

    action: str
    passkey_id: str | None = None


def parse_callback(data: str | None) -> PasskeyCallback | None:
    """Read callback data written by this module; None for anything else."""
    if data == REMOVE_ALL:
        return PasskeyCallback(REMOVE_ALL)
    action, _, passkey_id = (data or "").partition(":")
    if action == REMOVE and prompts.is_canonical_uuid(passkey_id):
        return PasskeyCallback(REMOVE, passkey_id)
    return None


def is_passkey_callback(data: object) -> bool:
    """Tell whether callback data belongs to a passkey button (a filter for the bot's routing)."""
    return isinstance(data, str) and parse_callback(data) is not None


def _when(moment: datetime | None, language: str) -> str:
    return prompts.format_time(moment) if moment else texts.text("passkey_never_used", language)


def passkeys_list(passkeys: list[Row], language: str, site_name: str) -> Message:
    """List a person's passkeys, newest first, each with a button that removes it (or say there are none)."""
    if not passkeys:
        return Message(texts.text("no_passkeys", language))
    shown = passkeys[:MAX_LISTED]
    lines = [texts.text("passkeys_title", language, site=site_name)]
    lines += [
        texts.text(
            "passkeys_line", language, number=number, name=passkey["name"],
            created=prompts.format_time(passkey["created_at"]), used=_when(passkey["last_used_at"], language),
        )
        for number, passkey in enumerate(shown, start=1)
    ]
    lines.append(texts.text("passkeys_hint", language))
    buttons = [
        Button(texts.text("button_remove_passkey", language, number=number), f"{REMOVE}:{passkey['id']}")
        for number, passkey in enumerate(shown, start=1)
    ]
    rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]
    if len(passkeys) > 1:
        rows.append(remove_all_row(len(passkeys), language))
    return Message("\n\n".join(lines), tuple(rows))


def remove_all_row(count: int, language: str) -> tuple[Button, ...]:
    """Return the row of the "Remove all passkeys" button (for the list, "It wasn't me" and /logout_all)."""
    return (Button(texts.text("button_remove_all_passkeys", language, count=count), REMOVE_ALL),)


def added_notice(passkey: Row, language: str, site_name: str) -> Message:
    """Compose the "🔑 New passkey: Chrome on Windows" message, with a button that removes it."""
    text = texts.text(
        "passkey_added", language, name=passkey["name"], site=site_name, time=prompts.format_time(passkey["created_at"])
    )
    remove = Button(texts.text("button_remove_this_passkey", language), f"{REMOVE}:{passkey['id']}")
    return Message(text, ((remove,),))


def clone_notice(passkey: Row, language: str, site_name: str, moment: datetime) -> Message:
    """Compose the warning that a copy of a passkey was refused, with a button that removes it."""
    text = texts.text("passkey_clone", language, name=passkey["name"], site=site_name, time=prompts.format_time(moment))
    remove = Button(texts.text("button_remove_this_passkey", language), f"{REMOVE}:{passkey['id']}")
    return Message(text, ((remove,),))


def removed(passkey: Row, language: str) -> Message:
    """Say that a passkey was removed (a notice's text once its button was used)."""
    return Message(texts.text("passkey_removed_notice", language, name=passkey["name"]))


def removed_all(count: int, language: str) -> Message:
    """Confirm that every passkey was removed."""
    return Message(texts.text("passkeys_removed_all", language, count=count))
