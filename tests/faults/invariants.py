"""What must hold after any failure: nothing stuck, nothing sent twice, no token issued twice.

Each check returns how many things it looked at; a broken invariant raises AssertionError.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from core import auth_sessions, prompts
from tests.faults.system import FaultSystem

# How long after expires_at a status answer may still say "pending": none at all, since expiry
# is decided from expires_at; the grace only absorbs the clock between the query and the poll.
EXPIRY_GRACE_SECONDS = 1


@dataclass(frozen=True)
class Invariant:
    """One property of the whole system and the function that checks it."""

    name: str
    check: Callable[[FaultSystem], int]


def no_session_pending_past_expiry(faults: FaultSystem) -> int:
    """Assert the status endpoint never says pending for a login past expires_at + grace."""
    checked = 0
    with faults.system.http() as http:
        for session_id in faults.session_ids:
            [row] = faults.sql(
                "SELECT expires_at < now() - make_interval(secs => %s) AS long_overdue"
                " FROM auth_sessions WHERE secret_hash = %s",
                (EXPIRY_GRACE_SECONDS, auth_sessions.hash_secret(session_id)),
            )
            if not row["long_overdue"]:
                continue
            response = http.get(f"/api/auth/status/{session_id}")
            checked += 1
            assert response.status_code in (200, 410), response.text
            if response.status_code == 200:
                assert response.json()["status"] != auth_sessions.PENDING, response.text
    return checked


def no_chat_with_two_prompts_for_one_session(faults: FaultSystem) -> int:
    """Assert no chat holds two live (undeleted) approval prompts of the same login."""
    emulator = faults.system.emulator
    sent_by_chat: dict[int, list[str | None]] = defaultdict(list)
    for call in emulator.calls("sendMessage"):
        if call["ok"]:
            sent_by_chat[int(call["params"]["chat_id"])].append(prompt_session_of(call["params"]))
    checked = 0
    for chat_id, sessions_in_order in sent_by_chat.items():
        messages = sorted(
            (m for m in emulator.chat(chat_id)["messages"] if m["from_bot"]), key=lambda m: m["message_id"]
        )
        # The emulator numbers a chat's messages in the order it performs the calls, and the
        # sends of one chat are never concurrent here, so the n-th send made the n-th message.
        assert len(messages) == len(sessions_in_order), (chat_id, len(messages), len(sessions_in_order))
        live: dict[str, int] = defaultdict(int)
        for message, session_pk in zip(messages, sessions_in_order):
            if session_pk is not None and not message["deleted"]:
                live[session_pk] += 1
        doubled = {pk: count for pk, count in live.items() if count > 1}
        assert not doubled, f"chat {chat_id} shows two prompts for one login: {doubled}"
        checked += len(live)
    return checked


def no_token_issued_twice(faults: FaultSystem) -> int:
    """Assert one token family at most per login (enforced by a UNIQUE key), and one per consumed login."""
    [constraint] = faults.sql(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE conrelid = 'token_families'::regclass AND contype = 'u'"
        " AND conkey = ARRAY[(SELECT attnum FROM pg_attribute"
        "   WHERE attrelid = 'token_families'::regclass AND attname = 'auth_session_id')]::smallint[]"
    )
    assert constraint["definition"] == "UNIQUE (auth_session_id)"
    wrong = faults.sql(
        "SELECT s.id, s.status, count(f.id) AS families FROM auth_sessions s"
        " LEFT JOIN token_families f ON f.auth_session_id = s.id"
        " GROUP BY s.id, s.status"
        " HAVING count(f.id) <> CASE WHEN s.status = 'consumed' THEN 1 ELSE 0 END"
    )
    assert wrong == [], f"logins whose tokens were issued a wrong number of times: {wrong}"
    [row] = faults.sql("SELECT count(*) AS consumed FROM auth_sessions WHERE status = 'consumed'")
    return int(row["consumed"])


INVARIANTS = (
    Invariant("no login pending past its expiry (as the status endpoint answers)", no_session_pending_past_expiry),
    Invariant("no chat with two live prompts for one login", no_chat_with_two_prompts_for_one_session),
    Invariant("no login's tokens issued twice (UNIQUE token_families.auth_session_id)", no_token_issued_twice),
)


def prompt_session_of(params: dict[str, Any]) -> str | None:
    """Return the login an approval prompt belongs to (from its buttons), or None for other messages."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        import json

        markup = json.loads(markup)
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            callback = prompts.parse_callback(button.get("callback_data"))
            if callback is not None:
                return callback.session_pk
    return None
