"""The worker's Telegram tasks: send a login's approval prompt, edit it once decided, expire the
login, and tell the person about a login they approved.

Each task takes a session id, asks `core` in one transaction what to do, and makes one call through
`telegram_sender`. Copies may run twice (`acks_late`): the prompt is leased in Postgres before it is
sent (`core.prompt_delivery`), a delivered message id is recorded once (a duplicate is deleted),
and one task per prompt edits it to its outcome (`auth_sessions.claim_prompt_close`).

Retries are Celery's (`TelegramTask`); nothing is retried past the login's expiry.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery import Task
from celery.signals import worker_init
from telegram.error import RetryAfter, TelegramError

from core import auth_sessions, db, events, prompt_delivery, prompts, redis_client, shared_metrics, useragents, users
from core.settings import get_settings
from jobs import EXPIRE_SESSION, SEND_APPROVAL_PROMPT, SEND_LOGIN_NOTICE, UPDATE_PROMPT, app
from tasks.retry_policy import TelegramTask, retry_after_429, retry_before_expiry
from telegram_sender import sender

log = logging.getLogger(__name__)

Row = dict[str, Any]

# When another copy holds the prompt's lease, look again once it has surely sent or failed.
LEASE_BUSY_RETRY_SECONDS = 5


def _owner(task: Task) -> tuple[str, str]:
    """Return the task id (kept by its retries) and the worker running it."""
    return task.request.id or "direct", task.request.hostname or "direct"


class PromptTask(TelegramTask):
    """The prompt task: a prompt that can't be sent is recorded, so the login stops waiting for it."""

    def give_up(self, session_pk: str, reason: str, telegram_failed: bool) -> None:
        """Record why the prompt was not sent; a failure of Telegram's own shows on every pending login."""
        with db.transaction() as conn:
            session = auth_sessions.get(conn, session_pk)
            auth_sessions.record_prompt_error(conn, session_pk, reason)
        if telegram_failed and session is not None:
            # Telegram's failure, not this person's: every pending login says so (no enumeration).
            with contextlib.suppress(Exception):
                prompt_delivery.mark_failing(redis_client.get_redis(), session["expires_in"])
        events.emit("prompt_send_failed", session=session_pk, reason=reason)


@app.task(name=SEND_APPROVAL_PROMPT, bind=True, base=PromptTask)
def send_approval_prompt(self: Task, session_pk: str) -> None:
    """Send a pending session's approval prompt to the Telegram account linked to its phone."""
    with db.transaction() as conn:
        claim = prompt_delivery.claim_prompt(conn, session_pk, *_owner(self))
    if claim.outcome is prompt_delivery.Claim.BUSY:
        # Never gives up while the login lives (the claim ends it): the holder may be a dead worker.
        raise self.retry(countdown=LEASE_BUSY_RETRY_SECONDS, max_retries=self.request.retries + 1)
    if claim.outcome is prompt_delivery.Claim.UNRECORDED:
        _adopt_unrecorded_prompt(self, session_pk)
    if claim.outcome is prompt_delivery.Claim.SEND:
        try:
            _send_prompt(self, claim.session, claim.user, claim.may_be_delivered)
        except BaseException:
            # Retrying or given up: a copy may take over at once (a retry takes the lease back anyway).
            with contextlib.suppress(Exception), db.transaction() as conn:
                auth_sessions.release_prompt_lease(conn, session_pk, _owner(self)[0])
            raise


def _send_prompt(task: Task, session: Row, user: Row, may_be_delivered: bool) -> None:
    session_pk, chat_id = str(session["id"]), user["telegram_id"]
    language = prompts.language_for(user, get_settings().bot_default_language)
    message_id = None
    if may_be_delivered:
        message_id = prompt_delivery.recall_delivery(redis_client.get_redis(), prompt_delivery.PROMPT, session_pk, chat_id)
    if message_id is None:
        try:
            message_id = sender.send(chat_id, prompts.approval_prompt(session, language, get_settings().site_name))
        except TelegramError as exc:
            shared_metrics.count(shared_metrics.PROMPT_SEND_FAILURES)
            retry_before_expiry(task, exc, seconds_left=session["expires_in"])
            raise
        prompt_delivery.remember_delivery(redis_client.get_redis(), prompt_delivery.PROMPT, session_pk, chat_id,
                                          message_id)
    with db.transaction() as conn:
        # record_prompt locks the row: a decision lands before it (its status, here: we close the
        # prompt) or after it (and its maker sees the prompt to edit).
        status = auth_sessions.record_prompt(conn, session_pk, chat_id, message_id, language)
        # Read back only when another prompt was recorded (rare): was it this very message?
        recorded = auth_sessions.get(conn, session_pk) if status is None else None
    prompt_delivery.forget_delivery(redis_client.get_redis(), prompt_delivery.PROMPT, session_pk)
    if status is None and recorded is not None and recorded["prompt_message_id"] == message_id:
        return  # a copy that found our delivery note recorded this very message (and closes it)
    if status is None:
        log.warning("session %s already had a prompt; deleting the duplicate", session_pk)
        with contextlib.suppress(TelegramError):
            sender.delete(chat_id, message_id)
        return
    events.emit("prompt_sent", session=session_pk, telegram_id=chat_id, message_id=message_id)
    if status != auth_sessions.PENDING:
        _close_prompt(task, session_pk, may_claim=True)  # decided meanwhile: nobody else saw a prompt


