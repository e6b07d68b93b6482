"""Hand out a login approved another way than a Telegram prompt (a passkey, an email code).

Core opens it (`core.direct_logins`); this renders the answer, the same `tokens` and `user` objects
an approved status poll gives, and announces the login in Telegram once the transaction is committed.
"""

from __future__ import annotations

from typing import Any

import jobs
from core import auth_sessions, direct_logins, events, users
from webapp import client_info, email_notices, jwt_tokens


def approved_answer(family: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """The body of an approved login: its tokens and the user, as the status poll and every other way in answer."""
    return {"status": auth_sessions.APPROVED, "tokens": jwt_tokens.issue(family), "user": users.public_profile(user)}


def open_login(conn, user: dict[str, Any], method: str) -> tuple[dict[str, Any], str]:
    """Open a login of `user` by `method` from this request's client, inside the caller's transaction.

    Returns the answer's body and the login's session id; after the commit the caller passes the
    id to `announce`, so a rolled-back login is never announced.
    """
    opened = direct_logins.open_login(
        conn, user=user, method=method, client_ip=client_info.client_ip(), user_agent=client_info.user_agent()
    )
    session_pk = str(opened.session["id"])
    email_notices.record_login(conn, opened.session, user)
    events.emit("tokens_issued", session=session_pk, user=user["id"], family=opened.family["id"], method=method)
    return approved_answer(opened.family, user), session_pk


def announce(session_pk: str) -> None:
    """Send the login's "New login" notice to its owner in Telegram (by the worker)."""
    jobs.enqueue_login_notice(session_pk)
