"""Which logins get an approval prompt, and when: the one home of that rule.

A prompt goes to the Telegram account linked to the login's phone, and only while the person is
plausibly at the browser that asked for it:

- the phone was already linked to that account when the login started, or
- that account opened the login's own `bot_url` (its start token exists only in that browser).

So linking a phone never prompts the phone's other pending logins (an attacker's `/init` made
just before the owner's would otherwise be shown first), and a login over the phone's prompt
budget (PROMPT_BUDGET_PER_PHONE) waits for its own `bot_url`. A pause or a wrong-number cooldown
withholds a prompt for good; a send that failed for good waits for the `bot_url` too (a person
who blocked the bot is not written to again until they write to it).

The rule is one SQL expression, `BLOCKER_SQL`, so the worker (one login), the recovery sweep
(every pending login) and the bot (a deep link, a shared contact) can't drift apart.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from typing import Any

import limits

from core import auth_sessions, db, prompt_holds, users

Row = dict[str, Any]

BUDGET = "budget"  # prompt_withheld: the phone's prompt budget was spent when the login started

# Telegram deep-link payloads: 1-64 characters of A-Za-z0-9_-.
START_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Why a login's prompt is not to be sent now (NULL: send it). `s` is the session, `u` the user
# linked to its phone (LEFT JOIN users u ON u.phone_number = s.phone_number).
BLOCKER_SQL = """CASE
    WHEN s.status <> 'pending' OR s.expires_at <= now() THEN 'not_pending'
    WHEN s.prompt_message_id IS NOT NULL THEN 'already_sent'
    WHEN u.id IS NULL THEN 'not_linked'
    WHEN s.prompt_withheld IN ('paused', 'cooldown') THEN 'withheld'
    WHEN s.deep_link_opened_by IS DISTINCT FROM u.telegram_id AND s.prompt_withheld = 'budget' THEN 'over_budget'
    WHEN s.deep_link_opened_by IS DISTINCT FROM u.telegram_id AND s.user_id IS DISTINCT FROM u.id THEN 'not_opened'
    WHEN s.prompt_error IS NOT NULL THEN 'send_failed'
    WHEN u.prompts_paused_until > now() THEN 'paused'
    WHEN u.match_cooldown_until > now() THEN 'cooldown'
END"""
SESSION_AND_USER = "auth_sessions s LEFT JOIN users u ON u.phone_number = s.phone_number"


class Blocker(enum.Enum):
    """Why a login's prompt is not sent now."""

    NOT_PENDING = "not_pending"  # decided, cancelled, expired or overdue
    ALREADY_SENT = "already_sent"
    NOT_LINKED = "not_linked"  # nobody linked the phone yet
    WITHHELD = "withheld"  # held back for good during a pause or a cooldown
    OVER_BUDGET = "over_budget"  # waits for its own bot_url
    NOT_OPENED = "not_opened"  # the phone was linked after the login started: waits for its own bot_url
    SEND_FAILED = "send_failed"  # Telegram refused for good: waits for its own bot_url
    PAUSED = "paused"  # a hold is in force on the person's prompts now
    COOLDOWN = "cooldown"


HOLDS = {Blocker.PAUSED: prompt_holds.PAUSED, Blocker.COOLDOWN: prompt_holds.COOLDOWN}


@dataclass(frozen=True)
class PromptTarget:
    """A login, the user linked to its phone, and why its prompt is not to be sent (None: send it)."""

    session: Row | None
    user: Row | None
    blocker: Blocker | None
    hold: prompt_holds.Hold | None = None
    withheld_now: bool = False  # this call held the prompt back for good

    @property
    def send(self) -> bool:
        """Tell whether the prompt is to be sent now."""
        return self.blocker is None


