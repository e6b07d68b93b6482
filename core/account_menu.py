"""The bot's account messages as data: active logins, confirmations, the "It wasn't me" offer.

Pure functions, like `core.prompts`. Their buttons act on the account of whoever taps them,
never on an id the callback data names, except a login (`el:<family>`, or `es:<session>` on an
approved prompt) that must be the tapper's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import passkey_menu, prompt_holds, prompts, texts, useragents
from core.prompts import Button, Message

Row = dict[str, Any]

END_LOGIN = "el"  # `el:<family uuid>`: end one login, from /sessions
END_THIS_LOGIN = prompts.END_THIS_LOGIN  # `es:<session uuid>`: end the login an approved prompt made
LOGOUT_ALL = "la"  # confirmed /logout_all
UNLINK = "ul"  # confirmed /unlink
CANCEL = "cx"  # a confirmation declined
OFFER_END_ALL = "oe"  # "End all my logins" on the "It wasn't me" offer
OFFER_RESUME = "or"  # "Resume login requests now" on the "It wasn't me" offer
RESUME = "rs"  # "Resume login requests now" on the reply to a deep link while paused
PLAIN_ACTIONS = (LOGOUT_ALL, UNLINK, CANCEL, OFFER_END_ALL, OFFER_RESUME, RESUME)
# A message lists this many logins with a button each; Telegram caps text at 4096 characters.
MAX_LISTED = 10


@dataclass(frozen=True)
class AccountCallback:
    """A parsed tap on an account button: the action and, for END_LOGIN, the login's family id
    (for END_THIS_LOGIN, the auth session's id)."""

    action: str
    family_id: str | None = None
    session_pk: str | None = None


def parse_callback(data: str | None) -> AccountCallback | None:
    """Read callback data written by this module; None for anything else."""
    if data in PLAIN_ACTIONS:
        return AccountCallback(data)
    action, _, family_id = (data or "").partition(":")
    if action == END_LOGIN and prompts.is_canonical_uuid(family_id):
        return AccountCallback(END_LOGIN, family_id)
    if action == END_THIS_LOGIN and prompts.is_canonical_uuid(family_id):
        return AccountCallback(END_THIS_LOGIN, session_pk=family_id)
    return None


def is_account_callback(data: object) -> bool:
    """Tell whether callback data belongs to an account button (a filter for the bot's routing)."""
    return isinstance(data, str) and parse_callback(data) is not None


def help_message(language: str, site_name: str) -> Message:
    """List the bot's commands."""
    return Message(texts.text("help", language, site=site_name))


def not_linked(language: str) -> Message:
    """Say that the sender has no linked phone, so there is nothing of theirs to show or change."""
    return Message(texts.text("not_linked", language))


def _login_line(number: int, family: Row, language: str) -> str:
    unknown = texts.text("unknown_value", language)
    return texts.text(
        "sessions_line",
        language,
        number=number,
        browser=useragents.describe(family.get("user_agent")) or unknown,
        ip=family.get("client_ip") or unknown,
        time=prompts.format_time(family["created_at"]),
    )


def sessions_list(families: list[Row], language: str) -> Message:
    """List active logins newest first, each with a button that ends it (or say there are none)."""
    if not families:
        return Message(texts.text("no_active_logins", language))
    shown = families[:MAX_LISTED]
    lines = [texts.text("sessions_title", language)]
    lines += [_login_line(number, family, language) for number, family in enumerate(shown, start=1)]
    if len(families) > len(shown):
        lines.append(texts.text("sessions_more", language, count=len(families) - len(shown)))
    lines.append(texts.text("sessions_hint", language))
    buttons = [
        Button(texts.text("button_end_login", language, number=number), f"{END_LOGIN}:{family['id']}")
        for number, family in enumerate(shown, start=1)
    ]
    # Three buttons a row keeps ten logins to four short rows.
    rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
    return Message("\n\n".join(lines), rows)


def logout_all_confirmation(active_logins: int, language: str, passkeys: int = 0) -> Message:
    """Ask before ending every login (or say there are none); offer to remove the passkeys too."""
    # A passkey signs in again after every login ended: the offer to remove them sits beside.
    passkey_rows = (passkey_menu.remove_all_row(passkeys, language),) if passkeys else ()
    if active_logins == 0:
        return Message(texts.text("no_active_logins", language), passkey_rows)
    return Message(
        texts.text("logout_all_confirm", language, count=active_logins),
        ((Button(texts.text("button_confirm_logout_all", language), LOGOUT_ALL),
          Button(texts.text("button_cancel", language), CANCEL)), *passkey_rows),
    )


def logged_out_all(count: int, language: str) -> Message:
    """Confirm that every login was ended."""
    return Message(texts.text("logged_out_all", language, count=count))


def unlink_confirmation(phone_number: str, language: str) -> Message:
    """Ask before forgetting the sender's phone."""
    return Message(
        texts.text("unlink_confirm", language, phone=phone_number),
        ((Button(texts.text("button_confirm_unlink", language), UNLINK),
          Button(texts.text("button_cancel", language), CANCEL)),),
    )


def unlinked(phone_number: str, language: str) -> Message:
    """Confirm that the phone is forgotten."""
    return Message(texts.text("unlinked", language, phone=phone_number))


def cancelled(language: str) -> Message:
    """Confirm that a declined confirmation changed nothing."""
    return Message(texts.text("action_cancelled", language))


def not_me_offer(paused_until: datetime | None, active_logins: int, language: str, passkeys: int = 0) -> Message:
    """Compose the answer to "It wasn't me" from the account's state now: pause, logins, what to do."""
    lines = [texts.text("not_me_intro", language)]
    if paused_until is not None:
        lines.append(texts.text("prompts_paused_until", language, time=prompts.format_time(paused_until)))
    else:
        lines.append(texts.text("prompts_on", language))
    lines.append(
        texts.text("active_logins_count", language, count=active_logins)
        if active_logins
        else texts.text("no_active_logins", language)
    )
    rows: list[tuple[Button, ...]] = []
    if active_logins:
        rows.append((Button(texts.text("button_end_all_logins", language), OFFER_END_ALL),))
    if passkeys:
        rows.append(passkey_menu.remove_all_row(passkeys, language))
    if paused_until is not None:
        rows.append((Button(texts.text("button_resume_prompts", language), OFFER_RESUME),))
    return Message("\n\n".join(lines), tuple(rows))


def held(reason: str, until: datetime, language: str) -> Message:
    """Answer a deep link while prompts are held: until when, and (for a pause) a way to resume."""
    time = prompts.format_time(until)
    if reason == prompt_holds.PAUSED:
        return Message(
            texts.text("held_paused", language, time=time),
            ((Button(texts.text("button_resume_prompts", language), RESUME),),),
        )
    return Message(texts.text("held_cooldown", language, time=time))


def resumed(language: str) -> Message:
    """Confirm that prompts are on again."""
    return Message(texts.text("resumed", language))
