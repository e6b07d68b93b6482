"""Delivering a login's prompt exactly once: the lease a sender takes, the message Telegram delivered
before Postgres could record it, and whether Telegram has been failing our prompts.

A copy of the send task leases the prompt in Postgres (`auth_sessions.take_prompt_lease`) before it
talks to Telegram, so two copies never both send. A lease lapses after PROMPT_LEASE_SECONDS:
longer than one send can take (PTB's timeouts plus the send budget's wait), so a live sender never
loses it, and short enough that beat's sweep hands a dead worker's prompt to another within a
minute.

Failing prompts: a prompt that can't reach one person (they blocked the bot, deleted their
account) is not reported: only linked phones get prompts, so saying so would tell a stranger that
the number has an account here. A prompt that failed because Telegram itself failed (5xx,
timeouts, 429s until the login expired) sets one flag instead, and every pending login reports
it, linked or not, until the last login that failed that way would have expired.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

import redis

from core import auth_sessions, events, prompt_targets, texts, users

log = logging.getLogger(__name__)

Row = dict[str, Any]

FAILING_KEY = "telegram-prompts-failing"
PROMPT_LEASE_SECONDS = 40

# Kinds of delivered messages remembered in Redis (see `remember_delivery`).
PROMPT = "prompt"
LOGIN_NOTICE = "login-notice"
# Forgotten as soon as Postgres has the id (`forget_delivery`); this TTL only bounds a note whose
# record never came (every copy gave up): longer than any copy keeps trying (a login lives
# minutes, the sweep runs every half minute).
REMEMBER_SECONDS = 3600


class Claim(enum.Enum):
    """What a copy of the send task found when it asked to send a login's prompt."""

    SEND = "send"  # the lease is ours: send (or record a delivery remembered earlier)
    BUSY = "busy"  # another live copy holds the lease: look again later
    UNRECORDED = "unrecorded"  # the login ended with no prompt recorded: close one a sender delivered, if any
    NOTHING = "nothing"  # no prompt is to be sent (sent, decided, not linked, held...)


@dataclass(frozen=True)
class PromptClaim:
    """The outcome of `claim_prompt`, with the login and its linked user when there is one to send.

    `may_be_delivered`: an earlier sender held the lease, so a message it delivered may wait in a
    delivery note (`recall_delivery`); a first sender has nothing to look for.
    """

    outcome: Claim
    session: Row | None = None
    user: Row | None = None
    may_be_delivered: bool = True


def claim_prompt(conn, session_pk: str, owner: str, worker: str) -> PromptClaim:
    """Decide whether task `owner` sends this login's prompt now, leasing it if so (inside the caller's transaction)."""
    target = prompt_targets.prompt_to_send(conn, session_pk)
    if target.withheld_now:
        assert target.user is not None
        events.emit("prompt_withheld", session=session_pk, telegram_id=target.user["telegram_id"],
                    reason=target.blocker.value)
    if target.blocker is prompt_targets.Blocker.NOT_PENDING and _may_have_unrecorded_prompt(target.session):
        return PromptClaim(Claim.UNRECORDED, target.session, target.user)
    if not target.send:
        return PromptClaim(Claim.NOTHING)
    lease = auth_sessions.take_prompt_lease(conn, session_pk, owner, worker, PROMPT_LEASE_SECONDS)
    if lease is None:
        return PromptClaim(Claim.BUSY)
    return PromptClaim(Claim.SEND, target.session, target.user, may_be_delivered=lease.leased_before)


def _may_have_unrecorded_prompt(session: Row | None) -> bool:
    # An ended login without a recorded prompt: a sender may have delivered one and then died, or
    # failed to record it (Postgres down) until the login ended. Rare (a send task meets an ended
    # login only on a retry or a sweep), so looking for its delivery note costs next to nothing.
    return session is not None and session["prompt_message_id"] is None