def prompt_target(conn, session_pk: str) -> PromptTarget:
    """Say whether a login's prompt is to be sent now, and to whom; change nothing."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT u.id AS user_id, {BLOCKER_SQL} AS blocker FROM {SESSION_AND_USER} WHERE s.id = %s",
            (str(session_pk),),
        )
        row = cur.fetchone()
    if row is None:
        return PromptTarget(None, None, Blocker.NOT_PENDING)
    session = auth_sessions.get(conn, session_pk)
    user = users.get(conn, row["user_id"]) if row["user_id"] is not None else None
    blocker = Blocker(row["blocker"]) if row["blocker"] else None
    hold = prompt_holds.current(conn, user["id"]) if blocker in HOLDS and user is not None else None
    return PromptTarget(session, user, blocker, hold)


def prompt_to_send(conn, session_pk: str) -> PromptTarget:
    """Return the worker's target for a login's prompt; a prompt held by a pause or cooldown is withheld for good.

    A prompt sent once the hold ends would reach the person out of context, maybe from the very
    attacker they just stopped. The website sees the login stay pending until it expires, as for
    a phone nobody linked (no enumeration).
    """
    target = prompt_target(conn, session_pk)
    if target.blocker in HOLDS:
        withheld = auth_sessions.withhold_prompt(conn, str(session_pk), HOLDS[target.blocker])
        return replace(target, withheld_now=withheld)
    return target


def needing_prompts_sql() -> str:
    """Return the SQL boolean, over `s` and `u`, that is true when the worker has a prompt to send or withhold."""
    return f"(({BLOCKER_SQL}) IS NULL OR ({BLOCKER_SQL}) IN ('paused', 'cooldown'))"


class DeepLink(enum.Enum):
    """What `/start <start_token>` does for its sender (values are the bot's text keys)."""

    INVALID = "start_token_invalid"
    NEED_CONTACT = "start_need_contact"
    WRONG_PHONE = "start_wrong_phone"
    ALREADY_SENT = "prompt_already_sent"
    WITHHELD = "start_withheld"  # its prompt was held back during a pause or cooldown: never sent
    HELD = "held"  # prompts to this person are on hold right now
    SEND_PROMPT = "send_prompt"


@dataclass(frozen=True)
class DeepLinkOutcome:
    """What `/start <start_token>` found: what to do, the session, and the hold in force, if any."""

    kind: DeepLink
    session: Row | None = None
    hold: prompt_holds.Hold | None = None


def open_deep_link(conn, start_token: str, telegram_id: int) -> DeepLinkOutcome:
    """Record that a Telegram account opened a login's own bot_url, and say what the bot does next."""
    if not START_TOKEN.fullmatch(start_token):
        return DeepLinkOutcome(DeepLink.INVALID)
    session = auth_sessions.find_by_start_token(conn, start_token)
    if session is None or auth_sessions.effective_status(session) != auth_sessions.PENDING:
        return DeepLinkOutcome(DeepLink.INVALID)
    user = users.get_by_telegram_id(conn, telegram_id)
    if user is not None and user["phone_number"] != session["phone_number"]:
        return DeepLinkOutcome(DeepLink.WRONG_PHONE, session)
    _record_opened(conn, str(session["id"]), telegram_id)
    if user is None:
        # Remembered above: once this account shares the phone's contact, this login is prompted.
        return DeepLinkOutcome(DeepLink.NEED_CONTACT, session)
    target = prompt_target(conn, str(session["id"]))
    if target.blocker is None:
        return DeepLinkOutcome(DeepLink.SEND_PROMPT, session)
    if target.blocker is Blocker.ALREADY_SENT:
        return DeepLinkOutcome(DeepLink.ALREADY_SENT, session)
    if target.blocker is Blocker.WITHHELD:
        return DeepLinkOutcome(DeepLink.WITHHELD, session)
    if target.blocker in HOLDS:
        return DeepLinkOutcome(DeepLink.HELD, session, target.hold)
    return DeepLinkOutcome(DeepLink.INVALID, session)


def _record_opened(conn, session_pk: str, telegram_id: int) -> None:
    """Remember who opened a pending login's deep link; a failed send may be tried again for them."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET deep_link_opened_by = %s, deep_link_opened_at = now(), prompt_error = NULL"
            " WHERE id = %s AND status = 'pending' AND prompt_message_id IS NULL",
            (telegram_id, session_pk),
        )


def prompt_after_link(conn, telegram_id: int, phone_number: str) -> list[str]:
    """Return the login to prompt now that this account linked this phone: the one whose deep link brought them in.

    Only the login whose `bot_url` this account opened last, never the phone's other pending
    logins: those are prompted when their own `bot_url` is opened.
    """
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT s.id, {BLOCKER_SQL} AS blocker FROM {SESSION_AND_USER}"
            " WHERE s.phone_number = %s AND s.deep_link_opened_by = %s AND s.status = 'pending'"
            " ORDER BY s.deep_link_opened_at DESC LIMIT 1",
            (phone_number, telegram_id),
        )
        row = cur.fetchone()
    if row is None or row["blocker"] is not None:
        return []
    return [str(row["id"])]


def start_login(
    conn,
    *,
    phone_number: str,
    ttl_seconds: int,
    approval_mode: str,
    client_ip: str | None,
    user_agent: str | None,
    budget: str,
) -> auth_sessions.NewSession:
    """Start a login of the phone's linked user (if any), its prompt held back if the phone's budget is spent.

    The budget (limits notation) counts the phone's logins started within its window whose prompt
    was not held back, from every client: a flood of /init from many addresses can't push prompts
    at the owner, and the owner's own login still gets its prompt by opening its `bot_url`.
    One round trip: the lock and the insert go to Postgres together.
    """
    item = limits.parse(budget)
    return auth_sessions.create(
        conn,
        phone_number=phone_number,
        user_id=auth_sessions.LINKED_USER,
        ttl_seconds=ttl_seconds,
        approval_mode=approval_mode,
        client_ip=client_ip,
        user_agent=user_agent,
        # One phone's logins start in turn, so concurrent ones can't each count under the budget;
        # the insert is a statement of its own after the lock, so it counts what committed meanwhile.
        before=db.Sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (BUDGET_LOCK_CLASS, phone_number)),
        prompt_withheld=db.Sql(
            "CASE WHEN (SELECT count(*) FROM auth_sessions o WHERE o.phone_number = %s"
            " AND o.created_at > now() - make_interval(secs => %s) AND o.prompt_withheld IS NULL) >= %s"
            " THEN %s END",
            (phone_number, item.get_expiry(), item.amount, BUDGET),
        ),
    )


# The first key of the two-key advisory locks this module takes (any constant of ours).
BUDGET_LOCK_CLASS = 7_305_004
