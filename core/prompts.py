"""The approval prompt as data: its text, its buttons and the callback data they carry.

Pure functions: the worker and the bot turn the result into Telegram objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from core import texts, useragents

# Callback data is `<action>:<session uuid>`: at most 39 bytes, inside Telegram's 64.
APPROVE = "ap"
REJECT = "rj"
ACTIONS = (APPROVE, REJECT)


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
    """A parsed button press."""

    action: str
    session_pk: str


def parse_callback(data: str | None) -> Callback | None:
    """Read callback data written by `approval_prompt`; None for anything else."""
    action, _, session_pk = (data or "").partition(":")
    if action not in ACTIONS:
        return None
    try:
        uuid.UUID(session_pk)
    except ValueError:
        return None
    return Callback(action, session_pk)


def _details(session: dict[str, Any], language: str) -> str:
    unknown = texts.text("unknown_value", language)
    created: datetime = session["created_at"]
    return texts.text(
        "prompt_details",
        language,
        ip=session.get("client_ip") or unknown,
        browser=useragents.describe(session.get("user_agent")) or unknown,
        time=created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def approval_prompt(session: dict[str, Any], language: str, site_name: str) -> Message:
    """Compose the prompt for a pending session: context, then Approve and Reject in one row."""
    session_pk = str(session["id"])
    row = (
        Button(texts.text("button_approve", language), f"{APPROVE}:{session_pk}"),
        Button(texts.text("button_reject", language), f"{REJECT}:{session_pk}"),
    )
    text = "\n\n".join(
        (
            texts.text("prompt_title", language, site=site_name),
            texts.text("prompt_question", language),
            _details(session, language),
            texts.text("prompt_hint", language),
        )
    )
    return Message(text, (row,))


def closed_prompt(session: dict[str, Any], status: str, language: str, site_name: str) -> Message:
    """Compose the prompt as it reads once decided: the same context, the outcome, no buttons."""
    outcome_status = "approved" if status == "consumed" else status
    outcome = texts.text(f"outcome_{outcome_status}", language)
    title = texts.text("prompt_title", language, site=site_name)
    return Message(f"{title}\n\n{_details(session, language)}\n\n{outcome}")


def language_for(user: dict[str, Any] | None, configured: str) -> str:
    """Choose the language of messages to this user."""
    return texts.pick_language(configured, (user or {}).get("language_code"))
