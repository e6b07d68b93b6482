"""The worker's tasks: send a session's approval prompt, edit it once decided, expire the session,
and tell the person about a login they approved.

Tasks take a session id, read the truth from Postgres, and are idempotent (`acks_late`: a task
may run twice). Telegram 5xx and timeouts are retried with backoff, 429 after exactly the
`retry_after` Telegram asks for; nothing is retried past the session's expiry.

Redis keys keep copies of these tasks from stepping on each other:
- `prompt-lock:<id>` (60 s) while a prompt is being sent, so two copies never both send;
- `login-notice-lock:<id>` (60 s) likewise for the "New login" notice;
- `prompt-closed:<id>` names the one task that edits the prompt to its outcome, so a prompt is
  never edited twice (Telegram refuses an edit that changes nothing with a 400);
- `sent-message:<kind>:<id>` holds a message Telegram delivered until Postgres records it, so a
  retry after a failed record records it instead of sending a second one (tasks/sent_messages.py);
- `telegram-flood-wait:<chat>` lives as long as Telegram's last `retry_after` for that chat, so
  every task waits it out, not only the one that got the 429.
"""

from __future__ import annotations

import contextlib
import logging
import random
import uuid
import warnings
from datetime import timedelta
from typing import Any

import redis
from celery import Task
from redis.exceptions import LockError
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

from botrunner import keyboards
from core import auth_sessions, db, events, prompt_delivery, prompt_targets, prompts, redis_client, shared_metrics, users
from core.settings import get_settings
from tasks import (
    EXPIRE_SESSION,
    SEND_APPROVAL_PROMPT,
    SEND_LOGIN_NOTICE,
    UPDATE_PROMPT,
    app,
    send_lock,
    sent_messages,
    telegram_client,
)
from tasks.telegram_request import SendBudgetSpent

log = logging.getLogger(__name__)

Row = dict[str, Any]

MAX_RETRIES = 6
BACKOFF_CAP_SECONDS = 16
SEND_LOCK_SECONDS = 60
# When another copy holds the send lock, look again once it has surely finished or failed.
LOCK_BUSY_RETRY_SECONDS = 5
# Telegram lets a bot edit its messages for 48 hours; after that the claim is pointless.
CLOSE_CLAIM_SECONDS = 2 * 24 * 3600


def backoff_seconds(retries: int) -> float:
    """Return the wait before retry number `retries + 1`: 1, 2, 4, 8, 16, 16 s plus up to 50% jitter."""
    base = min(2**retries, BACKOFF_CAP_SECONDS)
    return base + random.uniform(0, base / 2)


def retry_after_seconds(exc: RetryAfter) -> float:
    """Return the wait Telegram asked for, whether PTB gives it as seconds or a timedelta."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int will become a timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def retry_delay(exc: Exception, retries: int) -> float | None:
    """Return how long to wait before retrying a failed call, or None when retrying can't help."""
    if isinstance(exc, RetryAfter):
        return retry_after_seconds(exc)
    if isinstance(exc, BadRequest):  # a subclass of NetworkError, but the call itself is wrong
        return None
    if isinstance(exc, (TimedOut, NetworkError, redis.RedisError)):
        return backoff_seconds(retries)
    return None


def _redis() -> redis.Redis:
    return redis_client.get_redis()


def _task_owner(task: Task) -> str:
    # Retries keep the task id, so a retried edit recognises its own claim.
    return task.request.id or f"direct-{uuid.uuid4().hex}"