def adopt_unrecorded_prompt(conn, session_pk: str, chat_id: int, message_id: int, default_language: str) -> Row | None:
    """Record a prompt that a dead sender delivered for a login that ended meanwhile; the session row, or None.

    Such a prompt is in a chat with its buttons live, and nobody else knows its message id: once
    recorded, the caller closes it like any decided prompt. An overdue login is expired here
    first, so its status is final. None when another copy recorded it first.
    """
    auth_sessions.expire_if_overdue(conn, session_pk)
    user = users.get_by_telegram_id(conn, chat_id)
    language = texts.pick_language(default_language, (user or {}).get("language_code"))
    if not auth_sessions.record_prompt(conn, session_pk, chat_id, message_id, language):
        return None
    return auth_sessions.get(conn, session_pk)


def give_up_unrecorded(conn, session_pk: str) -> None:
    """Settle an ended login that has no delivered prompt to adopt: expire it if overdue, give its lease back.

    Without a lease the sweeps stop asking about it.
    """
    auth_sessions.expire_if_overdue(conn, session_pk)
    auth_sessions.release_ended_prompt_lease(conn, session_pk)


def _delivery_key(kind: str, session_pk: str) -> str:
    return f"sent-message:{kind}:{session_pk}"


def remember_delivery(client: redis.Redis, kind: str, session_pk: str, chat_id: int, message_id: int) -> None:
    """Note that Telegram delivered `message_id` to `chat_id` for this login, until Postgres records it; best effort.

    Kept in Redis because the case it covers is Postgres failing the record right after Telegram
    answered: a later copy finds the id here and records it instead of sending a second message.
    """
    try:
        client.set(_delivery_key(kind, session_pk), f"{chat_id}:{message_id}", ex=REMEMBER_SECONDS)
    except redis.RedisError as exc:
        # Only a record that fails too would then cost a duplicate; the send itself succeeded.
        log.warning("could not remember %s %s of session %s (%s)", kind, message_id, session_pk, exc)


def forget_delivery(client: redis.Redis, kind: str, session_pk: str) -> None:
    """Drop the note of a delivery once Postgres has recorded it (or refused it as a duplicate); best effort.

    Left to its TTL, every login would keep one key in Redis for an hour (108,000 keys at 30
    logins/s) that nothing reads once the message id is in Postgres.
    """
    try:
        client.delete(_delivery_key(kind, session_pk))
    except redis.RedisError as exc:
        log.warning("could not forget %s of session %s (%s); it expires by itself", kind, session_pk, exc)


def recall_delivery(client: redis.Redis, kind: str, session_pk: str, chat_id: int) -> int | None:
    """Return the message id already delivered to `chat_id` for this login but not recorded, or None."""
    delivered = recall_any_delivery(client, kind, session_pk)
    # Another chat: the phone was linked to another account since; that message is not this one's.
    return delivered[1] if delivered is not None and delivered[0] == chat_id else None


def recall_any_delivery(client: redis.Redis, kind: str, session_pk: str) -> tuple[int, int] | None:
    """Return the chat and message id delivered for this login but not recorded, or None."""
    try:
        value = client.get(_delivery_key(kind, session_pk))
    except redis.RedisError as exc:
        log.warning("could not look for a delivered %s of session %s (%s)", kind, session_pk, exc)
        return None
    if value is None:
        return None
    chat_id, _, message_id = value.decode().partition(":")
    return int(chat_id), int(message_id)


def mark_failing(client: redis.Redis, seconds: float) -> None:
    """Make every pending login report failing prompts for the next `seconds` (never for less)."""
    wanted_ms = max(1, int(seconds * 1000))
    if client.pttl(FAILING_KEY) < wanted_ms:  # -2 when absent
        client.set(FAILING_KEY, 1, px=wanted_ms)


def is_failing(client: redis.Redis) -> bool:
    """Tell whether Telegram failed a prompt recently enough for pending logins to say so."""
    return bool(client.exists(FAILING_KEY))
