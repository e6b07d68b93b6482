"""What a tap on an approval prompt decides: the one home of that rule (the bot only renders it).

- Approve (`simple` mode) or the right number (`match` mode) approves, unless the phone's
  wrong-number cooldown runs.
- A wrong number rejects every pending login of the phone and starts the cooldown: a random
  tapper gets one guess in three, not one per prompt, and no retry until the cooldown ends.
- Reject rejects that login.
- "It wasn't me" rejects that login and every other pending login of the phone, and pauses new
  prompts to it (push bombing stops at the first tap); it counts even on a prompt decided a
  moment ago.
- A tap on a prompt whose time is up expires its login, so the stale buttons go.
- "End this login" on an approved prompt ends the login that session became: its token family,
  or, if the website has not taken its tokens yet, the approval itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import auth_sessions, prompt_holds, prompts, token_families, users

Row = dict[str, Any]
Refusal = auth_sessions.Refusal


@dataclass(frozen=True)
class Decision:
    """What a tap did: the session row after a transition it made, or why it changed nothing.

    `also_rejected`: the phone's other pending sessions it rejected (their prompts are to be
    closed). `offer`: after "It wasn't me", when prompts are paused until and how many logins are
    active (None: no offer). `cooldown`: a wrong number started the phone's cooldown.
    """

    session: Row | None
    refusal: Refusal | None
    offer: tuple[datetime | None, int] | None = None
    also_rejected: tuple[str, ...] = ()
    cooldown: bool = False
    emails: tuple[str, ...] = ()  # outbox emails this tap recorded, to queue after the commit


def decide(
    conn, tap: prompts.Callback, telegram_id: int, *, match_cooldown_seconds: int, prompt_pause_seconds: int
) -> Decision:
    """Record what a tap on a prompt decides, for the Telegram user who tapped it (inside the caller's transaction)."""
    if tap.action == prompts.MATCH:
        decided = auth_sessions.pick_number(conn, tap.session_pk, telegram_id, tap.number)
    elif tap.action == prompts.APPROVE:
        decided = auth_sessions.approve(conn, tap.session_pk, telegram_id)
    else:
        decided = auth_sessions.reject(conn, tap.session_pk, telegram_id)
    refusal = None if decided is not None else auth_sessions.explain_refusal(conn, tap.session_pk, telegram_id)
    if tap.action == prompts.NOT_ME and refusal in (None, Refusal.ALREADY_DECIDED, Refusal.EXPIRED):
        # The owner's alarm counts even on a prompt that was decided a moment ago.
        return not_me(conn, tap.session_pk, telegram_id, decided, refusal, prompt_pause_seconds)
    if decided is not None and tap.action == prompts.MATCH and decided["status"] == auth_sessions.REJECTED:
        return _wrong_number(conn, decided, match_cooldown_seconds)
    if decided is not None:
        return Decision(decided, None)
    if refusal is not Refusal.EXPIRED:
        return Decision(None, refusal)
    # If the expiry task already did it, that task edits the prompt, not us.
    return Decision(auth_sessions.expire_if_overdue(conn, tap.session_pk), refusal)


def _wrong_number(conn, rejected: Row, match_cooldown_seconds: int) -> Decision:
    """Reject the phone's other pending logins too and start its cooldown."""
    prompt_holds.start_cooldown(conn, rejected["user_id"], match_cooldown_seconds)
    others = auth_sessions.reject_pending_for_phone(conn, rejected["phone_number"])
    return Decision(rejected, None, also_rejected=tuple(str(row["id"]) for row in others), cooldown=True)


def not_me(
    conn, session_pk: str, telegram_id: int, decided: Row | None, refusal: Refusal | None, prompt_pause_seconds: int
) -> Decision:
    """Pause prompts to the owner's phone and reject its other pending logins ("It wasn't me")."""
    user = users.get_by_telegram_id(conn, telegram_id)
    assert user is not None  # explain_refusal found this account linked to the session's phone
    paused_until = prompt_holds.pause(conn, user["id"], prompt_pause_seconds)
    others = auth_sessions.reject_pending_for_phone(conn, user["phone_number"])
    active_logins = len(token_families.active_for_user(conn, user["id"]))
    closed = decided
    if refusal is Refusal.EXPIRED:
        closed = auth_sessions.expire_if_overdue(conn, session_pk)
    return Decision(closed, refusal, offer=(paused_until, active_logins),
                    also_rejected=tuple(str(row["id"]) for row in others))


def end_login_of(conn, session_pk: str, user_id: int) -> Row | None:
    """End the login a session of this user became ("End this login"); the session row, or None if nothing was live."""
    session = auth_sessions.get(conn, session_pk)
    if session is None or session["user_id"] != user_id:
        return None
    withdrawn = auth_sessions.withdraw_approval(conn, session_pk, user_id)
    if withdrawn is not None:
        return withdrawn
    if token_families.revoke_for_session(conn, session_pk, user_id, "bot_end_this_login") is None:
        return None
    return session
