"""Messages Telegram has delivered but Postgres has not recorded yet, kept in Redis.

A send task sends first and records the message id in Postgres second. When the record fails
(Postgres restarting, a lost connection) the task is retried, and the retry, or the recovery
sweep after a crash, finds no prompt recorded and would send a second one: the person would see
two prompts for one login. So, between Telegram's answer and the record, the task writes the
message id here; a later copy finds it and records that message instead of sending again.

What this can't cover: Telegram performing a send whose answer never reaches us (a timeout, the
worker killed while waiting). Telegram has no idempotency key for sendMessage, so nobody can
know that message exists.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)

PROMPT = "prompt"
LOGIN_NOTICE = "login-notice"
# Longer than any copy keeps trying: outage retries give up after about 7 minutes, a recovery
# sweep runs when a worker restarts; a login lives 5 minutes by default.
REMEMBER_SECONDS = 3600


def _key(kind: str, session_pk: str) -> str:
    return f"sent-message:{kind}:{session_pk}"


def remember(client: redis.Redis, kind: str, session_pk: str, chat_id: int, message_id: int) -> None:
    """Note that Telegram delivered `message_id` to `chat_id` for this session; best effort."""
    try:
        client.set(_key(kind, session_pk), f"{chat_id}:{message_id}", ex=REMEMBER_SECONDS)
    except redis.RedisError as exc:
        # Only a record that fails too would then cost a duplicate; the send itself succeeded.
        log.warning("could not remember %s %s of session %s (%s)", kind, message_id, session_pk, exc)


def recall(client: redis.Redis, kind: str, session_pk: str, chat_id: int) -> int | None:
    """Return the message id already delivered to `chat_id` for this session, or None."""
    try:
        value = client.get(_key(kind, session_pk))
    except redis.RedisError as exc:
        log.warning("could not look for a delivered %s of session %s (%s)", kind, session_pk, exc)
        return None
    if value is None:
        return None
    remembered_chat, _, message_id = value.decode().partition(":")
    # Another chat: the phone was linked to another account since; that message is not this one's.
    if remembered_chat != str(chat_id):
        return None
    return int(message_id)
