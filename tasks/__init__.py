"""The worker: `celery -A tasks worker` runs `jobs.app` with the task modules of this package.

The enqueue helpers and task names live in `jobs`, so the web app and the bot enqueue without
loading the tasks; they are repeated here for callers that already import this package.
"""

from __future__ import annotations

from jobs import (  # noqa: F401
    EXPIRE_OVERDUE_SESSIONS,
    EXPIRE_SESSION,
    PURGE_FINISHED_LOGINS,
    RECOVER_SESSIONS,
    REQUEUE_STALLED_SESSIONS,
    SEND_APPROVAL_PROMPT,
    SEND_LOGIN_NOTICE,
    UPDATE_PROMPT,
    app,
    enqueue_approval_prompt,
    enqueue_login_notice,
    enqueue_prompt_update,
)
