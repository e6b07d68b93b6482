"""One-time codes mailed to an address: 6 digits, single use, 10 minutes, 5 wrong tries end it.

Only a hash of the code is kept (salted with the code's own id). A new code for the same
account and purpose replaces the earlier one, so at most one code is live per account and
purpose. Checking a guess is one `UPDATE … RETURNING`: it counts the try and, if right, spends
the code, so two right guesses at once have one winner and a wrong one brings the code closer
to its end.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

Row = dict[str, Any]

CONFIRM = "confirm"  # proves an address belongs to the account that asked for it
LOGIN = "login"  # signs the account of a confirmed address in (EMAIL_LOGIN=on)
PURPOSES = (CONFIRM, LOGIN)
CODE_DIGITS = 6
CODE_TTL_SECONDS = 600
MAX_TRIES = 5


def new_code() -> str:
    """Return a random code of CODE_DIGITS digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def is_code_shaped(text: object) -> bool:
    """Tell whether `text` looks like a code at all (6 ASCII digits)."""
    return isinstance(text, str) and len(text) == CODE_DIGITS and text.isascii() and text.isdigit()


def code_hash(code_id: str, code: str) -> str:
    """Return the stored hash of a code (the same as the SQL in `verify` computes)."""
    return hashlib.sha256(f"{code_id}:{code}".encode()).hexdigest()


def issue(conn, *, purpose: str, user_id: int, address: str) -> tuple[Row, str]:
    """Record a new code for this account, purpose and address (replacing a live one); return it and the code."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown code purpose {purpose!r}")
    code, code_id = new_code(), str(uuid.uuid4())
    with conn.cursor() as cur:
        cur.execute("DELETE FROM email_codes WHERE user_id = %s AND purpose = %s AND used_at IS NULL",
                    (user_id, purpose))
        cur.execute(
            "INSERT INTO email_codes (id, purpose, user_id, address, code_hash, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING *",
            (code_id, purpose, user_id, address, code_hash(code_id, code), CODE_TTL_SECONDS),
        )
        return cur.fetchone(), code


def verify(conn, *, purpose: str, user_id: int, code: str) -> Row | None:
    """Spend the account's live code of this purpose if `code` is it; count a wrong try. The spent row, or None."""
    if not is_code_shaped(code):
        code = ""  # still counts as a try: a malformed guess is a wrong guess
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE email_codes SET attempts = attempts + 1,"
            " used_at = CASE WHEN code_hash = encode(sha256(convert_to(id::text || ':' || %s, 'UTF8')), 'hex')"
            " THEN now() END"
            " WHERE user_id = %s AND purpose = %s AND used_at IS NULL AND expires_at > now() AND attempts < %s"
            " RETURNING *",
            (code, user_id, purpose, MAX_TRIES),
        )
        row = cur.fetchone()
    return row if row is not None and row["used_at"] is not None else None
