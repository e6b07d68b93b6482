"""The approval prompt as data: its text, its buttons and the callback data they carry.

Pure functions: the worker and the bot turn the result into Telegram objects.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from core import texts, useragents

# Callback data is `<action>:<session uuid>[:<number>]`: at most 42 bytes, inside Telegram's 64.
APPROVE = "ap"
REJECT = "rj"
MATCH = "mt"  # number matching: `mt:<uuid>:<2 digits>`, one button per number offered
NOT_ME = "nm"  # "It wasn't me": reject, pause prompts, offer to end every login
ACTIONS = (APPROVE, REJECT, MATCH, NOT_ME)
# "End this login" on an approved prompt's closing edit: `es:<session uuid>`, an account button
# (core.account_menu) that ends the login this session became, for its owner only.
END_THIS_LOGIN = "es"
MATCH_CHOICES = 3


@dataclass(frozen=True)
class Button:
    """An inline button: the label and the callback data it sends."""

    label: str
    callback_data: str


@dataclass(frozen=True)
class Message:
    """A bot message: text and rows of inline buttons (none when the prompt is closed)."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class Callback:
    """A parsed button press: the action, its session, and the number picked (match only)."""

    action: str
    session_pk: str
    number: str | None = None


def is_canonical_uuid(text: str) -> bool:
    """Tell whether `text` is a UUID written the one way we write them (lowercase, with hyphens)."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def is_match_number(text: str | None) -> bool:
    """Tell whether `text` is a two-digit match number (10-99)."""
    return text is not None and len(text) == 2 and text.isascii() and text.isdigit() and text[0] != "0"


def parse_callback(data: str | None) -> Callback | None:
    """Read callback data written by `approval_prompt`; None for anything else."""
    parts = (data or "").split(":")
    action = parts[0]
    if action not in ACTIONS or len(parts) != (3 if action == MATCH else 2):
        return None
    if not is_canonical_uuid(parts[1]):
        return None
    if action == MATCH:
        return Callback(action, parts[1], parts[2]) if is_match_number(parts[2]) else None
    return Callback(action, parts[1])


def match_choices(match_code: str) -> list[str]:
    """Return the numbers to offer: the code and two different random decoys, the code at a random place."""
    if not is_match_number(match_code):
        raise ValueError("a match-mode session needs a two-digit match code")
    choices: list[str] = []
    while len(choices) < MATCH_CHOICES - 1:
        decoy = str(10 + secrets.randbelow(90))
        if decoy != match_code and decoy not in choices:
            choices.append(decoy)
    choices.insert(secrets.randbelow(MATCH_CHOICES), match_code)
    return choices


def format_time(moment: datetime) -> str:
    """Write a moment the way every bot message does: `2026-11-27 10:30 UTC`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _details(session: dict[str, Any], language: str, moment: datetime | None = None) -> str:
    unknown = texts.text("unknown_value", language)
    return texts.text(
        "prompt_details",
        language,
        ip=session.get("client_ip") or unknown,
        browser=useragents.describe(session.get("user_agent")) or unknown,
        time=format_time(moment or session["created_at"]),
    )


def approval_prompt(session: dict[str, Any], language: str, site_name: str) -> Message:
    """Compose the prompt for a pending session: context, the decision buttons, then "It wasn't me".

    `simple` mode: one row, Approve then Reject. `match` mode: a row of three numbers (one is the
    code the website shows) and a row with Reject. The mode is the session's, not this process's.
    """
    session_pk = str(session["id"])
    reject = Button(texts.text("button_reject", language), f"{REJECT}:{session_pk}")
    if session["approval_mode"] == "match":
        numbers = tuple(Button(n, f"{MATCH}:{session_pk}:{n}") for n in match_choices(session["match_code"]))
        rows: tuple[tuple[Button, ...], ...] = (numbers, (reject,))
        question = texts.text("prompt_match_question", language)
    else:
        rows = ((Button(texts.text("button_approve", language), f"{APPROVE}:{session_pk}"), reject),)
        question = texts.text("prompt_question", language)
    not_me = Button(texts.text("button_not_me", language), f"{NOT_ME}:{session_pk}")
    text = "\n\n".join(
        (
            texts.text("prompt_title", language, site=site_name),
            question,
            _details(session, language),
            texts.text("prompt_hint", language),
        )
    )
    return Message(text, (*rows, (not_me,)))


def login_notice(session: dict[str, Any], language: str, site_name: str, *, ended: bool = False) -> Message:
    """Compose the "New login" message of a login approved another way than a Telegram prompt.

    It says how (a passkey, an email code), from where and when, with a button that ends that login
    (`ended`: it was ended from this message, so it says so and the button goes).
    """
    title = texts.text(f"notice_title_{session.get('method') or 'telegram'}", language, site=site_name)
    details = _details(session, language, session.get("decided_at"))
    if ended:
        return Message(f"{title}\n\n{details}\n\n{texts.text('logged_in_ended', language)}")
    end = Button(texts.text("button_end_this_login", language), f"{END_THIS_LOGIN}:{session['id']}")
    return Message(f"{title}\n\n{details}\n\n{texts.text('notice_hint', language)}", ((end,),))


def logged_in_notice(session: dict[str, Any], language: str, site_name: str, *, ended: bool = False) -> Message:
    """Compose an approved prompt's closing edit: who logged in, from where, when, and a button that ends that login.

    `ended`: the login was ended from this message, so it says so and the button goes.
    """
    title = texts.text("logged_in_title", language, site=site_name)
    details = _details(session, language, session.get("decided_at"))
    if ended:
        return Message(f"{title}\n\n{details}\n\n{texts.text('logged_in_ended', language)}")
    end = Button(texts.text("button_end_this_login", language), f"{END_THIS_LOGIN}:{session['id']}")
    return Message(f"{title}\n\n{details}\n\n{texts.text('logged_in_hint', language)}", ((end,),))


def notice_of_ended_login(session: dict[str, Any], language: str, site_name: str) -> Message:
    """Compose the message a login was ended from, as it reads afterwards: its prompt or its own notice."""
    if needs_separate_notice(approved_in_telegram=session.get("method", "telegram") == "telegram"):
        return login_notice(session, language, site_name, ended=True)
    return logged_in_notice(session, language, site_name, ended=True)


def needs_separate_notice(approved_in_telegram: bool) -> bool:
    """Tell whether an approval needs its own "New login" message.

    One approved in Telegram does not: its prompt's closing edit is the notice. Any other way of
    approving (a passkey, an email code) sends one.
    """
    return not approved_in_telegram


def closed_prompt(session: dict[str, Any], status: str, language: str, site_name: str) -> Message:
    """Compose the prompt as it reads once decided: the same context, the outcome, no buttons.

    An approved prompt becomes the "you logged in" notice instead (`logged_in_notice`): a login
    approved in Telegram costs one message.
    """
    if status in ("approved", "consumed"):
        return logged_in_notice(session, language, site_name)
    outcome_status = status
    outcome = texts.text(f"outcome_{outcome_status}", language)
    title = texts.text("prompt_title", language, site=site_name)
    return Message(f"{title}\n\n{_details(session, language)}\n\n{outcome}")


def language_for(user: dict[str, Any] | None, default: str) -> str:
    """Choose the language of messages to this user: their Telegram language as last seen, else `default`."""
    return texts.pick_language(default, (user or {}).get("language_code"))
