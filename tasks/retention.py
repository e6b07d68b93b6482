"""The retention job, sent by beat: delete the personal data of logins that ended long ago.

The rule (what is old enough, what is kept) is `core.retention`'s; this task only runs it in
short transactions until nothing is left.
"""

from __future__ import annotations

from core import db, events, retention
from core.settings import get_settings
from jobs import PURGE_FINISHED_LOGINS, app
from tasks.retry_policy import OutageRetryingTask


@app.task(name=PURGE_FINISHED_LOGINS, base=OutageRetryingTask)
def purge_finished_logins() -> None:
    """Delete finished logins and ended token families older than RETENTION_DAYS, batch by batch."""
    settings = get_settings()
    families = sessions = 0
    while True:
        with db.transaction() as conn:
            purged = retention.purge_batch(
                conn, settings.retention_days, settings.refresh_token_ttl, retention.BATCH_SIZE
            )
        families += purged.token_families
        sessions += purged.auth_sessions
        if purged.token_families < retention.BATCH_SIZE and purged.auth_sessions < retention.BATCH_SIZE:
            break
    events.emit("finished_logins_purged", token_families=families, auth_sessions=sessions)
