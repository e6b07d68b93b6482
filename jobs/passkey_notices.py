"""The names of the passkey notice tasks and their enqueue helpers (the web app enqueues, the worker sends)."""

from __future__ import annotations

from jobs import app

SEND_PASSKEY_ADDED_NOTICE = "tasks.send_passkey_added_notice"
SEND_PASSKEY_CLONE_NOTICE = "tasks.send_passkey_clone_notice"


def enqueue_passkey_added_notice(passkey_id: str) -> None:
    """Ask a worker to tell the owner in Telegram about the passkey just added (after its commit)."""
    app.send_task(SEND_PASSKEY_ADDED_NOTICE, args=[str(passkey_id)])


def enqueue_passkey_clone_notice(passkey_id: str) -> None:
    """Ask a worker to warn the owner in Telegram that a copy of this passkey was refused."""
    app.send_task(SEND_PASSKEY_CLONE_NOTICE, args=[str(passkey_id)])