def _adopt_unrecorded_prompt(task: Task, session_pk: str) -> None:
    """Close the prompt a dead sender delivered but never recorded, now that its login has ended.

    Without its note in Redis nothing was delivered (or it can't be found): the lease is given
    back, so the sweeps stop asking.
    """
    delivered = prompt_delivery.recall_any_delivery(redis_client.get_redis(), prompt_delivery.PROMPT, session_pk)
    with db.transaction() as conn:
        if delivered is None:
            prompt_delivery.give_up_unrecorded(conn, session_pk)
            return
        adopted = prompt_delivery.adopt_unrecorded_prompt(conn, session_pk, *delivered,
                                                          get_settings().bot_default_language)
    prompt_delivery.forget_delivery(redis_client.get_redis(), prompt_delivery.PROMPT, session_pk)
    if adopted is not None:
        events.emit("prompt_adopted", session=session_pk, telegram_id=delivered[0], message_id=delivered[1])
        _close_prompt(task, session_pk, may_claim=True)


@app.task(name=UPDATE_PROMPT, bind=True, base=TelegramTask, failure_event="prompt_edit_failed")
def update_prompt(self: Task, session_pk: str) -> None:
    """Edit a decided session's prompt to show the outcome, without buttons."""
    _close_prompt(self, session_pk, may_claim=True)


@app.task(name=EXPIRE_SESSION, bind=True, base=TelegramTask, failure_event="prompt_edit_failed")
def expire_session(self: Task, session_pk: str) -> None:
    """Expire a session whose time is up and edit its prompt; reschedule if it fired early.

    Nothing queues it any more (tasks/expiry.py sweeps instead); it stays registered for the
    countdowns web processes of an earlier release queued, which a new worker must still take.
    """
    with db.transaction() as conn:
        expired = auth_sessions.expire_if_overdue(conn, session_pk)
        current = expired or auth_sessions.get(conn, session_pk)
    if current is None:
        return
    if expired is not None:
        events.emit("session_expired", session=session_pk)
    elif current["status"] == auth_sessions.PENDING:
        raise self.retry(countdown=current["expires_in"] + 1)
    # Another ender edits the prompt then, unless this is a retry of our own edit.
    _close_prompt(self, session_pk, may_claim=expired is not None)


def _close_prompt(task: Task, session_pk: str, *, may_claim: bool) -> None:
    """Edit the prompt of a session that left `pending` to its closed form, once overall."""
    with db.transaction() as conn:
        session = auth_sessions.claim_prompt_close(conn, session_pk, task.request.id or "direct", may_claim=may_claim)
    if session is None:
        return
    settings = get_settings()
    language = session["prompt_language"] or prompts.language_for(None, settings.bot_default_language)
    message = prompts.closed_prompt(session, session["status"], language, settings.site_name)
    try:
        edited = sender.edit(session["prompt_chat_id"], session["prompt_message_id"], message)
    except RetryAfter as exc:
        retry_after_429(task, exc)
    if edited:
        events.emit("prompt_closed", session=session_pk, status=session["status"])


@app.task(name=SEND_LOGIN_NOTICE, bind=True, base=TelegramTask, failure_event="login_notice_failed")
def send_login_notice(self: Task, session_pk: str) -> None:
    """Send the "New login" message about an approved session to the account that approved it, once.

    Only for approvals that `prompts.needs_separate_notice`: one made in Telegram has its
    prompt's closing edit as its notice.

    A duplicate copy running at the same moment may send a second notice; the one not recorded
    is deleted again (notices are enqueued once per approval, so that is rare).
    """
    with db.transaction() as conn:
        session, user = _notice_target(conn, session_pk)
    if user is None:
        return
    chat_id, kind = user["telegram_id"], prompt_delivery.LOGIN_NOTICE
    message_id = prompt_delivery.recall_delivery(redis_client.get_redis(), kind, session_pk, chat_id)
    if message_id is None:
        language = session["prompt_language"] or prompts.language_for(user, get_settings().bot_default_language)
        try:
            message_id = sender.send(chat_id, prompts.login_notice(session, language, get_settings().site_name))
        except RetryAfter as exc:
            retry_after_429(self, exc)
        prompt_delivery.remember_delivery(redis_client.get_redis(), kind, session_pk, chat_id, message_id)
    with db.transaction() as conn:
        recorded = auth_sessions.record_login_notice(conn, session_pk, message_id)
    prompt_delivery.forget_delivery(redis_client.get_redis(), kind, session_pk)
    if not recorded:
        with contextlib.suppress(TelegramError):
            sender.delete(chat_id, message_id)
        return
    events.emit("login_notice_sent", session=session_pk, telegram_id=chat_id, message_id=message_id)


def _notice_target(conn, session_pk: str) -> tuple[Row | None, Row | None]:
    """Return an approved session and the user who approved it while its notice is unsent, else Nones."""
    session = auth_sessions.get(conn, session_pk)
    if (
        session is None
        or session["status"] not in (auth_sessions.APPROVED, auth_sessions.CONSUMED)
        or session["login_notice_message_id"] is not None
        or session["user_id"] is None
    ):
        return None, None
    return session, users.get(conn, session["user_id"])


@worker_init.connect
def _warm_up(**_: Any) -> None:
    useragents.warm_up()  # in the main process: the prefork children inherit it

