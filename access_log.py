"""Gunicorn's access log with session ids blanked out: they are bearer secrets (DESIGN.md).

Loaded by gunicorn's master (gunicorn.conf.py): it imports nothing of the app.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

# The path segment after these prefixes is a browser's session id. Lookbehinds, so that the
# replacement is a plain string (no group template to expand on every logged poll).
SESSION_ID_IN_PATH = re.compile(r"(?<=/api/auth/status/)[^/?\s\"]+|(?<=/api/auth/session/)[^/?\s\"]+")
SESSION_PATH_MARK = "/api/auth/s"


def redact(text: str) -> str:
    """Replace session ids in a request path or line with `***`."""
    if SESSION_PATH_MARK not in text:  # most lines: skip the regular expression
        return text
    return SESSION_ID_IN_PATH.sub("***", text)


class RedactingLogger(Logger):
    """Gunicorn's logger, but the request line and path never carry a session id."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """Return gunicorn's access-log atoms with session ids redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