@app.task(name=SEND_APPROVAL_PROMPT, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_approval_prompt(self: Task, session_pk: str) -> None:
    """Send a pending session's approval prompt to the Telegram account linked to its phone."""
    if _prompt_target(session_pk) is None:
        return
    lock = _redis().lock(f"prompt-lock:{session_pk}", timeout=SEND_LOCK_SECONDS)
    try:
        acquired = send_lock.acquire(lock)  # breaks the lock of a worker killed mid-send
    except redis.RedisError as exc:
        raise self.retry(countdown=backoff_seconds(self.request.retries), exc=exc)
    if not acquired:
        log.info("prompt of session %s is being sent by another task; looking again later", session_pk)
        # Never gives up while the session lives (_prompt_target ends it): a holder on another
        # host that died keeps the lock for SEND_LOCK_SECONDS, longer than MAX_RETRIES looks.
        raise self.retry(countdown=LOCK_BUSY_RETRY_SECONDS, max_retries=self.request.retries + 1)
    try:
        _send_locked(self, session_pk)
    finally:
        with contextlib.suppress(redis.RedisError, LockError):
            lock.release()


def _prompt_target(session_pk: str) -> tuple[Row, Row] | None:
    """Return the session and its linked user when core says the prompt is to be sent now, else None."""
    with db.transaction() as conn:
        target = prompt_targets.prompt_to_send(conn, session_pk)
    if target.withheld_now:
        assert target.user is not None
        events.emit("prompt_withheld", session=session_pk, telegram_id=target.user["telegram_id"],
                    reason=target.blocker.value)
    if not target.send:
        return None
    return target.session, target.user


def _send_locked(task: Task, session_pk: str) -> None:
    target = _prompt_target(session_pk)  # again, under the lock: another copy may have just sent it
    if target is None:
        return
    session, user = target
    settings = get_settings()
    language = prompts.language_for(user, settings.bot_default_language)
    message = prompts.approval_prompt(session, language, settings.site_name)
    chat_id = user["telegram_id"]
    bot = telegram_client.bot()
    message_id = sent_messages.recall(_redis(), sent_messages.PROMPT, session_pk, chat_id)
    if message_id is not None:
        log.info("prompt of session %s was delivered before its record failed; recording it", session_pk)
    else:
        message_id = _deliver_prompt(task, session, chat_id, message)
        if message_id is None:
            return
    with db.transaction() as conn:
        # record_prompt locks the row, so a decision either lands before it (and is seen
        # below, and we close the prompt) or after it (and its maker sees the prompt).
        recorded = auth_sessions.record_prompt(conn, session_pk, chat_id, message_id, language)
        current = auth_sessions.get(conn, session_pk)
    if not recorded:
        log.warning("session %s already had a prompt; deleting the duplicate", session_pk)
        try:
            telegram_client.run(bot.delete_message(chat_id, message_id))
        except TelegramError:
            log.warning("could not delete duplicate prompt of session %s", session_pk, exc_info=True)
        return
    events.emit("prompt_sent", session=session_pk, telegram_id=chat_id, message_id=message_id)
    if current is not None and current["status"] != auth_sessions.PENDING:
        # The session was decided while we were sending; whoever decided it found no prompt to edit.
        _close_prompt(task, current, may_claim=True)


def _deliver_prompt(task: Task, session: Row, chat_id: int, message: prompts.Message) -> int | None:
    """Send the prompt and remember its message id; on failure retry the task or record why, and return None."""
    session_pk = str(session["id"])
    try:
        _wait_out_flood_control(chat_id)
        sent = telegram_client.run(
            telegram_client.bot().send_message(chat_id, message.text, reply_markup=keyboards.inline_markup(message))
        )
    except TelegramError as exc:
        shared_metrics.count(shared_metrics.PROMPT_SEND_FAILURES)
        _remember_flood_control(chat_id, exc)
        reason = _retry_or_reason(task, exc, seconds_left=session["expires_in"])
        if retry_delay(exc, 0) is not None:
            # Telegram's failure, not this person's: every pending login says so (no enumeration).
            with contextlib.suppress(redis.RedisError):
                prompt_delivery.mark_failing(_redis(), session["expires_in"])
        with db.transaction() as conn:
            auth_sessions.record_prompt_error(conn, session_pk, reason)
        events.emit("prompt_send_failed", session=session_pk, reason=reason)
        return None
    sent_messages.remember(_redis(), sent_messages.PROMPT, session_pk, chat_id, sent.message_id)
    return sent.message_id


def _retry_or_reason(task: Task, exc: TelegramError, seconds_left: float | None = None) -> str:
    """Raise the task's retry when one can help in time; else return why the task gives up."""
    retries = task.request.retries
    delay = retry_delay(exc, retries)
    if delay is None:
        return f"{type(exc).__name__}: {exc}"
    if retries >= task.max_retries:
        return f"gave up after {retries} retries: {exc}"
    if seconds_left is not None and delay >= seconds_left:
        return f"session expires before the next try: {exc}"
    log.info("%s failed (%s); retry %d in %.1f s", task.name, exc, retries + 1, delay)
    shared_metrics.count(shared_metrics.TELEGRAM_RETRIES)
    raise task.retry(countdown=delay, exc=exc)


def _flood_key(chat_id: int) -> str:
    return f"telegram-flood-wait:{chat_id}"


class FloodWait(RetryAfter):
    """Telegram's last 429 for this chat is still in force: wait before calling at all."""


def _wait_out_flood_control(chat_id: int) -> None:
    """Raise FloodWait while Telegram's last 429 for this chat is still in force."""
    try:
        remaining_ms = _redis().pttl(_flood_key(chat_id))
    except redis.RedisError:
        return  # Telegram answers 429 again if it must; not worth failing the task for
    if remaining_ms > 0:
        raise FloodWait(timedelta(milliseconds=remaining_ms))


def _remember_flood_control(chat_id: int, exc: TelegramError) -> None:
    """Make every task wait out a 429 for this chat, not only the one that got it."""
    # FloodWait and SendBudgetSpent are our own waits, not Telegram's answer for this chat.
    if not isinstance(exc, RetryAfter) or isinstance(exc, (FloodWait, SendBudgetSpent)):
        return
    with contextlib.suppress(redis.RedisError):
        _redis().set(_flood_key(chat_id), 1, px=max(1, int(retry_after_seconds(exc) * 1000)))


@app.task(name=UPDATE_PROMPT, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def update_prompt(self: Task, session_pk: str) -> None:
    """Edit a decided session's prompt to show the outcome, without buttons."""
    with db.transaction() as conn:
        session = auth_sessions.get(conn, session_pk)
    if session is not None:
        _close_prompt(self, session, may_claim=True)


@app.task(name=EXPIRE_SESSION, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def expire_session(self: Task, session_pk: str) -> None:
    """Expire a session whose time is up and edit its prompt; reschedule if it fired early."""
    with db.transaction() as conn:
        expired = auth_sessions.expire_if_overdue(conn, session_pk)
        current = expired or auth_sessions.get(conn, session_pk)
    if current is None:
        return
    if expired is not None:
        events.emit("session_expired", session=session_pk)
        _close_prompt(self, expired, may_claim=True)
    elif current["status"] == auth_sessions.PENDING:
        raise self.retry(countdown=current["expires_in"] + 1)
    else:
        # Someone else ended it (and edits the prompt), unless this is a retry of our own edit.
        _close_prompt(self, current, may_claim=False)


def _close_prompt(task: Task, session: Row, *, may_claim: bool) -> None:
    """Edit the prompt of a session that left `pending` to its closed form, once overall."""
    if session["prompt_message_id"] is None or session["status"] == auth_sessions.PENDING:
        return
    session_pk = str(session["id"])
    if not _claim_close(session_pk, _task_owner(task), may_claim):
        return
    settings = get_settings()
    language = session["prompt_language"] or prompts.language_for(None, settings.bot_default_language)
    message = prompts.closed_prompt(session, session["status"], language, settings.site_name)
    chat_id, message_id = session["prompt_chat_id"], session["prompt_message_id"]
    try:
        _wait_out_flood_control(chat_id)
        # Without reply_markup, editMessageText removes the inline keyboard.
        telegram_client.run(
            telegram_client.bot().edit_message_text(message.text, chat_id=chat_id, message_id=message_id)
        )
    except BadRequest as exc:
        text = str(exc).lower()
        if "not modified" in text or "message to edit not found" in text:
            log.info("prompt of session %s needs no edit: %s", session_pk, exc)
            return
        events.emit("prompt_edit_failed", session=session_pk, reason=f"{type(exc).__name__}: {exc}")
        return
    except TelegramError as exc:
        _remember_flood_control(chat_id, exc)
        events.emit("prompt_edit_failed", session=session_pk, reason=_retry_or_reason(task, exc))
        return
    events.emit("prompt_closed", session=session_pk, status=session["status"])


def _claim_close(session_pk: str, owner: str, may_claim: bool) -> bool:
    """Tell whether `owner` is the one to edit this prompt, claiming it first if allowed."""
    key = f"prompt-closed:{session_pk}"
    try:
        client = _redis()
        if may_claim and client.set(key, owner, nx=True, ex=CLOSE_CLAIM_SECONDS):
            return True
        return client.get(key) == owner.encode()
    except redis.RedisError:
        # A second edit answered "not modified" is better than stale buttons.
        log.warning("no claim on prompt of session %s (Redis unavailable); editing anyway", session_pk)
        return may_claim


@app.task(name=SEND_LOGIN_NOTICE, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_login_notice(self: Task, session_pk: str) -> None:
    """Send the "New login" message about an approved session to the account that approved it, once."""
    if _notice_target(session_pk) is None:
        return
    lock = _redis().lock(f"login-notice-lock:{session_pk}", timeout=SEND_LOCK_SECONDS)
    try:
        acquired = lock.acquire(blocking=False)
    except redis.RedisError as exc:
        raise self.retry(countdown=backoff_seconds(self.request.retries), exc=exc)
    if not acquired:
        raise self.retry(countdown=LOCK_BUSY_RETRY_SECONDS)
    try:
        _send_notice_locked(self, session_pk)
    finally:
        with contextlib.suppress(redis.RedisError, LockError):
            lock.release()


def _notice_target(session_pk: str) -> tuple[Row, Row] | None:
    """Return an approved session and the user who approved it while its notice is unsent, else None."""
    with db.transaction() as conn:
        session = auth_sessions.get(conn, session_pk)
        if (
            session is None
            or session["status"] not in (auth_sessions.APPROVED, auth_sessions.CONSUMED)
            or session["login_notice_message_id"] is not None
            or session["user_id"] is None
        ):
            return None
        user = users.get(conn, session["user_id"])
    return (session, user) if user is not None else None


def _send_notice_locked(task: Task, session_pk: str) -> None:
    target = _notice_target(session_pk)  # again, under the lock: another copy may have just sent it
    if target is None:
        return
    session, user = target
    settings = get_settings()
    language = session["prompt_language"] or prompts.language_for(user, settings.bot_default_language)
    message = prompts.login_notice(session, language, settings.site_name)
    chat_id = user["telegram_id"]
    bot = telegram_client.bot()
    message_id = sent_messages.recall(_redis(), sent_messages.LOGIN_NOTICE, session_pk, chat_id)
    if message_id is None:
        try:
            _wait_out_flood_control(chat_id)
            sent = telegram_client.run(bot.send_message(chat_id, message.text))
        except TelegramError as exc:
            _remember_flood_control(chat_id, exc)
            events.emit("login_notice_failed", session=session_pk, reason=_retry_or_reason(task, exc))
            return
        message_id = sent.message_id
        sent_messages.remember(_redis(), sent_messages.LOGIN_NOTICE, session_pk, chat_id, message_id)
    with db.transaction() as conn:
        recorded = auth_sessions.record_login_notice(conn, session_pk, message_id)
    if not recorded:
        log.warning("session %s already had its login notice; deleting the duplicate", session_pk)
        with contextlib.suppress(TelegramError):
            telegram_client.run(bot.delete_message(chat_id, message_id))
        return
    events.emit("login_notice_sent", session=session_pk, telegram_id=chat_id, message_id=message_id)
